"""The order pipeline with real worker processes, a real broker (Redis and RabbitMQ), the
run's PostgreSQL and a real SMTP server: what an operator would check in the database."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from backroom_client import BackroomClient
from domain.secrets import redact_tokens
from domain.services import reorder
from tests import factories
from tests.e2e.harness import Broker, Processes, rows, scalar, wait_for, wait_for_workers
from tests.smtp_server import SmtpServer

FINAL = "('shipped', 'cancelled', 'refunded')"


def stock(engine: Engine, **skus: int) -> None:
    """Products with these SKUs and units on hand, committed for the workers to see."""
    with Session(engine) as s, s.begin():
        owner = factories.vendor(s)
        for sku, units in skus.items():
            factories.product(
                s, sku=sku.replace("_", "-"), on_hand=units, vendor=owner, base_price=1250
            )


def order(key: str, token: str = "tok_ok", **lines: int) -> dict[str, Any]:
    return {
        "idempotency_key": key,
        "customer_email": f"{key}@example.com",
        "customer_name": "Ada Lovelace",
        "currency": "USD",
        "lines": [{"sku": sku.replace("_", "-"), "quantity": qty} for sku, qty in lines.items()],
        "shipping_address": factories.ADDRESS,
        "payment_token": token,
    }


def all_final(engine: Engine, expected: int) -> bool:
    done = scalar(engine, f"SELECT count(*) FROM orders WHERE status IN {FINAL}")
    sent = scalar(engine, "SELECT count(*) FROM notifications WHERE status <> 'sent'")
    return bool(done == expected and sent == 0)


def emails_by_order_and_kind(smtp: SmtpServer) -> Counter[tuple[str, str]]:
    """The customer emails the server got, by (order number, kind); vendors' reorder emails,
    which a beat's reorder check may send meanwhile, are not customer emails."""
    kinds: Counter[tuple[str, str]] = Counter()
    for received in smtp.messages:
        if received.message["X-Backroom-Kind"] == reorder.KIND:
            continue
        subject = str(received.message["Subject"])
        number = next(word for word in subject.split() if word.startswith("ORD-"))
        kinds[(number, str(received.message["X-Backroom-Kind"]))] += 1
    return kinds


def test_given_mixed_orders_when_workers_run_then_every_order_final_and_books_balance(
    broker: Broker, processes: Processes, clean: Engine, smtp_server: SmtpServer
) -> None:
    stock(clean, A_1=100, B_1=100, GONE_1=0)
    payloads = (
        [order(f"ok-{i}", A_1=1) for i in range(20)]
        + [order(f"decline-{i}", "tok_decline", B_1=1) for i in range(5)]
        + [order(f"flaky-{i}", "tok_flaky", A_1=2) for i in range(5)]
        + [order(f"oos-{i}", GONE_1=1) for i in range(5)]
        + [order(f"multi-{i}", A_1=1, B_1=3) for i in range(5)]
    )
    processes.worker("w1", concurrency=2)
    wait_for_workers(broker, 1, processes)
    client = broker.client()
    placed = [client.place_order(**payload) for payload in payloads]
    first = placed[0].get(timeout=30)
    assert first["order_number"].startswith("ORD-")
    assert first["status"] == "pending"
    wait_for(lambda: all_final(clean, len(payloads)), 120, "all orders final", processes.logs)

    statuses = dict(rows(clean, "SELECT status, count(*) FROM orders GROUP BY status"))
    assert statuses == {"shipped": 30, "cancelled": 10}
    captured = scalar(clean, "SELECT count(*) FROM payments WHERE status = 'captured'")
    assert captured == 30
    assert (
        scalar(clean, "SELECT count(*) FROM payment_sim.payments WHERE status = 'captured'") == 30
    )
    assert scalar(clean, "SELECT count(*) FROM shipments") == 30
    shipped_units = dict(
        rows(
            clean,
            "SELECT i.product_sku, sum(i.quantity) FROM order_items i JOIN orders o "
            "ON o.id = i.order_id WHERE o.status = 'shipped' GROUP BY 1",
        )
    )
    assert shipped_units == {"A-1": 20 + 10 + 5, "B-1": 15}
    on_hand = dict(
        rows(
            clean,
            "SELECT p.sku, i.quantity_on_hand FROM inventory i "
            "JOIN products p ON p.id = i.product_id",
        )
    )
    assert on_hand == {"A-1": 100 - 35, "B-1": 100 - 15, "GONE-1": 0}
    assert scalar(clean, "SELECT coalesce(sum(quantity_reserved), 0) FROM inventory") == 0
    below_zero = (
        "SELECT count(*) FROM inventory WHERE quantity_on_hand < 0 OR quantity_reserved < 0"
    )
    assert scalar(clean, below_zero) == 0
    emails = emails_by_order_and_kind(smtp_server)
    assert set(emails.values()) == {1}
    assert Counter(kind for _, kind in emails) == {
        "order_confirmed": 30,
        "order_shipped": 30,
        "payment_failed": 5,
        "order_cancelled": 5,
    }
    client.close()


