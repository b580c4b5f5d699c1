"""kombu's Redis transport, with one command client per channel instead of one per command.

kombu's Redis channel builds a new `redis.Redis` object for every publish, every event sent
for Flower and every acknowledgement (`Channel.conn_or_acquire`). Building one is not free:
redis-py fills a table of ~170 response callbacks in its constructor. A task costs about six
of them; measured with `py-spy --gil` on a busy pipeline worker, they were 9.5 % of the
worker's Python time (`Redis.__init__`).

The client holds no connection of its own (every command borrows one from the channel's
pool), so one client per pool serves every command of the channel. A reconnect makes a new
pool (kombu drops the old ones), and with it a new client. Everything else is kombu's.

`install()` points the `redis://` and `rediss://` URL schemes (including `redis+socket://`)
at this transport, for this process; `workers.app` calls it when its broker is Redis.
"""

from __future__ import annotations

from typing import Any

from kombu import transport as kombu_transports
from kombu.transport import redis as kombu_redis

SCHEMES = ("redis", "rediss")


class Channel(kombu_redis.Channel):
    _command_client: tuple[Any, Any] | None = None  # (pool, client)

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:  # kombu keeps that one itself (`Channel.client`, BRPOP)
            return super()._create_client(asynchronous=True)  # type: ignore[no-untyped-call]
        pool = self.pool
        cached = self._command_client
        if cached is None or cached[0] is not pool:
            cached = (pool, super()._create_client())  # type: ignore[no-untyped-call]
            self._command_client = cached
        return cached[1]


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    """Make this process's `redis://` connections use `Transport` (idempotent)."""
    path = f"{__name__}:Transport"
    for scheme in SCHEMES:
        if kombu_transports.TRANSPORT_ALIASES.get(scheme) != path:
            kombu_transports.TRANSPORT_ALIASES[scheme] = path
            kombu_transports._transport_cache.pop(scheme, None)
