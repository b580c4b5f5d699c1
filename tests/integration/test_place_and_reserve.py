"""Placing and reserving on a real PostgreSQL, driven as the tasks drive the services (no
Celery), checked where an operator would look: the database and the provider's ledger."""

from __future__ import annotations

import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text

from domain import contracts, steps
from domain.contracts import ContractViolation
from domain.db import session_factory
from domain.models import ProductStatus
from domain.services import customers, fulfilment, orders
from tests.integration.pipeline_helpers import (
    NOW,
    Pipeline,
    history,
    notification_states,
    on_hand_reserved,
    order_movements,
    order_state,
    payment_row,
    place_cmd,
    rows,
    scalar,
    stock_products,
    stock_variant,
)

# --- place ---------------------------------------------------------------------------------------


def test_given_same_idempotency_key_twice_when_placing_then_one_order_and_the_same_number(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})

    first, first_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))
    second, second_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))

    assert first.created is True
    assert second.created is False
    assert second.order_number == first.order_number
    assert second.order_id == first.order_id
    assert [step.task for step in first_steps] == [steps.RESERVE]
    assert second_steps == []
    assert scalar(engine, "SELECT count(*) FROM orders") == 1
    assert scalar(engine, "SELECT count(*) FROM order_items") == 1
    assert scalar(engine, "SELECT count(*) FROM payments") == 1
    assert scalar(engine, "SELECT count(*) FROM outbox") == 1


def test_given_a_key_used_for_another_request_when_placing_then_refused_naming_the_key(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10, "HAT-1": 10})
    first, _ = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))

    for other in (
        place_cmd("key-1", {"TEE-1": 3}),  # another quantity
        place_cmd("key-1", {"TEE-1": 2, "HAT-1": 1}),  # another line
        place_cmd("key-1", {"TEE-1": 2}, token="tok_decline"),  # another card
        place_cmd("key-1", {"TEE-1": 2}, email="someone.else@example.com"),
    ):
        with pytest.raises(orders.KeyReused) as raised:
            pipeline.place(other)
        assert raised.value.field == "idempotency_key"
        assert "'key-1' was already used for another request" in str(raised.value)
        assert first.order_number in str(raised.value)

    again, again_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))  # the first, unchanged
    assert (again.order_id, again.created, again_steps) == (first.order_id, False, [])
    assert scalar(engine, "SELECT count(*) FROM orders") == 1
    assert [tuple(r) for r in rows(engine, "SELECT product_sku, quantity FROM order_items")] == [
        ("TEE-1", 2)
    ]
    assert scalar(engine, "SELECT count(*) FROM outbox") == 1


def test_given_payloads_that_parse_alike_when_placing_then_the_same_request(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    payload = place_cmd("key-1", {"TEE-1": 2}).model_dump(mode="json")
    first, _ = pipeline.place(contracts.parse(contracts.PlaceOrder, (), payload))
    spaced = {
        **{k: payload[k] for k in reversed(list(payload))},  # other key order
        "customer_name": f"  {payload['customer_name']} ",  # stripped by the contract
    }

    again, _ = pipeline.place(contracts.parse(contracts.PlaceOrder, (), spaced))

    assert (again.order_id, again.created) == (first.order_id, False)


def test_given_an_order_placed_before_fingerprints_when_its_key_comes_again_then_its_order(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    first, _ = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))
    with engine.begin() as conn:
        conn.execute(text("UPDATE orders SET request_fingerprint = NULL"))

    again, _ = pipeline.place(place_cmd("key-1", {"TEE-1": 5}))

    assert (again.order_id, again.created) == (first.order_id, False)


