"""`backroom schedule ...` as an operator runs it: the real command in a subprocess, against a
database of the test's own (and a real Redis broker for `schedule run`). What it prints, what
it changes and how it exits."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import Connection, Engine, text

from domain.models import RunStatus
from domain.services import runs
from tests.brokers import of_its_own
from tests.e2e.harness import Broker, rows, scalar
from tests.integration.test_cli import backroom, explain

NEW_YORK = "America/New_York"
ENTRIES = (
    "sweep",
    "expire-reservations",
    "check-reorder",
    "rollup-today",
    "rollup-yesterday",
    "nightly-report",
)
COLUMNS = ("entry", "schedule", "next (local)", "next (UTC)", "last slot (UTC)", "status", "lag")


def schedule(
    *argv: str, database_url: str, data_dir: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`backroom schedule ARGV...` with the shop in New York."""
    env = {"BACKROOM_TIMEZONE": NEW_YORK, **extra}
    return backroom("schedule", *argv, database_url=database_url, data_dir=data_dir, **env)


def table(stdout: str) -> dict[str, dict[str, str]]:
    """`schedule list`'s rows by entry name (without " (paused)"), each cell by column header:
    the columns are cut where the header line starts each one."""
    head, *lines = stdout.rstrip("\n").splitlines()
    starts = [head.index(name) for name in COLUMNS]
    bounds = list(zip(starts, [*starts[1:], None], strict=True))
    found = {}
    for line in lines:
        cells = dict(zip(COLUMNS, (line[a:b].strip() for a, b in bounds), strict=True))
        found[cells["entry"].removesuffix(" (paused)")] = cells
    return found


def new_york_offset(moment: datetime) -> str:
    """New York's offset at that instant: -05:00 in winter (EST: December), -04:00 in summer."""
    return "-04:00" if ZoneInfo(NEW_YORK).dst(moment) else "-05:00"


def record(
    conn: Connection,
    entry: str,
    task: str,
    slot: datetime,
    status: RunStatus,
    *,
    late: timedelta = timedelta(seconds=2),
    took: timedelta = timedelta(seconds=3),
) -> None:
    """A run of the slot as the beat and a worker leave it: claimed and sent, then (if `status`
    says so) started `late` after its slot and finished `took` after that."""
    claim = runs.claim(conn, entry, task, slot)
    assert claim is not None
    runs.sent(conn, claim.id, f"task-{entry}-{slot:%H%M%S}")
    if status in (RunStatus.SUCCEEDED, RunStatus.FAILED):
        assert runs.start(conn, entry, task, slot)
        error = "SMTP refused" if status == RunStatus.FAILED else None
        runs.finish(conn, entry, slot, status, error=error)
        times = "UPDATE scheduled_runs SET started_at = :started, finished_at = :finished"
        params = {"started": slot + late, "finished": slot + late + took, "id": claim.id}
        conn.execute(text(f"{times} WHERE id = :id"), params)


# --- list ------------------------------------------------------------------------------------
def test_given_no_runs_when_list_then_each_entry_shows_its_next_due_in_new_york_and_utc(
    migrated: str, tmp_path: Path
) -> None:
    before = datetime.now(UTC)
    result = schedule("list", database_url=migrated, data_dir=tmp_path)
    after = datetime.now(UTC)

    assert result.returncode == 0, explain(result)
    found = table(result.stdout)
    assert list(found) == list(ENTRIES)
    period = {
        "sweep": timedelta(seconds=30),
        "expire-reservations": timedelta(minutes=1),
        "check-reorder": timedelta(hours=1),
        "rollup-today": timedelta(hours=1),
        "rollup-yesterday": timedelta(days=1),
        "nightly-report": timedelta(days=1),
    }
    for name, row in found.items():
        local, utc = row["next (local)"], row["next (UTC)"]
        due = datetime.fromisoformat(utc)
        assert utc.endswith("+00:00"), row
        assert local.endswith(new_york_offset(due)), row
        assert datetime.fromisoformat(local) == due, row  # the same instant, twice
        assert before < due <= after + period[name], row
        assert (row["last slot (UTC)"], row["status"], row["lag"]) == ("-", "-", "-"), row
    assert "(America/New_York)" in found["check-reorder"]["schedule"]
    check_reorder = datetime.fromisoformat(found["check-reorder"]["next (local)"])
    assert (check_reorder.minute, check_reorder.second) == (0, 0)  # on the local hour


