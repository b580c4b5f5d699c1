"""Baseline: the SQL one order needs, done by one plain psycopg2 loop (no Celery, no ORM).

The same statements the pipeline's steps run, in the same transactions: place (order, line,
payment, history, outbox), reserve (conditional stock UPDATE, movement, status move), capture
(the provider's ledger, payment, status move, notification), fulfil (stock out, shipment,
status move, notification), and the order's one send: both emails claimed, read, marked sent.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import psycopg2

_CONSUME = (
    "UPDATE outbox SET consumed_at = now() WHERE id = (SELECT min(id) FROM outbox WHERE "
    "order_id = %(oid)s AND task = '{task}' AND consumed_at IS NULL)"
)

STEPS: list[list[str]] = [
    [  # place
        "SELECT id FROM orders WHERE idempotency_key = %(key)s",
        "SELECT id, sku, base_price, sale_price, currency, status FROM products "
        "WHERE sku = %(sku)s",
        "SELECT id, user_type FROM users WHERE email = %(email)s",
        "SELECT nextval('order_number_seq')",
        "INSERT INTO orders (id, order_number, idempotency_key, customer_id, customer_email, "
        "subtotal, total_amount, currency, billing_address, shipping_address) VALUES (%(oid)s, "
        "%(number)s, %(key)s, %(cid)s, %(email)s, 1250, 1250, 'USD', %(addr)s, %(addr)s)",
        "INSERT INTO order_items (id, order_id, product_id, product_name, product_sku, quantity,"
        " unit_price, total_price) VALUES (gen_random_uuid(), %(oid)s, %(pid)s, 'x', %(sku)s, 1,"
        " 1250, 1250)",
        "INSERT INTO order_status_history (order_id, new_status, notes) VALUES (%(oid)s, "
        "'pending', 'placed')",
        "INSERT INTO payments (id, order_id, idempotency_key, amount, currency, provider, details)"
        " VALUES (gen_random_uuid(), %(oid)s, 'order-' || %(oid)s, 1250, 'USD', 'pending', '{}')",
        "INSERT INTO outbox (task, kwargs, order_id) VALUES ('inventory.reserve', '{}', %(oid)s)",
    ],
    [  # reserve
        "SELECT o.status FROM orders o JOIN order_items oi ON oi.order_id = o.id WHERE o.id = "
        "%(oid)s FOR UPDATE OF o",
        "UPDATE inventory SET quantity_reserved = quantity_reserved + 1, version = version + 1 "
        "WHERE id = %(iid)s AND quantity_on_hand - quantity_reserved >= 1 "
        "RETURNING quantity_on_hand, quantity_reserved",
        "INSERT INTO inventory_movements (id, inventory_id, movement_type, quantity, reason, "
        "reference_type, reference_id, resulting_quantity, resulting_reserved) VALUES "
        "(gen_random_uuid(), %(iid)s, 'reserve', 1, 'reserved', 'order', %(oid)s, 1, 1)",
        "WITH m AS (UPDATE orders SET status = 'confirmed', version = version + 1 WHERE id = "
        "%(oid)s AND status = 'pending' RETURNING id) INSERT INTO order_status_history "
        "(order_id, old_status, new_status, notes) SELECT id, 'pending', 'confirmed', 'r' FROM m",
        "INSERT INTO outbox (task, kwargs, order_id) VALUES ('payments.capture', '{}', %(oid)s)",
        _CONSUME.format(task="inventory.reserve"),
    ],
    [  # capture: what to charge, the provider's authorization and capture, then the record
        "SELECT p.idempotency_key, p.amount, p.status, o.status FROM payments p JOIN orders o "
        "ON o.id = p.order_id WHERE p.order_id = %(oid)s",
    ],
    [
        "INSERT INTO bench_ledger (key, amount, status) VALUES ('order-' || %(oid)s, 1250, "
        "'authorized') ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key RETURNING xmax = 0",
    ],
    [
        "UPDATE bench_ledger SET status = 'captured' WHERE key = 'order-' || %(oid)s "
        "AND status = 'authorized' RETURNING key",
    ],
    [
        "SELECT o.status FROM orders o WHERE o.id = %(oid)s FOR UPDATE",
        "UPDATE payments SET status = 'captured', captured_at = now() WHERE order_id = %(oid)s",
        "WITH m AS (UPDATE orders SET status = 'processing', payment_status = 'captured', "
        "version = version + 1 WHERE id = %(oid)s AND status = 'confirmed' RETURNING id) INSERT "
        "INTO order_status_history (order_id, old_status, new_status, notes) SELECT id, "
        "'confirmed', 'processing', 'c' FROM m",
        "INSERT INTO notifications (id, order_id, kind, recipient, context) VALUES "
        "(gen_random_uuid(), %(oid)s, 'order_confirmed', %(email)s, '{}')",
        "INSERT INTO outbox (task, kwargs, order_id) VALUES ('orders.fulfil', '{}', %(oid)s)",
        _CONSUME.format(task="payments.capture"),
    ],
    [  # fulfil
        "SELECT o.status FROM orders o JOIN order_items oi ON oi.order_id = o.id WHERE o.id = "
        "%(oid)s FOR UPDATE OF o",
        "UPDATE inventory SET quantity_on_hand = quantity_on_hand - 1, quantity_reserved = "
        "quantity_reserved - 1, version = version + 1 WHERE id = %(iid)s AND "
        "quantity_reserved >= 1 RETURNING quantity_on_hand",
        "INSERT INTO inventory_movements (id, inventory_id, movement_type, quantity, reason, "
        "reference_type, reference_id, resulting_quantity, resulting_reserved) VALUES "
        "(gen_random_uuid(), %(iid)s, 'out', 1, 'shipped', 'order', %(oid)s, 1, 0)",
        "INSERT INTO shipments (id, order_id, tracking_number, carrier, address) VALUES "
        "(gen_random_uuid(), %(oid)s, 'T' || %(oid)s, 'c', '{}')",
        "WITH m AS (UPDATE orders SET status = 'shipped', version = version + 1 WHERE id = "
        "%(oid)s AND status = 'processing' RETURNING id) INSERT INTO order_status_history "
        "(order_id, old_status, new_status, notes) SELECT id, 'processing', 'shipped', 's' FROM m",
        "INSERT INTO notifications (id, order_id, kind, recipient, context) VALUES "
        "(gen_random_uuid(), %(oid)s, 'order_shipped', %(email)s, '{}')",
        "INSERT INTO outbox (task, kwargs, order_id) VALUES ('notifications.send', '{}', %(oid)s)",
        _CONSUME.format(task="orders.fulfil"),
    ],
    [  # the order's send: its pending emails locked oldest first, read, marked sent
        _CONSUME.format(task="notifications.send"),
        "SELECT n.id, n.kind, n.recipient, n.context, o.order_number, oi.product_sku "
        "FROM notifications n JOIN orders o ON o.id = n.order_id JOIN order_items oi "
        "ON oi.order_id = o.id WHERE n.order_id = %(oid)s AND n.status = 'pending' "
        "ORDER BY n.created_at, n.id FOR UPDATE OF n",
        "UPDATE notifications SET status = 'sent', sent_at = now(), attempts = attempts + 1 "
        "WHERE order_id = %(oid)s AND status = 'pending'",
    ],
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


def run(dsn: str, orders: int) -> dict[str, float]:
    """Orders per second of the plain loop, on one connection, committing per step."""
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    pid, sku, iid, customer = _fixtures(cur)
    conn.commit()
    cid, email = customer.split("|")
    address = json.dumps({"name": "A", "line1": "x", "city": "y", "postal_code": "123"})
    started = time.perf_counter()
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
            "number": f"ORD-20260101-{n:06d}",
        }
        for step in STEPS:
            for statement in step:
                cur.execute(statement, params)
            conn.commit()
    elapsed = time.perf_counter() - started
    cur.execute("DELETE FROM bench_ledger")
    conn.commit()
    conn.close()
    return {"orders_per_second": orders / elapsed, "ms_per_order": 1000 * elapsed / orders}
