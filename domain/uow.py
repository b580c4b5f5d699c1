"""One unit of work per task run, and the outbox that carries the next steps out of it.

A service stages next steps with `stage(session, task, kwargs)`; `run()` writes them to the
outbox table in the same transaction as the service's work, commits once, and returns them
so the caller can publish them. Each published step carries its outbox row's id, and the step
marks that row consumed in its own transaction: a row left unconsumed was lost on the way
(a crash before publishing, a flushed queue), and the sweep sends it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Table, insert, text
from sqlalchemy.orm import Session, sessionmaker

from domain.models import OutboxMessage

T = TypeVar("T")
OUTBOX_ID = "outbox_id"  # the keyword argument a published step carries
_STAGED = "backroom.staged_steps"
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_CONSUME = text("UPDATE outbox SET consumed_at = now() WHERE id = :id AND consumed_at IS NULL")


@dataclass(frozen=True)
class Step:
    """A task to publish after the commit: outbox row id, task name, keyword arguments."""

    id: int
    task: str
    kwargs: dict[str, Any]

    def message_kwargs(self) -> dict[str, Any]:
        return {**self.kwargs, OUTBOX_ID: self.id}


def stage(
    session: Session, task: str, kwargs: dict[str, Any], order_id: uuid.UUID | None = None
) -> None:
    """Ask for `task(**kwargs)` to run once this unit of work has committed."""
    session.info.setdefault(_STAGED, []).append(
        {"task": task, "kwargs": kwargs, "order_id": order_id}
    )


def staged(session: Session) -> list[dict[str, Any]]:
    """The steps staged so far in this unit of work."""
    rows: list[dict[str, Any]] = session.info.get(_STAGED, [])
    return rows


def _write_outbox(session: Session) -> list[Step]:
    rows = session.info.pop(_STAGED, [])
    if not rows:
        return []
    stmt = insert(_OUTBOX).returning(
        _OUTBOX.c.id, _OUTBOX.c.task, _OUTBOX.c.kwargs, sort_by_parameter_order=True
    )
    return [Step(row.id, row.task, row.kwargs) for row in session.execute(stmt, rows)]


def consume(factory: sessionmaker[Session], outbox_id: int | None) -> None:
    """Mark a message's outbox row consumed when the step has nothing else to do."""
    run(factory, lambda s: None, consumed=outbox_id)


def run(
    factory: sessionmaker[Session],
    work: Callable[[Session], T],
    *,
    consumed: int | None = None,
) -> tuple[T, list[Step]]:
    """Do `work` in one transaction with its outbox rows; return its result and the steps.

    `consumed`: the outbox row of the message being handled, marked in the same transaction.
    """
    with factory() as session, session.begin():
        session.info.pop(_STAGED, None)
        if consumed is not None:
            session.execute(_CONSUME, {"id": consumed})
        result = work(session)
        steps = _write_outbox(session)
    return result, steps
