"""Customer emails: one per (order, kind), recorded when decided, sent by its own task.

`prepare` writes the notification row (the UNIQUE key stops a second one) and stages the send
in the same transaction. `claim` / `sent` / `unsent` bracket the SMTP conversation so two
workers never send the same row at once; a claim older than `CLAIM_TIMEOUT` (a worker died
mid-send) may be taken again, and the stable Message-ID lets mail systems drop that repeat.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from domain import steps
from domain.models import Notification, NotificationStatus
from domain.notifications import Kind
from domain.uow import stage

__all__ = ["CLAIM_TIMEOUT", "Claimed", "Kind", "claim", "prepare", "sent", "unsent"]

CLAIM_TIMEOUT = timedelta(minutes=5)


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    kind: Kind
    recipient: str
    context: dict[str, Any]


_ORDER = text(
    """
    SELECT o.order_number, o.currency, o.total_amount, o.shipping_address,
           oi.product_sku, oi.product_name, oi.quantity, oi.unit_price, oi.total_price
    FROM orders o JOIN order_items oi ON oi.order_id = o.id
    WHERE o.id = :id ORDER BY oi.product_sku
    """
)


def _context(session: Session, order_id: uuid.UUID, extra: dict[str, Any]) -> dict[str, Any]:
    """What the templates show, read from the order as it was placed (its lines never change)."""
    rows = session.execute(_ORDER, {"id": order_id}).all()
    first = rows[0]
    return {
        "order_number": first.order_number,
        "customer_name": None,
        "currency": first.currency,
        "total_amount": first.total_amount,
        "lines": [
            {
                "sku": r.product_sku,
                "name": r.product_name,
                "quantity": r.quantity,
                "unit_price": r.unit_price,
                "total_price": r.total_price,
            }
            for r in rows
        ],
        "shipping_address": dict(first.shipping_address),
        **extra,
    }


def prepare(
    session: Session, order_id: uuid.UUID, recipient: str, kind: Kind, **extra: Any
) -> bool:
    """Record that the customer gets this email and stage its sending; False if already there."""
    stmt = (
        pg_insert(Notification)
        .values(order_id=order_id, kind=kind.value, recipient=recipient, context=extra)
        .on_conflict_do_nothing(index_elements=["order_id", "kind"])
        .returning(Notification.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is not None:
        stage(session, steps.NOTIFY, {"notification_id": str(new_id)}, order_id)
    return new_id is not None


def claim(session: Session, notification_id: uuid.UUID, now: datetime) -> Claimed | None:
    """Take the row for sending, unless it is sent or another worker holds a fresh claim."""
    row = session.execute(
        update(Notification)
        .where(
            Notification.id == notification_id,
            or_(
                Notification.status == NotificationStatus.PENDING,
                (Notification.status == NotificationStatus.SENDING)
                & (Notification.claimed_at < now - CLAIM_TIMEOUT),
            ),
        )
        .values(
            status=NotificationStatus.SENDING, claimed_at=now, attempts=Notification.attempts + 1
        )
        .returning(
            Notification.order_id, Notification.kind, Notification.recipient, Notification.context
        )
    ).one_or_none()
    if row is None:
        return None
    context = _context(session, row.order_id, dict(row.context))
    return Claimed(notification_id, Kind(row.kind), row.recipient, context)


def sent(session: Session, notification_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(status=NotificationStatus.SENT, sent_at=now, last_error=None)
    )


def unsent(session: Session, notification_id: uuid.UUID, error: str, *, final: bool) -> None:
    """The send failed: back to pending for a retry, or failed for good."""
    status = NotificationStatus.FAILED if final else NotificationStatus.PENDING
    session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(status=status, last_error=error[:2000], claimed_at=None)
    )
