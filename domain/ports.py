"""The domain's ports: what it needs from the outside world, as Protocols.

Adapters live in `workers/adapters/`; tests hand the services real adapters (a local SMTP
server, the simulated payment provider) or the small fakes they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from domain.errors import PermanentError, RetryableError


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


# --- payments --------------------------------------------------------------------------------


class PaymentDeclined(PermanentError):
    """The provider refused the payment for good (card declined, fraud, closed account)."""


class PaymentUnavailable(RetryableError):
    """The provider could not answer now (timeout, 5xx, rate limit): the same call may succeed."""


@dataclass(frozen=True)
class Authorization:
    """Money held on the customer's card, not yet taken."""

    reference: str  # the provider's id for this payment
    amount: int  # cents
    currency: str


@dataclass(frozen=True)
class Capture:
    """Money taken: what the provider's ledger shows as charged."""

    reference: str
    amount: int
    captured_at: datetime


@dataclass(frozen=True)
class Refund:
    reference: str
    amount: int
    refunded_at: datetime


class PaymentGateway(Protocol):
    """A payment provider. Every call is idempotent by `idempotency_key`.

    The same key always names the same payment: a retried authorize returns the same
    authorization, a retried capture the same capture, so nothing is ever charged twice.
    Raises `PaymentDeclined` (for good) or `PaymentUnavailable` (try again later).
    """

    name: str

    def authorize(
        self, *, idempotency_key: str, amount: int, currency: str, token: str
    ) -> Authorization: ...

    def capture(self, *, idempotency_key: str, authorization: Authorization) -> Capture: ...

    def refund(self, *, idempotency_key: str, amount: int) -> Refund: ...


# --- mail ------------------------------------------------------------------------------------


class MailUnavailable(RetryableError):
    """The mail server could not take the message now."""


class MailRejected(PermanentError):
    """The mail server refused the message for good (bad recipient, policy)."""


@dataclass(frozen=True)
class Attachment:
    """A file sent along with an email."""

    filename: str  # as the receiver sees it, e.g. "top-products.csv"; no path, no line break
    content_type: str  # "text/csv", "text/html", "application/octet-stream"...
    data: bytes  # sent as they are (a text/* file is declared UTF-8)


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str | None = None
    message_id: str | None = None  # stable per notification, so receivers can drop repeats
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


class Mailer(Protocol):
    """Hands one message to a mail server; raises `MailUnavailable` or `MailRejected`."""

    def send(self, email: Email) -> None: ...
