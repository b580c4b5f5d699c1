"""kombu's Redis transport, with one command client per channel instead of one per command.

kombu's Redis channel builds a new `redis.Redis` object for every publish, every event sent
for Flower and every acknowledgement (`Channel.conn_or_acquire`). Building one is not free:
redis-py fills a table of response callbacks in its constructor, and a task costs about six
of them; on a busy pipeline worker `Redis.__init__` stood out in a profile.

The client holds no connection of its own (every command borrows one from the channel's
pool), so one client per pool serves every command of the channel. A reconnect makes a new
pool (kombu drops the old ones), and with it a new client. Everything else is kombu's. The
channel overrides a private kombu method, so it lives in `workers.compat` with the versions
it was checked on.

`install()` points the `redis://` and `rediss://` URL schemes (including `redis+socket://`)
at this transport, for this process; `workers.app` calls it when its broker is Redis.
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis

from workers.compat import RedisChannel, use_transport

SCHEMES = ("redis", "rediss")

Channel = RedisChannel  # one command client per connection pool


class Transport(kombu_redis.Transport):
    Channel = RedisChannel


def install() -> None:
    """Make this process's `redis://` connections use `Transport` (idempotent)."""
    for scheme in SCHEMES:
        use_transport(scheme, f"{__name__}:Transport")
