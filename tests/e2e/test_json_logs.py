"""`BACKROOM_LOG_FORMAT=json` with real processes: a prefork worker on Redis running the order
pipeline, and a beat. What a log collector reads: one JSON object per line, each naming its
task, order and step where known, with no payment token in clear."""

from __future__ import annotations

import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from domain import steps
from scheduler.leader import ACTIVE
from tests.brokers import of_its_own
from tests.e2e.harness import Broker, Processes, wait_for, wait_for_workers
from tests.e2e.test_pipeline import all_final, order, stock

JSON = {"BACKROOM_LOG_FORMAT": "json"}
FIELDS = {"time", "level", "logger", "process", "message", "task_id", "task_name", "order", "step"}
PIPELINE = {steps.PLACE, steps.RESERVE, steps.CAPTURE, steps.FULFIL, steps.NOTIFY}


@pytest.fixture
def broker(redis_broker: Broker) -> Broker:
    """Redis only, under a key prefix of the test's own."""
    return of_its_own(redis_broker)


@pytest.fixture
def json_processes(processes: Processes) -> Processes:
    """The test's processes (on its own Redis prefix), logging JSON."""
    processes.env.update(JSON)
    return processes


def raw_lines(path: Path) -> list[str]:
    text = path.read_text(errors="replace") if path.exists() else ""
    return [line for line in text.splitlines() if line.strip()]


def parsed(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def entries(path: Path) -> list[dict[str, Any]]:
    """The lines of the log that are JSON objects."""
    return [found for found in map(parsed, raw_lines(path)) if isinstance(found, dict)]


def not_json(path: Path) -> list[str]:
    return [line for line in raw_lines(path) if not isinstance(parsed(line), dict)]


def about_tasks(log: list[dict[str, Any]], word: str) -> dict[str, dict[str, Any]]:
    """The worker's "Task ... received" (or "succeeded") lines, by the task id they name."""
    return {
        e["task_id"]: e for e in log if e["logger"].startswith("celery") and word in e["message"]
    }


def test_given_json_logs_when_orders_ship_then_every_line_is_json_naming_task_order_and_step(
    broker: Broker, json_processes: Processes, clean: Engine, tmp_path: Path
) -> None:
    stock(clean, LOG_1=10)
    tokens = [f"tok_ok_{uuid.uuid4().hex}" for _ in range(3)]
    json_processes.worker("w1", concurrency=2)
    wait_for_workers(broker, 1, json_processes)
    client = broker.client()
    placed = [client.place_order(**order(f"json-{i}", t, LOG_1=1)) for i, t in enumerate(tokens)]
    numbers = {result.get(timeout=30)["order_number"] for result in placed}
    wait_for(lambda: all_final(clean, 3), 60, "3 orders shipped", json_processes.logs)
    client.close()
    log_file = tmp_path / "w1.log"
    wait_for(
        lambda: (
            about_tasks(entries(log_file), "succeeded").keys()
            == about_tasks(entries(log_file), "received").keys()
        ),
        30,
        "a succeeded line for every task received",
        json_processes.logs,
    )

    # read while the worker runs: Celery's notice when it is stopped (`worker: Warm shutdown`)
    # is printed, not logged (README, Logs)
    assert not_json(log_file) == []
    log = entries(log_file)
    assert all(entry.keys() >= FIELDS for entry in log)
    # Backroom's lines logged inside a task: the task running it, the order and the step
    ours = [e for e in log if e["logger"].startswith("backroom.") and e["task_id"] is not None]
    assert {e["order"] for e in ours} == numbers
    assert all(f"order={e['order']} " in e["message"] for e in ours if "order=" in e["message"])
    assert all(e["task_id"] and e["task_name"] == e["step"] for e in ours)
    assert {(e["order"], e["step"]) for e in ours} == {(n, s) for n in numbers for s in PIPELINE}
    # the worker's own lines about a task name it
    received, succeeded = about_tasks(log, "received"), about_tasks(log, "succeeded")
    assert {e["task_name"] for e in received.values()} == PIPELINE
    assert {result.id for result in placed} <= received.keys()
    assert all(e["process"] == "MainProcess" for e in received.values())
    assert all(f"[{task_id}]" in e["message"] for task_id, e in succeeded.items())
    # no payment token in clear
    raw = log_file.read_text(errors="replace")
    assert [t for t in tokens if t in raw] == []


def pool_processes(worker_pid: int) -> list[int]:
    children = Path(f"/proc/{worker_pid}/task/{worker_pid}/children").read_text()
    return [int(pid) for pid in children.split()]


def test_given_json_logs_when_a_pool_process_dies_then_its_death_is_one_json_line(
    broker: Broker, json_processes: Processes, tmp_path: Path
) -> None:
    worker = json_processes.worker("w1", concurrency=2)
    wait_for_workers(broker, 1, json_processes)
    victim = pool_processes(worker.pid)[0]

    os.kill(victim, signal.SIGKILL)
    log_file = tmp_path / "w1.log"
    wait_for(
        lambda: any(f"pid:{victim} exited" in e["message"] for e in entries(log_file)),
        30,
        "the pool process's death in the log",
        json_processes.logs,
    )
    wait_for_workers(broker, 1, json_processes)  # the worker carries on

    assert not_json(log_file) == []
    assert "Logging error" not in log_file.read_text(errors="replace")


def test_given_json_logs_when_a_beat_starts_then_it_says_it_is_active_in_json(
    json_processes: Processes, tmp_path: Path
) -> None:
    json_processes.beat("beat")
    log_file = tmp_path / "beat.log"
    wait_for(
        lambda: any(e["message"] == ACTIVE for e in entries(log_file)),
        30,
        "the beat's active line",
        json_processes.logs,
    )

    assert not_json(log_file) == []
    active = next(e for e in entries(log_file) if e["message"] == ACTIVE)
    assert active["logger"] == "backroom.beat"
    assert active["level"] == "INFO"
    assert active.keys() >= FIELDS
