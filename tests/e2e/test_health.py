"""`backroom health worker|beat` as a container runs it: against real worker and beat
processes, exit 0 while they are alive and turning, 1 (quickly) once they are not."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from tests.e2e.harness import Broker, Processes, backroom, wait_for, wait_for_workers

HOST = socket.gethostname()
QUICK = 10.0  # seconds: the compose file's health check timeout


def health(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`backroom health ARGS` as a container's health check runs it."""
    return backroom(env, "health", *args, timeout=60)


def timed_health(env: dict[str, str], *args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = health(env, *args)
    return done, time.monotonic() - started


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM, as a supervisor stops it; its exit code."""
    os.killpg(proc.pid, signal.SIGTERM)
    return proc.wait(60)


@contextmanager
def frozen(pids: list[int]) -> Iterator[None]:
    """SIGSTOP the processes for the block (a hung loop, a pool busy with long tasks)."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


# --- worker -------------------------------------------------------------------------------


def test_given_workers_running_when_health_worker_then_each_node_answers_until_it_stops(
    processes: Processes, broker: Broker
) -> None:
    # given two workers on this machine: one under Celery's default node name, one named
    default = processes.worker("celery", concurrency=1)  # -n celery@%h: the default name
    processes.worker("payments", concurrency=1, queues="payments")
    wait_for_workers(broker, 2, processes)

    # then the default name and a --name with %h each find their worker
    found = health(processes.env, "worker")
    assert found.returncode == 0, found.stderr + processes.logs()
    assert f"celery@{HOST}" in found.stdout
    named = health(processes.env, "worker", "--name", "payments@%h")
    assert named.returncode == 0, named.stderr
    assert f"payments@{HOST}" in named.stdout

    # and a worker whose every pool process is busy still answers (its main process does)
    with frozen([child.pid for child in psutil.Process(default.pid).children()]):
        busy = health(processes.env, "worker")
    assert busy.returncode == 0, busy.stderr

    # when asking for a name no worker has, then it is unhealthy, quickly
    nobody, took = timed_health(processes.env, "worker", "--name", "nobody@%h")
    assert nobody.returncode == 1
    assert f"nobody@{HOST} unhealthy: no answer to ping" in nobody.stderr
    assert took < QUICK

    # when the default worker stops, then it is unhealthy, quickly, and the other one is not
    assert stop(default) == 0, processes.logs()
    gone, took = timed_health(processes.env, "worker")
    assert gone.returncode == 1, gone.stdout
    assert "unhealthy" in gone.stderr
    assert took < QUICK
    assert health(processes.env, "worker", "--name", "payments@%h").returncode == 0


def test_given_no_broker_and_no_embedded_redis_when_health_worker_then_1_and_nothing_starts(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    env["BACKROOM_DATA_DIR"] = str(tmp_path / "data")

    done, took = timed_health(env, "worker")

    assert done.returncode == 1
    assert "no broker configured and no embedded Redis runs" in done.stderr
    assert not (tmp_path / "data" / "redis").exists(), "health started an embedded Redis"
    assert took < QUICK


def test_given_a_broker_that_refuses_connections_when_health_worker_then_1_quickly(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    env.update(BACKROOM_BROKER_URL="redis://127.0.0.1:1/0", BACKROOM_DATA_DIR=str(tmp_path))

    done, took = timed_health(env, "worker")

    assert done.returncode == 1
    assert "broker unreachable" in done.stderr
    assert took < QUICK


# --- beat ---------------------------------------------------------------------------------


def machine(procs: Processes, data_dir: Path) -> dict[str, str]:
    """The environment of a beat (and its health check) on a machine of its own."""
    return {**procs.env, "BACKROOM_DATA_DIR": str(data_dir)}


def says(env: dict[str, str], role: str, *args: str) -> bool:
    done = health(env, "beat", *args)
    return done.returncode == 0 and f"beat healthy: {role}" in done.stdout


def test_given_an_active_and_a_standby_beat_then_both_are_healthy_and_a_stopped_one_is_not(
    redis_processes: Processes, tmp_path: Path
) -> None:
    procs = redis_processes
    a, b = machine(procs, tmp_path / "a"), machine(procs, tmp_path / "b")
    # given an active beat and a standby, each on its own machine (data folder)
    first = procs.beat("beat-a", BACKROOM_DATA_DIR=a["BACKROOM_DATA_DIR"])
    wait_for(lambda: says(a, "active"), 30, "beat a healthy and active", procs.logs)
    procs.beat("beat-b", BACKROOM_DATA_DIR=b["BACKROOM_DATA_DIR"])
    wait_for(lambda: says(b, "standby"), 30, "beat b healthy, standing by", procs.logs)

    # when the active one is stopped
    assert stop(first) == 0, procs.logs()

    # then it is unhealthy at once (it removed its heartbeat), and the standby leads
    done = health(a, "beat")
    assert done.returncode == 1
    assert "no heartbeat file" in done.stderr
    wait_for(lambda: says(b, "active"), 30, "beat b healthy and active", procs.logs)


def test_given_a_beat_killed_when_health_beat_then_it_is_unhealthy_at_once(
    redis_processes: Processes, tmp_path: Path
) -> None:
    procs = redis_processes
    beat = procs.beat("beat")
    wait_for(lambda: says(procs.env, "active"), 30, "the beat healthy", procs.logs)

    procs.kill(beat)  # SIGKILL: no goodbye, its heartbeat file stays behind

    done = health(procs.env, "beat")
    assert (tmp_path / "beat.heartbeat").exists()
    assert done.returncode == 1
    assert f"the beat is gone: pid {beat.pid} does not run" in done.stderr


def test_given_a_beat_whose_loop_is_stuck_then_it_turns_unhealthy_within_max_age(
    redis_processes: Processes, tmp_path: Path
) -> None:
    max_age = "4"
    procs = redis_processes
    beat = procs.beat("beat")
    wait_for(lambda: says(procs.env, "active", "--max-age", max_age), 30, "healthy beat")

    # when its loop stops turning (the process frozen), then unhealthy within max-age
    with frozen([beat.pid]):
        wait_for(
            lambda: health(procs.env, "beat", "--max-age", max_age).returncode == 1,
            float(max_age) + QUICK,
            "the stuck beat to turn unhealthy",
            procs.logs,
        )
        done = health(procs.env, "beat", "--max-age", max_age)
        assert "the beat's loop is stuck: active" in done.stderr
        assert beat.poll() is None  # alive all along: only its loop stopped

    # when it turns again, then it is healthy again
    wait_for(lambda: says(procs.env, "active", "--max-age", max_age), 30, "healthy again")
