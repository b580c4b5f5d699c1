"""Fixtures for end-to-end tests: the run's database emptied, real worker processes.

Brokers (`redis_broker`, `rabbit_broker`, `broker`) come from `tests/brokers.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.brokers import worker_env
from tests.e2e.harness import Broker, Processes, truncate_everything
from tests.smtp_server import SmtpServer


@pytest.fixture
def clean(engine: Engine) -> Engine:
    """The run's database, emptied before the test (workers commit for real)."""
    truncate_everything(engine)
    return engine


@pytest.fixture
def redis_processes(
    database_url: str, redis_broker: Broker, smtp_server: SmtpServer, tmp_path: Path, clean: Engine
) -> Iterator[Processes]:
    """Worker and beat processes on the run's Redis (its key prefix, shared by the run's tests),
    for tests about something other than the broker."""
    procs = Processes(worker_env(database_url, redis_broker, smtp_server, tmp_path), tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


@pytest.fixture
def processes(
    database_url: str, broker: Broker, smtp_server: SmtpServer, tmp_path: Path, clean: Engine
) -> Iterator[Processes]:
    procs = Processes(worker_env(database_url, broker, smtp_server, tmp_path), tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()
