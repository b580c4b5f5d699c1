"""Dead letters: messages Backroom could not process, kept whole with the reason.

An operator lists them, looks at one, replays it (it is sent again as it came) or discards it.
A payment token in a message is never kept in clear: `record` seals it (`domain.secrets`),
`shown` gives the payload with it redacted, and `replayed` opens it to send the message again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import secrets
from domain.errors import PermanentError
from domain.models import DeadLetter, DeadLetterStatus
from domain.secrets import Sealer

_QUOTABLE = 6  # the shortest token looked for in a reason


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
    sealer: Sealer | None = None,
) -> int:
    """Keep a message that could not be processed; its id. Every payment token in `payload`
    (under a `payment_token` or `token` key, at any depth) is sealed with `sealer`, so a replay
    can send it again; with no sealer it is only redacted (its fingerprint kept, no replay of
    it). A token the reason quotes is redacted there too (one of 6 characters or more: a
    shorter string would match ordinary words)."""
    for token in secrets.clear_tokens(payload):
        if len(token) >= _QUOTABLE:
            reason = reason.replace(token, secrets.redacted(token))
    letter = DeadLetter(
        task=task,
        task_id=task_id,
        queue=queue,
        payload=secrets.seal_tokens(payload, sealer),
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


def shown(letter: DeadLetter) -> Any:
    """The letter's payload as an operator may see it: payment tokens redacted."""
    return secrets.redact_tokens(letter.payload)


def replayed(letter: DeadLetter, sealer: Sealer) -> tuple[list[Any], dict[str, Any]]:
    """The arguments to send the letter's task with again, as they came: its payment tokens
    opened (`SecretUnreadable` if one cannot be, with these keys)."""
    payload = secrets.open_tokens(letter.payload, sealer)
    payload = payload if isinstance(payload, dict) else {}
    return list(payload.get("args") or []), dict(payload.get("kwargs") or {})


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
