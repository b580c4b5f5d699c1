"""Restocking, customer notifications and dead letters on a real PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import Engine, text

from domain import steps, uow
from domain.contracts import OrderStep
from domain.db import unit_of_work
from domain.handlers import run_step
from domain.handlers.flow import order_step
from domain.models import DeadLetterStatus
from domain.notifications import Kind
from domain.ports import Email, MailUnavailable
from domain.services import dead_letters, notify, stock
from domain.uow import Step
from tests.e2e.harness import wait_for
from tests.integration.pipeline_helpers import (
    NOW,
    Pipeline,
    RecordingMailer,
    notification_states,
    on_hand_reserved,
    place_cmd,
    rows,
    scalar,
    stock_products,
    stock_variant,
)

# --- restock -------------------------------------------------------------------------------------


def _in_movements(engine: Engine) -> int:
    return int(
        scalar(engine, "SELECT count(*) FROM inventory_movements WHERE movement_type = 'in'")
    )


def test_given_same_restock_key_twice_then_units_added_once(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})

    first = pipeline.restock("TEE-1", 5, "delivery-1")
    second = pipeline.restock("TEE-1", 5, "delivery-1")

    assert first == {"sku": "TEE-1", "added": 5, "quantity_on_hand": 15, "duplicate": False}
    assert second == {"sku": "TEE-1", "added": 0, "duplicate": True}
    assert on_hand_reserved(engine, "TEE-1") == (15, 0)
    assert _in_movements(engine) == 1


def test_given_two_restock_keys_then_units_added_twice(pipeline: Pipeline, engine: Engine) -> None:
    stock_products(engine, {"TEE-1": 10})

    pipeline.restock("TEE-1", 5, "delivery-1")
    pipeline.restock("TEE-1", 7, "delivery-2")

    assert on_hand_reserved(engine, "TEE-1") == (22, 0)
    assert _in_movements(engine) == 2


def test_given_unknown_sku_when_restocking_then_unknown_sku(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})

    with pytest.raises(stock.UnknownSku, match="NOPE-9"):
        pipeline.restock("NOPE-9", 5, "delivery-1")

    assert _in_movements(engine) == 0


def test_given_variant_sku_when_restocking_then_the_variants_stock_grows(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    variant_id = stock_variant(engine, "TEE-1", "TEE-1-RED", adjustment=0, on_hand=4)

    result = pipeline.restock("TEE-1-RED", 6, "delivery-1")

    assert result["quantity_on_hand"] == 10
    on_hand = scalar(
        engine,
        "SELECT quantity_on_hand FROM inventory_variants WHERE variant_id = :v",
        v=variant_id,
    )
    assert on_hand == 10
    assert on_hand_reserved(engine, "TEE-1") == (10, 0)
    movement = rows(engine, "SELECT * FROM inventory_movements")
    assert len(movement) == 1
    assert movement[0].inventory_id is None
    assert movement[0].inventory_variant_id is not None
    assert (movement[0].movement_type, movement[0].quantity) == ("in", 6)


# --- notifications -------------------------------------------------------------------------------


def _placed_order(pipeline: Pipeline, engine: Engine) -> tuple[uuid.UUID, str]:
    stock_products(engine, {"TEE-1": 10})
    placed, _ = pipeline.place(place_cmd("key-1", {"TEE-1": 1}))
    return uuid.UUID(placed.order_id), "key-1@example.com"


def test_given_notification_prepared_twice_then_one_row_and_second_says_false(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)

    def prepare() -> bool:
        with unit_of_work(pipeline.factory) as s:
            return notify.prepare(s, oid, email, Kind.ORDER_CONFIRMED)

    first, second = prepare(), prepare()

    assert (first, second) == (True, False)
    assert scalar(engine, "SELECT count(*) FROM notifications WHERE order_id = :id", id=oid) == 1


EXTRA = {Kind.ORDER_SHIPPED: {"tracking_number": "BRP0001", "carrier": "Backroom Parcel"}}


def _prepared(pipeline: Pipeline, oid: uuid.UUID, email: str, *kinds: Kind) -> list[Step]:
    """The notifications recorded, one unit of work each, each with the send a handler asks
    for when it decides an email."""
    sends: list[Step] = []
    for kind in kinds:
        with unit_of_work(pipeline.factory) as s:
            notify.prepare(s, oid, email, kind, **EXTRA.get(kind, {}))
            sends += uow.finish(s, None, [order_step(steps.NOTIFY, oid)])
    return sends


def test_given_paid_order_when_fulfilled_then_one_send_carries_confirmation_and_shipping(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 1}))
    [fulfil] = pipeline.drain(placed_steps, until=steps.FULFIL)
    assert notification_states(engine, placed.order_id) == {"order_confirmed": "pending"}

    staged = pipeline.run(fulfil)

    assert [(step.task, step.kwargs) for step in staged] == [
        (steps.NOTIFY, {"order_id": placed.order_id})
    ]
    pipeline.drain(staged)
    assert [e.headers["X-Backroom-Kind"] for e in pipeline.mailer.sent] == [
        "order_confirmed",
        "order_shipped",
    ]


def test_given_sent_notification_when_sent_again_then_nothing_goes_out(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)
    [send] = _prepared(pipeline, oid, email, Kind.ORDER_CONFIRMED)
    assert pipeline.drain([send]) == []
    assert len(pipeline.mailer.sent) == 1

    with unit_of_work(pipeline.factory) as s:
        taken = notify.take(s, oid)
    pipeline.drain([send])  # the same message, delivered again

    assert taken == []
    assert pipeline.ran == [(steps.NOTIFY, "sent 1"), (steps.NOTIFY, "nothing pending")]
    assert len(pipeline.mailer.sent) == 1


class FlakyOnce(RecordingMailer):
    """A mail server that cannot take the n-th message handed to it, once."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.calls, self.fail_at = 0, fail_at

    def send(self, email: Email) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            raise MailUnavailable("421 try again later")
        super().send(email)