def test_given_one_key_with_two_requests_at_once_then_one_order_and_the_other_refused(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 100})
    for round_ in range(10):
        key = f"race-{round_}"
        start = threading.Barrier(6)

        def place(quantity: int, key: str = key, start: threading.Barrier = start) -> object:
            start.wait()
            try:
                return pipeline.place(place_cmd(key, {"TEE-1": quantity}))[0]
            except orders.KeyReused as refused:
                return refused

        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(place, [1, 2, 1, 2, 1, 2]))

        quantity = scalar(
            engine,
            "SELECT i.quantity FROM order_items i JOIN orders o ON o.id = i.order_id"
            " WHERE o.idempotency_key = :k",
            k=key,
        )
        for asked, result in zip([1, 2, 1, 2, 1, 2], results, strict=True):
            assert isinstance(result, orders.KeyReused) == (asked != quantity), results
        assert sum(isinstance(r, orders.Placed) and r.created for r in results) == 1


def test_given_unknown_sku_on_second_line_when_placing_then_violation_names_lines_1_sku(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})

    with pytest.raises(ContractViolation) as raised:
        pipeline.place(place_cmd("key-1", {"TEE-1": 1, "NOPE-9": 1}))

    assert raised.value.field == "lines.1.sku"
    assert "NOPE-9" in str(raised.value)
    assert scalar(engine, "SELECT count(*) FROM orders") == 0
    assert scalar(engine, "SELECT count(*) FROM outbox") == 0


def test_given_sku_sold_in_usd_when_placing_in_eur_then_violation_names_currency(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})

    with pytest.raises(ContractViolation) as raised:
        pipeline.place(place_cmd("key-1", {"TEE-1": 1}, currency="EUR"))

    assert raised.value.field == "currency"
    assert scalar(engine, "SELECT count(*) FROM orders") == 0


def test_given_inactive_product_when_placing_then_violation_says_not_for_sale(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"OLD-1": 10}, status=ProductStatus.INACTIVE)

    with pytest.raises(ContractViolation, match="not for sale") as raised:
        pipeline.place(place_cmd("key-1", {"OLD-1": 1}))

    assert raised.value.field == "lines.0.sku"
    assert scalar(engine, "SELECT count(*) FROM orders") == 0


def test_given_soft_deleted_variant_when_placing_then_violation_says_not_for_sale(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    stock_variant(engine, "TEE-1", "TEE-1-RED", adjustment=0, on_hand=4)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE product_variants SET deleted_at = :now WHERE sku = 'TEE-1-RED'"),
            {"now": NOW},
        )

    with pytest.raises(ContractViolation, match="not for sale") as raised:
        pipeline.place(place_cmd("key-1", {"TEE-1-RED": 1}))

    assert raised.value.field == "lines.0.sku"
    assert scalar(engine, "SELECT count(*) FROM orders") == 0


def test_given_a_vendors_email_when_placing_then_violation_names_customer_email(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    vendor_email = scalar(engine, "SELECT email FROM users WHERE user_type = 'vendor'")

    with pytest.raises(ContractViolation) as raised:
        pipeline.place(place_cmd("key-1", {"TEE-1": 1}, email=vendor_email))

    assert raised.value.field == "customer_email"
    assert scalar(engine, "SELECT count(*) FROM orders") == 0
    assert scalar(engine, "SELECT count(*) FROM customers") == 0


def test_given_variant_sku_when_placing_then_the_variant_is_ordered_at_its_price(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10}, price=2000)
    variant_id = stock_variant(engine, "TEE-1", "TEE-1-RED", adjustment=250, on_hand=4)

    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1-RED": 3}))
    pipeline.drain(placed_steps, until=steps.CAPTURE)

    item = rows(engine, "SELECT * FROM order_items WHERE order_id = :id", id=placed.order_id)[0]
    assert item.variant_id == variant_id
    assert item.product_sku == "TEE-1-RED"
    assert item.unit_price == 2000 + 250
    assert item.total_price == 3 * 2250
    assert item.variant_attributes == {"colour": "red"}
    assert payment_row(engine, placed.order_id)["amount"] == 3 * 2250
    assert order_state(engine, placed.order_id)[0] == "confirmed"
    variant_stock = rows(
        engine,
        "SELECT quantity_on_hand, quantity_reserved FROM inventory_variants WHERE variant_id = :v",
        v=variant_id,
    )[0]
    assert tuple(variant_stock) == (4, 3)
    assert on_hand_reserved(engine, "TEE-1") == (10, 0)


