"""`workers.publisher.StepPublisher`: the next steps' messages are the ones `send_task` would
send (same queue, headers and body), and it survives a broker connection that was lost."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from celery import Celery
from kombu import Message

from domain.uow import Step
from tests.e2e.harness import Broker
from workers.app import create_app
from workers.publisher import StepPublisher
from workers.settings import Settings

TASK = "payments.capture"  # routed to the `payments` queue


@pytest.fixture(params=["redis", "rabbit"])
def app(request: pytest.FixtureRequest) -> Iterator[Celery]:
    broker: Broker = request.getfixturevalue(f"{request.param}_broker")
    app = create_app(Settings(broker_url=broker.url, broker_key_prefix=broker.key_prefix))
    _drain(app)
    yield app
    _drain(app)


def _drain(app: Celery) -> list[Message]:
    """Every message waiting on `payments`, taken off the queue."""
    taken: list[Message] = []
    with app.connection_for_write() as conn:
        queue = app.amqp.queues["payments"](conn.default_channel)
        queue.declare()
        while (message := queue.get(no_ack=True, accept=["json"])) is not None:
            taken.append(message)
    return taken


def _comparable(message: Message) -> tuple[dict[str, Any], Any]:
    """Headers and body, ids aside (a message sent outside a task is its own root)."""
    headers = {k: v for k, v in message.headers.items() if k not in ("id", "root_id")}
    headers["root_is_self"] = message.headers["root_id"] == message.headers["id"]
    return headers, message.decode()


def test_given_a_step_when_published_then_the_message_send_task_would_send(app: Celery) -> None:
    step = Step(41, TASK, {"order_id": "3f1c1f4e-0000-4000-8000-000000000001"})
    StepPublisher(app).publish([step])
    kwargs = step.message_kwargs()
    app.send_task(TASK, kwargs=kwargs, ignore_result=True, argsrepr="()", kwargsrepr=repr(kwargs))

    ours, celerys = _drain(app)

    assert ours.delivery_info["routing_key"] == celerys.delivery_info["routing_key"]
    assert _comparable(ours) == _comparable(celerys)
    assert ours.decode()[1] == kwargs
    assert ours.headers["task"] == TASK


def test_given_the_connection_lost_when_publishing_again_then_it_reconnects(app: Celery) -> None:
    publisher = StepPublisher(app)
    publisher.publish([Step(1, TASK, {"order_id": "a"})])
    publisher._producer.connection.collect()  # what a dropped connection leaves behind

    publisher.publish([Step(2, TASK, {"order_id": "b"})])

    assert sorted(m.decode()[1]["outbox_id"] for m in _drain(app)) == [1, 2]
    publisher.close()
