"""Customer emails: one per (order, kind), recorded when decided, sent by its own task.

`prepare` writes the notification row (the UNIQUE key stops a second one) and stages the send
in the same transaction. The send task `take`s the row (locked, skipped by any other worker),
talks SMTP and marks it `sent` in that one transaction; a failure marks it `unsent`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from domain import steps, tables
from domain.models import NotificationStatus
from domain.notifications import Kind
from domain.uow import stage

__all__ = ["Claimed", "Kind", "Session", "prepare", "sent", "take", "unsent"]


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    kind: Kind
    recipient: str
    context: dict[str, Any]


# The notification (locked; another worker holding it is skipped) with its order and lines.
_TAKE = text(
    """
    SELECT n.kind, n.recipient, n.context,
           o.order_number, o.currency, o.total_amount, o.shipping_address,
           oi.product_sku, oi.product_name, oi.quantity, oi.unit_price, oi.total_price
    FROM notifications n
    JOIN orders o ON o.id = n.order_id
    JOIN order_items oi ON oi.order_id = o.id
    WHERE n.id = :id AND n.status = 'pending'
    ORDER BY oi.product_sku
    FOR UPDATE OF n SKIP LOCKED
    """
)


def _context(rows: Sequence[Any]) -> dict[str, Any]:
    """What the templates show, read from the order as it was placed (its lines never change)."""
    first = rows[0]
    return {
        "order_number": first.order_number,
        "customer_name": first.shipping_address.get("name"),  # the name the order was for
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
        **first.context,
    }


def prepare(
    session: Session, order_id: uuid.UUID, recipient: str, kind: Kind, **extra: Any
) -> bool:
    """Record that the customer gets this email and stage its sending; False if already there."""
    stmt = (
        pg_insert(tables.notifications)
        .values(order_id=order_id, kind=kind.value, recipient=recipient, context=extra)
        .on_conflict_do_nothing(index_elements=["order_id", "kind"])
        .returning(tables.notifications.c.id)
    )
    new_id = session.execute(stmt).scalar_one_or_none()
    if new_id is not None:
        stage(session, steps.NOTIFY, {"notification_id": str(new_id)}, order_id)
    return new_id is not None


def take(session: Session, notification_id: uuid.UUID) -> Claimed | None:
    """Lock a pending notification for this transaction; None if sent or being sent."""
    rows = session.execute(_TAKE, {"id": notification_id}).all()
    if not rows:
        return None
    return Claimed(notification_id, Kind(rows[0].kind), rows[0].recipient, _context(rows))


def sent(session: Session, notification_id: uuid.UUID, now: datetime) -> None:
    session.execute(
        update(tables.notifications)
        .where(tables.notifications.c.id == notification_id)
        .values(
            status=NotificationStatus.SENT,
            sent_at=now,
            last_error=None,
            attempts=tables.notifications.c.attempts + 1,
        )
    )


def unsent(session: Session, notification_id: uuid.UUID, error: str, *, final: bool) -> None:
    """The send failed: back to pending for a retry, or failed for good."""
    status = NotificationStatus.FAILED if final else NotificationStatus.PENDING
    session.execute(
        update(tables.notifications)
        .where(tables.notifications.c.id == notification_id)
        .values(
            status=status, last_error=error[:2000], attempts=tables.notifications.c.attempts + 1
        )
    )
