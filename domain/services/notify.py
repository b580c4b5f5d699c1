"""Customer emails: one per (order, kind), recorded when decided, each sent once.

`prepare` writes the notification row in the transaction of the step that decided the email
(the UNIQUE key stops a second one); the handler of that step then asks for the order's
`notifications.send`, which goes in three moves, none of them holding a transaction open
across the mail server:

1. `claim`: one statement takes the order's pending emails that are due, oldest first, and
   leases them (`next_attempt_at` = the end of the lease, `attempts` + 1). It stops at the
   first email that is not due (leased by another sender, or put off after an outage), so a
   customer's emails go out in the order they were decided. A duplicate send finds the
   emails leased and does nothing.
2. `deliver`: each claimed email is handed to the mail server and, the moment the server has
   taken it, marked sent in a statement of its own (`mark_sent`), retried while the database
   is away. The window in which an email can go out twice is therefore one email's acceptance:
   the process dies after the server's 250 and before the mark, and the lease expires.
   The Message-ID (`<notification id>@backroom`) is the same on every attempt, so a mail
   system that keeps Message-IDs drops that repeat.
3. `settle`: what the server did not take is written in the step's unit of work. An email the
   server could not take now (`MailUnavailable`) is put off with a growing delay (the sweep
   sends it when due), and after `MailPolicy.attempts` it fails for good; one it refused for
   good (`MailRejected`) fails at once. An email the sender could not finish at all (killed)
   keeps its lease until it expires; the sweep then sends it again.

The lease (`LEASE`) is longer than the send task's hard time limit (`SEND_TIME_LIMIT`): a
lease cannot expire while the sender holding it is alive.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from domain import uow
from domain.models import Notification, NotificationStatus, Order, OrderItem
from domain.notifications import Kind, render
from domain.ports import Email, Mailer, MailRejected, MailUnavailable
from domain.services.mailing import send_each
from domain.sql import Statement
from domain.validation import sql_literal

log = logging.getLogger("backroom.notifications")
NOTIFICATIONS = Notification.__tablename__
_PENDING = sql_literal(NotificationStatus.PENDING)

SEND_SOFT_TIME_LIMIT = 60  # seconds: a few emails at the mail adapter's 10 s timeout, and marks
SEND_TIME_LIMIT = 75
LEASE = timedelta(seconds=SEND_TIME_LIMIT + 15)


@dataclass(frozen=True)
class MailPolicy:
    """How customer emails are retried when the mail server cannot take them now: after
    `retry_after`, doubling up to `retry_max`; after `attempts` tries an email fails for good."""

    retry_after: timedelta = timedelta(seconds=30)
    retry_max: timedelta = timedelta(minutes=15)
    attempts: int = 12

    def delay(self, attempts: int) -> timedelta:
        """How long to wait after the `attempts`-th try (1 for the first) failed."""
        doubled: timedelta = self.retry_after * 2 ** max(0, min(attempts - 1, 30))
        return min(self.retry_max, doubled)


@dataclass(frozen=True)
class Claimed:
    """An email leased to this sender, with what its template shows."""

    id: uuid.UUID
    kind: Kind
    recipient: str
    context: dict[str, Any]
    attempts: int  # tries so far, this one included


@dataclass
class Delivery:
    """What one send did: the emails the server took (each already marked sent), those it
    refused for good, and those it could not take now with the reason (the rest of the batch
    is not tried after that)."""

    sent: list[Claimed] = field(default_factory=list)
    rejected: list[tuple[Claimed, MailRejected]] = field(default_factory=list)
    unavailable: MailUnavailable | None = None
    untried: list[Claimed] = field(default_factory=list)


class MailGaveUp(MailRejected):
    """An email the mail server could not take on any of its attempts: it fails for good."""


# The order's pending emails, oldest first, all locked (a second sender waits, then sees the
# new leases); the due ones before the first that is not due are leased and returned.
_CLAIM = Statement(
    f"""
    WITH pending AS (
        SELECT id, created_at, next_attempt_at FROM {NOTIFICATIONS}
        WHERE order_id = :order_id AND status = {_PENDING}
        ORDER BY created_at, id
        FOR UPDATE
    ), due AS (
        SELECT p.id FROM pending p
        WHERE NOT EXISTS (
            SELECT 1 FROM pending q
            WHERE q.next_attempt_at > now() AND (q.created_at, q.id) <= (p.created_at, p.id))
    )
    UPDATE {NOTIFICATIONS} n
    SET next_attempt_at = now() + CAST(:lease AS interval), attempts = n.attempts + 1
    FROM due WHERE n.id = due.id
    RETURNING n.id, n.kind, n.recipient, n.context, n.attempts, n.created_at
    """
)
_ORDER = Statement(
    f"""
    SELECT o.order_number, o.currency, o.total_amount, o.shipping_address,
           oi.product_sku, oi.product_name, oi.quantity, oi.unit_price, oi.total_price
    FROM {Order.__tablename__} o JOIN {OrderItem.__tablename__} oi ON oi.order_id = o.id
    WHERE o.id = :order_id
    ORDER BY oi.product_sku
    """
)
_PREPARE = Statement(
    f"INSERT INTO {NOTIFICATIONS} (order_id, kind, recipient, context)"
    " VALUES (:order_id, :kind, :recipient, CAST(:context AS jsonb))"
    " ON CONFLICT (order_id, kind) DO NOTHING RETURNING id"
)
_SENT = Statement(
    f"UPDATE {NOTIFICATIONS} SET status = {sql_literal(NotificationStatus.SENT)},"
    " sent_at = :now, next_attempt_at = NULL, last_error = NULL"
    f" WHERE id = :id AND status = {_PENDING}"
)
_PUT_OFF = Statement(
    f"UPDATE {NOTIFICATIONS} SET next_attempt_at = now() + CAST(:delay AS interval),"
    f" last_error = :error WHERE id = :id AND status = {_PENDING}"
)
_FAILED = Statement(
    f"UPDATE {NOTIFICATIONS} SET status = {sql_literal(NotificationStatus.FAILED)},"
    f" next_attempt_at = NULL, last_error = :error WHERE id = :id AND status = {_PENDING}"
)
# Emails of the order decided after this send claimed its batch, free to go now.
_WAITING = Statement(
    f"SELECT EXISTS (SELECT 1 FROM {NOTIFICATIONS} WHERE order_id = :order_id"
    f" AND status = {_PENDING} AND next_attempt_at IS NULL)"
)


def prepare(
    session: Session, order_id: uuid.UUID, recipient: str, kind: Kind, **extra: Any
) -> bool:
    """Record that the customer gets this email; False if it was already recorded."""
    params = {"order_id": order_id, "kind": kind.value, "recipient": recipient}
    new_id = _PREPARE.run(session, {**params, "context": json.dumps(extra)}).scalar()
    return new_id is not None


def claim(session: Session, order_id: uuid.UUID) -> list[Claimed]:
    """Lease the order's pending emails that are due, oldest first, up to the first that is
    not; [] when there are none (all sent, or another sender holds them). Commit it before
    sending: the lease is what keeps a second sender away."""
    rows = sorted(
        _CLAIM.run(session, {"order_id": order_id, "lease": LEASE}),
        key=lambda row: (row.created_at, row.id),
    )
    if not rows:
        return []
    order = _context(list(_ORDER.run(session, {"order_id": order_id})))
    return [
        Claimed(row.id, Kind(row.kind), row.recipient, {**order, **row.context}, row.attempts)
        for row in rows
    ]


def deliver(
    factory: sessionmaker[Session], mailer: Mailer, claimed: Sequence[Claimed], now: datetime
) -> Delivery:
    """Hand each claimed email to the mail server, in order (`mailing.send_each`), marking each
    sent as soon as the server took it. An email refused for good is passed over for the next;
    a server that cannot take mail now ends the batch. No transaction is open across the
    server."""

    def marked(email: Claimed, _: Email) -> None:
        mark_sent(factory, email.id, now)
        number = email.context["order_number"]
        log.info("order=%s notification=%s kind=%s sent", number, email.id, email.kind)

    mailing = send_each(mailer, claimed, _message, marked)
    delivery = Delivery(sent=mailing.sent)
    for email, error in mailing.refused:
        if isinstance(error, MailUnavailable):  # the last refusal: the batch ended there
            delivery.unavailable = error
            delivery.untried = list(claimed[claimed.index(email) :])
        else:
            delivery.rejected.append((email, error))
    return delivery


def mark_sent(
    factory: sessionmaker[Session],
    notification_id: uuid.UUID,
    now: datetime,
    *,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """Record that the mail server took this email, in a statement of its own, trying again
    while the database is away (`uow.record_now`): the email must not go out again because
    the mark was lost. A wait longer than the send task's soft time limit ends it; the email
    then goes out again once its lease ends."""
    uow.record_now(
        factory,
        lambda s: _SENT.run(s, {"id": notification_id, "now": now}),
        f"notification={notification_id} sent",
        pause=pause,
    )


def settle(session: Session, delivery: Delivery, policy: MailPolicy) -> MailRejected | None:
    """Record what the mail server did not take, in the step's unit of work: refused for good,
    failed; could not take now, put off (failed after `policy.attempts`). The error the step
    ends with (a refusal or an email given up on: kept as a dead letter), if any."""
    errors: list[MailRejected] = []
    for email, rejected in delivery.rejected:
        _FAILED.run(session, {"id": email.id, "error": str(rejected)[:2000]})
        errors.append(rejected)
    if delivery.unavailable is not None:
        reason = str(delivery.unavailable)[:2000]
        for email in delivery.untried:
            if email.attempts >= policy.attempts:
                _FAILED.run(session, {"id": email.id, "error": reason})
                errors.append(MailGaveUp(f"gave up after {email.attempts} attempts: {reason}"))
                continue
            delay = policy.delay(email.attempts)
            _PUT_OFF.run(session, {"id": email.id, "delay": delay, "error": reason})
            log.warning(
                "notification=%s put off for %s (attempt %d): %s",
                email.id,
                delay,
                email.attempts,
                reason,
            )
    return errors[0] if errors else None


def waiting(session: Session, order_id: uuid.UUID) -> bool:
    """True when the order has emails decided after the last claim, free to go now."""
    return bool(_WAITING.run(session, {"order_id": order_id}).scalar())


def summary(delivery: Delivery) -> str:
    """A send's result: what went out, what was put off or refused."""
    parts = [f"sent {len(delivery.sent)}"]
    if delivery.unavailable is not None:
        parts.append(f"put off {len(delivery.untried)}: {delivery.unavailable}")
    if delivery.rejected:
        parts.append(f"refused {len(delivery.rejected)}")
    return "; ".join(parts)


def _message(email: Claimed) -> Email:
    return render(email.kind, email.context, to=email.recipient, message_id=f"{email.id}@backroom")


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
    }