def test_given_runs_when_list_then_each_entry_shows_its_last_slot_status_and_lag(
    migrated: str, scratch_engine: Engine, tmp_path: Path
) -> None:
    nine_am = datetime(2026, 12, 6, 14, tzinfo=UTC)  # 09:00 in New York
    ten_am = datetime(2026, 12, 6, 15, tzinfo=UTC)
    minute = datetime(2026, 12, 6, 14, 41, tzinfo=UTC)
    reorder_task, expiry_task = "inventory.check_reorder", "inventory.expire_reservations"
    with scratch_engine.begin() as conn:
        record(conn, "check-reorder", reorder_task, nine_am, RunStatus.SUCCEEDED)
        late = timedelta(seconds=12.5)
        record(conn, "check-reorder", reorder_task, ten_am, RunStatus.SUCCEEDED, late=late)
        late = timedelta(seconds=0.8)
        record(conn, "expire-reservations", expiry_task, minute, RunStatus.FAILED, late=late)
        db_now = conn.execute(text("SELECT now()")).scalar_one()
        waiting = (db_now - timedelta(seconds=30)).replace(microsecond=0)
        record(conn, "sweep", "orders.sweep", waiting, RunStatus.SENT)  # not started yet

    result = schedule("list", database_url=migrated, data_dir=tmp_path)
    listed_by = datetime.now(UTC)

    assert result.returncode == 0, explain(result)
    found = table(result.stdout)
    reorder, expiry, sweep = found["check-reorder"], found["expire-reservations"], found["sweep"]
    assert (reorder["last slot (UTC)"], reorder["status"], reorder["lag"]) == (
        "2026-12-06T15:00:00+00:00",  # the latest slot, not 09:00
        "succeeded",
        "12.5s",  # how late it started
    )
    assert (expiry["last slot (UTC)"], expiry["status"], expiry["lag"]) == (
        "2026-12-06T14:41:00+00:00",
        "failed",
        "0.8s",
    )
    assert sweep["last slot (UTC)"] == waiting.astimezone(UTC).isoformat(timespec="seconds")
    assert sweep["status"] == "sent"
    assert re.fullmatch(r"\d+\.\ds", sweep["lag"]), sweep
    waited = float(sweep["lag"].removesuffix("s"))  # not started: how long it has waited so far
    assert 30.0 <= waited <= (listed_by - waiting).total_seconds() + 0.1


# --- history ---------------------------------------------------------------------------------
def test_given_sweep_runs_when_history_json_then_one_record_per_slot_latest_first(
    migrated: str, scratch_engine: Engine, tmp_path: Path
) -> None:
    first = datetime(2026, 12, 6, 14, 0, tzinfo=UTC)
    slots = [first + timedelta(seconds=30 * n) for n in range(3)]
    statuses = [RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SENT]
    with scratch_engine.begin() as conn:
        for slot, status in zip(slots, statuses, strict=True):
            record(conn, "sweep", "orders.sweep", slot, status)
        record(
            conn, "expire-reservations", "inventory.expire_reservations", first, RunStatus.SUCCEEDED
        )

    result = schedule("history", "sweep", "--json", database_url=migrated, data_dir=tmp_path)

    assert result.returncode == 0, explain(result)
    found = json.loads(result.stdout)
    assert [datetime.fromisoformat(run["slot"]) for run in found] == slots[::-1]
    assert [run["status"] for run in found] == ["sent", "failed", "succeeded"]
    assert {run["entry"] for run in found} == {"sweep"}
    sent, failed, succeeded = found
    for run in found:
        assert datetime.fromisoformat(run["claimed_at"]) <= datetime.fromisoformat(run["sent_at"])
    assert (sent["started_at"], sent["finished_at"], sent["error"]) == (None, None, None)
    assert failed["error"] == "SMTP refused"
    started = datetime.fromisoformat(succeeded["started_at"])
    assert started <= datetime.fromisoformat(succeeded["finished_at"])
    assert succeeded["attempts"] == 1

    limited = schedule(
        "history", "sweep", "--json", "--limit", "2", database_url=migrated, data_dir=tmp_path
    )
    assert limited.returncode == 0, explain(limited)
    assert [run["slot"] for run in json.loads(limited.stdout)] == [sent["slot"], failed["slot"]]


