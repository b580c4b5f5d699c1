"""Cancelling and paying: refunds, declines and a capture that lands after a cancel, driven
through the step handlers as the tasks drive them (no Celery), on a real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from domain import steps
from domain.services import orders
from domain.uow import Step
from tests.integration.pipeline_helpers import (
    Pipeline,
    charge_after_cancel,
    customer_cancels,
    history,
    notification_states,
    on_hand_reserved,
    order_movements,
    order_state,
    payment_row,
    place_cmd,
    scalar,
    stock_products,
)

# --- cancel --------------------------------------------------------------------------------------


def test_given_pending_order_when_cancelled_then_cancelled_and_nothing_ever_reserved(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))

    result, cancel_steps = pipeline.cancel(placed.order_number)
    pipeline.drain(placed_steps + cancel_steps)  # the reserve message arrives after all

    assert result == {"order_number": placed.order_number, "status": "cancelled"}
    assert (steps.RESERVE, "cancelled") in pipeline.ran
    assert order_state(engine, placed.order_id) == ("cancelled", "cancelled")
    assert payment_row(engine, placed.order_id)["status"] == "cancelled"
    assert on_hand_reserved(engine, "TEE-1") == (10, 0)
    assert order_movements(engine, placed.order_id) == []
    assert notification_states(engine, placed.order_id) == {"order_cancelled": "sent"}


def test_given_confirmed_order_when_cancelled_then_stock_released_and_payment_cancelled(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))
    left = pipeline.drain(placed_steps, until=steps.CAPTURE)

    _, cancel_steps = pipeline.cancel(placed.order_number)
    pipeline.drain(left + cancel_steps)

    assert (steps.CAPTURE, "skipped") in pipeline.ran
    assert order_state(engine, placed.order_id) == ("cancelled", "cancelled")
    assert payment_row(engine, placed.order_id)["status"] == "cancelled"
    assert on_hand_reserved(engine, "TEE-1") == (10, 0)
    assert order_movements(engine, placed.order_id) == [
        ("TEE-1", "release", 2),
        ("TEE-1", "reserve", 2),
    ]
    assert pipeline.gateway.ledger() == []
    assert history(engine, placed.order_id) == ["pending", "confirmed", "cancelled"]


def test_given_paid_order_when_cancelled_then_stock_released_and_payment_refunded(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))
    left = pipeline.drain(placed_steps, until=steps.FULFIL)
    assert order_state(engine, placed.order_id) == ("processing", "captured")

    result, cancel_steps = pipeline.cancel(placed.order_number)

    assert result["status"] == "cancelled"
    assert [step.task for step in cancel_steps] == [steps.REFUND, steps.NOTIFY]
    assert on_hand_reserved(engine, "TEE-1") == (10, 0)
    pipeline.drain(left + cancel_steps)
    oid = placed.order_id
    assert (steps.FULFIL, "cancelled") in pipeline.ran
    assert order_state(engine, oid) == ("refunded", "refunded")
    payment = payment_row(engine, oid)
    assert payment["status"] == "refunded"
    assert payment["refunded_amount"] == payment["amount"] == 2 * 1250
    [ledger] = pipeline.gateway.ledger()
    assert ledger["status"] == "refunded"
    assert ledger["refunded_amount"] == 2 * 1250
    assert order_movements(engine, oid) == [("TEE-1", "release", 2), ("TEE-1", "reserve", 2)]
    assert scalar(engine, "SELECT count(*) FROM shipments") == 0
    assert history(engine, oid) == ["pending", "confirmed", "processing", "cancelled", "refunded"]
    assert notification_states(engine, oid) == {
        "order_confirmed": "sent",
        "order_cancelled": "sent",
    }


def test_given_shipped_order_when_cancelled_then_not_cancellable(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))
    pipeline.drain(placed_steps)

    with pytest.raises(orders.NotCancellable, match="shipped"):
        pipeline.cancel(placed.order_number)

    assert order_state(engine, placed.order_id) == ("shipped", "captured")
    assert on_hand_reserved(engine, "TEE-1") == (8, 0)


def test_given_cancelled_order_when_cancelled_again_then_nothing_changes(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))
    pipeline.drain(placed_steps, until=steps.CAPTURE)

    first, first_steps = pipeline.cancel(placed.order_number, "changed my mind")
    second, second_steps = pipeline.cancel(placed.order_number, "really")

    assert first == second == {"order_number": placed.order_number, "status": "cancelled"}
    assert [step.task for step in first_steps] == [steps.NOTIFY]
    assert second_steps == []
    assert history(engine, placed.order_id) == ["pending", "confirmed", "cancelled"]
    assert order_movements(engine, placed.order_id) == [
        ("TEE-1", "release", 2),
        ("TEE-1", "reserve", 2),
    ]
    assert scalar(engine, "SELECT count(*) FROM notifications") == 1


def test_given_unknown_order_number_when_cancelled_then_order_not_found(
    pipeline: Pipeline,
) -> None:
    with pytest.raises(orders.OrderNotFound, match="ORD-20261127-ZZZZZZ"):
        pipeline.cancel("ORD-20261127-ZZZZZZ")


def test_given_capture_lands_after_cancel_then_refunded_and_never_shipped(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    race = charge_after_cancel(pipeline, {"TEE-1": 2})
    placed, gateway = race.placed, pipeline.gateway

    assert pipeline.ran[-1] == (steps.CAPTURE, "cancelled")
    assert [step.task for step in race.capture_steps] == [steps.REFUND]
    assert order_state(engine, placed.order_id) == ("cancelled", "captured")
    pipeline.drain(race.cancel_steps + race.capture_steps)
    assert order_state(engine, placed.order_id) == ("refunded", "refunded")
    assert payment_row(engine, placed.order_id)["status"] == "refunded"
    [ledger] = gateway.ledger()
    assert (ledger["status"], ledger["refunded_amount"]) == ("refunded", 2 * 1250)
    assert "shipped" not in history(engine, placed.order_id)
    assert "processing" not in history(engine, placed.order_id)
    assert scalar(engine, "SELECT count(*) FROM shipments") == 0
    assert scalar(engine, "SELECT count(*) FROM outbox WHERE task = :t", t=steps.FULFIL) == 0
    assert on_hand_reserved(engine, "TEE-1") == (10, 0)
    assert scalar(engine, "SELECT count(*) FROM outbox WHERE consumed_at IS NULL") == 0


def test_given_refunded_order_when_a_duplicate_capture_lands_then_payment_stays_refunded(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}))
    [capture] = pipeline.drain(placed_steps, until=steps.CAPTURE)
    gateway, first_delivery_asked = pipeline.gateway, list[Step]()

    def second_delivery_runs_meanwhile() -> None:
        """Both deliveries read 'confirmed'; while the provider serves the first, the second
        is charged, the customer cancels during it, and the refund goes through."""
        cancel_steps: list[Step] = []
        gateway.during_authorize.append(
            customer_cancels(pipeline, placed.order_number, cancel_steps)
        )
        second_asked = pipeline.run(capture)
        pipeline.drain(cancel_steps + second_asked)
        assert order_state(engine, placed.order_id) == ("refunded", "refunded")

    gateway.during_authorize.append(second_delivery_runs_meanwhile)
    first_delivery_asked = pipeline.run(capture)  # lands late, with the same single charge

    assert pipeline.ran[-1] == (steps.CAPTURE, "refunded")
    assert first_delivery_asked == []
    assert order_state(engine, placed.order_id) == ("refunded", "refunded")
    payment = payment_row(engine, placed.order_id)
    assert (payment["status"], payment["refunded_amount"]) == ("refunded", 2 * 1250)
    [ledger] = gateway.ledger()
    assert ledger["status"] == "refunded"
