"""The nightly report emailed to its recipients, each once per day.

`deliver` sends the day's report to every recipient without a `report_deliveries` row for the
day (`mailing.send_each`), and writes each row in the caller's transaction as soon as the
server took the message: a rerun of the slot, or a retry after a refusal, sends only to those
not reached yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.orm import Session

from domain import reports
from domain.models import ReportDelivery
from domain.ports import Email, Mailer
from domain.services.mailing import Mailing, send_each
from domain.services.report import Nightly
from domain.sql import Statement

DELIVERIES = ReportDelivery.__tablename__

_SENT = Statement(f"SELECT recipient FROM {DELIVERIES} WHERE day = :day")
_RECORD = Statement(
    f"INSERT INTO {DELIVERIES} (day, recipient, message_id, sent_at)"
    " VALUES (:day, :recipient, :message_id, :now) ON CONFLICT DO NOTHING"
)


def sent_to(session: Session, day: date) -> set[str]:
    """The recipients (lower case) the report of `day` went to."""
    return {row.recipient for row in _SENT.run(session, {"day": day})}


def deliver(
    session: Session,
    mailer: Mailer,
    nightly: Nightly,
    rendered: dict[str, bytes],
    recipients: Sequence[str],
    now: datetime,
) -> tuple[list[str], Mailing[str]]:
    """Email the report to each of `recipients` it has not gone to (see the module); the
    recipients (lower case) that had it already, and what this run sent."""
    done = sent_to(session, nightly.day)
    wanted = list(dict.fromkeys(r.lower() for r in recipients))

    def record(recipient: str, email: Email) -> None:
        params = {"day": nightly.day, "recipient": recipient, "now": now}
        _RECORD.run(session, params | {"message_id": email.message_id})

    pending = [r for r in wanted if r not in done]
    mailing = send_each(mailer, pending, lambda r: reports.email(nightly, rendered, r), record)
    return [r for r in wanted if r in done], mailing
