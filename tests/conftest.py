"""Shared fixtures: a private PostgreSQL database per test run, migrated with Alembic.

Servers come from the environment (`BACKROOM_DATABASE_URL` names a server: the tests make
their own database on it and drop it afterwards, so two runs never see each other's rows);
with none configured, the embedded PostgreSQL under `.backroom/` is used.

In CI (`CI` set) a skipped test fails the run: a test that cannot reach a service it needs
is a missing service, not a pass.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

import migrations
from domain.db import make_engine, to_url

REPO = Path(__file__).resolve().parents[1]
pytest_plugins = ["tests.smtp_server", "tests.brokers", "tests.browser"]


def _server_url(stack: ExitStack) -> URL:
    configured = os.environ.get("BACKROOM_TEST_DATABASE_URL") or os.environ.get(
        "BACKROOM_DATABASE_URL"
    )
    if configured:
        return to_url(configured)
    from workers.embedded import embedded_servers

    servers = stack.enter_context(embedded_servers(REPO / ".backroom", redis=False))
    assert servers.database_url is not None
    return to_url(servers.database_url)


def _admin(url: URL) -> Engine:
    return make_engine(url.set(database="postgres"), pool_size=0).execution_options(
        isolation_level="AUTOCOMMIT"
    )


@pytest.fixture(scope="session")
def pg_server() -> Iterator[URL]:
    """The PostgreSQL server the tests use (started here if embedded, and stopped after)."""
    with ExitStack() as stack:
        yield _server_url(stack)


@contextmanager
def temporary_database(server: URL, prefix: str) -> Iterator[str]:
    """A new, empty database on `server`; dropped at the end, whatever happened."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = _admin(server)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def fresh_database(pg_server: URL) -> Iterator[str]:
    """This run's own database (so two runs never see each other's rows)."""
    with temporary_database(pg_server, "backroom_test") as url:
        yield url


@pytest.fixture(scope="session")
def database_url(fresh_database: str) -> str:
    """The run's database with the whole schema built by the migrations."""
    command.upgrade(migrations.config(fresh_database), "head")
    return fresh_database


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test.

    Commits inside the test become savepoints, so nothing leaks into the next test.
    """
    with engine.connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint") as s:
            yield s
        outer.rollback()


@pytest.fixture
def scratch_database(pg_server: URL) -> Iterator[str]:
    """An empty database of the test's own, for migration tests."""
    with temporary_database(pg_server, "backroom_scratch") as url:
        yield url


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, any skipped test turns the run red."""
    if not os.environ.get("CI"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if skipped and exitstatus == 0:
        reporter.write_line(
            f"CI: {len(skipped)} test(s) skipped; in CI every test must run.", red=True
        )
        session.exitstatus = 1
