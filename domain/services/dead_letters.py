"""Dead letters: messages Backroom could not process, kept whole with the reason.

An operator lists them, looks at one, replays it (it is sent again as it came) or discards it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.errors import PermanentError
from domain.models import DeadLetter, DeadLetterStatus


class NotOpen(PermanentError):
    pass


def record(
    session: Session,
    *,
    task: str,
    task_id: str | None,
    queue: str | None,
    payload: Any,
    reason: str,
    error_type: str,
) -> int:
    letter = DeadLetter(
        task=task,
        task_id=task_id,
        queue=queue,
        payload=payload,
        reason=reason[:4000],
        error_type=error_type,
    )
    session.add(letter)
    session.flush()
    return letter.id


def listing(
    session: Session, *, status: DeadLetterStatus | None = DeadLetterStatus.OPEN, limit: int = 100
) -> list[DeadLetter]:
    stmt = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(DeadLetter.status == status)
    return list(session.scalars(stmt))


def get(session: Session, letter_id: int, *, lock: bool = False) -> DeadLetter:
    stmt = select(DeadLetter).where(DeadLetter.id == letter_id)
    letter = session.scalars(stmt.with_for_update() if lock else stmt).one_or_none()
    if letter is None:
        raise NotOpen(f"no dead letter {letter_id}")
    return letter


def resolve(
    session: Session, letter_id: int, status: DeadLetterStatus, note: str, now: datetime
) -> DeadLetter:
    """Mark an open letter replayed or discarded (once: a second try says it is not open)."""
    letter = get(session, letter_id, lock=True)
    if letter.status != DeadLetterStatus.OPEN:
        raise NotOpen(f"dead letter {letter_id} is already {letter.status.value}")
    letter.status, letter.resolved_at, letter.resolution_note = status, now, note
    return letter
