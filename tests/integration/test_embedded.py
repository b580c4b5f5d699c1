"""Embedded PostgreSQL and Redis: real servers in a temporary data folder, no mocks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from kombu import Connection
from redis import Redis

from workers import embedded
from workers.settings import Settings, load_settings

EXTERNAL_DB = "postgresql+psycopg2://someone@db.invalid/elsewhere"


@pytest.fixture
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A short data folder (unix socket paths are limited); its servers stop even on failure."""
    folder = tmp_path_factory.mktemp("emb")
    yield folder
    embedded.stop(folder)


@pytest.fixture
def long_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("long") / ("d" * 100)
    yield folder
    embedded.stop(folder)


def _settings(data_dir: Path, monkeypatch: pytest.MonkeyPatch, **urls: str) -> Settings:
    for name in ("DATABASE_URL", "BROKER_URL", "RESULT_BACKEND"):
        monkeypatch.delenv(f"BACKROOM_{name}", raising=False)
    return load_settings(_env_file=None, data_dir=str(data_dir), **urls)


def _query(url: str | None, sql: str) -> object:
    """Run `sql` in one transaction on `url`; the first column of its first row, if any."""
    assert url is not None
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        engine.dispose()


def _redis(url: str | None) -> Redis:
    assert url is not None
    assert url.startswith("redis+socket:///")
    return Redis(unix_socket_path=url.removeprefix("redis+socket://"))


def test_given_empty_folder_when_entering_embedded_servers_then_both_answer_and_stop_on_exit(
    data_dir: Path,
) -> None:
    with embedded.embedded_servers(data_dir) as servers:
        assert _query(servers.database_url, "select 1") == 1
        assert _query(servers.database_url, "select current_database()") == "backroom"
        assert servers.broker_url is not None
        with Connection(servers.broker_url) as connection:
            connection.ensure_connection(max_retries=1)
        assert _redis(servers.result_backend).ping()
        assert (data_dir / "pgdata" / "PG_VERSION").exists()
        assert embedded.redis_socket(data_dir).parent == data_dir / "redis"

    assert embedded.status(data_dir) == {"postgres": False, "redis": False}
    assert not embedded.redis_socket(data_dir).exists()
    with pytest.raises(sa.exc.OperationalError):
        _query(servers.database_url, "select 1")


def test_given_detached_servers_when_entering_embedded_servers_then_reused_and_left_running(
    data_dir: Path,
) -> None:
    detached = embedded.start_detached(data_dir)
    _query(detached.database_url, "create table marker (id int); insert into marker values (7)")

    with embedded.embedded_servers(data_dir) as servers:
        assert servers == detached
        assert _query(servers.database_url, "select id from marker") == 7

    assert embedded.status(data_dir) == {"postgres": True, "redis": True}
    embedded.stop(data_dir)
    assert embedded.status(data_dir) == {"postgres": False, "redis": False}
    embedded.stop(data_dir)  # nothing running: no error


def test_given_data_written_when_servers_stop_and_start_again_then_data_is_still_there(
    data_dir: Path,
) -> None:
    with embedded.embedded_servers(data_dir) as servers:
        _query(servers.database_url, "create table kept (name text); insert into kept values ('a')")
        _redis(servers.broker_url).set("kept", "b")
    assert embedded.status(data_dir) == {"postgres": False, "redis": False}

    with embedded.embedded_servers(data_dir) as servers:
        assert _query(servers.database_url, "select name from kept") == "a"
        assert _redis(servers.broker_url).get("kept") == b"b"


def test_given_database_url_in_settings_when_resolving_urls_then_only_redis_is_embedded(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(data_dir, monkeypatch, database_url=EXTERNAL_DB)

    with embedded.resolve_urls(settings) as urls:
        assert urls.database_url == EXTERNAL_DB
        assert urls.broker_url == urls.result_backend
        assert _redis(urls.broker_url).ping()
        assert embedded.status(data_dir) == {"postgres": False, "redis": True}

    assert embedded.status(data_dir) == {"postgres": False, "redis": False}
    assert not (data_dir / "pgdata").exists()


def test_given_every_url_in_settings_when_resolving_urls_then_nothing_is_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    given = {
        "database_url": EXTERNAL_DB,
        "broker_url": "redis://broker.invalid:6379/0",
        "result_backend": "redis://broker.invalid:6379/1",
    }
    settings = _settings(tmp_path / "data", monkeypatch, **given)

    with embedded.resolve_urls(settings) as urls:
        assert urls == embedded.EmbeddedServers(**given)

    assert not (tmp_path / "data").exists()


def test_given_data_folder_too_deep_for_a_socket_when_starting_redis_then_socket_is_short(
    long_data_dir: Path,
) -> None:
    socket = embedded.redis_socket(long_data_dir)
    assert len(str(socket)) < 104
    assert socket.parent.name.startswith("backroom-")

    with embedded.embedded_servers(long_data_dir, postgres=False) as servers:
        assert servers.database_url is None
        assert servers.broker_url == f"redis+socket://{socket}"
        assert _redis(servers.broker_url).ping()
        assert (long_data_dir / "redis" / "redis.db").parent.is_dir()

    assert not socket.parent.exists()


def test_given_a_broker_but_no_result_backend_when_resolving_urls_then_no_redis_is_embedded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = "amqp://guest:guest@broker.invalid:5672//"
    settings = _settings(
        tmp_path / "data", monkeypatch, database_url=EXTERNAL_DB, broker_url=broker
    )

    with embedded.resolve_urls(settings) as urls:
        assert urls == embedded.EmbeddedServers(EXTERNAL_DB, broker, None)

    assert not (tmp_path / "data").exists()
