"""The order pipeline without Celery: a small driver that runs staged steps the way the tasks
in `tasks/*.py` do (one unit of work per step, `consumed=` the step's outbox row), plus
builders of committed catalog rows and read helpers for what an operator checks.

Tests build one `Pipeline` per test with `fresh_pipeline(engine)`, which empties every table
(the provider's ledger too) first: the services commit for real.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from domain import contracts, steps, uow
from domain.db import session_factory
from domain.errors import RetryableError
from domain.models import InventoryVariant, Product, ProductVariant
from domain.ports import Capture, Email
from domain.services import fulfilment, notify, orders, payments, stock
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


@dataclass
class Pipeline:
    """Runs steps by task name, as the worker would, each in its own unit of work."""

    engine: Engine
    factory: sessionmaker[Session]
    gateway: SimulatedGateway
    mailer: RecordingMailer = field(default_factory=RecordingMailer)
    now: datetime = NOW
    ran: list[tuple[str, str]] = field(default_factory=list)

    # --- public tasks ------------------------------------------------------------------------

    def place(self, cmd: contracts.PlaceOrder) -> tuple[orders.Placed, list[Step]]:
        return uow.run(self.factory, lambda s: orders.place(s, cmd, self.now))

    def cancel(
        self, number: str, reason: str = "customer_request"
    ) -> tuple[dict[str, str], list[Step]]:
        cmd = contracts.parse(contracts.CancelOrder, (), {"order_number": number, "reason": reason})
        return uow.run(self.factory, lambda s: orders.cancel(s, cmd, self.now))

    def restock(self, sku: str, quantity: int, key: str) -> dict[str, object]:
        result, _ = uow.run(
            self.factory, lambda s: stock.restock(s, sku, quantity, "delivery", key)
        )
        return result

    # --- the driver --------------------------------------------------------------------------

    def drain(self, pending: list[Step], *, until: str | None = None) -> list[Step]:
        """Run steps first in, first out (with the steps they stage) until none remain, or
        until the next one is an `until` step; return what is left unrun."""
        queue = list(pending)
        for _ in range(MAX_STEPS):
            if not queue or queue[0].task == until:
                return queue
            queue.extend(self.run(queue.pop(0)))
        raise AssertionError(f"pipeline still busy after {MAX_STEPS} steps: {self.ran[-10:]}")

    def run(self, step: Step) -> list[Step]:
        """One step; a retryable failure is tried again at once (the task would back off)."""
        handler = self._handlers()[step.task]
        for _ in range(5):
            try:
                result, staged = handler(step)
            except RetryableError:
                continue
            self.ran.append((step.task, result))
            return staged
        raise AssertionError(f"step {step} kept failing")

    def _handlers(self) -> dict[str, Callable[[Step], tuple[str, list[Step]]]]:
        return {
            steps.RESERVE: self._reserve,
            steps.CAPTURE: self._capture,
            steps.REFUND: self._refund,
            steps.FULFIL: self._fulfil,
            steps.NOTIFY: self._notify,
        }

    def _reserve(self, step: Step) -> tuple[str, list[Step]]:
        oid = uuid.UUID(step.kwargs["order_id"])
        return uow.run(self.factory, lambda s: stock.reserve(s, oid, self.now), consumed=step.id)

    def _capture(self, step: Step) -> tuple[str, list[Step]]:
        oid = uuid.UUID(step.kwargs["order_id"])
        return payments.capture_step(
            self.factory, self.gateway, oid, lambda: self.now, consumed=step.id
        )

    def _refund(self, step: Step) -> tuple[str, list[Step]]:
        oid = uuid.UUID(step.kwargs["order_id"])
        result = payments.refund_step(
            self.factory, self.gateway, oid, lambda: self.now, consumed=step.id
        )
        return result, []

    def _fulfil(self, step: Step) -> tuple[str, list[Step]]:
        oid = uuid.UUID(step.kwargs["order_id"])
        return uow.run(
            self.factory, lambda s: fulfilment.fulfil(s, oid, self.now), consumed=step.id
        )

    def _notify(self, step: Step) -> tuple[str, list[Step]]:
        oid = uuid.UUID(step.kwargs["order_id"])
        delivery = notify.send_pending(self.factory, oid, self.mailer, self.now, consumed=step.id)
        return delivery.summary(), []


def fresh_pipeline(engine: Engine) -> Pipeline:
    """Empty every table (and the provider's ledger), then a driver over `engine`."""
    gateway = SimulatedGateway(engine, slow_seconds=0.0)
    truncate_everything(engine)
    return Pipeline(engine, session_factory(engine), gateway)


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
    capture_step: Step
    capture: Capture
    cancel_steps: list[Step]


def charge_after_cancel(pipeline: Pipeline, lines: dict[str, int]) -> ChargedAfterCancel:
    """The race: the capture task reads what to charge, the customer cancels, and then the
    provider charges the card anyway (nothing is recorded of the capture yet)."""
    placed, placed_steps = pipeline.place(place_cmd("key-1", lines))
    [capture_step] = pipeline.drain(placed_steps, until=steps.CAPTURE)
    oid = uuid.UUID(placed.order_id)
    request, _ = uow.run(pipeline.factory, lambda s: payments.request(s, oid))
    assert request is not None
    _, cancel_steps = pipeline.cancel(placed.order_number)
    capture = payments.charge(pipeline.gateway, request)
    return ChargedAfterCancel(placed, oid, capture_step, capture, cancel_steps)
