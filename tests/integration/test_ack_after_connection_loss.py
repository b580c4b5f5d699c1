"""A task that ends after its broker connection died neither kills the worker nor loses the
message: the acknowledgement is skipped and the broker delivers the message again.

Real brokers (Redis and RabbitMQ), real kombu connections, Celery's own request machinery;
only the worker's event loop is left out (it would call the same `ack_log_error`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from kombu import Connection, Message, Queue

from tests.e2e.harness import Broker
from workers.request import BackroomRequest, channel_gone


@pytest.fixture
def app(broker: Broker) -> Celery:
    app = Celery("ack-test", broker=broker.url, set_as_current=False)
    app.conf.update(
        broker_transport_options=broker.transport_options(),
        task_serializer="json",
        accept_content=["json"],
    )
    return app


@pytest.fixture
def queue(app: Celery) -> Iterator[Queue]:
    queue = Queue(f"ack-test-{uuid.uuid4().hex[:12]}", durable=False)
    yield queue
    with app.connection_for_write() as conn:
        queue(conn.default_channel).delete()


def _receive(conn: Connection, queue: Queue) -> Message:
    received: list[Message] = []
    with conn.Consumer([queue], callbacks=[lambda _body, m: received.append(m)], accept=["json"]):
        conn.drain_events(timeout=10)
    assert len(received) == 1
    return received[0]


def _echo(n: int) -> int:
    return n


def _request(app: Celery, message: Message, conn: Connection) -> BackroomRequest:
    task = app.task(name="ack.test", shared=False)(_echo)
    return BackroomRequest(
        message,
        on_ack=message.ack_log_error,  # what the worker's deferred acknowledgement calls
        on_reject=message.reject_log_error,
        app=app,
        task=task,
        connection_errors=conn.connection_errors,
    )


@pytest.mark.parametrize("settle", ["acknowledge", "reject"])
def test_given_a_delivery_when_its_connection_closes_before_the_ack_then_no_error_and_it_comes_back(
    app: Celery, queue: Queue, settle: str, caplog: pytest.LogCaptureFixture
) -> None:
    with app.connection_for_write() as conn:
        sent = app.send_task("ack.test", kwargs={"n": 1}, queue=queue, connection=conn)
    conn = app.connection_for_read()
    message = _receive(conn, queue)
    request = _request(app, message, conn)
    assert not channel_gone(message.channel)

    conn.collect()  # what the worker does to the old connection when the broker drops it
    conn.close()
    assert channel_gone(message.channel)
    with caplog.at_level(logging.WARNING, logger="backroom.worker"):
        getattr(request, settle)()  # raises AttributeError on Redis without the guard

    assert "connection it came in on is closed" in caplog.text
    with app.connection_for_read() as again:
        redelivered = _receive(again, queue)
        assert redelivered.headers["id"] == sent.id
        redelivered.ack()


def test_given_a_live_connection_when_acknowledged_then_the_message_is_gone(
    app: Celery, queue: Queue
) -> None:
    with app.connection_for_write() as conn:
        app.send_task("ack.test", kwargs={"n": 2}, queue=queue, connection=conn)
    with app.connection_for_read() as conn:
        message = _receive(conn, queue)
        _request(app, message, conn).acknowledge()
        assert message.acknowledged
    with app.connection_for_read() as conn:
        leftover: list[Any] = []
        callbacks = [lambda _body, m: leftover.append(m)]
        with (
            conn.Consumer([queue], callbacks=callbacks, accept=["json"]),
            pytest.raises(TimeoutError),
        ):
            conn.drain_events(timeout=1)
        assert leftover == []
