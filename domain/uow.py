"""The outbox: the next steps a unit of work decided, written in the same transaction.

`finish` is the last statement of every step's transaction (see `domain.handlers.run_step`):
it marks the handled message's outbox row consumed and writes the rows of the next steps, in
one round trip, and returns them as `Step`s to publish after the commit. Each published step
carries its outbox row's id, and the step marks that row consumed when it runs: a row left
unconsumed was lost on the way (a crash before publishing, a flushed queue), and the sweep
sends it again.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from domain.db import database_away
from domain.models import OutboxMessage
from domain.sql import Statement

T = TypeVar("T")
log = logging.getLogger("backroom.uow")
OUTBOX_ID = "outbox_id"  # the keyword argument a published step carries
# The handled row consumed (if any) and the next rows (if any) written, in one round trip.
_FINISH = Statement(
    f"""
    WITH consumed AS (
        UPDATE {OutboxMessage.__tablename__} SET consumed_at = now()
        WHERE id = :consumed AND consumed_at IS NULL
    )
    INSERT INTO {OutboxMessage.__tablename__} (task, kwargs, order_id)
    SELECT s.task, s.kwargs, s.order_id
    FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS s(task text, kwargs jsonb, order_id uuid)
    RETURNING id, task, kwargs
    """
)


@dataclass(frozen=True)
class Next:
    """A step a handler asks for: it runs once this unit of work has committed."""

    task: str
    kwargs: dict[str, Any]
    order_id: uuid.UUID | None = None  # the order it moves, if any (the sweep looks for these)


@dataclass(frozen=True)
class Step:
    """A step to publish after the commit: outbox row id, task name, keyword arguments."""

    id: int
    task: str
    kwargs: dict[str, Any]

    def message_kwargs(self) -> dict[str, Any]:
        return {**self.kwargs, OUTBOX_ID: self.id}


def finish(session: Session, consumed: int | None, next_steps: Sequence[Next]) -> list[Step]:
    """Mark the handled message's row consumed and write the next steps' rows; the new steps."""
    if not next_steps and consumed is None:
        return []
    rows = json.dumps(
        [
            {
                "task": step.task,
                "kwargs": step.kwargs,
                "order_id": None if step.order_id is None else str(step.order_id),
            }
            for step in next_steps
        ]
    )
    written = _FINISH.run(session, {"consumed": consumed, "rows": rows})
    return [Step(row.id, row.task, row.kwargs) for row in written]


def read(factory: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """Run read-only `work` outside any transaction (each statement sees what is committed when
    it runs): a single query costs one round trip instead of three (BEGIN, it, COMMIT)."""
    with Session(_autocommit(factory.kw["bind"])) as session:
        return work(session)


def record_now(
    factory: sessionmaker[Session],
    work: Callable[[Session], object],
    what: str,
    *,
    pause: Callable[[float], None] = time.sleep,
) -> None:
    """Commit `work` (one statement) on its own, now, trying again while the database is away:
    how a fact the outside world already acted on (an email the mail server took) is recorded
    the moment it happened, whatever becomes of the step's own transaction. `what` names the
    fact in the log.

    It keeps trying, 0.1 s apart at first and then every 2 s, until the database answers; the
    task's soft time limit ends a longer wait (logged as an error: the fact is then not
    recorded). Any other database error (a rule, a bug) is raised at once."""
    delay = 0.1
    while True:
        try:
            read(factory, work)
            return
        except DBAPIError as error:
            if not database_away(error):
                raise
            log.warning("%s: the database is away, recording it again in %.1f s", what, delay)
        except BaseException:
            log.error("%s: could not be recorded", what)
            raise
        pause(delay)
        delay = min(delay * 2, 2.0)


@functools.lru_cache(maxsize=16)
def _autocommit(bind: Engine) -> Engine:
    return bind.execution_options(isolation_level="AUTOCOMMIT")
