"""The beat's jobs on a real PostgreSQL: unpaid reservations expire by their slot's window, and
low stock is asked of its vendor once per SKU per shop-local day, one email per vendor."""

from __future__ import annotations

import hashlib
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from domain import contracts, steps
from domain.contracts import ContractViolation, Restock, Slot
from domain.handlers import JobPolicy, Ran, run_step
from domain.ports import Email, MailRejected
from domain.services import reorder
from domain.uow import Step
from tests.e2e.harness import wait_for
from tests.integration.pipeline_helpers import (
    NOW,
    Pipeline,
    RecordingMailer,
    fresh_pipeline,
    on_hand_reserved,
    order_movements,
    order_state,
    place_cmd,
    rows,
    scalar,
    stock_products,
    stock_variant,
    waiting_on_a_lock,
)

SLOT = NOW  # 2026-11-27 12:00 UTC
MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@pytest.fixture
def pipeline(engine: Engine) -> Pipeline:
    """The driver on an emptied database, with no slot of any job run before."""
    pipeline = fresh_pipeline(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM scheduled_runs"))
    return pipeline


def run_job(pipeline: Pipeline, task: str, slot: datetime, entry: str = "the-beat") -> Ran:
    """The job as the beat sends it: its entry and its slot."""
    return run_step(pipeline.ports, task, Slot(entry=entry, slot=slot))


def expire(pipeline: Pipeline, slot: datetime, entry: str = "the-beat") -> tuple[Any, list[Step]]:
    ran = run_job(pipeline, steps.EXPIRE_RESERVATIONS, slot, entry)
    return ran.value(), ran.steps


def place_at(pipeline: Pipeline, key: str, quantity: int, at: datetime) -> tuple[str, list[Step]]:
    """An order of `quantity` TEE-1 placed at `at`: its id and its first steps."""
    placed, placed_steps = pipeline.place(place_cmd(key, {"TEE-1": quantity}))
    with pipeline.engine.begin() as conn:
        update = text("UPDATE orders SET created_at = :at WHERE id = :id")
        conn.execute(update, {"at": at, "id": placed.order_id})
    return placed.order_id, placed_steps


def placed_at(pipeline: Pipeline, key: str, quantity: int, at: datetime, until: str | None) -> str:
    """An order placed at `at`, driven until its next step is `until` (None: to the end)."""
    order_id, placed_steps = place_at(pipeline, key, quantity, at)
    pipeline.drain(placed_steps, until=until)
    return order_id


def cancellation_emails(pipeline: Pipeline) -> list[str]:
    """To whom the order cancelled emails went."""
    sent = pipeline.mailer.sent
    return sorted(e.to for e in sent if e.headers["X-Backroom-Kind"] == "order_cancelled")


# --- inventory.expire_reservations ----------------------------------------------------------------


def test_given_orders_placed_at_different_times_then_only_the_overdue_unpaid_ones_expire(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    pending = placed_at(pipeline, "old-pending", 1, SLOT - 20 * MINUTE, until=steps.RESERVE)
    confirmed = placed_at(pipeline, "old-held", 2, SLOT - 15 * MINUTE, until=steps.CAPTURE)
    recent = placed_at(pipeline, "recent", 3, SLOT - 14 * MINUTE, until=steps.CAPTURE)
    paid = placed_at(pipeline, "paid", 4, SLOT - HOUR, until=None)
    pipeline.now = SLOT + DAY  # the clock is a day on: the slot decides what is due

    result, next_steps = expire(pipeline, SLOT)
    pipeline.drain(next_steps)

    assert result == {"expired": 2}
    assert order_state(engine, pending) == ("cancelled", "cancelled")
    assert order_state(engine, confirmed) == ("cancelled", "cancelled")
    assert order_state(engine, recent) == ("confirmed", "pending")
    assert order_state(engine, paid) == ("shipped", "captured")
    assert on_hand_reserved(engine, "TEE-1") == (10 - 4, 3)  # only the recent order holds stock
    assert order_movements(engine, confirmed) == [("TEE-1", "release", 2), ("TEE-1", "reserve", 2)]
    note = "SELECT notes FROM order_status_history WHERE order_id = :id ORDER BY id DESC LIMIT 1"
    assert scalar(engine, note, id=confirmed) == "reservation expired: unpaid after 15 min"
    assert cancellation_emails(pipeline) == ["old-held@example.com", "old-pending@example.com"]
    assert "was cancelled because it was not paid within 15 min" in pipeline.mailer.sent[-1].text


def test_given_expiry_runs_again_for_the_same_slot_and_the_next_then_each_customer_emailed_once(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    a, reserve_a = place_at(pipeline, "a", 1, SLOT - HOUR)  # its reservation still on its way
    placed_at(pipeline, "b", 2, SLOT - HOUR, until=steps.CAPTURE)

    first, first_steps = expire(pipeline, SLOT)
    _, same_slot = expire(pipeline, SLOT)
    by_hand, by_hand_steps = expire(pipeline, SLOT, entry="by-hand")
    next_slot, next_steps = expire(pipeline, SLOT + MINUTE)
    pipeline.drain([*first_steps, *same_slot, *by_hand_steps, *next_steps, *reserve_a])

    assert first == {"expired": 2}
    assert by_hand == next_slot == {"expired": 0}
    assert order_state(engine, a) == ("cancelled", "cancelled")  # the late reservation held none
    assert cancellation_emails(pipeline) == ["a@example.com", "b@example.com"]
    assert on_hand_reserved(engine, "TEE-1") == (10, 0)  # the stock is back to what it was


def test_given_an_order_another_step_holds_then_the_next_run_expires_it(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    held = placed_at(pipeline, "held", 1, SLOT - HOUR, until=steps.CAPTURE)
    free = placed_at(pipeline, "free", 1, SLOT - HOUR, until=steps.CAPTURE)

    with engine.begin() as other_step:  # e.g. a capture being recorded right now
        other_step.execute(text("SELECT 1 FROM orders WHERE id = :id FOR UPDATE"), {"id": held})
        first, _ = expire(pipeline, SLOT)
    later, _ = expire(pipeline, SLOT + MINUTE)

    assert first == later == {"expired": 1}
    assert order_state(engine, free) == order_state(engine, held) == ("cancelled", "cancelled")


def test_given_a_capture_that_lands_after_the_expiry_then_it_is_refunded(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    order_id, placed_steps = place_at(pipeline, "late", 2, SLOT - HOUR)
    [capture] = pipeline.drain(placed_steps, until=steps.CAPTURE)
    expiry_steps: list[Step] = []
    pipeline.gateway.during_authorize.append(lambda: expiry_steps.extend(expire(pipeline, SLOT)[1]))

    capture_steps = pipeline.run(capture)  # the provider charges while the beat expires it
    pipeline.drain([*expiry_steps, *capture_steps])

    assert not pipeline.gateway.during_authorize  # the expiry ran while the provider was called
    assert order_state(engine, order_id) == ("refunded", "refunded")
    [charge] = pipeline.gateway.ledger()
    assert (charge["status"], charge["refunded_amount"]) == ("refunded", 2 * 1250)
    assert on_hand_reserved(engine, "TEE-1") == (10, 0)
    assert len(cancellation_emails(pipeline)) == 1


# --- inventory.check_reorder ------------------------------------------------------------------


def check(pipeline: Pipeline, slot: datetime) -> Any:
    return run_job(pipeline, steps.CHECK_REORDER, slot).value()


def requests(engine: Engine) -> list[tuple[str, date, datetime]]:
    """(SKU, day, slot) of every reorder request, in the order they were made."""
    found = rows(engine, "SELECT sku, day, slot FROM reorder_requests ORDER BY id")
    return [(r.sku, r.day, r.slot) for r in found]


A_REQUESTS = "SELECT id FROM reorder_requests WHERE sku LIKE 'A-%' ORDER BY sku, id"


def vendor_email(engine: Engine, sku: str) -> str:
    sql = "SELECT u.email FROM products p JOIN users u ON u.id = p.vendor_id WHERE p.sku = :sku"
    return str(scalar(engine, sql, sku=sku))


def test_given_low_stock_when_checked_twice_in_a_day_then_one_request_and_a_new_one_next_day(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"LOW-1": 5, "FULL-1": 50})  # reorder point 20, quantity 100

    runs = [check(pipeline, slot) for slot in (SLOT, SLOT + HOUR, SLOT + DAY)]

    assert runs == [
        {"requested": 1, "vendors_emailed": 1},
        {"requested": 0, "vendors_emailed": 0},
        {"requested": 1, "vendors_emailed": 1},
    ]
    assert requests(engine) == [
        ("LOW-1", date(2026, 11, 27), SLOT),
        ("LOW-1", date(2026, 11, 28), SLOT + DAY),
    ]
    made = rows(
        engine, "SELECT quantity, available, reorder_point, vendor_id FROM reorder_requests"
    )
    vendor = scalar(engine, "SELECT vendor_id FROM products WHERE sku = 'LOW-1'")
    assert {tuple(r) for r in made} == {(100, 5, 20, vendor)}


def test_given_a_shop_in_new_york_then_its_local_date_decides_the_day(
    pipeline: Pipeline, engine: Engine
) -> None:
    pipeline.jobs = JobPolicy(zone=ZoneInfo("America/New_York"))
    stock_products(engine, {"LOW-1": 5})
    evening, late, after_midnight = (datetime(2026, 11, 28, h, 30, tzinfo=UTC) for h in (3, 4, 5))

    for slot in (evening, late, after_midnight):  # 22:30, 23:30 on the 27th, 00:30 on the 28th
        check(pipeline, slot)

    assert requests(engine) == [
        ("LOW-1", date(2026, 11, 27), evening),
        ("LOW-1", date(2026, 11, 28), after_midnight),
    ]


def test_given_a_variant_then_it_is_checked_against_its_products_reorder_settings(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"SHIRT-1": 50, "UNTRACKED-1": 0})
    stock_variant(engine, "SHIRT-1", "SHIRT-1-RED", adjustment=0, on_hand=5)
    stock_variant(engine, "SHIRT-1", "SHIRT-1-BLUE", adjustment=0, on_hand=30)
    with engine.begin() as conn:
        conn.execute(text("UPDATE inventory SET reorder_quantity = 40"))
        conn.execute(
            text("UPDATE inventory SET track_inventory = false WHERE quantity_on_hand = 0")
        )

    assert check(pipeline, SLOT) == {"requested": 1, "vendors_emailed": 1}

    found = rows(
        engine,
        "SELECT sku, quantity, available, reorder_point, "
        "inventory_variant_id IS NOT NULL AS variant FROM reorder_requests",
    )
    assert [tuple(r) for r in found] == [("SHIRT-1-RED", 40, 5, 20, True)]


def test_given_two_vendors_with_low_stock_then_one_email_each_listing_its_skus_never_resent(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"A-LOW-1": 3, "A-LOW-2": 0})
    stock_products(engine, {"B-LOW-1": 7, "B-FULL-1": 40})
    vendor_a, vendor_b = vendor_email(engine, "A-LOW-1"), vendor_email(engine, "B-LOW-1")

    first = check(pipeline, SLOT)
    second = check(pipeline, SLOT + HOUR)

    assert first == {"requested": 3, "vendors_emailed": 2}
    assert second == {"requested": 0, "vendors_emailed": 0}
    emails = {email.to: email for email in pipeline.mailer.sent}
    assert len(pipeline.mailer.sent) == 2
    assert set(emails) == {vendor_a, vendor_b}
    to_a, to_b = emails[vendor_a], emails[vendor_b]
    assert (to_a.subject, to_b.subject) == ("Reorder request: 2 SKUs", "Reorder request: 1 SKU")
    assert "A-LOW-1, 100 units (available: 3, reorder point: 20)" in to_a.text
    assert "A-LOW-2, 100 units (available: 0, reorder point: 20)" in to_a.text
    assert "B-" not in to_a.text
    assert "B-LOW-1, 100 units (available: 7" in to_b.text
    vendor_id = scalar(engine, "SELECT vendor_id FROM products WHERE sku = 'A-LOW-1'")
    ids = ",".join(str(r.id) for r in rows(engine, A_REQUESTS))
    listing = hashlib.sha256(ids.encode()).hexdigest()[:16]
    assert to_a.message_id == f"reorder-{vendor_id}-{listing}@backroom"
    emailed = rows(engine, "SELECT DISTINCT emailed_at FROM reorder_requests")
    assert [r.emailed_at for r in emailed] == [pipeline.now]


class RefusesVendor(RecordingMailer):
    """A mail server that refuses one address for good, and takes the others."""

    def __init__(self, refused: str) -> None:
        super().__init__()
        self.refused = refused

    def send(self, email: Email) -> None:
        if email.to == self.refused:
            raise MailRejected(f"550 no such user {email.to}")
        super().send(email)


def test_given_the_mail_server_refuses_a_vendor_then_the_others_are_recorded_and_it_is_retried(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"A-LOW-1": 1})
    stock_products(engine, {"B-LOW-1": 1})
    vendor_a, vendor_b = vendor_email(engine, "A-LOW-1"), vendor_email(engine, "B-LOW-1")
    pipeline.mailer = refusing = RefusesVendor(vendor_a)

    refused = run_job(pipeline, steps.CHECK_REORDER, SLOT)
    unsent = "SELECT sku FROM reorder_requests WHERE emailed_at IS NULL"
    left = [r.sku for r in rows(engine, unsent)]
    pipeline.mailer = RecordingMailer()
    retried = check(pipeline, SLOT + HOUR)

    assert isinstance(refused.error, MailRejected)
    assert refused.result == {"requested": 2, "vendors_emailed": 1}
    assert left == ["A-LOW-1"]
    assert retried == {"requested": 0, "vendors_emailed": 1}
    assert [email.to for email in refusing.sent] == [vendor_b]
    assert [email.to for email in pipeline.mailer.sent] == [vendor_a]  # not vendor_b again
    assert rows(engine, unsent) == []


class DiesAfterFirstVendor(RecordingMailer):
    """A mailer whose worker dies (an error that is no mail error) once the first vendor's
    email went out: the run's transaction is rolled back."""

    def send(self, email: Email) -> None:
        if self.sent:
            raise RuntimeError("worker lost")
        super().send(email)


def test_given_the_run_dies_after_the_first_vendor_when_run_again_then_no_vendor_gets_two(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"A-LOW-1": 1})
    stock_products(engine, {"B-LOW-1": 1})
    pipeline.mailer = dying = DiesAfterFirstVendor()

    with pytest.raises(RuntimeError, match="worker lost"):
        run_job(pipeline, steps.CHECK_REORDER, SLOT)
    pipeline.mailer = RecordingMailer()
    retried = check(pipeline, SLOT + HOUR)

    first = dying.sent[0].to
    assert retried == {"requested": 0, "vendors_emailed": 1}  # the requests stayed made
    assert [email.to for email in pipeline.mailer.sent] != [first]
    assert sorted(e.to for e in dying.sent + pipeline.mailer.sent) == sorted(
        vendor_email(engine, sku) for sku in ("A-LOW-1", "B-LOW-1")
    )
    assert rows(engine, "SELECT id FROM reorder_requests WHERE emailed_at IS NULL") == []


