"""Restocking, customer notifications and dead letters on a real PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import Engine, text

from domain import steps, uow
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

    def prepare(s: notify.Session) -> bool:
        return notify.prepare(s, oid, email, Kind.ORDER_CONFIRMED)

    first, first_steps = uow.run(pipeline.factory, prepare)
    second, second_steps = uow.run(pipeline.factory, prepare)

    assert (first, second) == (True, False)
    assert [step.task for step in first_steps] == [steps.NOTIFY]
    assert second_steps == []
    assert scalar(engine, "SELECT count(*) FROM notifications WHERE order_id = :id", id=oid) == 1


EXTRA = {Kind.ORDER_SHIPPED: {"tracking_number": "BRP0001", "carrier": "Backroom Parcel"}}


def _prepared(pipeline: Pipeline, oid: uuid.UUID, email: str, *kinds: Kind) -> list[Step]:
    """The notifications recorded, one unit of work each, and the sends they staged."""
    staged: list[Step] = []
    for kind in kinds:
        _, more = uow.run(
            pipeline.factory,
            lambda s, k=kind: notify.prepare(s, oid, email, k, **EXTRA.get(k, {})),
        )
        staged += more
    return staged


def test_given_two_emails_decided_in_one_unit_of_work_then_one_send_for_the_order(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)

    def decide(s: notify.Session) -> None:
        notify.prepare(s, oid, email, Kind.ORDER_CONFIRMED)
        notify.prepare(s, oid, email, Kind.ORDER_SHIPPED, **EXTRA[Kind.ORDER_SHIPPED])

    _, staged = uow.run(pipeline.factory, decide)

    assert [(step.task, step.kwargs) for step in staged] == [(steps.NOTIFY, {"order_id": str(oid)})]


def test_given_sent_notification_when_sent_again_then_nothing_goes_out(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)
    [send] = _prepared(pipeline, oid, email, Kind.ORDER_CONFIRMED)
    assert pipeline.drain([send]) == []
    assert len(pipeline.mailer.sent) == 1

    taken, _ = uow.run(pipeline.factory, lambda s: notify.take(s, oid))
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

    with pytest.raises(MailUnavailable):
        notify.send_pending(pipeline.factory, oid, pipeline.mailer, NOW, consumed=send.id)
    after_first = notification_states(engine, str(oid))
    error = scalar(engine, "SELECT last_error FROM notifications WHERE kind = 'order_shipped'")
    retried = notify.send_pending(pipeline.factory, oid, pipeline.mailer, NOW, consumed=send.id)

    assert after_first == {"order_confirmed": "sent", "order_shipped": "pending"}
    assert error == "421 try again later"
    assert [c.kind for c in retried.sent] == [Kind.ORDER_SHIPPED]
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
    letter_id, _ = uow.run(
        pipeline.factory,
        lambda s: dead_letters.record(
            s,
            task="inventory.restock",
            task_id="task-1",
            queue="orders",
            payload=payload,
            reason="sku: unknown SKU NOPE-9",
            error_type="UnknownSku",
        ),
    )

    listed, _ = uow.run(pipeline.factory, dead_letters.listing)
    assert [(d.id, d.task, d.payload, d.status) for d in listed] == [
        (letter_id, "inventory.restock", payload, DeadLetterStatus.OPEN)
    ]

    resolved, _ = uow.run(
        pipeline.factory,
        lambda s: dead_letters.resolve(s, letter_id, DeadLetterStatus.REPLAYED, "sent again", NOW),
    )
    assert resolved.status is DeadLetterStatus.REPLAYED
    row = rows(engine, "SELECT * FROM dead_letters WHERE id = :id", id=letter_id)[0]
    assert (row.status, row.resolved_at, row.resolution_note) == ("replayed", NOW, "sent again")
    assert uow.run(pipeline.factory, dead_letters.listing)[0] == []

    with pytest.raises(dead_letters.NotOpen, match="already replayed"):
        uow.run(
            pipeline.factory,
            lambda s: dead_letters.resolve(s, letter_id, DeadLetterStatus.DISCARDED, "no", NOW),
        )
    assert scalar(engine, "SELECT status FROM dead_letters WHERE id = :id", id=letter_id) == (
        "replayed"
    )
