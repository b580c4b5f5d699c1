"""Customer emails: one per (order, kind), recorded when decided, sent per order in order.

`prepare` writes the notification row in the transaction of the step that decided the email
(the UNIQUE key stops a second one); the handler of that step then asks for the order's
`notifications.send`. That step `deliver`s every pending email of the order, oldest first, in
one transaction: the rows are locked in that order (a duplicate send waits, then finds them
sent), each goes over SMTP and is marked `sent` at commit. The first refusal stops the run:
what went out before it is committed as sent, the refused one is marked (`unsent`) in the
same transaction, and the step retries the rest.

One send per order keeps a customer's emails in the order they were decided (confirmed before
shipped, even when a send is retried) and costs one message instead of one per email.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain.models import Notification, NotificationStatus, Order, OrderItem
from domain.notifications import Kind, render
from domain.ports import Mailer, MailRejected, MailUnavailable
from domain.sql import Statement
from domain.validation import sql_literal

log = logging.getLogger("backroom.notifications")
NOTIFICATIONS = Notification.__tablename__
_PENDING = sql_literal(NotificationStatus.PENDING)


@dataclass(frozen=True)
class Claimed:
    id: uuid.UUID
    kind: Kind
    recipient: str
    context: dict[str, Any]


@dataclass
class Delivery:
    """What one send did: the emails handed to the mail server, and the one refused, if any."""

    sent: list[Claimed] = field(default_factory=list)
    refusal: tuple[Claimed, MailUnavailable | MailRejected] | None = None

    def summary(self) -> str:
        return f"sent {len(self.sent)}" if self.sent else "nothing pending"


# The order's pending notifications, oldest first, locked in that order (a second sender
# waits, then sees them sent), each with the order and its lines.
_TAKE = Statement(
    f"""
    SELECT n.id, n.kind, n.recipient, n.context,
           o.order_number, o.currency, o.total_amount, o.shipping_address,
           oi.product_sku, oi.product_name, oi.quantity, oi.unit_price, oi.total_price
    FROM {NOTIFICATIONS} n
    JOIN {Order.__tablename__} o ON o.id = n.order_id
    JOIN {OrderItem.__tablename__} oi ON oi.order_id = o.id
    WHERE n.order_id = :order_id AND n.status = {_PENDING}
    ORDER BY n.created_at, n.id, oi.product_sku
    FOR UPDATE OF n
    """
)


_PREPARE = Statement(
    f"INSERT INTO {NOTIFICATIONS} (order_id, kind, recipient, context)"
    " VALUES (:order_id, :kind, :recipient, CAST(:context AS jsonb))"
    " ON CONFLICT (order_id, kind) DO NOTHING RETURNING id"
)
_SENT = Statement(
    f"UPDATE {NOTIFICATIONS} SET status = {sql_literal(NotificationStatus.SENT)},"
    " sent_at = :now, last_error = NULL, attempts = attempts + 1 WHERE id = ANY(:ids)"
)
_UNSENT = Statement(
    f"UPDATE {NOTIFICATIONS} SET status = :status, last_error = :error,"
    " attempts = attempts + 1 WHERE id = :id"
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
    """Record that the customer gets this email; False if it was already recorded."""
    params = {"order_id": order_id, "kind": kind.value, "recipient": recipient}
    new_id = _PREPARE.run(session, {**params, "context": json.dumps(extra)}).scalar()
    return new_id is not None


def take(session: Session, order_id: uuid.UUID) -> list[Claimed]:
    """Lock the order's pending notifications for this transaction, oldest first."""
    by_id: dict[uuid.UUID, list[Any]] = {}
    for row in _TAKE.run(session, {"order_id": order_id}):
        by_id.setdefault(row.id, []).append(row)
    return [
        Claimed(nid, Kind(rows[0].kind), rows[0].recipient, _context(rows))
        for nid, rows in by_id.items()
    ]


def deliver(session: Session, order_id: uuid.UUID, mailer: Mailer, now: datetime) -> Delivery:
    """Send the order's pending emails, oldest first; stop at the first the server refuses.

    The emails handed to the server are marked sent and the refused one, if any, `unsent`,
    in this transaction: at its commit.
    """
    delivery = Delivery()
    for claimed in take(session, order_id):
        email = render(
            claimed.kind, claimed.context, to=claimed.recipient, message_id=f"{claimed.id}@backroom"
        )
        try:
            mailer.send(email)
        except (MailUnavailable, MailRejected) as error:
            delivery.refusal = claimed, error
            break
        delivery.sent.append(claimed)
        number = claimed.context["order_number"]
        log.info("order=%s notification=%s kind=%s sent", number, claimed.id, claimed.kind)
    sent(session, [c.id for c in delivery.sent], now)
    if delivery.refusal is not None:
        refused, problem = delivery.refusal
        unsent(session, refused.id, str(problem), final=isinstance(problem, MailRejected))
    return delivery


def sent(session: Session, notification_ids: Sequence[uuid.UUID], now: datetime) -> None:
    if notification_ids:
        _SENT.run(session, {"ids": list(notification_ids), "now": now})


def unsent(session: Session, notification_id: uuid.UUID, error: str, *, final: bool) -> None:
    """The send failed: back to pending for a retry, or failed for good."""
    status = NotificationStatus.FAILED if final else NotificationStatus.PENDING
    _UNSENT.run(session, {"id": notification_id, "status": status.value, "error": error[:2000]})