def test_given_50_orders_when_placed_then_50_distinct_well_formed_numbers(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 1000})

    numbers = [
        pipeline.place(place_cmd(f"key-{i}", {"TEE-1": 1}))[0].order_number for i in range(50)
    ]

    assert all(re.fullmatch(r"ORD-\d{8}-[A-Z0-9]{6}", number) for number in numbers), numbers
    assert all(number.startswith("ORD-20261127-") for number in numbers)
    assert len(set(numbers)) == 50
    assert scalar(engine, "SELECT count(DISTINCT order_number) FROM orders") == 50


# --- reserve -------------------------------------------------------------------------------------


def _plenty_then_short(engine: Engine) -> tuple[str, str]:
    """Two SKUs whose stock rows lock in this order: the first has enough, the second not."""
    ids = stock_products(engine, {"AAA-1": 5, "BBB-1": 5})
    by_row = {
        scalar(engine, "SELECT id FROM inventory WHERE product_id = :p", p=pid): sku
        for sku, pid in ids.items()
    }
    plenty, short = (by_row[row] for row in sorted(by_row))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE inventory SET quantity_on_hand = 1 WHERE product_id = :p"),
            {"p": ids[short]},
        )
    return plenty, short


def test_given_second_line_short_when_reserving_then_nothing_held_and_order_cancelled(
    pipeline: Pipeline, engine: Engine
) -> None:
    plenty, short = _plenty_then_short(engine)
    placed, placed_steps = pipeline.place(place_cmd("key-1", {plenty: 2, short: 2}))

    staged = pipeline.run(placed_steps[0])

    assert pipeline.ran == [(steps.RESERVE, "cancelled")]
    assert on_hand_reserved(engine, plenty) == (5, 0)
    assert on_hand_reserved(engine, short) == (1, 0)
    plenty_version = scalar(
        engine,
        "SELECT i.version FROM inventory i JOIN products p ON p.id = i.product_id "
        "WHERE p.sku = :sku",
        sku=plenty,
    )
    assert plenty_version == 3  # the first line was held, then given back
    assert order_movements(engine, placed.order_id) == []
    assert order_state(engine, placed.order_id) == ("cancelled", "cancelled")
    assert payment_row(engine, placed.order_id)["status"] == "cancelled"
    notes = rows(
        engine,
        "SELECT notes FROM order_status_history WHERE order_id = :id AND new_status = 'cancelled'",
        id=placed.order_id,
    )
    assert [row.notes for row in notes] == [f"out of stock: {short}"]
    notice = rows(
        engine, "SELECT kind, context FROM notifications WHERE order_id = :id", id=placed.order_id
    )
    assert [row.kind for row in notice] == ["order_cancelled"]
    assert short in notice[0].context["reason"]
    assert [step.task for step in staged] == [steps.NOTIFY]


