"""What comes next for an order: one table, read by every handler and by the sweep.

An order waits for one step in each state that is not final: a pending order for its
reservation, a confirmed one for its capture, a paid one for its fulfilment, a cancelled order
whose payment was captured for its refund. A step that moved an order asks for the step its new
state waits for; the sweep asks for it again when an order stopped moving. Emails a step decided
go out with one `notifications.send` for the order, unless the next step is the fulfilment,
whose own send carries them (the confirmation goes out just before the shipping email).
"""

from __future__ import annotations

import uuid

from domain import steps
from domain.models import OrderStatus, PaymentStatus
from domain.services.state import Outcome
from domain.services.sweep import Waiting
from domain.uow import Next

WAITS_FOR: dict[Waiting, str] = {
    (OrderStatus.PENDING, None): steps.RESERVE,
    (OrderStatus.CONFIRMED, None): steps.CAPTURE,
    (OrderStatus.PROCESSING, None): steps.FULFIL,
    (OrderStatus.CANCELLED, PaymentStatus.CAPTURED): steps.REFUND,
}


def waits_for(status: OrderStatus, payment_status: PaymentStatus) -> str | None:
    """The step an order in this state waits for; None when it waits for none."""
    return WAITS_FOR.get((status, payment_status)) or WAITS_FOR.get((status, None))


def order_step(task: str, order_id: uuid.UUID) -> Next:
    """A step of the order pipeline for this order."""
    return Next(task, {"order_id": str(order_id)}, order_id)


def after(outcome: Outcome | None) -> tuple[Next, ...]:
    """The steps that come after a step that left an order in `outcome`: none if it changed
    nothing; else the step its new state waits for, then the send of its new emails."""
    if outcome is None or not outcome.moved:
        return ()
    task = waits_for(outcome.status, outcome.payment_status)
    found = [] if task is None else [order_step(task, outcome.order_id)]
    if outcome.emails and task != steps.FULFIL:
        found.append(order_step(steps.NOTIFY, outcome.order_id))
    return tuple(found)


def result_of(outcome: Outcome | None) -> str:
    """An order step's result: the status it left the order in, or `skipped` (no such order)."""
    return "skipped" if outcome is None else outcome.status.value
