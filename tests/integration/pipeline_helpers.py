"""The order pipeline without Celery: a small driver that runs steps through the handlers'
one runner (`domain.handlers.run_step`), exactly as the tasks in `tasks/*.py` do, plus
builders of committed catalog rows and read helpers for what an operator checks.

Tests build one `Pipeline` per test with `fresh_pipeline(engine)`, which empties every table
(the provider's ledger too) first: the handlers commit for real.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from domain import contracts, steps
from domain.db import session_factory
from domain.errors import RetryableError
from domain.handlers import JobPolicy, MailPolicy, Ports, Ran, SweepPolicy, run_message, run_step
from domain.models import InventoryVariant, Product, ProductVariant
from domain.ports import Authorization, Capture, Email, Refund
from domain.services import orders
from domain.uow import Step
from tests import factories
from tests.e2e.harness import rows, scalar, truncate_everything
from workers.adapters.payments import SimulatedGateway

__all__ = [
    "NOW",
    "Pipeline",
    "RecordingMailer",
    "age_notifications",
    "age_order",
    "age_outbox",
    "consume_outbox",
    "fresh_pipeline",
    "history",
    "place_cmd",
    "rows",
    "scalar",
    "stock_products",
    "stock_variant",
    "waiting_on_a_lock",
]

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
MAX_STEPS = 200  # a driver that runs longer than this is looping


def place_cmd(
    key: str,
    lines: dict[str, int],
    *,
    token: str = "tok_ok",
    currency: str = "USD",
    email: str | None = None,
) -> contracts.PlaceOrder:
    """A `PlaceOrder` parsed from a payload, as `orders.place` parses its message."""
    payload = {
        "idempotency_key": key,
        "customer_email": email or f"{key}@example.com",
        "customer_name": "Ada Lovelace",
        "currency": currency,
        "lines": [{"sku": sku, "quantity": qty} for sku, qty in lines.items()],
        "shipping_address": factories.ADDRESS,
        "payment_token": token,
    }
    return contracts.parse(contracts.PlaceOrder, (), payload)


class RecordingMailer:
    """A `Mailer` that keeps what it was handed."""

    def __init__(self) -> None:
        self.sent: list[Email] = []

    def send(self, email: Email) -> None:
        self.sent.append(email)


class MovableClock:
    """A `Clock` that says `moment`, which a test may move."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


class HookedGateway:
    """The simulated provider, with things that happen while it is being called: each
    function in `during_authorize` runs, once, when an authorization comes in (a customer
    cancelling while the capture step waits for the provider, say)."""

    def __init__(self, inner: SimulatedGateway) -> None:
        self.inner = inner
        self.name = inner.name
        self.during_authorize: list[Callable[[], None]] = []

    def authorize(self, **kwargs: Any) -> Authorization:
        if self.during_authorize:
            self.during_authorize.pop(0)()
        return self.inner.authorize(**kwargs)

    def capture(self, *, idempotency_key: str, authorization: Authorization) -> Capture:
        return self.inner.capture(idempotency_key=idempotency_key, authorization=authorization)

    def refund(self, *, idempotency_key: str, amount: int) -> Refund:
        return self.inner.refund(idempotency_key=idempotency_key, amount=amount)

    def ledger(self) -> list[dict[str, Any]]:
        return self.inner.ledger()

    def captures(self, key: str | None = None) -> int:
        return self.inner.captures(key)


