"""One email per item, sent in turn: how the scheduled jobs mail vendors and report readers.

`send_each` hands each item's email to the mail server. A recipient refused for good
(`MailRejected`) is passed over for the next; a server that cannot take mail now
(`MailUnavailable`) ends the run, for a retry. What went out and what was refused come back
as a `Mailing`; `on_sent` records an item as soon as its email went out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from domain.ports import Email, Mailer, MailRejected, MailUnavailable

log = logging.getLogger("backroom.mailing")

T = TypeVar("T")


@dataclass
class Mailing(Generic[T]):
    """What one run emailed: the items whose email went out, and those the server refused."""

    sent: list[T] = field(default_factory=list)
    refused: list[tuple[T, MailUnavailable | MailRejected]] = field(default_factory=list)

    @property
    def error(self) -> MailUnavailable | MailRejected | None:
        """The first refusal's error, if any: the step ends with it."""
        return self.refused[0][1] if self.refused else None


def send_each(
    mailer: Mailer,
    items: Iterable[T],
    email_of: Callable[[T], Email],
    on_sent: Callable[[T, Email], None] = lambda item, email: None,
) -> Mailing[T]:
    """Email each item in turn (see the module)."""
    mailing: Mailing[T] = Mailing()
    for item in items:
        email = email_of(item)
        try:
            mailer.send(email)
        except (MailUnavailable, MailRejected) as error:
            log.warning("email %r to %s refused: %s", email.subject, email.to, error)
            mailing.refused.append((item, error))
            if isinstance(error, MailUnavailable):
                break
        else:
            on_sent(item, email)
            mailing.sent.append(item)
    return mailing
