"""The sweep: the database is the truth, the broker only a courier.

It publishes outbox rows a crash left unpublished, and re-drives orders that stopped moving
(a message lost, a queue flushed) by staging again the step their state calls for. Every
step is idempotent, so a re-drive of an order that was merely slow does no harm.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, cast, exists, func, or_, select, update
from sqlalchemy.orm import Session

from domain import steps
from domain.models import (
    DeadLetter,
    DeadLetterStatus,
    Notification,
    NotificationStatus,
    Order,
    OrderStatus,
    OutboxMessage,
    PaymentStatus,
)
from domain.services import notify
from domain.uow import Step, stage

NEXT_STEP = {
    OrderStatus.PENDING: steps.RESERVE,
    OrderStatus.CONFIRMED: steps.CAPTURE,
    OrderStatus.PROCESSING: steps.FULFIL,
}


@dataclass(frozen=True)
class SweepReport:
    republished: list[Step]
    redriven_orders: int
    redriven_notifications: int


def _unpublished(session: Session, older_than: timedelta, limit: int) -> list[Step]:
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.consumed_at.is_(None),
            OutboxMessage.sent_at < func.now() - older_than,
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    found = [Step(row.id, row.task, row.kwargs) for row in rows]
    if found:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([step.id for step in found]))
            .values(sends=OutboxMessage.sends + 1, sent_at=func.now())
        )
    return found


def _no_pending_outbox(order_id: Any) -> ColumnElement[bool]:
    return ~exists().where(OutboxMessage.order_id == order_id, OutboxMessage.consumed_at.is_(None))


def _no_open_dead_letter(order_id: Any) -> ColumnElement[bool]:
    """An order whose step became a dead letter waits for the operator (replay or discard),
    instead of failing again, and filing another dead letter, at every sweep."""
    return ~exists().where(
        DeadLetter.status == DeadLetterStatus.OPEN,
        DeadLetter.payload["kwargs"]["order_id"].astext == cast(order_id, String),
    )


def _stuck_orders(session: Session, stuck_after: timedelta, limit: int) -> list[Order]:
    moving = or_(
        Order.status.in_(list(NEXT_STEP)),
        (Order.status == OrderStatus.CANCELLED) & (Order.payment_status == PaymentStatus.CAPTURED),
    )
    stmt = (
        select(Order)
        .where(
            moving,
            Order.updated_at < func.now() - stuck_after,
            _no_pending_outbox(Order.id),
            _no_open_dead_letter(Order.id),
        )
        .order_by(Order.updated_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(stmt))


def _redrive_orders(session: Session, stuck_after: timedelta, limit: int) -> int:
    stuck = _stuck_orders(session, stuck_after, limit)
    for order in stuck:
        task = NEXT_STEP.get(order.status, steps.REFUND)
        stage(session, task, {"order_id": str(order.id)}, order.id)
    if stuck:  # touch them, so the next sweep gives the re-driven step time to work
        session.execute(
            update(Order).where(Order.id.in_([o.id for o in stuck])).values(id=Order.id)
        )
    return len(stuck)


def _no_pending_send(order_id: Any) -> ColumnElement[bool]:
    return ~exists().where(
        OutboxMessage.order_id == order_id,
        OutboxMessage.task == steps.NOTIFY,
        OutboxMessage.consumed_at.is_(None),
    )


def _redrive_notifications(session: Session, stuck_after: timedelta, limit: int) -> int:
    """Orders with an email pending too long and no send on its way: one send each.

    Also what sends an order's confirmation when its fulfilment stalls (the confirmation
    normally goes out with the shipping email)."""
    order_ids = session.scalars(
        select(Notification.order_id)
        .where(
            Notification.status == NotificationStatus.PENDING,
            Notification.created_at < func.now() - stuck_after,
            _no_pending_send(Notification.order_id),
        )
        .group_by(Notification.order_id)
        .limit(limit)
    ).all()
    for order_id in order_ids:
        notify.stage_send(session, order_id)
    return len(order_ids)


def sweep(
    session: Session, *, publish_after: timedelta, stuck_after: timedelta, limit: int = 500
) -> SweepReport:
    """What to publish again now; the re-driven steps come back from `uow.run` as new steps."""
    return SweepReport(
        republished=_unpublished(session, publish_after, limit),
        redriven_orders=_redrive_orders(session, stuck_after, limit),
        redriven_notifications=_redrive_notifications(session, stuck_after, limit),
    )
