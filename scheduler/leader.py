"""One active beat at a time: a PostgreSQL advisory lock, held by one connection for as long
as the beat leads.

A beat that does not get the lock stands by and tries again every few seconds, through
database restarts, until the leader's session ends (it stopped, died, or lost its connection),
which releases the lock. The connection that holds the lock is the one the leader claims its
slots on, so each claim can prove, in its own transaction, that the lock is still held
(`domain.services.runs.fenced`).

At each poll a waiting beat tells its `Heartbeat` what it is: `standby` (another beat leads)
or `waiting` (the database is unreachable); the leader's loop says `active` at each tick
(`scheduler.beat`). The composition root turns that into a file a health check reads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Literal

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from domain.errors import first_line

log = logging.getLogger("backroom.beat")
LOCK_KEY = 0x6261636B726F6F6D  # "backroom"
ACTIVE = "this beat is the active one"
STANDBY = "another beat is active: standing by"
Role = Literal["active", "standby", "waiting"]  # leads; another leads; the database is away
Heartbeat = Callable[[Role], None]  # told the beat's role at each turn of its loop


def no_heartbeat(_role: Role) -> None:
    """The heartbeat of a beat nobody watches."""


class Stopped(Exception):
    """The beat was asked to stop while it stood by."""


def _try_lock(engine: Engine) -> Connection | None:
    """A connection holding the lock, or None (another beat holds it)."""
    conn = engine.connect()
    try:
        held = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        conn.commit()
    except BaseException:
        conn.close()
        raise
    if held:
        return conn
    conn.close()
    return None


def wait_for_lock(
    engine: Engine,
    stop: threading.Event,
    poll_seconds: float,
    heartbeat: Heartbeat = no_heartbeat,
) -> Connection:
    """Block until this process holds the beat lock; the connection that holds it. Each poll
    that does not get it beats the heart (`standby`, or `waiting` for the database)."""
    said: str | None = None
    while not stop.is_set():
        try:
            conn = _try_lock(engine)
        except DBAPIError as error:  # the database is away: a standby keeps waiting
            said = _say(said, f"database unreachable, waiting: {first_line(error)}")
            heartbeat("waiting")
        else:
            if conn is not None:
                return conn
            said = _say(said, STANDBY)
            heartbeat("standby")
        stop.wait(poll_seconds)
    raise Stopped


@contextmanager
def leadership(
    engine: Engine,
    stop: threading.Event,
    *,
    poll_seconds: float = 2.0,
    heartbeat: Heartbeat = no_heartbeat,
) -> Iterator[Connection]:
    """Hold the beat lock for the block: the connection that holds it. Leaving the block
    releases it (or the end of the session does, if the connection is gone)."""
    conn = wait_for_lock(engine, stop, poll_seconds, heartbeat)
    log.info(ACTIVE)
    try:
        yield conn
    finally:
        with suppress(DBAPIError):
            conn.rollback()
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            conn.commit()
        conn.close()


def _say(said: str | None, line: str) -> str:
    """Log `line` once while it stays what the beat is doing."""
    if line != said:
        log.warning(line)
    return line