def test_given_second_email_refused_for_now_when_retried_then_each_sent_once_in_order(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)
    pipeline.mailer = FlakyOnce(fail_at=2)
    [send, *_] = _prepared(pipeline, oid, email, Kind.ORDER_CONFIRMED, Kind.ORDER_SHIPPED)

    ports, payload = pipeline.ports, OrderStep(order_id=oid)

    with pytest.raises(MailUnavailable):
        run_step(ports, steps.NOTIFY, payload, consumed=send.id).value()
    after_first = notification_states(engine, str(oid))
    error = scalar(engine, "SELECT last_error FROM notifications WHERE kind = 'order_shipped'")
    retried = run_step(ports, steps.NOTIFY, payload, consumed=send.id).value()

    assert after_first == {"order_confirmed": "sent", "order_shipped": "pending"}
    assert error == "421 try again later"
    assert retried == "sent 1"
    assert [e.headers["X-Backroom-Kind"] for e in pipeline.mailer.sent] == [
        "order_confirmed",
        "order_shipped",
    ]
    assert notification_states(engine, str(oid)) == {
        "order_confirmed": "sent",
        "order_shipped": "sent",
    }


def _waiting_on_a_lock(engine: Engine) -> bool:
    waiting = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return bool(scalar(engine, waiting))


def test_given_a_send_in_progress_when_a_duplicate_runs_then_it_waits_and_sends_nothing(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)
    _prepared(pipeline, oid, email, Kind.ORDER_CONFIRMED)
    duplicate: list[notify.Delivery] = []
    other_mailer = RecordingMailer()

    def other_worker() -> None:
        with pipeline.factory() as s, s.begin():
            s.execute(text("SET LOCAL lock_timeout = '20s'"))
            duplicate.append(notify.deliver(s, oid, other_mailer, NOW))

    with pipeline.factory() as first, first.begin():
        delivery = notify.deliver(first, oid, pipeline.mailer, NOW)
        worker = threading.Thread(target=other_worker)
        worker.start()
        wait_for(lambda: _waiting_on_a_lock(engine), 10, "the duplicate to wait for the lock")
    worker.join(20)

    assert [c.kind for c in delivery.sent] == [Kind.ORDER_CONFIRMED]
    assert [d.sent for d in duplicate] == [[]]
    assert other_mailer.sent == []
    assert len(pipeline.mailer.sent) == 1


# --- dead letters --------------------------------------------------------------------------------


def test_given_dead_letter_when_replayed_then_listed_resolved_and_not_open_again(
    pipeline: Pipeline, engine: Engine
) -> None:
    payload = {"args": [], "kwargs": {"sku": "NOPE-9", "quantity": 1}}
    with unit_of_work(pipeline.factory) as s:
        letter_id = dead_letters.record(
            s,
            task="inventory.restock",
            task_id="task-1",
            queue="orders",
            payload=payload,
            reason="sku: unknown SKU NOPE-9",
            error_type="UnknownSku",
        )

    with unit_of_work(pipeline.factory) as s:
        listed = dead_letters.listing(s)
    assert [(d.id, d.task, d.payload, d.status) for d in listed] == [
        (letter_id, "inventory.restock", payload, DeadLetterStatus.OPEN)
    ]

    with unit_of_work(pipeline.factory) as s:
        resolved = dead_letters.resolve(s, letter_id, DeadLetterStatus.REPLAYED, "sent again", NOW)
    assert resolved.status is DeadLetterStatus.REPLAYED
    row = rows(engine, "SELECT * FROM dead_letters WHERE id = :id", id=letter_id)[0]
    assert (row.status, row.resolved_at, row.resolution_note) == ("replayed", NOW, "sent again")
    with unit_of_work(pipeline.factory) as s:
        assert dead_letters.listing(s) == []

    with (
        pytest.raises(dead_letters.NotOpen, match="already replayed"),
        unit_of_work(pipeline.factory) as s,
    ):
        dead_letters.resolve(s, letter_id, DeadLetterStatus.DISCARDED, "no", NOW)
    assert scalar(engine, "SELECT status FROM dead_letters WHERE id = :id", id=letter_id) == (
        "replayed"
    )
