"""One unit of work per task run, and the outbox that carries the next steps out of it.

A service stages next steps with `stage(session, task, kwargs)`; `run()` writes them to the
outbox table in the same transaction as the service's work, commits once, and returns them
so the caller can publish them. If the caller dies before publishing, the sweep does it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, insert, update
from sqlalchemy.orm import Session, sessionmaker

from domain.models import OutboxMessage

T = TypeVar("T")
_STAGED = "backroom.staged_steps"


@dataclass(frozen=True)
class Step:
    """A task to publish after the commit: outbox row id, task name, keyword arguments."""

    id: int
    task: str
    kwargs: dict[str, Any]


def stage(
    session: Session, task: str, kwargs: dict[str, Any], order_id: uuid.UUID | None = None
) -> None:
    """Ask for `task(**kwargs)` to run once this unit of work has committed."""
    session.info.setdefault(_STAGED, []).append(
        {"task": task, "kwargs": kwargs, "order_id": order_id}
    )


def _write_outbox(session: Session) -> list[Step]:
    rows = session.info.pop(_STAGED, [])
    if not rows:
        return []
    stmt = insert(OutboxMessage).returning(
        OutboxMessage.id, OutboxMessage.task, OutboxMessage.kwargs, sort_by_parameter_order=True
    )
    return [Step(row.id, row.task, row.kwargs) for row in session.execute(stmt, rows)]


def run(factory: sessionmaker[Session], work: Callable[[Session], T]) -> tuple[T, list[Step]]:
    """Do `work` in one transaction with its outbox rows; return its result and the steps."""
    with factory() as session, session.begin():
        result = work(session)
        steps = _write_outbox(session)
    return result, steps


def mark_published(factory: sessionmaker[Session], steps: list[Step]) -> None:
    """Record that these steps reached the broker (losing this only means a harmless resend)."""
    if not steps:
        return
    with factory() as session, session.begin():
        session.connection().exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([step.id for step in steps]))
            .values(published_at=func.now(), publish_attempts=OutboxMessage.publish_attempts + 1)
        )
