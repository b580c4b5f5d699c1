"""300 orders in flight while the servers go away: the broker crashed and emptied, restarted,
then crashed and emptied again; PostgreSQL stopped and started, then crashed and started.

Each test runs the server it breaks (embedded, in a folder of its own), so it can crash it
without touching anyone else's; real worker and beat processes keep going, and the database,
not the broker, decides what still has to happen. Each ends with the shared invariants
(`tests.chaos.invariants`), read from the database and from the mail server.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil  # type: ignore[import-untyped]
from sqlalchemy import Engine

from tests.brokers import worker_env
from tests.chaos.workload import Run
from tests.e2e.harness import Broker, Processes, scalar, truncate_everything, wait_for
from tests.smtp_server import SmtpServer
from workers import compat, embedded

DOWN = 5.0  # seconds PostgreSQL stays down each time


def _restart_redis(folder: Path) -> None:
    """A graceful restart: SHUTDOWN SAVE, then the server again on its saved data."""
    embedded.stop(folder, postgres=False)
    embedded.start_detached(folder, postgres=False)


def _crash_redis_empty(folder: Path) -> None:
    """SIGKILL the server (and a background save it may be making), delete its data, start it
    again: every message queued, delivered or unacknowledged is gone."""
    server = psutil.Process(int((folder / "redis" / "redis.pid").read_text()))
    for process in [*server.children(), server]:
        process.kill()
    wait_for(lambda: not embedded.status(folder)["redis"], 10, "Redis to die")
    for data in (folder / "redis").glob("*.rdb"):
        data.unlink()
    (folder / "redis" / "redis.db").unlink(missing_ok=True)
    embedded.start_detached(folder, postgres=False)


def _client_sends_again(run: Run) -> None:
    run.timeline.note("Redis SIGKILLed, its data deleted, started empty")
    resent = run.place(run.unplaced())
    run.timeline.note(f"the client sent again the {resent} orders it had no order number for")


def test_given_orders_in_flight_when_the_broker_empties_restarts_and_empties_then_books_balance(
    own_redis: tuple[Path, Broker],
    engine: Engine,
    database_url: str,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    folder, broker = own_redis
    truncate_everything(engine)
    procs = Processes(worker_env(database_url, broker, smtp_server, tmp_path), tmp_path)
    run = Run("broker", engine, broker, smtp_server, procs)
    try:
        run.start()
        run.when_final(0.02)  # orders.place messages are still queued: the client sends again
        _crash_redis_empty(folder)
        _client_sends_again(run)
        run.when_final(0.35)
        _restart_redis(folder)
        run.timeline.note("Redis restarted (SHUTDOWN SAVE, started again on its data)")
        run.when_final(0.65)
        _crash_redis_empty(folder)
        _client_sends_again(run)
        run.settle(240)
    finally:
        run.stop()
    run.check()
    resent_steps = scalar(engine, "SELECT count(*) FROM outbox WHERE sends > 1")
    assert resent_steps > 0  # the crashes lost messages, and the sweep sent them again


def _stop_postgres(folder: Path) -> None:
    embedded.stop(folder, redis=False)


def _crash_postgres(folder: Path) -> None:
    """`pg_ctl stop -m immediate`: every server process quits at once, no checkpoint (the next
    start recovers from the WAL, as after a power cut)."""
    pgdata = folder / "pgdata"
    command = [str(compat.postgres_bin() / "pg_ctl"), "-D", str(pgdata), "-m", "immediate"]
    user = "embedded_postgres" if os.geteuid() == 0 else None  # as workers.embedded runs it
    subprocess.run(
        [*command, "-w", "stop"], user=user, cwd=pgdata, check=True, capture_output=True, timeout=60
    )


def _down(run: Run, folder: Path, stop: Callable[[Path], None], how: str) -> None:
    """PostgreSQL stopped for `DOWN` seconds while the workers keep going, then started."""
    errors = _database_errors(run)
    stop(folder)
    run.timeline.note(f"PostgreSQL {how}")
    run.engine.dispose()
    time.sleep(DOWN)  # how long the fault lasts: a duration, not a condition to await
    embedded.start_detached(folder, redis=False)
    met = _database_errors(run) - errors
    run.timeline.note(f"PostgreSQL started again; the workers' logs name OperationalError {met}x")


def _worker_logs(run: Run) -> str:
    return "".join(path.read_text(errors="replace") for path in run.procs.log_dir.glob("w*.log"))


def _database_errors(run: Run) -> int:
    """How often the workers' logs name OperationalError (the database went away)."""
    return _worker_logs(run).count("OperationalError")


def _marks_delayed(run: Run) -> int:
    """Emails the mail server took while the database was away: their sent-marks waited for
    it (`domain.uow.record_now` logs each try; informative only, read from the log's words)."""
    return len(set(re.findall(r"notification=(\S+) sent: the database is away", _worker_logs(run))))


def test_given_orders_in_flight_when_postgres_restarts_then_crashes_then_books_balance(
    own_postgres: tuple[Path, Engine, str],
    own_prefix: Broker,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    folder, engine, url = own_postgres
    procs = Processes(worker_env(url, own_prefix, smtp_server, tmp_path), tmp_path)
    run = Run("postgres", engine, own_prefix, smtp_server, procs)
    try:
        run.start()
        run.beat("standby")
        run.when_final(0.2)
        _down(run, folder, _stop_postgres, "stopped (pg_ctl -m fast)")
        run.when_final(0.55)
        _down(run, folder, _crash_postgres, "crashed (pg_ctl -m immediate)")
        run.settle(300)
    finally:
        run.stop()
    run.timeline.note(f"emails whose sent-mark waited for the database: {_marks_delayed(run)}")
    run.check()
    # a beat that lost its database exits for its supervisor to restart it, and nothing else
    assert set(run.beat_exits) <= {3}, run.beat_exits
