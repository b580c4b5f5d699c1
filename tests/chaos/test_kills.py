"""300 orders in flight while worker processes are SIGKILLed every few seconds.

Two `backroom worker`s of two pool processes each. Every 1 to 3 s (seeded), up to 15 times
while orders are in flight, a SIGKILL goes to a random pool process (its worker starts
another), to a worker's main process alone (its pool processes are orphaned mid-task) or to a
whole worker (its process group); a killed worker is replaced by a new one. A killed task's
message comes back (acks late, rejected when the worker is lost) or the sweep sends its step
again; an email whose sender died is sent again by the sweep once its lease ends (90 s).
Ends with the shared invariants (`tests.chaos.invariants`), told how many kills there were: a
sender killed between the mail server's acceptance and the mark is the one way an email can
go out twice, and the invariants allow only that (same Message-ID, no more than the kills).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil  # type: ignore[import-untyped]

from tests.chaos.workload import Run
from tests.e2e.harness import wait_for
from tests.smtp_server import SmtpServer

KILLS = 15
SEED = 11


@dataclass
class Kill:
    """The workers alive, and the process groups of main processes killed alone."""

    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    orphaned: list[int] = field(default_factory=list)

    def reap(self) -> None:
        """SIGKILL what is left of the workers whose main process was killed alone."""
        for group in self.orphaned:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)


def _kill_one(run: Run, kill: Kill, rng: random.Random, fresh: str) -> str:
    """SIGKILL a random pool process (3 times in 5), a worker's main process alone (its pool
    processes are left orphaned) or a whole worker (its process group); a worker killed is
    replaced by a new one named `fresh`. What was done."""
    name = rng.choice(sorted(kill.workers))
    proc = kill.workers[name]
    pool = psutil.Process(proc.pid).children()
    draw = rng.random()
    if pool and draw < 0.6:
        victim = rng.choice(pool)
        os.kill(victim.pid, signal.SIGKILL)
        return f"SIGKILL pool process {victim.pid} of worker {name}"
    if draw < 0.8:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        kill.orphaned.append(proc.pid)  # its process group, where its pool processes remain
        done = f"SIGKILL main process of worker {name} ({len(pool)} pool processes left orphaned)"
    else:
        run.procs.kill(proc)
        done = f"SIGKILL worker {name} and its {len(pool)} pool processes"
    del kill.workers[name]
    kill.workers[fresh] = run.procs.worker(fresh, concurrency=2)
    return f"{done}; started worker {fresh}"


def _due_or_settled(run: Run, due: float) -> Callable[[], bool]:
    return lambda: run.settled() or time.monotonic() >= due


def test_given_orders_in_flight_when_workers_are_sigkilled_every_few_seconds_then_books_balance(
    shared_run: Callable[[str], Run], smtp_server: SmtpServer, tmp_path: Path
) -> None:
    run = shared_run("kill")
    rng, names, kill = random.Random(SEED), itertools.count(2), Kill()
    killed = 0
    try:
        run.start(lambda: kill.workers.update(zip(("w0", "w1"), run.workers(), strict=True)))
        for n in range(1, KILLS + 1):
            due = time.monotonic() + rng.uniform(1, 3)  # the fault's pace: time, not a condition
            wait_for(_due_or_settled(run, due), 30, "the next kill's time")
            if run.settled():
                run.timeline.note(f"settled before kill {n}: no more kills")
                break
            run.timeline.note(f"kill {n}: {_kill_one(run, kill, rng, fresh=f'w{next(names)}')}")
            killed = n
        run.settle(300)  # an email whose sender died waits for its lease (90 s) to end
    finally:
        kill.reap()
        run.stop()
    run.check(killed)
