"""Restocking, customer notifications and dead letters on a real PostgreSQL."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import Engine, text

from domain import steps, uow
from domain.models import DeadLetterStatus
from domain.notifications import Kind
from domain.services import dead_letters, notify, stock
from tests.integration.pipeline_helpers import (
    NOW,
    Pipeline,
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


def test_given_sent_notification_when_taken_then_none(pipeline: Pipeline, engine: Engine) -> None:
    oid, email = _placed_order(pipeline, engine)
    _, [send] = uow.run(
        pipeline.factory, lambda s: notify.prepare(s, oid, email, Kind.ORDER_CONFIRMED)
    )
    nid = uuid.UUID(send.kwargs["notification_id"])
    uow.run(pipeline.factory, lambda s: notify.sent(s, nid, NOW))

    taken, _ = uow.run(pipeline.factory, lambda s: notify.take(s, nid))

    assert taken is None
    assert pipeline.drain([send]) == []
    assert pipeline.ran == [(steps.NOTIFY, "skipped")]
    assert pipeline.mailer.sent == []


def test_given_notification_taken_in_one_session_when_taken_in_another_then_skipped(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)
    _, [send] = uow.run(
        pipeline.factory, lambda s: notify.prepare(s, oid, email, Kind.ORDER_CONFIRMED)
    )
    nid = uuid.UUID(send.kwargs["notification_id"])

    with pipeline.factory() as holder, holder.begin():
        held = notify.take(holder, nid)
        seen: list[notify.Claimed | None] = []

        def other_worker() -> None:
            with pipeline.factory() as s, s.begin():
                s.execute(text("SET LOCAL lock_timeout = '2s'"))
                seen.append(notify.take(s, nid))

        worker = threading.Thread(target=other_worker)
        worker.start()
        worker.join(10)
        holder.rollback()

    assert held is not None
    assert held.kind is Kind.ORDER_CONFIRMED
    assert held.context["order_number"].startswith("ORD-")
    assert seen == [None]
    again, _ = uow.run(pipeline.factory, lambda s: notify.take(s, nid))
    assert again is not None  # the lock went with the first transaction


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
