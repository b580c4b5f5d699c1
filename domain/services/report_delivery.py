"""The nightly report emailed to its recipients, each once per day.

`deliver` sends the day's report to every recipient without a `report_deliveries` row for the
day (`mailing.send_each`), and commits each row on its own as soon as the server took the
message (`uow.record_now`, retried while the database is away), whatever becomes of the run's
transaction: a rerun of the slot, or a retry after a refusal or a crash, sends only to those
not reached yet. The run's row lock keeps a second run of the same slot waiting meanwhile.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy.orm import Session, sessionmaker

from domain import reports, uow
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
    factory: sessionmaker[Session],
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
        params |= {"message_id": email.message_id}
        what = f"report of {nightly.day} sent to {recipient}"
        uow.record_now(factory, lambda s: _RECORD.run(s, params), what)

    pending = [r for r in wanted if r not in done]
    mailing = send_each(mailer, pending, lambda r: reports.email(nightly, rendered, r), record)
    return [r for r in wanted if r in done], mailing
