"""Fixtures of the chaos tests: servers of a test's own, which it may crash at will.

`own_redis` and `own_postgres` are embedded servers in a folder of the test's own (nobody else
uses them); `own_prefix` is the run's Redis with a key prefix of the test's own, for tests that
break something else, so that no message one test left behind reaches the next test's workers;
`shared_run` makes a `Run` on those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine

import migrations
from domain.db import make_engine
from tests.brokers import of_its_own, worker_env
from tests.chaos.workload import Run
from tests.e2e.harness import Broker, Processes, truncate_everything
from tests.smtp_server import SmtpServer
from workers import embedded


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Broker]]:
    """A Redis server of this test's own (embedded): its folder and the broker on it."""
    folder = tmp_path_factory.mktemp("redis")  # short enough for a unix socket
    servers = embedded.start_detached(folder, postgres=False)
    assert servers.broker_url is not None
    try:
        yield folder, Broker("redis", servers.broker_url, servers.broker_url)
    finally:
        embedded.stop(folder)


@pytest.fixture
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Engine, str]]:
    """A PostgreSQL server of this test's own (embedded), migrated: folder, engine, URL."""
    folder = tmp_path_factory.mktemp("pg")
    servers = embedded.start_detached(folder, redis=False)
    assert servers.database_url is not None
    command.upgrade(migrations.config(servers.database_url), "head")
    engine = make_engine(servers.database_url, pool_size=1, pre_ping=True)
    try:
        yield folder, engine, servers.database_url
    finally:
        engine.dispose()
        embedded.stop(folder)


@pytest.fixture
def own_prefix(redis_broker: Broker) -> Broker:
    """The run's Redis, under a key prefix of this test's own."""
    return of_its_own(redis_broker)


@pytest.fixture
def shared_run(
    engine: Engine, database_url: str, own_prefix: Broker, smtp_server: SmtpServer, tmp_path: Path
) -> Callable[[str], Run]:
    """A run named so on the run's database (emptied) and Redis (`own_prefix`), for the tests
    whose fault is not a server's."""

    def make(name: str) -> Run:
        truncate_everything(engine)
        procs = Processes(worker_env(database_url, own_prefix, smtp_server, tmp_path), tmp_path)
        return Run(name, engine, own_prefix, smtp_server, procs)

    return make
