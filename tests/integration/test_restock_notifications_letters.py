"""Restocking, customer notifications and dead letters on a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import psycopg2
import pytest
from sqlalchemy import Engine, event, text

from domain import steps, uow
from domain.contracts import OrderStep
from domain.db import make_engine, session_factory, unit_of_work
from domain.handlers import MailPolicy, run_step
from domain.handlers.flow import order_step
from domain.models import DeadLetterStatus
from domain.notifications import Kind, render
from domain.ports import Email, MailUnavailable
from domain.services import dead_letters, notify, stock, sweep
from domain.uow import Step
from tests.integration.pipeline_helpers import (
    NOW,
    Pipeline,
    RecordingMailer,
    consume_outbox,
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

    pipeline.drain([send])  # the same message, delivered again

    assert pipeline.ran == [(steps.NOTIFY, "sent 1"), (steps.NOTIFY, "skipped")]
    assert len(pipeline.mailer.sent) == 1
    assert _notifications(engine) == [("order_confirmed", "sent", 1, None)]


def _notifications(engine: Engine) -> list[tuple[str, str, int, str | None]]:
    """Each email's kind, status, attempts and last error, oldest first."""
    found = rows(
        engine, "SELECT kind, status, attempts, last_error FROM notifications ORDER BY created_at"
    )
    return [(r.kind, r.status, r.attempts, r.last_error) for r in found]


def _put_off_for(engine: Engine, kind: str) -> float:
    """Seconds from now until the email of this kind may be tried again."""
    return float(
        scalar(
            engine,
            "SELECT extract(epoch FROM next_attempt_at - now()) FROM notifications"
            " WHERE kind = :kind",
            kind=kind,
        )
    )


def _make_due(engine: Engine) -> None:
    """Time passes: every put-off or leased email is due again."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE notifications SET next_attempt_at = now() - interval '1 second'"
                " WHERE next_attempt_at IS NOT NULL"
            )
        )


class FlakyAt(RecordingMailer):
    """A mail server that cannot take the n-th message handed to it, and those after it, until
    it is told to come back."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.calls, self.fail_at, self.down = 0, fail_at, False

    def send(self, email: Email) -> None:
        self.calls += 1
        if self.calls == self.fail_at:
            self.down = True
        if self.down:
            raise MailUnavailable("421 try again later")
        super().send(email)


def test_given_mail_server_down_after_first_email_then_rest_put_off_without_error_and_sent_once(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)
    pipeline.mailer = mailer = FlakyAt(fail_at=2)
    [send, *_] = _prepared(pipeline, oid, email, Kind.ORDER_CONFIRMED, Kind.ORDER_SHIPPED)
    ports, payload = pipeline.ports, OrderStep(order_id=oid)

    first = run_step(ports, steps.NOTIFY, payload, consumed=send.id)
    after_first = _notifications(engine)
    put_off = _put_off_for(engine, "order_shipped")
    too_soon = run_step(ports, steps.NOTIFY, payload)  # a duplicate before it is due
    mailer.down = False
    _make_due(engine)
    retried = run_step(ports, steps.NOTIFY, payload)

    assert first.value() == "sent 1; put off 1: 421 try again later"  # no error: no dead letter
    assert after_first == [
        ("order_confirmed", "sent", 1, None),
        ("order_shipped", "pending", 1, "421 try again later"),
    ]
    assert 25 < put_off <= 30  # the policy's first wait, 30 s
    assert too_soon.value() == "skipped"
    assert retried.value() == "sent 1"
    assert [e.headers["X-Backroom-Kind"] for e in mailer.sent] == [
        "order_confirmed",
        "order_shipped",
    ]
    assert _notifications(engine) == [
        ("order_confirmed", "sent", 1, None),
        ("order_shipped", "sent", 2, None),
    ]


