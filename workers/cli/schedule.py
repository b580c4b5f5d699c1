"""`backroom beat` and `backroom schedule list|history|pause|resume|run`: the scheduled jobs.

The beat claims each slot of each entry once (see `scheduler.beat`); these commands show an
operator what it did and let one pause an entry, resume it, or enqueue one slot by hand.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from domain.db import make_engine
from domain.errors import first_line
from domain.ports import SystemClock
from domain.services import runs
from scheduler.schedule import Entry, UnknownEntry, entries, entry_named
from workers.cli.health import MAX_AGE, HeartbeatFile, heartbeat_path
from workers.cli.output import fail, out
from workers.cli.servers import database, served
from workers.routing import queue_for
from workers.settings import Settings

if TYPE_CHECKING:
    from scheduler.beat import Beat

log = logging.getLogger("backroom.beat")
LOST = 3  # the exit code of a leader that lost its lock or its database


def send_slot(claim: runs.Claim) -> str:
    """Publish a claimed slot's task, with the entry and the slot as its payload; its id."""
    from workers.app import app

    kwargs = {"entry": claim.entry, "slot": claim.slot.isoformat()}
    return str(app.send_task(claim.task, kwargs=kwargs, queue=queue_for(claim.task)).id)


def cmd_beat(settings: Settings, args: argparse.Namespace) -> int:
    """Run the beat until SIGTERM (0) or a lost lock (3), its heartbeat in a file that
    `backroom health beat` reads (removed on the way out)."""
    from scheduler.beat import Beat

    logging.getLogger("backroom.beat").setLevel(logging.INFO)  # say who is active, who waits
    heartbeat = _heartbeat_file(settings, args)
    with served(settings) as urls:
        assert urls.database_url is not None
        engine = make_engine(urls.database_url, pool_size=0)
        beat = Beat(
            engine, entries(settings), send_slot, tick_seconds=args.tick, heartbeat=heartbeat.write
        )
        signal.signal(signal.SIGTERM, lambda *_: beat.stop.set())
        signal.signal(signal.SIGINT, lambda *_: beat.stop.set())
        try:
            return _run(beat)
        finally:
            heartbeat.remove()
            engine.dispose()


def _run(beat: Beat) -> int:
    from scheduler.leader import Stopped

    try:
        beat.run()
    except Stopped:  # stopped while it stood by
        return 0
    except (runs.LeadershipLost, DBAPIError) as error:
        log.error("this beat stops: %s", first_line(error))
        return LOST
    return 0


def _heartbeat_file(settings: Settings, args: argparse.Namespace) -> HeartbeatFile:
    """The beat's heartbeat file; a warning if another live beat beats in it already."""
    heartbeat = HeartbeatFile(heartbeat_path(settings, args.heartbeat))
    other = heartbeat.other_beat(MAX_AGE)
    if other is not None:
        log.warning(
            "beat pid %d beats in %s too: `backroom health beat` sees one of them only; "
            "give each beat its own --heartbeat file",
            other.pid,
            heartbeat.path,
        )
    return heartbeat


def _local(moment: datetime | None, settings: Settings) -> str:
    return "-" if moment is None else moment.astimezone(settings.zone).isoformat(timespec="seconds")


def _utc(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).isoformat(timespec="seconds")


def _lag(run: dict[str, Any] | None, now: datetime) -> str:
    """How late the latest slot's run started (or, not started yet, has been waiting)."""
    if run is None:
        return "-"
    started = run["started_at"] or now
    return f"{(started - run['slot']).total_seconds():.1f}s"


def _row(entry: Entry, run: dict[str, Any] | None, paused: bool, settings: Settings) -> list[str]:
    now = SystemClock().now()
    due = entry.timetable.next_after(now)
    return [
        entry.name + (" (paused)" if paused else ""),
        entry.timetable.text,
        _local(due, settings),
        _utc(due),
        _utc(None if run is None else run["slot"]),
        "-" if run is None else str(run["status"]),
        _lag(run, now),
    ]


