"""`backroom beat` as real processes: one active beat at a time, every slot sent once by it, and
a leader that loses its database connection stops (exit 3) while the standby takes over."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from scheduler.leader import LOCK_KEY
from tests.brokers import worker_env
from tests.e2e.harness import Broker, Processes, rows, run_id, scalar, wait_for
from tests.integration.test_schedule_cli import ENTRIES
from tests.smtp_server import SmtpServer
from workers.cli.schedule import LOST

ACTIVE = "this beat is the active one"
STANDBY = "another beat is active: standing by"
STOPS = "this beat stops"
SENT = re.compile(r"sent (?P<entry>\S+) for slot (?P<slot>\S+) \(task (?P<task>[^)]+)\)")
# The session holding the beat's lock in this run's database (advisory locks are per database:
# other runs' beats on the same server hold theirs in their own databases).
HERE = " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
LOCK_HOLDER = (
    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND ((CAST(classid AS bigint) << 32) | CAST(objid AS bigint)) = :key"
)


def _log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def _sends(path: Path, entry: str | None = None) -> list[tuple[str, datetime, str]]:
    """The (entry, slot, task id) of every "sent ..." line of a beat's log, in order."""
    found = [
        (m["entry"], datetime.fromisoformat(m["slot"]), m["task"])
        for m in SENT.finditer(_log(path))
    ]
    return [send for send in found if entry is None or send[0] == entry]


def _own_queues(broker: Broker) -> Broker:
    """The broker with keys of the test's own: no message an earlier test's beat left behind."""
    return Broker(broker.name, broker.url, broker.result_backend, f"{broker.key_prefix}{run_id()}:")