@dataclass
class Pipeline:
    """Runs steps by task name, as the worker would: `run_step`, each in its own unit of work."""

    engine: Engine
    factory: sessionmaker[Session]
    gateway: HookedGateway
    mailer: RecordingMailer = field(default_factory=RecordingMailer)
    now: datetime = NOW
    sweep: SweepPolicy = field(default_factory=SweepPolicy)
    jobs: JobPolicy = field(default_factory=JobPolicy)
    mail: MailPolicy = field(default_factory=MailPolicy)
    ran: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ports(self) -> Ports:
        clock = MovableClock(self.now)
        return Ports(
            self.factory, self.gateway, self.mailer, clock, self.sweep, self.jobs, self.mail
        )

    # --- public tasks ------------------------------------------------------------------------

    def place(self, cmd: contracts.PlaceOrder) -> tuple[orders.Placed, list[Step]]:
        ran = run_step(self.ports, steps.PLACE, cmd)
        return orders.Placed(**ran.value(), created=bool(ran.steps)), ran.steps

    def cancel(
        self, number: str, reason: str = "customer_request"
    ) -> tuple[dict[str, str], list[Step]]:
        cmd = contracts.parse(contracts.CancelOrder, (), {"order_number": number, "reason": reason})
        ran = run_step(self.ports, steps.CANCEL, cmd)
        return ran.value(), ran.steps

    def restock(self, sku: str, quantity: int, key: str) -> dict[str, object]:
        payload = {"sku": sku, "quantity": quantity, "reason": "delivery", "idempotency_key": key}
        cmd = contracts.parse(contracts.Restock, (), payload)
        result: dict[str, object] = run_step(self.ports, steps.RESTOCK, cmd).value()
        return result

    def sweep_once(self) -> Ran:
        return run_step(self.ports, steps.SWEEP, contracts.Sweep())

    # --- the driver --------------------------------------------------------------------------

    def drain(self, pending: list[Step], *, until: str | None = None) -> list[Step]:
        """Run steps first in, first out (with the steps they ask for) until none remain, or
        until the next one is an `until` step; return what is left unrun."""
        queue = list(pending)
        for _ in range(MAX_STEPS):
            if not queue or queue[0].task == until:
                return queue
            queue.extend(self.run(queue.pop(0)))
        raise AssertionError(f"pipeline still busy after {MAX_STEPS} steps: {self.ran[-10:]}")

    def run(self, step: Step) -> list[Step]:
        """One step as its message asks; a retryable failure is tried again at once (the task
        would back off)."""
        for _ in range(5):
            ran = run_message(self.ports, step)
            try:
                result = ran.value()
            except RetryableError:
                continue
            self.ran.append((step.task, result))
            return ran.steps
        raise AssertionError(f"step {step} kept failing")


def fresh_pipeline(engine: Engine) -> Pipeline:
    """Empty every table (and the provider's ledger), then a driver over `engine`."""
    gateway = SimulatedGateway(engine, slow_seconds=0.0)
    truncate_everything(engine)
    return Pipeline(engine, session_factory(engine), HookedGateway(gateway))


# --- committed catalog rows --------------------------------------------------------------------


def stock_products(
    engine: Engine, units: dict[str, int], *, price: int = 1250, **kw: Any
) -> dict[str, uuid.UUID]:
    """Active products with these SKUs and units on hand, one vendor; their ids by SKU."""
    with Session(engine) as s, s.begin():
        owner = factories.vendor(s)
        made = {
            sku: factories.product(s, sku=sku, on_hand=n, vendor=owner, base_price=price, **kw)
            for sku, n in units.items()
        }
        return {sku: product.id for sku, product in made.items()}


def stock_variant(
    engine: Engine, product_sku: str, sku: str, *, adjustment: int, on_hand: int
) -> uuid.UUID:
    """A variant of an existing product, with its own stock row; its id."""
    with Session(engine) as s, s.begin():
        product = s.query(Product).filter_by(sku=product_sku).one()
        variant = ProductVariant(
            product=product,
            name="Red",
            sku=sku,
            price_adjustment=adjustment,
            attributes={"colour": "red"},
        )
        variant.inventory = InventoryVariant(quantity_on_hand=on_hand)
        s.add(variant)
        s.flush()
        return variant.id


# --- what an operator checks --------------------------------------------------------------------


def history(engine: Engine, order_id: str) -> list[str]:
    """The order's statuses, oldest first."""
    found = rows(
        engine,
        "SELECT new_status FROM order_status_history WHERE order_id = :id ORDER BY id",
        id=order_id,
    )
    return [row.new_status for row in found]


# --- making rows old (the services read time from PostgreSQL's now() for these) -----------------