def test_given_an_emailing_in_progress_when_another_run_emails_then_it_waits_and_sends_nothing(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"LOW-1": 1})
    with pipeline.factory.begin() as s:
        reorder.request(s, SLOT.date(), SLOT)
    duplicate: list[reorder.Mailing] = []
    other_mailer = RecordingMailer()

    def other_worker() -> None:
        with pipeline.factory.begin() as s:
            s.execute(text("SET LOCAL lock_timeout = '20s'"))
            duplicate.append(reorder.email_vendors(s, pipeline.factory, other_mailer, NOW))

    with pipeline.factory.begin() as first:
        mailing = reorder.email_vendors(first, pipeline.factory, pipeline.mailer, NOW)
        worker = threading.Thread(target=other_worker)
        worker.start()
        wait_for(lambda: waiting_on_a_lock(engine), 10, "the other run to wait for the lock")
    worker.join(20)

    assert len(mailing.sent) == 1
    assert [d.sent for d in duplicate] == [[]]
    assert other_mailer.sent == []


# --- a restock that names the request closes it ---------------------------------------------------


def restock(pipeline: Pipeline, sku: str, key: str, request_id: int) -> dict[str, object]:
    payload = {"sku": sku, "quantity": 100, "reason": "delivery", "idempotency_key": key}
    cmd = contracts.parse(Restock, (), payload | {"reorder_request": request_id})
    result: dict[str, object] = run_step(pipeline.ports, steps.RESTOCK, cmd).value()
    return result


