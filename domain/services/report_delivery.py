"""The nightly report emailed to its recipients, each once per day.

`deliver` sends the day's report to every recipient without a `report_deliveries` row for the
day, and writes each row in the caller's transaction after the server took the message: a
rerun of the slot, or a retry after a refusal, sends only to those not reached yet. A
recipient refused for good (`MailRejected`) is passed over for the next; a server that cannot
take mail now (`MailUnavailable`) ends the run, for a retry.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from domain import reports
from domain.models import ReportDelivery
from domain.ports import Mailer, MailRejected, MailUnavailable
from domain.services.report import Nightly
from domain.sql import Statement

log = logging.getLogger("backroom.reports")
DELIVERIES = ReportDelivery.__tablename__

_SENT = Statement(f"SELECT recipient FROM {DELIVERIES} WHERE day = :day")
_RECORD = Statement(
    f"INSERT INTO {DELIVERIES} (day, recipient, message_id, sent_at)"
    " VALUES (:day, :recipient, :message_id, :now) ON CONFLICT DO NOTHING"
)


@dataclass
class Delivery:
    """Who got the report in this run, who had it already, and who the server refused."""

    sent: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    refused: list[tuple[str, MailUnavailable | MailRejected]] = field(default_factory=list)

    @property
    def error(self) -> MailUnavailable | MailRejected | None:
        """The first refusal's error, if any: the step ends with it."""
        return self.refused[0][1] if self.refused else None


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
) -> Delivery:
    """Email the report to each of `recipients` it has not gone to (see the module)."""
    done = sent_to(session, nightly.day)
    delivery = Delivery()
    for recipient in dict.fromkeys(r.lower() for r in recipients):
        if recipient in done:
            delivery.already.append(recipient)
            continue
        message = reports.email(nightly, rendered, recipient)
        try:
            mailer.send(message)
        except (MailUnavailable, MailRejected) as error:
            log.warning("nightly report %s to %s refused: %s", nightly.day, recipient, error)
            delivery.refused.append((recipient, error))
            if isinstance(error, MailUnavailable):
                break
            continue
        params = {"day": nightly.day, "recipient": recipient, "now": now}
        _RECORD.run(session, params | {"message_id": message.message_id})
        delivery.sent.append(recipient)
    return delivery