# --- pause and resume ------------------------------------------------------------------------
def test_given_an_entry_when_paused_then_list_shows_it_paused_until_resumed(
    migrated: str, scratch_engine: Engine, tmp_path: Path
) -> None:
    def listed() -> dict[str, str]:
        result = schedule("list", database_url=migrated, data_dir=tmp_path)
        assert result.returncode == 0, explain(result)
        return {name: row["entry"] for name, row in table(result.stdout).items()}

    paused = schedule(
        "pause", "sweep", "--note", "stock take", database_url=migrated, data_dir=tmp_path
    )
    assert paused.returncode == 0, explain(paused)
    assert "sweep paused" in paused.stdout
    assert listed() == {
        "sweep": "sweep (paused)",
        "expire-reservations": "expire-reservations",
        "check-reorder": "check-reorder",
        "rollup-today": "rollup-today",
        "rollup-yesterday": "rollup-yesterday",
        "nightly-report": "nightly-report",
    }
    assert scalar(scratch_engine, "SELECT note FROM paused_entries WHERE entry = 'sweep'") == (
        "stock take"
    )
    again = schedule("pause", "sweep", "--note", "other", database_url=migrated, data_dir=tmp_path)
    assert again.returncode == 0, explain(again)  # paused already: the first note is kept
    assert scalar(scratch_engine, "SELECT note FROM paused_entries") == "stock take"

    resumed = schedule("resume", "sweep", database_url=migrated, data_dir=tmp_path)
    assert resumed.returncode == 0, explain(resumed)
    assert "sweep resumed" in resumed.stdout
    assert listed() == {name: name for name in ENTRIES}
    assert scalar(scratch_engine, "SELECT count(*) FROM paused_entries") == 0


# --- unknown names ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [
        ("history", "weekly-report"),
        ("pause", "weekly-report"),
        ("resume", "weekly-report"),
        ("run", "weekly-report"),
    ],
    ids=["history", "pause", "resume", "run"],
)
def test_given_an_unknown_entry_name_then_exit_2_listing_the_names_and_nothing_changes(
    argv: tuple[str, ...], migrated: str, scratch_engine: Engine, tmp_path: Path
) -> None:
    result = schedule(*argv, database_url=migrated, data_dir=tmp_path)

    assert result.returncode == 2, explain(result)
    assert result.stdout == ""
    assert "'weekly-report'" in result.stderr
    assert all(name in result.stderr for name in ENTRIES), explain(result)
    assert "Traceback" not in result.stderr
    assert scalar(scratch_engine, "SELECT count(*) FROM scheduled_runs") == 0
    assert scalar(scratch_engine, "SELECT count(*) FROM paused_entries") == 0


# --- run by hand -----------------------------------------------------------------------------
@pytest.fixture
def own_queues(redis_broker: Broker) -> Iterator[tuple[Broker, redis.Redis]]:
    """The Redis broker with keys of the test's own, and a client to look at its queues."""
    broker = of_its_own(redis_broker)
    client = redis.Redis.from_url(broker.url)
    try:
        yield broker, client
    finally:
        for key in client.scan_iter(match=f"{broker.key_prefix}*"):
            client.delete(key)
        client.close()


def test_given_a_slot_when_run_by_hand_then_claimed_and_queued_once_and_again_refused(
    migrated: str,
    scratch_engine: Engine,
    own_queues: tuple[Broker, redis.Redis],
    tmp_path: Path,
) -> None:
    broker, client = own_queues
    env = {
        "BACKROOM_BROKER_URL": broker.url,
        "BACKROOM_RESULT_BACKEND": broker.result_backend,
        "BACKROOM_BROKER_KEY_PREFIX": broker.key_prefix,
    }
    argv = ("run", "check-reorder", "--slot", "2026-12-06T09:00:00-05:00")
    queue = f"{broker.key_prefix}inventory"

    result = schedule(*argv, database_url=migrated, data_dir=tmp_path, **env)

    assert result.returncode == 0, explain(result)
    [run] = rows(scratch_engine, "SELECT * FROM scheduled_runs")
    assert (run.entry, run.task, run.slot) == (
        "check-reorder",
        "inventory.check_reorder",
        datetime(2026, 12, 6, 14, 0, tzinfo=UTC),
    )
    assert (run.by_hand, run.status) == (True, "sent")
    assert run.sent_at is not None
    assert "enqueued check-reorder for slot 2026-12-06T14:00:00+00:00" in result.stdout
    assert client.llen(queue) == 1, "no message waits in the inventory queue"
    waiting = client.lindex(queue, 0)
    assert waiting is not None
    message = json.loads(waiting)
    assert message["headers"]["task"] == "inventory.check_reorder"
    assert message["headers"]["id"] == run.task_id
    _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
    assert kwargs == {"entry": "check-reorder", "slot": "2026-12-06T14:00:00+00:00"}

    again = schedule(*argv, database_url=migrated, data_dir=tmp_path, **env)

    assert again.returncode == 1, explain(again)
    assert "claimed before" in again.stderr
    assert "Traceback" not in again.stderr
    assert client.llen(queue) == 1  # nothing queued the second time
    assert scalar(scratch_engine, "SELECT count(*) FROM scheduled_runs") == 1