def cmd_schedule_list(settings: Settings, _args: argparse.Namespace) -> int:
    with _connection(settings) as conn:
        latest, paused = runs.latest_runs(conn), runs.paused(conn)
    head = ["entry", "schedule", "next (local)", "next (UTC)", "last slot (UTC)", "status", "lag"]
    rows = [_row(e, latest.get(e.name), e.name in paused, settings) for e in entries(settings)]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for line in [head, *rows]:
        out("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip())
    return 0


def cmd_schedule_history(settings: Settings, args: argparse.Namespace) -> int:
    entry = _entry(settings, args.name)
    if entry is None:
        return 2
    with _connection(settings) as conn:
        found = runs.history(conn, entry.name, args.limit)
    if args.json:
        out(json.dumps(found, default=_json_value, indent=2))
        return 0
    out(f"{'slot (UTC)':<26}{'status':<11}{'started (UTC)':<26}{'ms':>8}  error")
    for run in found:
        took = "-" if run["duration_ms"] is None else str(run["duration_ms"])
        started = _utc(run["started_at"])  # type: ignore[arg-type]
        error = str(run["error"] or "")[:60]
        out(f"{_utc(run['slot']):<26}{run['status']!s:<11}{started:<26}{took:>8}  {error}")  # type: ignore[arg-type]
    return 0


def cmd_schedule_pause(settings: Settings, args: argparse.Namespace) -> int:
    entry = _entry(settings, args.name)
    if entry is None:
        return 2
    with _connection(settings) as conn, conn.begin():
        changed = runs.pause(conn, entry.name, args.note)
    out(f"{entry.name} paused from the beat's next tick" if changed else f"{entry.name} was paused")
    return 0


def cmd_schedule_resume(settings: Settings, args: argparse.Namespace) -> int:
    entry = _entry(settings, args.name)
    if entry is None:
        return 2
    with _connection(settings) as conn, conn.begin():
        changed = runs.resume(conn, entry.name)
    out(f"{entry.name} {'resumed' if changed else 'was not paused'}")
    return 0


def cmd_schedule_run(settings: Settings, args: argparse.Namespace) -> int:
    """Enqueue one slot of an entry by hand: the given one, else this second."""
    entry = _entry(settings, args.name)
    if entry is None:
        return 2
    try:
        slot = _slot(args.slot, settings)
    except ValueError as error:
        fail(f"--slot {args.slot!r} is not an ISO time: {error}")
        return 2
    if slot > SystemClock().now():
        fail(f"--slot {args.slot} is in the future: a job works on its slot's window")
        return 2
    with served(settings) as urls:
        assert urls.database_url is not None
        engine = make_engine(urls.database_url, pool_size=0)
        try:
            claim = enqueue(engine, entry, slot)
        finally:
            engine.dispose()
    if claim is None:
        fail(f"{entry.name} {slot.isoformat()} was claimed before: see `schedule history`")
        return 1
    out(f"enqueued {entry.name} for slot {slot.isoformat()}")
    return 0


def enqueue(engine: Engine, entry: Entry, slot: datetime) -> runs.Claim | None:
    """Claim `slot` of `entry` by hand and send its task; None when it was claimed before."""
    with engine.connect() as conn:
        with conn.begin():
            claim = runs.claim(conn, entry.name, entry.task, slot, by_hand=True)
        if claim is not None:
            task_id = send_slot(claim)
            with conn.begin():
                runs.sent(conn, claim.id, task_id)
    return claim


def _entry(settings: Settings, name: str) -> Entry | None:
    try:
        return entry_named(settings, name)
    except UnknownEntry as error:
        fail(str(error))
        return None


def _slot(given: str | None, settings: Settings) -> datetime:
    """`--slot` as an instant (a wall time without offset is the shop's); none: this second."""
    if given is None:
        return SystemClock().now().replace(microsecond=0)
    moment = datetime.fromisoformat(given)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=settings.zone)
    return moment.astimezone(UTC)


@contextmanager
def _connection(settings: Settings) -> Iterator[Connection]:
    """A connection to the configured (or embedded) database, for one command."""
    with database(settings) as url:
        engine = make_engine(url, pool_size=0)
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()


def _json_value(value: object) -> object:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    beat = sub.add_parser("beat", help="start the beat (one active at a time; others stand by)")
    beat.add_argument("-l", "--loglevel", default="INFO", help="kept for compatibility")
    beat.add_argument("--tick", type=float, default=1.0, help="seconds between ticks")
    beat.add_argument("--heartbeat", help="its heartbeat file (default: data dir/beat.heartbeat)")
    beat.set_defaults(handler=cmd_beat)
    schedule = sub.add_parser("schedule", help="the scheduled jobs: list, history, pause, run")
    actions = schedule.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="each entry: next due, last slot, status, lag").set_defaults(
        handler=cmd_schedule_list
    )
    history = actions.add_parser("history", help="an entry's runs, one per slot")
    history.add_argument("name")
    history.add_argument("--json", action="store_true")
    history.add_argument("--limit", type=int, default=50)
    history.set_defaults(handler=cmd_schedule_history)
    for name, handler in (("pause", cmd_schedule_pause), ("resume", cmd_schedule_resume)):
        action = actions.add_parser(name, help=f"{name} an entry (from the beat's next tick)")
        action.add_argument("name")
        if name == "pause":
            action.add_argument("--note")
        action.set_defaults(handler=handler)
    run = actions.add_parser("run", help="enqueue one slot of an entry by hand")
    run.add_argument("name")
    run.add_argument("--slot", help="ISO time (with offset, or the shop's wall time); default: now")
    run.set_defaults(handler=cmd_schedule_run)
