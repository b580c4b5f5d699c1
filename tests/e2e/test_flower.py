"""Flower as operators start it (`backroom flower`): it never answers without credentials, and
no password it is given shows in its command line or its log."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.brokers import worker_env
from tests.e2e.flower import (
    USER,
    Flower,
    command_lines,
    free_port,
    run_briefly,
    running_flower,
    status_of,
)
from tests.e2e.harness import Broker, wait_for
from tests.smtp_server import SmtpServer


@pytest.fixture
def flower_env(
    database_url: str, redis_broker: Broker, smtp_server: SmtpServer, tmp_path: Path
) -> dict[str, str]:
    return worker_env(database_url, redis_broker, smtp_server, tmp_path)


@pytest.fixture
def flower(flower_env: dict[str, str], tmp_path: Path) -> Iterator[Flower]:
    with running_flower(flower_env, tmp_path) as started:
        yield started


def test_given_flower_running_when_no_credentials_then_401(flower: Flower) -> None:
    assert status_of(flower.url) == 401


def test_given_flower_running_when_wrong_password_or_user_then_401(flower: Flower) -> None:
    assert status_of(flower.url, USER, "not-" + flower.password) == 401
    assert status_of(flower.url, "admin", flower.password) == 401


def test_given_flower_running_when_right_credentials_then_200_and_password_not_logged(
    flower: Flower,
) -> None:
    assert status_of(flower.url, USER, flower.password) == 200
    assert flower.password not in flower.logged()


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


class ManagementApiRecorder(BaseHTTPRequestHandler):
    """Stands where RabbitMQ's management API would be (its plugin is not needed for this
    test): notes each request's path and credentials, answers with no queues."""

    seen: list[tuple[str, str]]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization", "")))
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: pytest shows what the test asserts


@pytest.fixture
def management_api() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """(`http://127.0.0.1:<port>/api/`, the requests it got: (path, Authorization))."""
    seen: list[tuple[str, str]] = []
    handler = type("Recorder", (ManagementApiRecorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/", seen
    finally:
        server.shutdown()
        server.server_close()


def test_given_broker_api_on_rabbitmq_when_broker_page_then_asked_with_its_login_not_on_argv(
    database_url: str,
    rabbit_broker: Broker,
    smtp_server: SmtpServer,
    tmp_path: Path,
    management_api: tuple[str, list[tuple[str, str]]],
) -> None:
    api, seen = management_api
    api_password = secrets.token_urlsafe(12)
    env = worker_env(database_url, rabbit_broker, smtp_server, tmp_path)
    env["BACKROOM_FLOWER_BROKER_API"] = api.replace("://", f"://monitor:{api_password}@")

    with running_flower(env, tmp_path) as flower:
        assert status_of(flower.url + "broker", USER, flower.password) == 200
        wait_for(lambda: bool(seen), 10, "Flower to ask the management API", flower.logged)
        shown_to_everyone = "\n".join(command_lines(flower.pid))

    vhost = urlsplit(rabbit_broker.url).path[1:]  # in the API's path, as Flower writes it
    vhost = vhost if vhost == "/" else quote(vhost, "")
    assert seen[0] == (
        f"/api/queues/{vhost}",
        "Basic " + base64.b64encode(f"monitor:{api_password}".encode()).decode(),
    )
    assert "workers.cli flower" in shown_to_everyone, "the process was not found"
    for secret in (api_password, flower.password):
        assert secret not in shown_to_everyone
        assert secret not in flower.logged()
