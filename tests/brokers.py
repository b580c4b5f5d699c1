"""Broker fixtures (Redis and RabbitMQ) and the environment of worker processes.

Redis: `BACKROOM_TEST_REDIS_URL`, else `BACKROOM_BROKER_URL` if it is Redis, else the embedded
Redis. Each run prefixes its keys, so runs sharing a server never take each other's messages.
RabbitMQ: `BACKROOM_RABBITMQ_URL` (default amqp://guest:guest@127.0.0.1:5672//), in a vhost of
the run's own when `rabbitmqctl` is at hand. With no RabbitMQ reachable its tests skip, which
fails the run in CI.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.e2e.harness import REPO, Broker, run_id
from tests.smtp_server import SmtpServer

RUN = run_id()


@pytest.fixture(scope="session")
def redis_broker() -> Iterator[Broker]:
    configured = os.environ.get("BACKROOM_TEST_REDIS_URL") or os.environ.get("BACKROOM_BROKER_URL")
    with ExitStack() as stack:
        if not configured or not configured.startswith("redis"):
            from workers.embedded import embedded_servers

            servers = stack.enter_context(embedded_servers(REPO / ".backroom", postgres=False))
            configured = servers.broker_url
        assert configured is not None
        yield Broker("redis", configured, configured, key_prefix=f"backroom-test-{RUN}:")


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 5672), 2):
            return True
    except OSError:
        return False


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def rabbit_broker(redis_broker: Broker) -> Iterator[Broker]:
    url = os.environ.get("BACKROOM_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
    if not _reachable(url):
        pytest.skip(f"no RabbitMQ reachable at {urlsplit(url).netloc.split('@')[-1]}")
    vhost = None
    if shutil.which("rabbitmqctl"):
        vhost = f"backroom-test-{RUN}"
        _rabbitmqctl("add_vhost", vhost)
        user = urlsplit(url).username or "guest"
        _rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")
        parts = urlsplit(url)
        url = urlunsplit((parts.scheme, parts.netloc, "/" + vhost, "", ""))
    try:
        yield Broker("rabbitmq", url, redis_broker.result_backend, key_prefix="")
    finally:
        if vhost:
            _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> Broker:
    """Each test's broker, Redis then RabbitMQ. On Redis under a key prefix of the test's own:
    nothing an earlier test left on the server (a message a stopped worker still held) reaches
    this test's workers or its counts."""
    if request.param == "redis":
        return of_its_own(request.getfixturevalue("redis_broker"))
    return request.getfixturevalue("rabbit_broker")  # type: ignore[no-any-return]


def of_its_own(redis_broker: Broker) -> Broker:
    """The run's Redis broker under a key prefix of one test's own."""
    return dataclasses.replace(redis_broker, key_prefix=f"{redis_broker.key_prefix}{run_id()}:")


def worker_env(
    database_url: str, broker: Broker, smtp: SmtpServer, data_dir: Path
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    env.update(
        BACKROOM_DATABASE_URL=database_url,
        BACKROOM_BROKER_URL=broker.url,
        BACKROOM_RESULT_BACKEND=broker.result_backend,
        BACKROOM_BROKER_KEY_PREFIX=broker.key_prefix,
        BACKROOM_MAILER="smtp",
        BACKROOM_SMTP_HOST="127.0.0.1",
        BACKROOM_SMTP_PORT=str(smtp.port),
        BACKROOM_DATA_DIR=str(data_dir),
        BACKROOM_SWEEP_INTERVAL="1",
        BACKROOM_SWEEP_STUCK_AFTER="4",
        BACKROOM_SWEEP_PUBLISH_AFTER="30",
    )
    return env
