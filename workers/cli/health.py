"""`backroom health worker|beat`: is this machine's worker, or beat, alive? For a container's
health check: exit 0 when healthy, 1 when not, and one line that says why (stdout when
healthy, stderr when not).

`worker` pings a worker node through the broker; its main process answers, even when every pool
process is busy. It starts no embedded server: with no broker configured it uses the embedded
Redis of the data folder if it runs, and is unhealthy if it does not.

`beat` reads the beat's heartbeat file, which the beat replaces at each turn of its loop (each
tick while it leads, each poll while it stands by or waits for the database; see
`scheduler.beat`) and removes when it exits. The beat is healthy while that file is fresher
than `--max-age` and the process that wrote it lives: a beat whose loop stopped turning (a tick
that hangs, a frozen process) turns unhealthy once its last heartbeat is that old. The file
holds `{"role": "active"|"standby"|"waiting", "pid": …, "time": "<ISO UTC>"}`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.errors import first_line
from scheduler.leader import Role
from workers import embedded
from workers.cli.output import fail, out
from workers.settings import Settings

log = logging.getLogger("backroom.beat")
HEARTBEAT_FILE = "beat.heartbeat"  # in the data folder, unless `--heartbeat` says otherwise
ROLES = ("active", "standby", "waiting")
MAX_AGE = 30.0  # seconds: a heartbeat older than this is a beat whose loop stopped turning


def heartbeat_path(settings: Settings, given: str | None = None) -> Path:
    """The beat's heartbeat file: `given`, else `<data dir>/beat.heartbeat`."""
    return Path(given) if given else Path(settings.data_dir) / HEARTBEAT_FILE


@dataclass(frozen=True)
class Pulse:
    """One heartbeat: what the beat was, which process it is, when it said so."""

    role: str
    pid: int
    time: datetime

    def age(self, now: datetime) -> float:
        return (now - self.time).total_seconds()


class HeartbeatFile:
    """The heartbeat file of this process's beat: `write` is its `scheduler.leader.Heartbeat`."""

    def __init__(self, path: Path) -> None:
        self.path, self.pid = path, os.getpid()
        self._failing: str | None = None

    def write(self, role: Role) -> None:
        """Replace the file at once (a reader never sees half of it). A file that cannot be
        written is logged once and does not stop the beat: its health check says so."""
        beat = {"role": role, "pid": self.pid, "time": datetime.now(UTC).isoformat()}
        spare = self.path.with_name(f".{self.path.name}.{self.pid}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            spare.write_text(json.dumps(beat), encoding="utf-8")
            os.replace(spare, self.path)
        except OSError as error:
            if str(error) != self._failing:
                log.warning("cannot write the heartbeat file %s: %s", self.path, error)
            self._failing = str(error)
        else:
            self._failing = None

    def remove(self) -> None:
        """Remove the file if this process wrote it last (another beat may share it)."""
        found = read_heartbeat(self.path)
        if isinstance(found, Pulse) and found.pid == self.pid:
            self.path.unlink(missing_ok=True)

    def other_beat(self, max_age: float) -> Pulse | None:
        """A live beat of another process that beats in this file now, if any."""
        found = read_heartbeat(self.path)
        if not isinstance(found, Pulse) or found.pid == self.pid or not alive(found.pid):
            return None
        return found if found.age(datetime.now(UTC)) <= max_age else None


def read_heartbeat(path: Path) -> Pulse | str:
    """The heartbeat in `path`, or why there is none."""
    try:
        return _pulse(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return f"no heartbeat file {path}: no beat runs here (or it has not started)"
    except (OSError, ValueError, TypeError, KeyError) as error:
        return f"heartbeat file {path} unreadable: {type(error).__name__}: {error}"


def _pulse(data: Any) -> Pulse:
    pulse = Pulse(str(data["role"]), int(data["pid"]), datetime.fromisoformat(data["time"]))
    if pulse.role not in ROLES:
        raise ValueError(f"unknown role {pulse.role!r}")
    if pulse.pid <= 0:  # os.kill(0 or -1, …) would signal a whole group
        raise ValueError(f"no process id {pulse.pid}")
    if pulse.time.tzinfo is None:
        raise ValueError(f"time without offset {data['time']!r}")
    return pulse


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie, dead but not reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it runs, as another user
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc here (macOS): trust the signal
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def beat_health(path: Path, max_age: float, now: datetime) -> tuple[bool, str]:
    """Whether the beat that writes `path` is healthy at `now`, and one line saying why."""
    found = read_heartbeat(path)
    if isinstance(found, str):
        return False, found
    age = found.age(now)
    said = f"{found.role} (pid {found.pid}, last heartbeat {age:.1f} s ago)"
    if not alive(found.pid):
        return False, f"the beat is gone: pid {found.pid} does not run (it was {found.role})"
    if age > max_age:
        return False, f"the beat's loop is stuck: {said}, more than {max_age:g} s"
    return True, said


def cmd_health_beat(settings: Settings, args: argparse.Namespace) -> int:
    healthy, why = beat_health(heartbeat_path(settings, args.heartbeat), args.max_age, _now())
    return _report("beat", healthy, why)


def cmd_health_worker(settings: Settings, args: argparse.Namespace) -> int:
    from celery.utils.nodenames import default_nodename, host_format

    name = host_format(default_nodename(args.name))  # as `celery worker -n` resolves it
    if settings.broker_url is None and not _embedded_broker(settings):
        where = Path(settings.data_dir).resolve()
        why = f"no broker configured and no embedded Redis runs in {where}"
        return _report(f"worker {name}", False, why)
    healthy, why = _ping(name, args.timeout)
    return _report(f"worker {name}", healthy, why)


def _embedded_broker(settings: Settings) -> bool:
    return embedded.running_urls(Path(settings.data_dir)).broker_url is not None


def _ping(name: str, timeout: float) -> tuple[bool, str]:
    """Ping node `name` through the broker (one connection attempt, no retry)."""
    from workers.app import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=timeout)
            replies = app.control.ping(destination=[name], timeout=timeout, connection=conn)
    except Exception as error:  # whatever the broker's client raises: not healthy, no trace
        return False, f"broker unreachable: {type(error).__name__}: {first_line(error)}"
    if any(name in reply for reply in replies or []):
        return True, "answers ping"
    return False, f"no answer to ping within {timeout:g} s"


def _report(what: str, healthy: bool, why: str) -> int:
    if healthy:
        out(f"{what} healthy: {why}")
        return 0
    fail(f"{what} unhealthy: {why}")
    return 1


def _now() -> datetime:
    return datetime.now(UTC)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    health = sub.add_parser("health", help="exit 0 if this machine's worker or beat is alive")
    which = health.add_subparsers(dest="which", required=True, metavar="WORKER|BEAT")
    worker = which.add_parser("worker", help="the worker answers a ping through the broker")
    worker.add_argument(
        "-n", "--name", default=None, help="its node name, as given to `worker -n` (%%h: host)"
    )
    worker.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for it")
    worker.set_defaults(handler=cmd_health_worker)
    beat = which.add_parser("beat", help="the beat's loop turns (active or standing by)")
    beat.add_argument("--max-age", type=float, default=MAX_AGE, help="seconds a heartbeat is fresh")
    beat.add_argument("--heartbeat", default=None, help="its file (default: data dir)")
    beat.set_defaults(handler=cmd_health_beat)
