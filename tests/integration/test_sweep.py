"""The sweep on a real PostgreSQL: it sends again what was lost on the way and re-drives
orders that stopped moving, with real thresholds and rows made old in the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from domain import steps
from domain.db import unit_of_work
from domain.handlers import SweepPolicy
from domain.models import DeadLetterStatus
from domain.services import dead_letters
from domain.uow import Step
from tests.integration.pipeline_helpers import (
    NOW,
    Pipeline,
    age_notifications,
    age_order,
    age_outbox,
    charge_after_cancel,
    consume_outbox,
    fresh_pipeline,
    history,
    place_cmd,
    rows,
    scalar,
    stock_products,
)

PUBLISH_AFTER = timedelta(seconds=30)
STUCK_AFTER = timedelta(minutes=5)
AN_HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class SweepReport:
    republished: list[Step]  # outbox rows sent again as they were
    redriven_orders: int
    redriven_notifications: int


def run_sweep(pipeline: Pipeline) -> tuple[SweepReport, list[Step]]:
    """One `orders.sweep`: what it sent again as it was, its counts, and the new steps."""
    ran = pipeline.sweep_once()
    counts = ran.value()
    resent = counts["republished"]
    report = SweepReport(
        ran.steps[:resent], counts["redriven_orders"], counts["redriven_notifications"]
    )
    return report, ran.steps[resent:]


def _outbox(engine: Engine) -> list[tuple[str, int, bool]]:
    found = rows(
        engine, "SELECT task, sends, consumed_at IS NOT NULL AS done FROM outbox ORDER BY id"
    )
    return [(r.task, r.sends, r.done) for r in found]


# --- lost messages -------------------------------------------------------------------------------


@pytest.fixture
def pipeline(engine: Engine) -> Pipeline:
    """The driver on an emptied database, with one product in stock."""
    pipeline = fresh_pipeline(engine)
    pipeline.sweep = SweepPolicy(publish_after=PUBLISH_AFTER, stuck_after=STUCK_AFTER)
    stock_products(engine, {"TEE-1": 10})
    return pipeline


def test_given_old_unconsumed_outbox_row_when_swept_then_republished_and_counted(
    pipeline: Pipeline, engine: Engine
) -> None:
    placed, [reserve] = pipeline.place(place_cmd("key-1", {"TEE-1": 1}))
    age_outbox(engine, AN_HOUR)

    report, redriven = run_sweep(pipeline)

    assert report.republished == [reserve]
    assert (report.redriven_orders, report.redriven_notifications, redriven) == (0, 0, [])
    assert _outbox(engine) == [(steps.RESERVE, 2, False)]
    recent = scalar(engine, "SELECT sent_at > now() - interval '1 minute' FROM outbox")
    assert recent is True  # the next sweep waits publish_after again
    again, _ = run_sweep(pipeline)
    assert again.republished == []
    pipeline.drain(report.republished)  # the republished message does the work once
    assert scalar(engine, "SELECT status FROM orders WHERE id = :id", id=placed.order_id) == (
        "shipped"
    )


def test_given_fresh_unconsumed_outbox_row_when_swept_then_left_alone(
    pipeline: Pipeline, engine: Engine
) -> None:
    pipeline.place(place_cmd("key-1", {"TEE-1": 1}))

    report, redriven = run_sweep(pipeline)

    assert report == SweepReport([], 0, 0)
    assert redriven == []
    assert _outbox(engine) == [(steps.RESERVE, 1, False)]


def test_given_consumed_outbox_row_when_swept_then_not_republished(
    pipeline: Pipeline, engine: Engine
) -> None:
    _, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 1}))
    pipeline.drain(placed_steps)
    age_outbox(engine, AN_HOUR)

    report, redriven = run_sweep(pipeline)

    assert report.republished == []
    assert redriven == []
    assert {sends for _, sends, _ in _outbox(engine)} == {1}


# --- orders that stopped moving ------------------------------------------------------------------


def test_given_order_stuck_in_confirmed_when_swept_then_capture_staged_and_order_touched(
    pipeline: Pipeline, engine: Engine
) -> None:
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 1}))
    pipeline.drain(placed_steps, until=steps.CAPTURE)
    consume_outbox(engine, steps.CAPTURE)  # the capture message was lost after delivery
    age_order(engine, placed.order_id, AN_HOUR)

    report, redriven = run_sweep(pipeline)

    assert report.redriven_orders == 1
    assert report.republished == []
    assert [(step.task, step.kwargs) for step in redriven] == [
        (steps.CAPTURE, {"order_id": placed.order_id})
    ]
    assert scalar(engine, "SELECT order_id FROM outbox WHERE id = :id", id=redriven[0].id) == (
        uuid.UUID(placed.order_id)
    )
    consume_outbox(engine)
    again, _ = run_sweep(pipeline)
    assert again.redriven_orders == 0  # touched: the re-driven step gets stuck_after to work
    pipeline.drain(redriven)
    assert history(engine, placed.order_id) == ["pending", "confirmed", "processing", "shipped"]
    assert pipeline.gateway.captures() == 1


def test_given_stuck_order_whose_step_is_an_open_dead_letter_then_it_waits_for_the_operator(
    pipeline: Pipeline, engine: Engine
) -> None:
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 1}))
    pipeline.drain(placed_steps, until=steps.CAPTURE)
    consume_outbox(engine, steps.CAPTURE)
    age_order(engine, placed.order_id, AN_HOUR)
    with unit_of_work(pipeline.factory) as s:
        letter_id = dead_letters.record(
            s,
            task=steps.CAPTURE,
            task_id="t-1",
            queue="payments",
            payload={"args": [], "kwargs": {"order_id": placed.order_id, "outbox_id": 7}},
            reason="payment provider unavailable (attempt 9), try again",
            error_type="PaymentUnavailable",
        )

    waiting, _ = run_sweep(pipeline)
    with unit_of_work(pipeline.factory) as s:
        dead_letters.resolve(s, letter_id, DeadLetterStatus.DISCARDED, "ok", NOW)
    resumed, redriven = run_sweep(pipeline)

    assert waiting.redriven_orders == 0
    assert resumed.redriven_orders == 1
    assert [step.task for step in redriven] == [steps.CAPTURE]


def test_given_order_with_unconsumed_outbox_row_when_swept_then_not_redriven(
    pipeline: Pipeline, engine: Engine
) -> None:
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 1}))
    [capture] = pipeline.drain(placed_steps, until=steps.CAPTURE)
    age_order(engine, placed.order_id, AN_HOUR)

    report, redriven = run_sweep(pipeline)

    assert report.redriven_orders == 0
    assert redriven == []
    assert report.republished == []  # the capture message is not old yet either
    assert _outbox(engine) == [(steps.RESERVE, 1, True), (steps.CAPTURE, 1, False)]
    age_outbox(engine, AN_HOUR)
    later, redriven_later = run_sweep(pipeline)
    assert later.republished == [capture]  # sent again as it was, not re-driven as well
    assert (later.redriven_orders, redriven_later) == (0, [])


def test_given_old_pending_notification_when_swept_then_its_send_is_staged_again(
    pipeline: Pipeline, engine: Engine
) -> None:
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 11}))  # out of stock
    [send] = pipeline.drain(placed_steps, until=steps.NOTIFY)
    consume_outbox(engine)  # the send message was lost after delivery
    age_notifications(engine, AN_HOUR)

    report, redriven = run_sweep(pipeline)

    assert report.redriven_notifications == 1
    assert report.redriven_orders == 0  # cancelled and not paid: nothing left to drive
    assert [(step.task, step.kwargs) for step in redriven] == [(steps.NOTIFY, send.kwargs)]
    pipeline.drain(redriven)
    status = scalar(
        engine, "SELECT status FROM notifications WHERE order_id = :id", id=placed.order_id
    )
    assert status == "sent"
    assert [email.headers["X-Backroom-Kind"] for email in pipeline.mailer.sent] == [
        "order_cancelled"
    ]


def test_given_paid_order_whose_fulfilment_stalls_when_swept_then_confirmation_sent_alone(
    pipeline: Pipeline, engine: Engine
) -> None:
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 1}))
    [fulfil] = pipeline.drain(placed_steps, until=steps.FULFIL)
    # paid; its confirmation waits for fulfilment's send, and fulfilment goes to an operator
    with unit_of_work(pipeline.factory) as s:
        dead_letters.record(
            s,
            task=steps.FULFIL,
            task_id="t-1",
            queue="orders",
            payload={"args": [], "kwargs": fulfil.kwargs},
            reason="warehouse system down",
            error_type="RuntimeError",
        )
    consume_outbox(engine)
    age_notifications(engine, AN_HOUR)
    age_order(engine, placed.order_id, AN_HOUR)

    report, redriven = run_sweep(pipeline)

    assert report.redriven_orders == 0  # waits for the operator
    assert [(step.task, step.kwargs) for step in redriven] == [
        (steps.NOTIFY, {"order_id": placed.order_id})
    ]
    pipeline.drain(redriven)
    assert [email.headers["X-Backroom-Kind"] for email in pipeline.mailer.sent] == [
        "order_confirmed"
    ]
    assert history(engine, placed.order_id)[-1] == "processing"


def test_given_fresh_pending_notification_when_swept_then_left_alone(
    pipeline: Pipeline, engine: Engine
) -> None:
    _, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 11}))
    pipeline.drain(placed_steps, until=steps.NOTIFY)
    consume_outbox(engine)

    report, redriven = run_sweep(pipeline)

    assert report.redriven_notifications == 0
    assert redriven == []


def test_given_cancelled_order_with_captured_payment_when_swept_then_refund_staged(
    pipeline: Pipeline, engine: Engine
) -> None:
    race = charge_after_cancel(pipeline, {"TEE-1": 2})  # the capture asked for the refund...
    placed, oid, gateway = race.placed, race.order_id, pipeline.gateway
    pipeline.drain(race.cancel_steps)
    consume_outbox(engine, steps.REFUND)  # the refund message was lost after delivery
    age_order(engine, placed.order_id, AN_HOUR)

    report, redriven = run_sweep(pipeline)

    assert report.redriven_orders == 1
    assert [(step.task, step.kwargs) for step in redriven] == [
        (steps.REFUND, {"order_id": placed.order_id})
    ]
    pipeline.drain(redriven)
    order = rows(engine, "SELECT status, payment_status FROM orders WHERE id = :id", id=oid)[0]
    assert tuple(order) == ("refunded", "refunded")
    [ledger] = gateway.ledger()
    assert (ledger["status"], ledger["refunded_amount"]) == ("refunded", 2 * 1250)