def test_given_300_orders_for_100_units_when_4_processes_race_then_exactly_100_ship(
    broker: Broker, processes: Processes, clean: Engine
) -> None:
    stock(clean, HOT_1=100)
    processes.worker("w1", concurrency=2)
    processes.worker("w2", concurrency=2)
    wait_for_workers(broker, 2, processes)
    client = broker.client()
    for i in range(300):
        client.place_order(**order(f"hot-{i}", HOT_1=1))
    wait_for(lambda: all_final(clean, 300), 240, "300 orders final", processes.logs)

    statuses = dict(rows(clean, "SELECT status, count(*) FROM orders GROUP BY status"))
    assert statuses == {"shipped": 100, "cancelled": 200}
    cancelled_for_stock = scalar(
        clean,
        "SELECT count(*) FROM order_status_history WHERE new_status = 'cancelled' "
        "AND notes LIKE 'out of stock: HOT-1'",
    )
    assert cancelled_for_stock == 200
    inventory = rows(clean, "SELECT quantity_on_hand, quantity_reserved FROM inventory")
    assert [tuple(row) for row in inventory] == [(0, 0)]
    out = scalar(clean, "SELECT sum(quantity) FROM inventory_movements WHERE movement_type = 'out'")
    assert out == 100
    client.close()


def test_given_same_place_message_three_times_then_one_order_one_capture_one_email_each(
    broker: Broker, processes: Processes, clean: Engine, smtp_server: SmtpServer
) -> None:
    stock(clean, DUP_1=10)
    processes.worker("w1", concurrency=2)
    wait_for_workers(broker, 1, processes)
    client = broker.client()
    payload = order("dup-key", DUP_1=2)
    task_id = str(uuid.uuid4())  # one message, delivered three times
    results = [
        client.app.send_task("orders.place", kwargs=payload, queue="orders", task_id=task_id)
        for _ in range(3)
    ]
    numbers = {results[0].get(timeout=30)["order_number"]}
    wait_for(lambda: all_final(clean, 1), 60, "the order final", processes.logs)
    wait_for(lambda: len(smtp_server.messages) >= 2, 30, "two emails")

    assert scalar(clean, "SELECT count(*) FROM orders") == 1
    assert scalar(clean, "SELECT status FROM orders") == "shipped"
    assert scalar(clean, "SELECT order_number FROM orders") in numbers
    assert scalar(clean, "SELECT count(*) FROM payment_sim.payments WHERE status = 'captured'") == 1
    assert scalar(clean, "SELECT quantity_on_hand FROM inventory") == 8
    assert sorted(emails_by_order_and_kind(smtp_server).values()) == [1, 1]
    client.close()


def test_given_worker_killed_mid_capture_then_no_order_lost_and_one_capture(
    broker: Broker, processes: Processes, clean: Engine, smtp_server: SmtpServer
) -> None:
    stock(clean, SLOW_1=5)
    first = processes.worker("doomed", concurrency=1)
    wait_for_workers(broker, 1, processes)
    client = broker.client()
    client.place_order(**order("slow-1", "tok_slow", SLOW_1=1))
    wait_for(
        lambda: scalar(clean, "SELECT status FROM orders") == "confirmed", 30, "stock reserved"
    )
    wait_for(
        lambda: (
            scalar(
                clean,
                "SELECT count(*) FROM outbox "
                "WHERE task = 'inventory.reserve' AND consumed_at IS NOT NULL",
            )
            == 1
        ),
        10,
        "capture handed to the broker",
    )
    time.sleep(1.0)  # the capture is now inside the provider's 2 s call
    processes.kill(first)
    assert scalar(clean, "SELECT status FROM orders") == "confirmed"

    processes.worker("rescuer", concurrency=1, BACKROOM_SWEEP_PUBLISH_AFTER="2")
    processes.beat()
    wait_for(lambda: all_final(clean, 1), 90, "the order final after the kill", processes.logs)

    assert scalar(clean, "SELECT status FROM orders") == "shipped"
    assert scalar(clean, "SELECT count(*) FROM payment_sim.payments WHERE status = 'captured'") == 1
    assert scalar(clean, "SELECT count(*) FROM payments WHERE status = 'captured'") == 1
    assert sorted(emails_by_order_and_kind(smtp_server).values()) == [1, 1]
    client.close()


