"""`backroom flower` as a real process for end-to-end tests, and how to knock on its door.

`running_flower(env, log_dir)` starts it with a fresh password for the user `USER`, waits until
it listens, and stops it (its whole process group) at the end; its output goes to
`<log_dir>/flower.log`.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.e2e.harness import REPO, wait_for

USER = "ops"


@dataclass(frozen=True)
class Flower:
    url: str  # with a trailing slash: `url + "workers"` is the Workers page
    password: str
    log: Path
    pid: int  # the `backroom flower` process, leader of its own process group

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), 0.5):
            return True
    except OSError:
        return False


def status_of(url: str, user: str | None = None, password: str | None = None) -> int:
    request = urllib.request.Request(url)
    if user is not None:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def spawn(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    argv = ["flower", f"--port={port}", "--address=127.0.0.1"]
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "workers.cli", *argv],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


@contextmanager
def running_flower(env: dict[str, str], log_dir: Path) -> Iterator[Flower]:
    """`backroom flower` with `env` (a worker's environment) and the user `USER` with a fresh
    password, listening on a free port of 127.0.0.1."""
    port, password = free_port(), secrets.token_urlsafe(16)
    env = {**env, "BACKROOM_FLOWER_USER": USER, "BACKROOM_FLOWER_PASSWORD": password}
    log = log_dir / "flower.log"
    proc = spawn(env, port, log)
    try:
        wait_for(
            lambda: answers(port) or proc.poll() is not None,
            60,
            f"Flower to listen on port {port}",
            lambda: log.read_text(errors="replace"),
        )
        assert proc.poll() is None, f"Flower exited:\n{log.read_text(errors='replace')}"
        url = f"http://127.0.0.1:{port}/"
        yield Flower(url, password, log, proc.pid)
    finally:
        stop(proc)


def command_lines(pid: int) -> list[str]:
    """The command lines (as `ps` shows them to every user) of the processes in `pid`'s
    process group."""
    lines = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            group = int(stat.read_text().rsplit(")", 1)[1].split()[2])
            if group == pid:
                lines.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, IndexError, ValueError):
            continue  # a process that ended meanwhile
    return lines


def run_briefly(env: dict[str, str], timeout: float = 20) -> tuple[int | None, str, str]:
    """`backroom flower` expected to refuse at once: (exit code or None if it kept running)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "workers.cli", "flower", f"--port={free_port()}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
        return proc.returncode, stdout, stderr
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        return None, stdout, stderr
