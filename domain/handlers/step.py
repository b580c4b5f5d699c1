"""What a handler is given and what it answers.

A handler is a plain function `handler(work, payload) -> Done`: `work` is an open unit of work
(the session of one transaction, the time the step runs at, the ports), `payload` the step's
parsed arguments. It does the step and answers with its result and the steps that come next;
`domain.handlers.runner.run_step` writes those to the outbox and commits.

A step that must talk to the outside world between two transactions is a `CallOut`: `ask`
reads what to do, `call` does it outside any transaction, `record` writes the answer in the
step's unit of work. The capture and the refund are such steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from domain.ports import Clock, Mailer, PaymentGateway
from domain.secrets import Sealer, process_sealer
from domain.services.notify import MailPolicy
from domain.uow import Next, Step

P = TypeVar("P")  # the payload
Q = TypeVar("Q")  # what a call-out asks the outside world
A = TypeVar("A")  # its answer


@dataclass(frozen=True)
class SweepPolicy:
    """When the sweep acts: a step's message not run `publish_after` after it was sent is sent
    again; an order that has not moved for `stuck_after` is re-driven; a finished scheduled
    run whose slot is older than `keep_runs` is deleted."""

    publish_after: timedelta = timedelta(minutes=10)
    stuck_after: timedelta = timedelta(minutes=10)
    limit: int = 500  # rows of each kind per sweep
    keep_runs: timedelta = timedelta(days=14)  # finished scheduled runs are kept this long


@dataclass(frozen=True)
class JobPolicy:
    """What the scheduled jobs need to know of the shop: its time zone (a reorder request is
    made once per SKU per local day, a report covers a local day), how long an unpaid order
    holds its stock, where the nightly reports are saved (a folder per day) and who gets them."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    reservation_hold: timedelta = timedelta(minutes=15)
    reports: Path = Path(".backroom/reports")
    report_recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ports:
    """What the handlers need from the outside world, built once per process."""

    factory: sessionmaker[Session]
    gateway: PaymentGateway
    mailer: Mailer
    clock: Clock
    sweep: SweepPolicy = field(default_factory=SweepPolicy)
    jobs: JobPolicy = field(default_factory=JobPolicy)
    mail: MailPolicy = field(default_factory=MailPolicy)
    # Seals payment tokens at rest (`domain.secrets`): a worker's has the configured keys; the
    # default, a key of this process only, suits what is sealed and opened in one process.
    sealer: Sealer = field(default_factory=process_sealer)


@dataclass(frozen=True)
class Work:
    """An open unit of work: one transaction's session, the time the step runs at, the ports."""

    session: Session
    now: datetime
    ports: Ports


@dataclass(frozen=True)
class Done:
    """A handler's answer: its result, the steps that come next (written to the outbox with
    the work), outbox rows to publish again as they are (the sweep), and an error to raise
    once the work is committed (a refused email: what went out stays recorded)."""

    result: Any
    next: tuple[Next, ...] = ()
    resend: tuple[Step, ...] = ()
    error: Exception | None = None


Handler = Callable[[Work, Any], Done]


@dataclass(frozen=True)
class CallOut(Generic[P, Q, A]):
    """A step split where it calls out: `ask` (outside any transaction, each statement
    committed on its own: a read, or a claim made in one statement; None: nothing to do),
    `call` (the outside world: no transaction open), `record` (the step's unit of work)."""

    ask: Callable[[Session, P], Q | None]
    call: Callable[[Ports, Q], A]
    record: Callable[[Work, P, A], Done]


@dataclass(frozen=True)
class Ran:
    """What running a step gave: its result, the steps to publish now that it has committed,
    and the error it ends with, if any."""

    result: Any
    steps: list[Step]
    error: Exception | None = None

    def value(self) -> Any:
        """The result, or the step's error raised (after its work was committed)."""
        if self.error is not None:
            raise self.error
        return self.result