BAD_PAYLOADS = [
    ({"customer_email": "not-an-email"}, "customer_email"),
    ({"coupon": "FREE"}, "coupon"),
    ({"lines": [{"sku": "NOPE-404", "quantity": 1}]}, "lines.0.sku"),
    ({"lines": [{"sku": "BAD-1", "quantity": 0}]}, "lines.0.quantity"),
    ({"idempotency_key": None}, "idempotency_key"),
]


@pytest.fixture
def orders_worker(broker: Broker, processes: Processes, clean: Engine) -> Iterator[BackroomClient]:
    """Five BAD-1 in stock, one worker on the public queue, and a client."""
    stock(clean, BAD_1=5)
    processes.worker("w1", concurrency=1, queues="orders")
    wait_for_workers(broker, 1, processes)
    client = broker.client()
    yield client
    client.close()


def test_given_bad_payloads_then_each_error_names_its_field_and_each_is_kept(
    orders_worker: BackroomClient, clean: Engine
) -> None:
    client = orders_worker
    sent = []
    for n, (change, field) in enumerate(BAD_PAYLOADS):
        payload = {**order(f"bad-{n}", BAD_1=1), **change}
        payload = {k: v for k, v in payload.items() if v is not None}
        with pytest.raises(Exception, match=f"^{field.replace('.', '[.]')}: "):
            client.place_order(**payload).get(timeout=30)
        sent.append((field, payload))
    not_an_object = client.app.send_task("orders.place", args=["just a string"], queue="orders")
    with pytest.raises(Exception, match=r"^payload: must be keyword arguments"):
        not_an_object.get(timeout=30)
    wait_for(lambda: scalar(clean, "SELECT count(*) FROM dead_letters") == 6, 10, "6 dead letters")

    letters = rows(clean, "SELECT task, reason, payload, error_type FROM dead_letters ORDER BY id")
    assert [letter.task for letter in letters] == ["orders.place"] * 6
    assert {letter.error_type for letter in letters} == {"ContractViolation"}
    for letter, (field, payload) in zip(letters, sent, strict=False):
        assert letter.reason.startswith(f"{field}: ")
        # the token is kept sealed: the letter shows as the message did, token redacted
        assert redact_tokens(letter.payload) == redact_tokens({"args": [], "kwargs": payload})
    assert letters[-1].payload == {"args": ["just a string"], "kwargs": {}}
    assert scalar(clean, "SELECT count(*) FROM orders") == 0
    assert scalar(clean, "SELECT quantity_on_hand FROM inventory") == 5


def test_given_a_key_reused_for_another_order_then_refused_kept_and_the_first_order_untouched(
    orders_worker: BackroomClient, clean: Engine
) -> None:
    client = orders_worker
    first = client.place_order(**order("reuse-1", BAD_1=1)).get(timeout=30)

    other = order("reuse-1", BAD_1=2)
    with pytest.raises(Exception, match=r"^idempotency_key: 'reuse-1' was already used") as raised:
        client.place_order(**other).get(timeout=30)
    again = client.place_order(**order("reuse-1", BAD_1=1)).get(timeout=30)
    wait_for(lambda: scalar(clean, "SELECT count(*) FROM dead_letters") == 1, 10, "a dead letter")

    assert first["order_number"] in str(raised.value)
    assert again == first
    letter = rows(clean, "SELECT task, reason, payload, error_type FROM dead_letters")[0]
    assert (letter.task, letter.error_type) == ("orders.place", "KeyReused")
    assert letter.reason.startswith("idempotency_key: 'reuse-1' was already used")
    assert redact_tokens(letter.payload) == redact_tokens({"args": [], "kwargs": other})
    assert scalar(clean, "SELECT count(*) FROM orders") == 1
    assert scalar(clean, "SELECT quantity FROM order_items") == 1
