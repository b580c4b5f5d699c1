"""One active beat at a time: a second `backroom beat` stands by, and takes over when the first
dies."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from tests.brokers import worker_env
from tests.e2e.harness import Broker, Processes, scalar, wait_for
from tests.smtp_server import SmtpServer

ACTIVE = "this beat is the active one"
STANDBY = "another beat is active: standing by"


def _log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_given_two_beats_then_one_runs_the_schedule_and_the_other_takes_over_when_it_dies(
    database_url: str,
    redis_broker: Broker,
    smtp_server: SmtpServer,
    engine: Engine,
    tmp_path: Path,
) -> None:
    procs = Processes(worker_env(database_url, redis_broker, smtp_server, tmp_path), tmp_path)
    try:
        first = procs.beat("beat-a")
        wait_for(lambda: ACTIVE in _log(tmp_path / "beat-a.log"), 30, "beat a active", procs.logs)
        procs.beat("beat-b")
        wait_for(lambda: STANDBY in _log(tmp_path / "beat-b.log"), 30, "beat b standby", procs.logs)
        assert ACTIVE not in _log(tmp_path / "beat-b.log")
        holders = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
        assert scalar(engine, holders) >= 1

        procs.kill(first)
        wait_for(
            lambda: ACTIVE in _log(tmp_path / "beat-b.log"), 30, "beat b takes over", procs.logs
        )
    finally:
        procs.stop_all()