def _stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a supervisor stops a beat: it ends at its next tick; its exit code."""
    proc.terminate()
    return proc.wait(30)


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
        holders = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted" + HERE
        assert scalar(engine, holders) >= 1

        procs.kill(first)
        wait_for(
            lambda: ACTIVE in _log(tmp_path / "beat-b.log"), 30, "beat b takes over", procs.logs
        )
    finally:
        procs.stop_all()


def test_given_two_beats_and_a_worker_when_sweeps_fall_every_second_then_each_slot_runs_once(
    database_url: str,
    redis_broker: Broker,
    smtp_server: SmtpServer,
    clean: Engine,
    tmp_path: Path,
) -> None:
    a_log, b_log = tmp_path / "beat-a.log", tmp_path / "beat-b.log"
    env = worker_env(database_url, _own_queues(redis_broker), smtp_server, tmp_path)
    procs = Processes(env, tmp_path)
    try:
        procs.worker("worker")
        beat_a = procs.beat("beat-a")
        wait_for(lambda: ACTIVE in _log(a_log), 30, "beat a active", procs.logs)
        beat_b = procs.beat("beat-b")
        wait_for(lambda: STANDBY in _log(b_log), 30, "beat b standing by", procs.logs)
        sweeps = "SELECT count(*) FROM scheduled_runs WHERE entry = 'sweep'"
        wait_for(lambda: scalar(clean, sweeps) >= 10, 60, "~10 s of sweeps", procs.logs)

        assert _stop(beat_b) == 0, procs.logs()  # the standby first, or it would take over
        assert _stop(beat_a) == 0, procs.logs()
        unfinished = "SELECT count(*) FROM scheduled_runs WHERE status <> 'succeeded'"
        wait_for(lambda: scalar(clean, unfinished) == 0, 60, "every run succeeded", procs.logs)
    finally:
        procs.stop_all()

    runs = rows(clean, "SELECT entry, slot, status, attempts, task_id FROM scheduled_runs")
    sent_by_a, sent_by_b = _sends(a_log), _sends(b_log)
    assert ACTIVE not in _log(b_log)
    assert sent_by_b == [], "the standby sent tasks"
    sweep_slots = [slot for _, slot, _ in _sends(a_log, "sweep")]
    assert len(sweep_slots) >= 10
    assert sweep_slots == sorted(set(sweep_slots)), "a sweep slot was sent twice"
    assert all(slot.microsecond == 0 for slot in sweep_slots)  # whole 1-second slots
    assert Counter((e, s) for e, s, _ in sent_by_a) == Counter((r.entry, r.slot) for r in runs)
    assert {(e, s, t) for e, s, t in sent_by_a} == {(r.entry, r.slot, r.task_id) for r in runs}
    assert {entry for entry, *_ in sent_by_a} == set(ENTRIES)  # every entry's latest slot
    assert {(r.status, r.attempts) for r in runs} == {("succeeded", 1)}


def test_given_the_leaders_connection_killed_then_it_exits_3_and_the_standby_sends_the_next_slots(
    database_url: str,
    redis_broker: Broker,
    smtp_server: SmtpServer,
    clean: Engine,
    tmp_path: Path,
) -> None:
    a_log, b_log = tmp_path / "beat-a.log", tmp_path / "beat-b.log"
    env = worker_env(database_url, _own_queues(redis_broker), smtp_server, tmp_path)
    procs = Processes(env, tmp_path)
    try:
        leader = procs.beat("beat-a")
        wait_for(lambda: len(_sends(a_log, "sweep")) >= 2, 30, "the leader's sweeps", procs.logs)
        standby = procs.beat("beat-b")
        wait_for(lambda: STANDBY in _log(b_log), 30, "beat b standing by", procs.logs)

        pid = scalar(clean, LOCK_HOLDER, key=LOCK_KEY)
        assert pid is not None, "no session holds the beat's lock"
        # waits (up to 5 s) until the session is gone: nothing it commits can come later
        terminated = "SELECT pg_terminate_backend(:pid, 5000)"
        assert scalar(clean, terminated, pid=pid), procs.logs()
        killed_at = scalar(clean, "SELECT now()")

        assert leader.wait(30) == LOST, procs.logs()
        wait_for(
            lambda: ACTIVE in _log(b_log) and len(_sends(b_log, "sweep")) >= 2,
            60,
            "the standby to take over and send the next sweeps",
            procs.logs,
        )
        assert standby.poll() is None, procs.logs()
    finally:
        procs.stop_all()

    _, stops, after = _log(a_log).partition(STOPS)
    assert stops, procs.logs()
    assert SENT.search(after) is None, "the leader sent after it stopped"
    by_a, by_b = _sends(a_log, "sweep"), _sends(b_log, "sweep")
    sent_at = {
        r.task_id: r.sent_at for r in rows(clean, "SELECT task_id, sent_at FROM scheduled_runs")
    }
    assert all(sent_at[task] < killed_at for _, _, task in _sends(a_log)), "sent after the kill"
    assert max(slot for _, slot, _ in by_a) < min(slot for _, slot, _ in by_b)
    assert all(sent_at[task] is not None for _, _, task in by_b)


def test_given_a_standby_beat_when_sigterm_then_it_exits_0_without_a_traceback(
    database_url: str,
    redis_broker: Broker,
    smtp_server: SmtpServer,
    clean: Engine,
    tmp_path: Path,
) -> None:
    a_log, b_log = tmp_path / "beat-a.log", tmp_path / "beat-b.log"
    env = worker_env(database_url, _own_queues(redis_broker), smtp_server, tmp_path)
    procs = Processes(env, tmp_path)
    try:
        leader = procs.beat("beat-a")
        wait_for(lambda: ACTIVE in _log(a_log), 30, "beat a active", procs.logs)
        standby = procs.beat("beat-b")
        wait_for(lambda: STANDBY in _log(b_log), 30, "beat b standing by", procs.logs)

        assert _stop(standby) == 0, procs.logs()
        assert "Traceback" not in _log(b_log)
        assert leader.poll() is None
    finally:
        procs.stop_all()
