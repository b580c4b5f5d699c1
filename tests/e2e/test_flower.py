"""Flower as operators start it (`backroom flower`): it never answers without credentials."""

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
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.brokers import worker_env
from tests.e2e.harness import REPO, Broker, wait_for
from tests.smtp_server import SmtpServer

USER = "ops"


@dataclass(frozen=True)
class Flower:
    url: str
    password: str
    log: Path


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


@pytest.fixture
def flower_env(
    database_url: str, redis_broker: Broker, smtp_server: SmtpServer, tmp_path: Path
) -> dict[str, str]:
    return worker_env(database_url, redis_broker, smtp_server, tmp_path)


@pytest.fixture
def flower(flower_env: dict[str, str], tmp_path: Path) -> Iterator[Flower]:
    port, password = free_port(), secrets.token_urlsafe(16)
    log = tmp_path / "flower.log"
    argv = ["flower", f"--port={port}", "--address=127.0.0.1"]
    env = {**flower_env, "BACKROOM_FLOWER_USER": USER, "BACKROOM_FLOWER_PASSWORD": password}
    with log.open("ab") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "workers.cli", *argv],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: answers(port) or proc.poll() is not None,
            60,
            f"Flower to listen on port {port}",
            lambda: log.read_text(errors="replace"),
        )
        assert proc.poll() is None, f"Flower exited:\n{log.read_text(errors='replace')}"
        yield Flower(f"http://127.0.0.1:{port}/", password, log)
    finally:
        stop(proc)


def test_given_flower_running_when_no_credentials_then_401(flower: Flower) -> None:
    assert status_of(flower.url) == 401


def test_given_flower_running_when_wrong_password_or_user_then_401(flower: Flower) -> None:
    assert status_of(flower.url, USER, "not-" + flower.password) == 401
    assert status_of(flower.url, "admin", flower.password) == 401


def test_given_flower_running_when_right_credentials_then_200_and_password_not_logged(
    flower: Flower,
) -> None:
    assert status_of(flower.url, USER, flower.password) == 200
    assert flower.password not in flower.log.read_text(errors="replace")


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


def test_given_no_flower_password_when_flower_then_exit_2_saying_it_must_be_set(
    flower_env: dict[str, str],
) -> None:
    code, stdout, stderr = run_briefly(flower_env)

    assert code == 2, f"exit {code}\n{stdout}{stderr}"
    assert "BACKROOM_FLOWER_PASSWORD must be set" in stderr, (
        "the error belongs on stderr like every other settings error\n"
        f"--- stdout\n{stdout}--- stderr\n{stderr}"
    )


def test_given_empty_flower_password_when_flower_then_refused_not_served_without_password(
    flower_env: dict[str, str],
) -> None:
    code, stdout, stderr = run_briefly({**flower_env, "BACKROOM_FLOWER_PASSWORD": ""}, 15)

    assert code == 2, (
        "an empty BACKROOM_FLOWER_PASSWORD started Flower, which then lets anyone in with "
        f"user {flower_env.get('BACKROOM_FLOWER_USER', 'admin')!r} and no password "
        f"(exit {code})\n--- stdout\n{stdout[-2000:]}--- stderr\n{stderr[-2000:]}"
    )
    assert "BACKROOM_FLOWER_PASSWORD" in stdout + stderr
