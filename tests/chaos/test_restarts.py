"""Nothing lost, nothing doubled, when the servers go away under load.

Each test runs its own broker or database (embedded, in a folder of its own), so it can crash
or restart it without touching anyone else's: real worker and beat processes keep going, and
the database, not the broker, decides what still has to happen.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine

import migrations
from backroom_client import BackroomClient
from domain.db import make_engine
from scheduler.leader import ACTIVE, STANDBY
from tests.brokers import worker_env
from tests.e2e.harness import (
    Broker,
    Processes,
    rows,
    scalar,
    truncate_everything,
    wait_for,
    wait_for_workers,
)
from tests.e2e.test_pipeline import all_final, order, stock
from tests.smtp_server import SmtpServer
from workers import embedded

ORDERS = 60
SLOW_EVERY = 10


def _short_dir(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    return tmp_path_factory.mktemp(name)  # short enough for unix sockets


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Broker]]:
    """A Redis server of this test's own (embedded), to crash at will."""
    folder = _short_dir(tmp_path_factory, "redis")
    servers = embedded.start_detached(folder, postgres=False)
    assert servers.broker_url is not None
    try:
        yield folder, Broker("redis", servers.broker_url, servers.broker_url)
    finally:
        embedded.stop(folder)


@pytest.fixture
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Engine, str]]:
    """A PostgreSQL server of this test's own (embedded), migrated, to restart at will."""
    folder = _short_dir(tmp_path_factory, "pg")
    servers = embedded.start_detached(folder, redis=False)
    assert servers.database_url is not None
    command.upgrade(migrations.config(servers.database_url), "head")
    engine = make_engine(servers.database_url, pool_size=1, pre_ping=True)
    try:
        yield folder, engine, servers.database_url
    finally:
        engine.dispose()
        embedded.stop(folder)


def _crash_redis(folder: Path) -> None:
    pid = int((folder / "redis" / "redis.pid").read_text())
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not embedded.status(folder)["redis"], 10, "Redis to die")


def _start_and_place(
    procs: Processes, broker: Broker, prefix: str, lines: dict[str, int]
) -> tuple[BackroomClient, subprocess.Popen[bytes]]:
    """A worker (resending lost steps after 3 s) and a beat, then ORDERS orders placed.

    Every SLOW_EVERY-th order pays with `tok_slow` (2 s at the provider), so captures are
    still running when the server goes away: their acknowledgements meet a dead connection.
    """
    procs.worker("w1", concurrency=2, BACKROOM_SWEEP_PUBLISH_AFTER="3")
    beat = procs.beat()
    wait_for_workers(broker, 1, procs)
    client = broker.client()
    for n in range(ORDERS):
        token = "tok_slow" if n % SLOW_EVERY == SLOW_EVERY - 1 else "tok_ok"
        client.place_order(**order(f"{prefix}-{n}", token, **lines))
    return client, beat


def _capture_running(client: BackroomClient) -> bool:
    """A worker reports a `payments.capture` in progress (what an operator's inspect shows)."""
    active = client.app.control.inspect(timeout=0.5).active() or {}
    return any(task["name"] == "payments.capture" for tasks in active.values() for task in tasks)


def _books_balance(engine: Engine) -> None:
    assert scalar(engine, "SELECT count(*) FROM orders") == ORDERS
    assert scalar(engine, "SELECT count(*) FROM orders WHERE status = 'shipped'") == ORDERS
    captures = "SELECT count(*) FROM payment_sim.payments WHERE status = 'captured'"
    assert scalar(engine, captures) == ORDERS
    assert scalar(engine, "SELECT count(*) FROM shipments") == ORDERS
    assert rows(engine, "SELECT quantity_on_hand, quantity_reserved FROM inventory") == [
        (1000 - ORDERS, 0)
    ]
    per_kind = rows(engine, "SELECT kind, count(*) FROM notifications GROUP BY kind ORDER BY 1")
    assert [tuple(r) for r in per_kind] == [("order_confirmed", ORDERS), ("order_shipped", ORDERS)]


def test_given_orders_in_flight_when_the_broker_crashes_and_comes_back_empty_then_all_ship_once(
    own_redis: tuple[Path, Broker],
    engine: Engine,
    database_url: str,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    folder, broker = own_redis
    truncate_everything(engine)
    stock(engine, CHAOS_1=1000)
    procs = Processes(worker_env(database_url, broker, smtp_server, tmp_path), tmp_path)
    try:
        client, _ = _start_and_place(procs, broker, "chaos-redis", {"CHAOS_1": 1})
        wait_for(
            lambda: scalar(engine, "SELECT count(*) FROM orders") == ORDERS, 60, "orders placed"
        )
        wait_for(lambda: _capture_running(client), 60, "a capture in progress", procs.logs)
        _crash_redis(folder)  # every queued message is gone with it
        assert not all_final(engine, ORDERS)
        embedded.start_detached(folder, postgres=False)
        wait_for(lambda: all_final(engine, ORDERS), 180, "all orders final", procs.logs)
        client.close()
    finally:
        procs.stop_all()
    _books_balance(engine)
    resent = "SELECT count(*) FROM outbox WHERE sends > 1"
    assert scalar(engine, resent) > 0  # the crash really lost messages, and the sweep resent them


def _log(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def test_given_orders_in_flight_when_the_database_restarts_then_all_ship_once(
    own_postgres: tuple[Path, Engine, str],
    redis_broker: Broker,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    folder, engine, url = own_postgres
    stock(engine, CHAOS_2=1000)
    procs = Processes(worker_env(url, redis_broker, smtp_server, tmp_path), tmp_path)
    try:
        client, leader = _start_and_place(procs, redis_broker, "chaos-pg", {"CHAOS_2": 1})
        standby = procs.beat("standby")
        wait_for(lambda: STANDBY in _log(tmp_path / "standby.log"), 30, "a standby beat")
        wait_for(lambda: scalar(engine, "SELECT count(*) FROM orders") >= 10, 60, "some orders")
        wait_for(lambda: _capture_running(client), 60, "a capture in progress", procs.logs)
        embedded.stop(folder, redis=False)  # a restart in the middle of the stream
        engine.dispose()
        embedded.start_detached(folder, redis=False)
        wait_for(lambda: leader.poll() is not None, 60, "the leader to stop", procs.logs)
        wait_for(lambda: ACTIVE in _log(tmp_path / "standby.log"), 60, "the standby to lead")
        wait_for(lambda: all_final(engine, ORDERS), 180, "all orders final", procs.logs)
        client.close()
    finally:
        procs.stop_all()
    _books_balance(engine)
    assert leader.returncode == 3  # lost its database: exits for its supervisor to restart it
    assert standby.poll() is None or standby.returncode == 0
