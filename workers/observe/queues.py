"""Queue depth: how many messages wait in each queue, as the broker counts them.

`queue_declare` answers with the queue's message count on both transports: RabbitMQ counts
the messages ready for delivery, kombu's Redis transport adds up the queue's lists (one per
priority). Messages a worker holds unacknowledged are not waiting and are not counted.

On RabbitMQ the declare is passive, so it never creates a queue: a queue the broker does not
know has nothing waiting (RabbitMQ answers 404 and closes the channel, so each queue is asked
on a channel of its own). On Redis it is not: kombu's passive check looks for the queue's keys
without the `global_keyprefix` (`BACKROOM_BROKER_KEY_PREFIX`) and would call every prefixed
queue missing, while a plain declare of a queue stores nothing on Redis and only counts.
"""

from __future__ import annotations

from collections.abc import Iterable

from kombu.connection import Connection


def depths(connection: Connection, queues: Iterable[str]) -> dict[str, int]:
    """Each queue's number of waiting messages."""
    return {name: _depth(connection, name) for name in queues}


def _depth(connection: Connection, name: str) -> int:
    channel = connection.channel()  # type: ignore[no-untyped-call]
    try:
        passive = connection.transport.driver_type != "redis"
        return int(channel.queue_declare(queue=name, passive=passive).message_count)
    except connection.channel_errors:
        return 0
    finally:
        _close(connection, channel)


def _close(connection: Connection, channel: object) -> None:
    try:
        channel.close()  # type: ignore[attr-defined]
    except connection.channel_errors + connection.connection_errors:
        pass  # already closed by the broker's 404
