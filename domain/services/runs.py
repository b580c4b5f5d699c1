"""Scheduled runs: one row per (entry, slot), the key that makes a slot run once.

The beat `claim`s a slot by inserting its row, in a transaction that first proves the beat
still holds its leadership lock (`fenced`), sends the task after that commit, and marks the
row `sent`. The task marks it `started` in a short transaction of its own (so an operator sees
it running), then does its work and marks it `succeeded` in one transaction with the row
locked: a duplicate message waits for that lock and then finds the slot done. A run that fails
is marked `failed` with its error; a retry starts it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from domain.models import PausedEntry, RunStatus, ScheduledRun
from domain.sql import Statement
from domain.validation import sql_literal

RUNS = ScheduledRun.__tablename__
_SUCCEEDED = sql_literal(RunStatus.SUCCEEDED)

# Whether this session holds the advisory lock `key` (a bigint; pg_locks splits it in two).
_FENCE = Statement(
    "SELECT count(*) AS held FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND objsubid = 1"
    " AND ((CAST(classid AS bigint) << 32) | CAST(objid AS bigint)) = :key"
)
_CLAIM = Statement(
    f"INSERT INTO {RUNS} (entry, task, slot, by_hand) VALUES (:entry, :task, :slot, :by_hand)"
    " ON CONFLICT (entry, slot) DO NOTHING RETURNING id"
)
_SENT = Statement(
    f"UPDATE {RUNS} SET status = CASE WHEN status = {sql_literal(RunStatus.CLAIMED)}"
    f" THEN {sql_literal(RunStatus.SENT)} ELSE status END, sent_at = coalesce(sent_at, now()),"
    " task_id = :task_id WHERE id = :id"
)
_UNSENT = Statement(
    f"SELECT id, entry, task, slot FROM {RUNS} WHERE sent_at IS NULL"
    " AND claimed_at <= now() - CAST(:older_than AS interval) ORDER BY slot, id"
)
_LAST = Statement(f"SELECT entry, max(slot) AS slot FROM {RUNS} WHERE NOT by_hand GROUP BY entry")
_PAUSED = Statement(f"SELECT entry FROM {PausedEntry.__tablename__}")
_START = Statement(
    f"""
    INSERT INTO {RUNS} (entry, task, slot, status, by_hand, sent_at, started_at, attempts)
    VALUES (:entry, :task, :slot, {sql_literal(RunStatus.STARTED)}, true, now(), now(), 1)
    ON CONFLICT (entry, slot) DO UPDATE SET
        status = {sql_literal(RunStatus.STARTED)}, started_at = now(),
        attempts = {RUNS}.attempts + 1, error = NULL
    WHERE {RUNS}.status <> {_SUCCEEDED}
    RETURNING id
    """
)
_LOCK = Statement(f"SELECT id, status FROM {RUNS} WHERE entry = :entry AND slot = :slot FOR UPDATE")
_FINISH = Statement(
    f"""
    UPDATE {RUNS} SET status = :status, finished_at = now(),
        duration_ms = CAST(extract(epoch FROM now() - started_at) * 1000 AS integer),
        result = :result, error = :error
    WHERE entry = :entry AND slot = :slot AND status <> {_SUCCEEDED}
    """
)


class LeadershipLost(RuntimeError):
    """The beat no longer holds its lock: it must not claim another slot."""


@dataclass(frozen=True)
class Claim:
    id: int
    entry: str
    task: str
    slot: datetime


def fenced(conn: Connection, key: int) -> None:
    """Raise `LeadershipLost` unless this connection's session holds the advisory lock `key`."""
    if not _FENCE.run(conn, {"key": key}).scalar():
        raise LeadershipLost(f"this beat no longer holds its lock ({key:#x})")


def claim(
    conn: Connection, entry: str, task: str, slot: datetime, *, by_hand: bool = False
) -> Claim | None:
    """Insert the slot's row; the claim, or None when the slot was claimed before."""
    params = {"entry": entry, "task": task, "slot": slot, "by_hand": by_hand}
    found = _CLAIM.run(conn, params).scalar()
    return None if found is None else Claim(found, entry, task, slot)