def age_order(engine: Engine, order_id: str, by: timedelta) -> None:
    """Move `updated_at` back in time; the touch trigger is off for this one transaction."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text("UPDATE orders SET updated_at = updated_at - :by WHERE id = :id"),
            {"by": by, "id": order_id},
        )


def age_outbox(engine: Engine, by: timedelta) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE outbox SET sent_at = sent_at - :by, created_at = created_at - :by"),
            {"by": by},
        )


def age_notifications(engine: Engine, by: timedelta) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE notifications SET created_at = created_at - :by"), {"by": by})


def consume_outbox(engine: Engine, task: str | None = None) -> int:
    """Mark unconsumed outbox rows consumed (a message taken and then lost); how many."""
    where = "" if task is None else " AND task = :task"
    with engine.begin() as conn:
        result = conn.execute(
            text(f"UPDATE outbox SET consumed_at = now() WHERE consumed_at IS NULL{where}"),
            {"task": task},
        )
        return int(result.rowcount)


def waiting_on_a_lock(engine: Engine) -> bool:
    """True while a session of this database waits for a lock another one holds."""
    waiting = (
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return bool(scalar(engine, waiting))


def on_hand_reserved(engine: Engine, sku: str) -> tuple[int, int]:
    row = rows(
        engine,
        "SELECT i.quantity_on_hand, i.quantity_reserved FROM inventory i "
        "JOIN products p ON p.id = i.product_id WHERE p.sku = :sku",
        sku=sku,
    )[0]
    return row.quantity_on_hand, row.quantity_reserved


def order_movements(engine: Engine, order_id: str) -> list[tuple[str, str, int]]:
    """(SKU, movement type, quantity) of an order's stock movements, sorted."""
    found = rows(
        engine,
        "SELECT p.sku, m.movement_type, m.quantity FROM inventory_movements m "
        "JOIN inventory i ON i.id = m.inventory_id JOIN products p ON p.id = i.product_id "
        "WHERE m.reference_type = 'order' AND m.reference_id = :id",
        id=order_id,
    )
    return sorted((r.sku, r.movement_type, r.quantity) for r in found)


def notification_states(engine: Engine, order_id: str) -> dict[str, str]:
    found = rows(engine, "SELECT kind, status FROM notifications WHERE order_id = :id", id=order_id)
    return {r.kind: r.status for r in found}


def order_state(engine: Engine, order_id: str) -> tuple[str, str]:
    row = rows(engine, "SELECT status, payment_status FROM orders WHERE id = :id", id=order_id)[0]
    return row.status, row.payment_status


def payment_row(engine: Engine, order_id: str) -> dict[str, object]:
    found = rows(engine, "SELECT * FROM payments WHERE order_id = :id", id=order_id)
    return dict(found[0]._mapping)


@dataclass(frozen=True)
class ChargedAfterCancel:
    placed: orders.Placed
    order_id: uuid.UUID
    capture_step: Step  # the capture's message
    capture_steps: list[Step]  # what the capture step asked for when it recorded the charge
    cancel_steps: list[Step]  # what the cancel asked for


def customer_cancels(pipeline: Pipeline, number: str, into: list[Step]) -> Callable[[], None]:
    """The customer cancelling order `number`; the steps the cancel asks for go `into`."""

    def cancel() -> None:
        into.extend(pipeline.cancel(number)[1])

    return cancel


def charge_after_cancel(pipeline: Pipeline, lines: dict[str, int]) -> ChargedAfterCancel:
    """The race: the capture step reads what to charge, the customer cancels while the
    provider is being called, and the provider charges the card anyway."""
    placed, placed_steps = pipeline.place(place_cmd("key-1", lines))
    [capture_step] = pipeline.drain(placed_steps, until=steps.CAPTURE)
    cancel_steps: list[Step] = []
    hook = customer_cancels(pipeline, placed.order_number, cancel_steps)
    pipeline.gateway.during_authorize.append(hook)
    capture_steps = pipeline.run(capture_step)
    assert not pipeline.gateway.during_authorize, "the provider was never called"
    oid = uuid.UUID(placed.order_id)
    return ChargedAfterCancel(placed, oid, capture_step, capture_steps, cancel_steps)