def test_given_reserve_delivered_twice_when_run_then_stock_reserved_once(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10, "MUG-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2, "MUG-1": 3}))

    first = pipeline.run(placed_steps[0])
    second = pipeline.run(placed_steps[0])

    assert pipeline.ran == [(steps.RESERVE, "confirmed"), (steps.RESERVE, "confirmed")]
    assert [step.task for step in first] == [steps.CAPTURE]
    assert second == []
    assert on_hand_reserved(engine, "TEE-1") == (10, 2)
    assert on_hand_reserved(engine, "MUG-1") == (10, 3)
    assert order_movements(engine, placed.order_id) == [
        ("MUG-1", "reserve", 3),
        ("TEE-1", "reserve", 2),
    ]
    assert history(engine, placed.order_id) == ["pending", "confirmed"]


# --- the whole way -------------------------------------------------------------------------------


def test_given_stock_and_good_card_when_driven_then_shipped_paid_and_books_balance(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10, "MUG-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2, "MUG-1": 1}))

    assert pipeline.drain(placed_steps) == []

    oid = placed.order_id
    assert order_state(engine, oid) == ("shipped", "captured")
    payment = payment_row(engine, oid)
    assert payment["status"] == "captured"
    assert payment["amount"] == 3 * 1250
    assert payment["provider"] == "simulated"
    assert pipeline.gateway.captures(str(payment["idempotency_key"])) == 1
    [ledger] = pipeline.gateway.ledger()
    assert ledger["reference"] == payment["provider_reference"]
    assert ledger["status"] == "captured"
    shipment = rows(engine, "SELECT * FROM shipments WHERE order_id = :id", id=oid)
    assert len(shipment) == 1
    assert shipment[0].tracking_number == fulfilment.tracking_number(uuid.UUID(oid))
    assert scalar(engine, "SELECT tracking_number FROM orders WHERE id = :id", id=oid) == (
        shipment[0].tracking_number
    )
    assert on_hand_reserved(engine, "TEE-1") == (8, 0)
    assert on_hand_reserved(engine, "MUG-1") == (9, 0)
    assert order_movements(engine, oid) == [
        ("MUG-1", "out", 1),
        ("MUG-1", "reserve", 1),
        ("TEE-1", "out", 2),
        ("TEE-1", "reserve", 2),
    ]
    assert history(engine, oid) == ["pending", "confirmed", "processing", "shipped"]
    assert notification_states(engine, oid) == {"order_confirmed": "sent", "order_shipped": "sent"}
    assert [email.headers["X-Backroom-Kind"] for email in pipeline.mailer.sent] == [
        "order_confirmed",  # in the order they were decided, by one send
        "order_shipped",
    ]
    assert scalar(engine, "SELECT count(*) FROM outbox WHERE consumed_at IS NULL") == 0
    tasks = "SELECT task FROM outbox ORDER BY id"
    assert [row.task for row in rows(engine, tasks)] == [
        steps.RESERVE,
        steps.CAPTURE,
        steps.FULFIL,
        steps.NOTIFY,
    ]


def test_given_declined_card_when_driven_then_cancelled_stock_released_customer_told(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}, token="tok_decline"))

    pipeline.drain(placed_steps)

    oid = placed.order_id
    assert order_state(engine, oid) == ("cancelled", "failed")
    payment = payment_row(engine, oid)
    assert payment["status"] == "failed"
    assert payment["failure_reason"] == "card declined"
    assert on_hand_reserved(engine, "TEE-1") == (10, 0)
    assert order_movements(engine, oid) == [("TEE-1", "release", 2), ("TEE-1", "reserve", 2)]
    assert notification_states(engine, oid) == {"payment_failed": "sent"}
    assert history(engine, oid) == ["pending", "confirmed", "cancelled"]
    assert pipeline.gateway.captures() == 0
    assert [row["status"] for row in pipeline.gateway.ledger()] == ["declined"]
    assert scalar(engine, "SELECT count(*) FROM shipments") == 0


def test_given_one_new_email_in_eight_orders_at_once_then_one_customer_and_no_error(
    engine: Engine,
) -> None:
    """Eight workers placing the first orders of one new customer at the same moment (a
    duplicated message, or a shopper's double click) all find the same guest account."""
    factory = session_factory(engine)
    for round_ in range(15):
        email = f"race-{round_}-{uuid.uuid4().hex[:6]}@example.com"
        start = threading.Barrier(8)

        def find(email: str = email, start: threading.Barrier = start) -> uuid.UUID:
            with factory() as session, session.begin():
                start.wait()
                return customers.customer_for(session, email, "Ada Lovelace")

        with ThreadPoolExecutor(8) as pool:
            found = [f.result() for f in [pool.submit(find) for _ in range(8)]]

        assert len(set(found)) == 1
        assert scalar(engine, "SELECT count(*) FROM users WHERE email = :e", e=email) == 1