def sent(conn: Connection, run_id: int, task_id: str) -> None:
    _SENT.run(conn, {"id": run_id, "task_id": task_id})


def unsent(conn: Connection, older_than: timedelta) -> list[Claim]:
    """Slots claimed at least `older_than` ago whose task was never sent (a beat that died, or
    a broker that was away, between claim and send)."""
    rows = _UNSENT.run(conn, {"older_than": older_than})
    return [Claim(r.id, r.entry, r.task, r.slot) for r in rows]


def last_slots(conn: Connection) -> dict[str, datetime]:
    """Each entry's latest slot the beat claimed (runs by hand do not count)."""
    return {row.entry: row.slot for row in _LAST.run(conn)}


def paused(conn: Connection) -> set[str]:
    return {row.entry for row in _PAUSED.run(conn)}


def start(session: Session | Connection, entry: str, task: str, slot: datetime) -> bool:
    """Mark the slot's run started (its row made if no beat claimed it); False if the slot
    already succeeded."""
    params = {"entry": entry, "task": task, "slot": slot}
    return _START.run(session, params).scalar() is not None


def lock(session: Session, entry: str, slot: datetime) -> RunStatus | None:
    """Lock the slot's row for this transaction; its status (None: no row)."""
    row = _LOCK.run(session, {"entry": entry, "slot": slot}).one_or_none()
    return None if row is None else RunStatus(row.status)


def finish(
    session: Session | Connection,
    entry: str,
    slot: datetime,
    status: RunStatus,
    *,
    result: str | None = None,
    error: str | None = None,
) -> None:
    """Record how the slot's run ended (a succeeded run is never changed again)."""
    params = {"entry": entry, "slot": slot, "status": status.value}
    _FINISH.run(
        session, params | {"result": result, "error": None if error is None else error[:4000]}
    )


_HISTORY = Statement(
    f"""
    SELECT id, entry, task, slot, status, by_hand, claimed_at, sent_at, started_at, finished_at,
           duration_ms, attempts, task_id, result, error
    FROM {RUNS} WHERE entry = :entry ORDER BY slot DESC, id DESC LIMIT :limit
    """
)
_LATEST = Statement(
    f"""
    SELECT DISTINCT ON (entry) entry, slot, status, sent_at, started_at, finished_at
    FROM {RUNS} ORDER BY entry, slot DESC, id DESC
    """
)
_PAUSE = Statement(
    f"INSERT INTO {PausedEntry.__tablename__} (entry, note) VALUES (:entry, :note)"
    " ON CONFLICT (entry) DO NOTHING RETURNING entry"
)
_PRUNE = Statement(
    f"""
    DELETE FROM {RUNS} WHERE id IN (
        SELECT id FROM {RUNS}
        WHERE status IN ({_SUCCEEDED}, {sql_literal(RunStatus.FAILED)})
          AND slot < now() - CAST(:keep AS interval)
        ORDER BY slot LIMIT :limit
    )
    """
)
_RESUME = Statement(f"DELETE FROM {PausedEntry.__tablename__} WHERE entry = :entry RETURNING entry")


def history(conn: Connection, entry: str, limit: int = 50) -> list[dict[str, object]]:
    """The entry's runs, latest slot first: one record per slot, every column."""
    return [row._asdict() for row in _HISTORY.run(conn, {"entry": entry, "limit": limit})]


def latest_runs(conn: Connection) -> dict[str, dict[str, object]]:
    """Each entry's run of its latest slot."""
    return {row.entry: row._asdict() for row in _LATEST.run(conn)}


def pause(conn: Connection, entry: str, note: str | None = None) -> bool:
    """Pause an entry (the beat claims none of its slots from its next tick); False if it was."""
    return _PAUSE.run(conn, {"entry": entry, "note": note}).scalar() is not None


def resume(conn: Connection, entry: str) -> bool:
    """Resume a paused entry; False if it was not paused."""
    return _RESUME.run(conn, {"entry": entry}).scalar() is not None


def prune(session: Session, keep: timedelta, limit: int) -> int:
    """Delete finished runs whose slot is older than `keep` (at most `limit`); how many. A slot
    that old is before every entry's lookback, so no beat will claim it again."""
    return _PRUNE.run(session, {"keep": keep, "limit": limit}).rowcount
