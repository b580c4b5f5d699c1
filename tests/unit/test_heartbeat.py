"""The beat's heartbeat file (`workers.cli.health`): written whole, read back, judged fresh or
stale, and removed only by the beat that wrote it; a beat waiting for its database beats too."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from scheduler.leader import Role, Stopped, wait_for_lock
from workers.cli.health import HeartbeatFile, Pulse, alive, beat_health, read_heartbeat

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def written(path: Path, role: str = "active", pid: int | None = None, at: str = "") -> Path:
    """A heartbeat file as another process would have left it."""
    beat = {"role": role, "pid": os.getpid() if pid is None else pid, "time": at or NOW.isoformat()}
    path.write_text(json.dumps(beat), encoding="utf-8")
    return path


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that ran and was reaped."""
    done = subprocess.Popen(["true"])
    done.wait()
    return done.pid


@pytest.fixture
def zombie_pid() -> Iterator[int]:
    """The pid of a process that exited and was not reaped yet."""
    proc = subprocess.Popen(["true"])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, left unreaped
    yield proc.pid
    proc.wait()


def test_given_a_role_when_the_beat_writes_then_the_file_reads_back_with_its_pid_and_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data" / "beat.heartbeat"  # its folder made on the way

    HeartbeatFile(path).write("standby")
    found = read_heartbeat(path)

    assert isinstance(found, Pulse)
    assert (found.role, found.pid) == ("standby", os.getpid())
    assert abs(found.age(datetime.now(UTC))) < 5
    assert [p.name for p in path.parent.iterdir()] == ["beat.heartbeat"], "a spare file is left"


def test_given_a_heartbeat_when_written_again_then_the_file_holds_the_latest_role(
    tmp_path: Path,
) -> None:
    heartbeat = HeartbeatFile(tmp_path / "beat.heartbeat")

    heartbeat.write("standby")
    heartbeat.write("active")

    assert read_heartbeat(heartbeat.path) == Pulse("active", os.getpid(), _time(heartbeat.path))


def _time(path: Path) -> datetime:
    return datetime.fromisoformat(json.loads(path.read_text())["time"])


def test_given_a_fresh_heartbeat_of_a_live_process_then_the_beat_is_healthy_and_says_its_role(
    tmp_path: Path,
) -> None:
    path = written(tmp_path / "beat.heartbeat", "standby")

    healthy, why = beat_health(path, 30, NOW + timedelta(seconds=3))

    assert healthy
    assert why == f"standby (pid {os.getpid()}, last heartbeat 3.0 s ago)"


def test_given_a_heartbeat_older_than_max_age_then_the_beat_is_stuck(tmp_path: Path) -> None:
    path = written(tmp_path / "beat.heartbeat")

    assert beat_health(path, 30, NOW + timedelta(seconds=30))[0]
    healthy, why = beat_health(path, 30, NOW + timedelta(seconds=31))

    assert not healthy
    assert why.startswith("the beat's loop is stuck: active")
    assert "more than 30 s" in why


def test_given_the_writer_is_gone_then_the_beat_is_unhealthy_however_fresh(
    tmp_path: Path, dead_pid: int
) -> None:
    path = written(tmp_path / "beat.heartbeat", pid=dead_pid)

    healthy, why = beat_health(path, 30, NOW)

    assert not healthy
    assert why == f"the beat is gone: pid {dead_pid} does not run (it was active)"


def test_given_a_zombie_then_it_is_not_alive(zombie_pid: int) -> None:
    assert not alive(zombie_pid)
    assert alive(os.getpid())


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no heartbeat file"),
        ("", "unreadable: JSONDecodeError"),
        ('{"role": "active", "pid": 1}', "unreadable: KeyError"),
        ('{"role": "asleep", "pid": 1, "time": "2026-12-06T12:00:00+00:00"}', "unknown role"),
        ('{"role": "active", "pid": 1, "time": "2026-12-06T12:00:00"}', "time without offset"),
        ('["active"]', "unreadable: TypeError"),
        ('{"role": "active", "pid": -1, "time": "2026-12-06T12:00:00+00:00"}', "no process id"),
    ],
    ids=["missing", "empty", "no-time", "unknown-role", "naive-time", "not-an-object", "pid"],
)
def test_given_no_usable_heartbeat_then_the_beat_is_unhealthy_and_says_why(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    path = tmp_path / "beat.heartbeat"
    if content is not None:
        path.write_text(content)

    healthy, why = beat_health(path, 30, NOW)

    assert not healthy
    assert expected in why
    assert str(path) in why


def test_given_the_beat_exits_when_removing_then_only_its_own_heartbeat_goes(
    tmp_path: Path, dead_pid: int
) -> None:
    mine, theirs = tmp_path / "mine", written(tmp_path / "theirs", pid=dead_pid)
    HeartbeatFile(mine).write("active")

    HeartbeatFile(mine).remove()
    HeartbeatFile(theirs).remove()
    HeartbeatFile(tmp_path / "never-written").remove()

    assert not mine.exists()
    assert theirs.exists(), "a beat removed another beat's heartbeat"


def test_given_a_file_that_cannot_be_written_then_the_beat_logs_it_once_and_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "blocked").write_text("a file where the folder should be")
    heartbeat = HeartbeatFile(tmp_path / "blocked" / "beat.heartbeat")

    with caplog.at_level(logging.WARNING, logger="backroom.beat"):
        for _ in range(3):
            heartbeat.write("active")

    said = [r.getMessage() for r in caplog.records if "heartbeat" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith(f"cannot write the heartbeat file {heartbeat.path}: ")


def test_given_another_live_beat_in_the_same_file_then_a_new_beat_sees_it(
    tmp_path: Path, dead_pid: int
) -> None:
    path = tmp_path / "beat.heartbeat"
    parent = os.getppid()  # a live process that is not this one
    now = datetime.now(UTC)

    written(path, "standby", pid=parent, at=now.isoformat())
    assert HeartbeatFile(path).other_beat(30) == Pulse("standby", parent, now)
    written(path, pid=parent, at=(now - timedelta(seconds=60)).isoformat())
    assert HeartbeatFile(path).other_beat(30) is None  # stale: left by an older run
    written(path, pid=dead_pid, at=now.isoformat())
    assert HeartbeatFile(path).other_beat(30) is None
    written(path, pid=os.getpid(), at=now.isoformat())
    assert HeartbeatFile(path).other_beat(30) is None


def test_given_the_database_unreachable_when_a_beat_waits_then_each_poll_beats_waiting() -> None:
    engine = create_engine("postgresql+psycopg2://postgres@127.0.0.1:1/none")  # refused
    stop, roles = threading.Event(), list[Role]()

    def heartbeat(role: Role) -> None:
        roles.append(role)
        if len(roles) == 3:
            stop.set()

    with pytest.raises(Stopped):
        wait_for_lock(engine, stop, 0.01, heartbeat)

    assert roles == ["waiting", "waiting", "waiting"]
