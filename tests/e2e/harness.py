"""Real processes for end-to-end tests: `backroom worker` and `backroom beat` subprocesses
against the run's database, a real broker and a real SMTP server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from backroom_client import BackroomClient
from domain.models import Base

REPO = Path(__file__).resolve().parents[2]
APP_TABLES = ", ".join(table.name for table in Base.metadata.sorted_tables)  # all of ours


@dataclass(frozen=True)
class Broker:
    name: str
    url: str
    result_backend: str
    key_prefix: str = ""

    def transport_options(self) -> dict[str, Any]:
        return {"global_keyprefix": self.key_prefix} if self.key_prefix else {}

    def client(self) -> BackroomClient:
        return BackroomClient(
            self.url, result_backend=self.result_backend, transport_options=self.transport_options()
        )


@dataclass
class Processes:
    """Worker and beat subprocesses sharing one environment; all stopped at the end."""

    env: dict[str, str]
    log_dir: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def _spawn(
        self, name: str, argv: list[str], extra: dict[str, str], module: str = "workers.cli"
    ) -> subprocess.Popen[bytes]:
        """`python -m <module> <argv>` (the `backroom` command line unless told otherwise),
        logging to `<log_dir>/<name>.log`."""
        log = (self.log_dir / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *argv],
            cwd=REPO,
            env={**self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes the pool children too
        )
        self.procs.append(proc)
        return proc

    def worker(
        self,
        name: str,
        *,
        concurrency: int = 2,
        queues: str | None = None,
        module: str = "workers.cli",
        **extra: str,
    ) -> subprocess.Popen[bytes]:
        """A `backroom worker` named `name`; `module` runs another entry point that takes the
        same arguments (a test's own, such as `tests.chaos.faulty_worker`)."""
        argv = ["worker", "-c", str(concurrency), "-n", f"{name}@%h", "-l", "INFO"]
        if queues:
            argv += ["-Q", queues]
        return self._spawn(name, argv, extra, module)

    def beat(self, name: str = "beat", **extra: str) -> subprocess.Popen[bytes]:
        return self._spawn(name, ["beat", "-l", "INFO"], extra)

    def serve(self, name: str, *argv: str) -> subprocess.Popen[bytes]:
        """Another long-running `backroom` command (`metrics`, ...), stopped with the others."""
        return self._spawn(name, list(argv), {})

    def command(self, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`backroom <argv>` run to its end in the same environment; its output kept."""
        return backroom(self.env, *argv, timeout=timeout)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the whole process group: the worker and its pool children, no goodbye."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        self.procs.clear()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


def backroom(
    env: dict[str, str], *argv: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`backroom <argv>` run to its end in `env`, as an operator (or a health check) runs it;
    its output kept."""
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *argv],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    on_timeout: Callable[[], str] = lambda: "",
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f}s waiting for {what}\n{on_timeout()}"
            )
        time.sleep(0.2)


def wait_for_workers(broker: Broker, count: int, procs: Processes, timeout: float = 60) -> None:
    client = broker.client()
    try:
        wait_for(
            lambda: len(client.app.control.ping(timeout=0.5) or []) >= count,
            timeout,
            f"{count} worker(s) to answer ping",
            procs.logs,
        )
    finally:
        client.close()


def truncate_everything(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {APP_TABLES} RESTART IDENTITY CASCADE"))
        conn.execute(text("CREATE SCHEMA IF NOT EXISTS payment_sim"))
        conn.execute(
            text(
                "DO $$ BEGIN IF to_regclass('payment_sim.payments') IS NOT NULL THEN "
                "TRUNCATE payment_sim.payments; END IF; END $$"
            )
        )


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def rows(engine: Engine, sql: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql), params))


def run_id() -> str:
    return uuid.uuid4().hex[:10]
