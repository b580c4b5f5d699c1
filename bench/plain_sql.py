"""Baseline: the SQL one order needs, done by one plain psycopg2 loop (no Celery, no ORM).

The same statements the pipeline's steps run, in the same transactions: place (lookup with the
next order number, price, customer, then order, line, history and payment in one statement,
outbox), reserve (locked load, stock UPDATE with its movement, status move, outbox consumed and
written), capture (the request read, the provider's authorization and capture, each one
statement outside a transaction; then payment, status move, notification, outbox), fulfil
(stock out with its movement, shipment, status move, notification, outbox), and the order's
one send: both emails claimed, marked sent, outbox consumed. Sent as plain text (psycopg2's
simple protocol, planned by the server every time), where the workers prepare theirs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg2

_CONSUME_AND_STAGE = (
    "WITH c AS (UPDATE outbox SET consumed_at = now() WHERE id = (SELECT min(id) FROM outbox "
    "WHERE order_id = %(oid)s AND task = '{done}' AND consumed_at IS NULL)) "
    "INSERT INTO outbox (task, kwargs, order_id) VALUES ('{next}', '{{}}', %(oid)s) RETURNING id"
)
_LOAD = (
    "SELECT o.status, i.id FROM orders o JOIN order_items oi ON oi.order_id = o.id "
    "JOIN inventory i ON i.product_id = oi.product_id WHERE o.id = %(oid)s FOR UPDATE OF o"
)


def _move(kind: str, on_hand: int, reserved: int, guard: str) -> str:
    return (
        f"WITH c AS (UPDATE inventory SET quantity_on_hand = quantity_on_hand + {on_hand}, "
        f"quantity_reserved = quantity_reserved + {reserved}, version = version + 1 "
        f"WHERE id = %(iid)s AND {guard} RETURNING id, quantity_on_hand, quantity_reserved) "
        "INSERT INTO inventory_movements (inventory_id, movement_type, quantity, reason, "
        f"reference_type, reference_id, resulting_quantity, resulting_reserved) SELECT id, "
        f"'{kind}', 1, '{kind}', 'order', %(oid)s, quantity_on_hand, quantity_reserved FROM c"
    )


def _move_status(old: str, new: str, extra: str = "") -> str:
    return (
        f"WITH m AS (UPDATE orders SET status = '{new}', version = version + 1{extra} WHERE id = "
        f"%(oid)s AND status = '{old}' RETURNING id) INSERT INTO order_status_history "
        f"(order_id, old_status, new_status, notes) SELECT id, '{old}', '{new}', 'x' FROM m"
    )


def _notification(kind: str) -> str:
    return (
        "INSERT INTO notifications (order_id, kind, recipient, context) VALUES "
        f"(%(oid)s, '{kind}', %(email)s, '{{}}') ON CONFLICT DO NOTHING RETURNING id"
    )


# (autocommit, statements): a transaction of statements, or one statement on its own
STEPS: list[tuple[bool, list[str]]] = [
    (
        False,
        [  # place
            "SELECT nextval('order_number_seq'), o.id FROM (SELECT 1) one "
            "LEFT JOIN orders o ON o.idempotency_key = %(key)s",
            "SELECT id, sku, base_price, sale_price, currency, status FROM products "
            "WHERE sku = ANY(ARRAY[%(sku)s])",
            "SELECT id, user_type FROM users WHERE email = %(email)s",
            "WITH o AS (INSERT INTO orders (id, order_number, idempotency_key, customer_id, "
            "customer_email, subtotal, total_amount, currency, billing_address, shipping_address)"
            " VALUES (%(oid)s, %(number)s, %(key)s, %(cid)s, %(email)s, 1250, 1250, 'USD', "
            "%(addr)s, %(addr)s) RETURNING id), i AS (INSERT INTO order_items (order_id, "
            "product_id, product_name, product_sku, quantity, unit_price, total_price) SELECT id,"
            " %(pid)s, 'x', %(sku)s, 1, 1250, 1250 FROM o), h AS (INSERT INTO "
            "order_status_history (order_id, new_status, notes) SELECT id, 'pending', 'placed' "
            "FROM o) INSERT INTO payments (order_id, idempotency_key, amount, currency, provider,"
            " details) SELECT id, 'order-' || id, 1250, 'USD', 'pending', '{}' FROM o",
            "INSERT INTO outbox (task, kwargs, order_id) VALUES ('inventory.reserve', '{}', "
            "%(oid)s) RETURNING id",
        ],
    ),
    (
        False,
        [  # reserve
            _LOAD,
            _move("reserve", 0, 1, "quantity_on_hand - quantity_reserved >= 1"),
            _move_status("pending", "confirmed", ", confirmed_at = now()"),
            _CONSUME_AND_STAGE.format(done="inventory.reserve", next="payments.capture"),
        ],
    ),
    # capture: what to charge, the provider's authorization and capture (one statement each,
    # outside any transaction), then the record
    (
        True,
        [
            "SELECT p.idempotency_key, p.amount, p.status, o.status FROM payments p JOIN orders o"
            " ON o.id = p.order_id WHERE p.order_id = %(oid)s"
        ],
    ),
    (
        True,
        [
            "INSERT INTO bench_ledger (key, amount, status) VALUES ('order-' || %(oid)s, 1250, "
            "'authorized') ON CONFLICT DO NOTHING RETURNING key"
        ],
    ),
    (
        True,
        [
            "UPDATE bench_ledger SET status = 'captured' WHERE key = 'order-' || %(oid)s "
            "AND status = 'authorized' RETURNING key"
        ],
    ),
    (
        False,
        [
            _LOAD,
            "UPDATE payments SET status = 'captured', captured_at = now() WHERE order_id = %(oid)s",
            _move_status("confirmed", "processing", ", payment_status = 'captured'"),
            _notification("order_confirmed"),
            _CONSUME_AND_STAGE.format(done="payments.capture", next="orders.fulfil"),
        ],
    ),
    (
        False,
        [  # fulfil
            _LOAD,
            _move("out", -1, -1, "quantity_reserved >= 1"),
            "INSERT INTO shipments (order_id, tracking_number, carrier, address) VALUES "
            "(%(oid)s, 'T' || %(oid)s, 'c', '{}')",
            _move_status("processing", "shipped", ", shipped_at = now()"),
            _notification("order_shipped"),
            _CONSUME_AND_STAGE.format(done="orders.fulfil", next="notifications.send"),
        ],
    ),
    (
        False,
        [  # the order's send: its pending emails locked oldest first, read, marked sent
            "SELECT n.id, n.kind, n.recipient, n.context, o.order_number, oi.product_sku "
            "FROM notifications n JOIN orders o ON o.id = n.order_id JOIN order_items oi "
            "ON oi.order_id = o.id WHERE n.order_id = %(oid)s AND n.status = 'pending' "
            "ORDER BY n.created_at, n.id FOR UPDATE OF n",
            "UPDATE notifications SET status = 'sent', sent_at = now(), attempts = attempts + 1 "
            "WHERE order_id = %(oid)s AND status = 'pending'",
            "UPDATE outbox SET consumed_at = now() WHERE id = (SELECT min(id) FROM outbox WHERE "
            "order_id = %(oid)s AND task = 'notifications.send' AND consumed_at IS NULL)",
        ],
    ),
]


def _fixtures(cur: Any) -> tuple[str, str, str, str]:
    cur.execute(
        "CREATE TABLE IF NOT EXISTS bench_ledger (key text PRIMARY KEY, amount bigint, status text)"
    )
    cur.execute(
        "SELECT p.id, p.sku, i.id FROM products p JOIN inventory i ON i.product_id = p.id "
        "ORDER BY i.quantity_available DESC LIMIT 1"
    )
    pid, sku, iid = cur.fetchone()
    cur.execute("SELECT id, email FROM users WHERE user_type = 'customer' LIMIT 1")
    cid, email = cur.fetchone()
    return str(pid), sku, str(iid), f"{cid}|{email}"


def run(dsn: str, orders: int, servers_cpu: Callable[[], float]) -> dict[str, float]:
    """Orders per second of the plain loop, on one connection, committing per step; its own
    CPU and the servers' (`servers_cpu()`: read before its connection closes) per order."""
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    pid, sku, iid, customer = _fixtures(cur)
    conn.commit()
    cid, email = customer.split("|")
    address = json.dumps({"name": "A", "line1": "x", "city": "y", "postal_code": "123"})
    started, cpu, servers = time.perf_counter(), time.process_time(), servers_cpu()
    for n in range(orders):
        oid = str(uuid.uuid4())
        params = {
            "oid": oid,
            "key": f"plain-{oid}",
            "sku": sku,
            "pid": pid,
            "iid": iid,
            "cid": cid,
            "email": email,
            "addr": address,
            "number": f"ORD-20260101-{n:06d}",  # a fresh database per run
        }
        for autocommit, statements in STEPS:
            conn.autocommit = autocommit
            for statement in statements:
                cur.execute(statement, params)
            if not autocommit:
                conn.commit()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    servers = servers_cpu() - servers
    cur.execute("DELETE FROM bench_ledger")
    conn.commit()
    conn.close()
    return {
        "orders_per_second": orders / elapsed,
        "ms_per_order": 1000 * elapsed / orders,
        "cpu_ms_per_order": 1000 * cpu / orders,
        "servers_ms_per_order": 1000 * servers / orders,
    }
