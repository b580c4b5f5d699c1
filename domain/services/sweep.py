"""The sweep's queries: the database is the truth, the broker only a courier.

`unpublished` finds outbox rows a crash left unpublished (or a flushed queue lost) and marks
them sent again; `stuck_orders` finds orders that stopped moving in a state that waits for a
step, and touches them so the next sweep gives the re-driven step time to work;
`unsent_emails` finds orders whose emails are due with no send on its way. Which step a stuck
order waits for is the handlers' decision (`domain.handlers.flow`), not this module's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from domain import steps
from domain.models import (
    DeadLetter,
    DeadLetterStatus,
    Notification,
    NotificationStatus,
    OrderStatus,
    OutboxMessage,
    PaymentStatus,
)
from domain.services.state import ORDERS
from domain.sql import Statement
from domain.uow import Step
from domain.validation import sql_literal

OUTBOX = OutboxMessage.__tablename__

_UNPUBLISHED = Statement(
    f"""
    WITH due AS (
        SELECT id FROM {OUTBOX}
        WHERE consumed_at IS NULL AND sent_at < now() - CAST(:older_than AS interval)
        ORDER BY id LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE {OUTBOX} m SET sends = m.sends + 1, sent_at = now() FROM due WHERE m.id = due.id
    RETURNING m.id, m.task, m.kwargs
    """
)
# Orders in a waiting state (status, and payment status where it matters), not changed for a
# while, with no step of theirs in the outbox and no open dead letter for them (an operator
# decides those: replay or discard), locked and touched.
_STUCK = Statement(
    f"""
    WITH stuck AS (
        SELECT o.id, o.updated_at AS last_change FROM {ORDERS} o
        JOIN unnest(CAST(:statuses AS text[]), CAST(:payments AS text[])) AS w(status, payment)
          ON o.status = w.status AND (w.payment IS NULL OR o.payment_status = w.payment)
        WHERE o.updated_at < now() - CAST(:older_than AS interval)
          AND NOT EXISTS (
              SELECT 1 FROM {OUTBOX} m WHERE m.order_id = o.id AND m.consumed_at IS NULL)
          AND NOT EXISTS (
              SELECT 1 FROM {DeadLetter.__tablename__} d
              WHERE d.status = {sql_literal(DeadLetterStatus.OPEN)}
                AND d.payload -> 'kwargs' ->> 'order_id' = CAST(o.id AS text))
        ORDER BY o.updated_at LIMIT :limit
        FOR UPDATE OF o SKIP LOCKED
    )
    UPDATE {ORDERS} o SET version = o.version + 1 FROM stuck WHERE o.id = stuck.id
    RETURNING o.id, o.status, o.payment_status, stuck.last_change
    """
)
# Orders with a pending email that is due (never tried and older than `older_than`, or whose
# lease or put-off time has passed), none held (leased, or put off until later) and no send of
# theirs in the outbox.
_UNSENT_EMAILS = Statement(
    f"""
    SELECT n.order_id FROM {Notification.__tablename__} n
    WHERE n.status = {sql_literal(NotificationStatus.PENDING)}
      AND coalesce(n.next_attempt_at, n.created_at + CAST(:older_than AS interval)) < now()
      AND NOT EXISTS (
          SELECT 1 FROM {Notification.__tablename__} h
          WHERE h.order_id = n.order_id AND h.status = {sql_literal(NotificationStatus.PENDING)}
            AND h.next_attempt_at >= now())
      AND NOT EXISTS (
          SELECT 1 FROM {OUTBOX} m
          WHERE m.order_id = n.order_id AND m.task = :send AND m.consumed_at IS NULL)
    GROUP BY n.order_id
    LIMIT :limit
    """
)

Waiting = tuple[OrderStatus, PaymentStatus | None]  # a state that waits for a step


@dataclass(frozen=True)
class StuckOrder:
    id: uuid.UUID
    status: OrderStatus
    payment_status: PaymentStatus


def unpublished(session: Session, older_than: timedelta, limit: int) -> list[Step]:
    """Outbox rows not consumed `older_than` after their last send, marked sent again now."""
    rows = _UNPUBLISHED.run(session, {"older_than": older_than, "limit": limit})
    return sorted((Step(row.id, row.task, row.kwargs) for row in rows), key=lambda s: s.id)


def stuck_orders(
    session: Session, waiting: Iterable[Waiting], older_than: timedelta, limit: int
) -> list[StuckOrder]:
    """Orders in one of the `waiting` states that have not changed for `older_than`, oldest
    first, touched (their `updated_at` is now)."""
    states = list(waiting)
    params = {
        "statuses": [status.value for status, _ in states],
        "payments": [None if payment is None else payment.value for _, payment in states],
        "older_than": older_than,
        "limit": limit,
    }
    rows = sorted(_STUCK.run(session, params), key=lambda row: row.last_change)
    return [
        StuckOrder(row.id, OrderStatus(row.status), PaymentStatus(row.payment_status))
        for row in rows
    ]


def unsent_emails(session: Session, older_than: timedelta, limit: int) -> list[uuid.UUID]:
    """Orders with an email due and no send of theirs in the outbox: never tried and pending
    for `older_than`, put off after a mail outage and now due, or left leased by a sender that
    died (its lease has ended).

    Also what sends an order's confirmation when its fulfilment stalls (the confirmation
    normally goes out with the shipping email)."""
    params = {"older_than": older_than, "limit": limit, "send": steps.NOTIFY}
    return [row.order_id for row in _UNSENT_EMAILS.run(session, params)]
