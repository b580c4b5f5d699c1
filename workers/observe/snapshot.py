"""One snapshot of what operators watch: queue depths from the broker, the pipeline's state
from the database (`domain.services.vitals`), and how late each scheduled entry runs.

A source that cannot be read leaves its figures out and says why (`errors`), so a scrape
during a database outage still shows the queues, and the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from celery import Celery
from sqlalchemy import Engine

from domain.errors import first_line
from domain.services import runs, vitals
from scheduler.schedule import Entry
from workers.observe import queues
from workers.routing import QUEUES


@dataclass(frozen=True)
class EntryLag:
    """How late a scheduled entry is (seconds), and whether an operator paused it."""

    lag: float
    paused: bool


@dataclass
class Snapshot:
    queue_depth: dict[str, int] | None = None  # None: the broker could not be read
    vitals: vitals.Vitals | None = None  # None: the database could not be read
    schedule: dict[str, EntryLag] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # source -> why it is missing


def take(app: Celery, engine: Engine, entries: Sequence[Entry]) -> Snapshot:
    """Read every source; each one's failure is kept in `errors`, not raised."""
    snap = Snapshot()
    try:
        with app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1)
            snap.queue_depth = queues.depths(connection, QUEUES)
    except Exception as error:
        snap.errors["broker"] = first_line(error)
    try:
        with engine.connect() as conn:
            snap.vitals = vitals.read(conn)
            paused = runs.paused(conn)
    except Exception as error:
        snap.errors["database"] = first_line(error)
    else:
        snap.schedule = {e.name: _lag(e, snap.vitals, e.name in paused) for e in entries}
    return snap


def _lag(entry: Entry, seen: vitals.Vitals, paused: bool) -> EntryLag:
    """How far behind the entry runs. When its latest due slot was claimed: how long after the
    slot its run started (or, not started yet, has waited). Otherwise: how long ago the first
    slot the beat did not claim fell due, which keeps growing while no beat runs."""
    now = seen.now
    due = entry.timetable.latest_between(now - entry.lookback, now)
    last = seen.latest_slots.get(entry.name)
    if due is None or (last is not None and last.slot >= due):
        if last is None:
            return EntryLag(0.0, paused)
        return EntryLag(_seconds((last.started_at or now) - last.slot), paused)
    missed = due if last is None else min(due, entry.timetable.next_after(last.slot))
    return EntryLag(_seconds(now - missed), paused)


def _seconds(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds())
