"""`workers.transport`: Backroom's Redis connections reuse one command client per channel,
and carry messages, acknowledgements and a reconnect like kombu's own transport (real Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection, Message, Queue
from redis import Redis

from tests.e2e.harness import Broker
from workers import transport
from workers.app import create_app
from workers.settings import Settings


@pytest.fixture
def conn(redis_broker: Broker) -> Iterator[Connection]:
    transport.install()
    with Connection(redis_broker.url, transport_options=redis_broker.transport_options()) as c:
        yield c


@pytest.fixture
def queue(conn: Connection) -> Iterator[Queue]:
    queue = Queue(f"transport-test-{uuid.uuid4().hex[:12]}", durable=False)
    yield queue
    queue(conn.default_channel).delete()


def test_given_the_app_on_redis_when_it_connects_then_it_uses_backroom_transport(
    redis_broker: Broker,
) -> None:
    for url in (redis_broker.url, "redis+socket:///tmp/backroom-test.sock", "rediss://h:6380/0"):
        app = create_app(Settings(broker_url=url))
        connection = app.connection_for_write()

        assert connection.transport_cls in ("redis", "rediss")
        assert connection.get_transport_cls() is transport.Transport


def test_given_messages_published_and_acked_when_counted_then_one_client_served_them(
    conn: Connection, queue: Queue
) -> None:
    channel = conn.default_channel
    producer = conn.Producer(channel, serializer="json")
    for n in range(3):
        producer.publish({"n": n}, routing_key=queue.name, declare=[queue])
    received: list[Message] = []
    with conn.Consumer([queue], callbacks=[lambda _body, m: received.append(m)], accept=["json"]):
        while len(received) < 3:
            conn.drain_events(timeout=10)
    for message in received:
        message.ack()

    assert isinstance(channel, transport.Channel)
    assert sorted(m.payload["n"] for m in received) == [0, 1, 2]
    assert channel._create_client() is channel._create_client()
    assert queue(channel).get() is None
    unacked = Redis(connection_pool=channel.pool).hkeys(
        channel.global_keyprefix + channel.unacked_key
    )
    assert not {m.delivery_tag.encode() for m in received} & set(unacked)  # all acknowledged


def test_given_the_pools_dropped_when_used_again_then_a_new_client_on_the_new_pool(
    conn: Connection, queue: Queue
) -> None:
    channel = conn.default_channel
    before = channel._create_client()
    channel._disconnect_pools()  # what kombu does when a connection is lost

    after = channel._create_client()
    conn.Producer(channel, serializer="json").publish(
        {"n": 1}, routing_key=queue.name, declare=[queue]
    )

    assert after is not before
    assert after.connection_pool is channel.pool
    arrived = queue(channel).get(no_ack=True, accept=["json"])
    assert arrived is not None
    assert arrived.payload == {"n": 1}