def test_given_an_outage_then_waits_double_up_to_the_cap_and_the_last_attempt_fails_for_good(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)
    pipeline.mailer = FlakyAt(fail_at=1)
    pipeline.mail = MailPolicy(timedelta(seconds=10), timedelta(seconds=35), attempts=4)
    _prepared(pipeline, oid, email, Kind.ORDER_CONFIRMED)
    payload = OrderStep(order_id=oid)

    waits = []
    for _ in range(3):
        assert run_step(pipeline.ports, steps.NOTIFY, payload).value().startswith("sent 0; put off")
        waits.append(round(_put_off_for(engine, "order_confirmed") / 5) * 5)
        _make_due(engine)
    with pytest.raises(notify.MailGaveUp, match="gave up after 4 attempts: 421"):
        run_step(pipeline.ports, steps.NOTIFY, payload).value()

    assert waits == [10, 20, 35]
    assert _notifications(engine) == [("order_confirmed", "failed", 4, "421 try again later")]
    assert pipeline.mailer.sent == []


class SendsAndRunsDuplicate(RecordingMailer):
    """A mail server that, while it takes the first message, lets a duplicate send run."""

    def __init__(self, duplicate: Callable[[], object]) -> None:
        super().__init__()
        self.duplicate, self.answers = duplicate, list[object]()

    def send(self, email: Email) -> None:
        if not self.answers:
            self.answers.append(self.duplicate())
        super().send(email)


def test_given_a_send_in_progress_when_a_duplicate_runs_then_it_sends_nothing(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)
    [send, *_] = _prepared(pipeline, oid, email, Kind.ORDER_CONFIRMED, Kind.ORDER_SHIPPED)
    payload = OrderStep(order_id=oid)
    other = RecordingMailer()
    other_ports = replace(pipeline.ports, mailer=other)
    pipeline.mailer = mailer = SendsAndRunsDuplicate(
        lambda: run_step(other_ports, steps.NOTIFY, payload).value()
    )

    result = run_step(pipeline.ports, steps.NOTIFY, payload, consumed=send.id).value()

    assert result == "sent 2"
    assert mailer.answers == ["skipped"]  # the emails were leased: no transaction was waited on
    assert other.sent == []
    assert len(mailer.sent) == 2


def test_given_sender_died_after_the_server_took_the_email_then_resent_once_with_same_message_id(
    pipeline: Pipeline, engine: Engine
) -> None:
    """The one window left: the server took the email and the sender died before the mark.
    The email goes out again once its lease ends, under the same Message-ID."""
    oid, email = _placed_order(pipeline, engine)
    _prepared(pipeline, oid, email, Kind.ORDER_CONFIRMED)
    claimed = uow.read(pipeline.factory, lambda s: notify.claim(s, oid))
    pipeline.mailer.send(  # what the sender handed over before it died
        render(
            claimed[0].kind, claimed[0].context, to=email, message_id=f"{claimed[0].id}@backroom"
        )
    )
    consume_outbox(engine)  # its message was taken and is gone with it

    while_leased = uow.read(pipeline.factory, lambda s: sweep.unsent_emails(s, timedelta(0), 10))
    _make_due(engine)  # the lease ends
    report = pipeline.sweep_once()
    pipeline.drain(report.steps)

    assert while_leased == []
    assert report.value()["redriven_notifications"] == 1
    assert [e.message_id for e in pipeline.mailer.sent] == [f"{claimed[0].id}@backroom"] * 2
    assert _notifications(engine) == [("order_confirmed", "sent", 2, None)]


class DatabaseAway:
    """Connections to the database fail `times` times, then succeed."""

    def __init__(self, engine: Engine, times: int) -> None:
        self.left = times
        self.engine = make_engine(engine.url, pool_size=0)
        event.listen(self.engine, "do_connect", self._connect)

    def _connect(self, *_: object) -> None:
        if self.left > 0:
            self.left -= 1
            raise psycopg2.OperationalError("connection refused: the server is restarting")


def test_given_database_away_when_marking_sent_then_mark_retried_until_it_is_back(
    pipeline: Pipeline, engine: Engine
) -> None:
    oid, email = _placed_order(pipeline, engine)
    _prepared(pipeline, oid, email, Kind.ORDER_CONFIRMED)
    [claimed] = uow.read(pipeline.factory, lambda s: notify.claim(s, oid))
    away = DatabaseAway(engine, times=3)
    pauses: list[float] = []

    notify.mark_sent(session_factory(away.engine), claimed.id, NOW, pause=pauses.append)

    assert pauses == [0.1, 0.2, 0.4]
    assert _notifications(engine) == [("order_confirmed", "sent", 1, None)]
    away.engine.dispose()


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