def request_state(engine: Engine, sku: str) -> tuple[Any, ...]:
    sql = "SELECT id, status, closed_at, closed_by FROM reorder_requests WHERE sku = :sku"
    return tuple(rows(engine, sql, sku=sku)[0])


def test_given_a_restock_that_names_the_request_then_it_is_closed_once(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"LOW-1": 5})
    check(pipeline, SLOT)
    request_id = request_state(engine, "LOW-1")[0]
    pipeline.now = SLOT + DAY

    first = restock(pipeline, "LOW-1", "delivery-1", request_id)
    again = restock(pipeline, "LOW-1", "delivery-1", request_id)  # the same message, redelivered

    assert (first["added"], first["request_closed"]) == (100, True)
    assert (again["added"], again["duplicate"]) == (0, True)
    assert request_state(engine, "LOW-1") == (request_id, "closed", SLOT + DAY, "delivery-1")
    assert on_hand_reserved(engine, "LOW-1") == (105, 0)


@pytest.mark.parametrize("named", ["other SKU's request", "unknown request"])
def test_given_a_restock_naming_a_request_not_for_its_sku_then_refused_and_nothing_added(
    pipeline: Pipeline, engine: Engine, named: str
) -> None:
    stock_products(engine, {"LOW-1": 5, "LOW-2": 5})
    check(pipeline, SLOT)
    other = request_state(engine, "LOW-2")[0]
    request_id = other if named == "other SKU's request" else other + 1000

    with pytest.raises(ContractViolation) as refused:
        restock(pipeline, "LOW-1", "delivery-1", request_id)

    assert refused.value.field == "reorder_request"
    assert on_hand_reserved(engine, "LOW-1") == (5, 0)
    assert request_state(engine, "LOW-2")[1:] == ("open", None, None)
