"""One unit of work per task run, and the outbox that carries the next steps out of it.

A service stages next steps with `stage(session, task, kwargs)`; `run()` writes them to the
outbox table in the same transaction as the service's work, commits once, and returns them
so the caller can publish them. Each published step carries its outbox row's id, and the step
marks that row consumed in its own transaction: a row left unconsumed was lost on the way
(a crash before publishing, a flushed queue), and the sweep sends it again.

Marking the handled row consumed and writing the next rows is one statement at the end of the
transaction (the hot path pays a round trip per statement, and both belong to the commit).
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from domain.sql import Statement

T = TypeVar("T")
OUTBOX_ID = "outbox_id"  # the keyword argument a published step carries
_STAGED = "backroom.staged_steps"
# The handled row consumed (if any) and the staged rows (if any) written, in one round trip.
_FINISH = Statement(
    """
    WITH consumed AS (
        UPDATE outbox SET consumed_at = now() WHERE id = :consumed AND consumed_at IS NULL
    )
    INSERT INTO outbox (task, kwargs, order_id)
    SELECT s.task, s.kwargs, s.order_id
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS s(task text, kwargs jsonb, order_id uuid)
    RETURNING id, task, kwargs
    """
)


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


def _finish(session: Session, consumed: int | None) -> list[Step]:
    """Mark the handled message's row consumed and write the staged rows; the new steps."""
    rows = session.info.pop(_STAGED, [])
    if not rows and consumed is None:
        return []
    staged_rows = json.dumps(
        [
            {**row, "order_id": None if row["order_id"] is None else str(row["order_id"])}
            for row in rows
        ]
    )
    written = _FINISH.run(session, {"consumed": consumed, "rows": staged_rows})
    return [Step(row.id, row.task, row.kwargs) for row in written]


def read(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """Run read-only `work` outside any transaction (each statement sees what is committed when
    it runs): a single query costs one round trip instead of three (BEGIN, it, COMMIT)."""
    with Session(_autocommit(factory.kw["bind"])) as session:
        return work(session)


@functools.lru_cache(maxsize=16)
def _autocommit(bind: Engine) -> Engine:
    return bind.execution_options(isolation_level="AUTOCOMMIT")


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
        result = work(session)
        steps = _finish(session, consumed)
    return result, steps
