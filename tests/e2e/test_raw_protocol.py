"""Other systems enqueue jobs in any language that speaks Celery's message protocol.

No Celery and no kombu on the sending side: each message is written the way a non-Python
client (celery-node, a Go or Java producer) writes it. Protocol v2, JSON body
`[args, kwargs, embed]`, to the queue `orders`. On RabbitMQ with a plain AMQP 0-9-1 client
(py-amqp) to the direct exchange `orders`; on Redis as the JSON envelope LPUSHed onto the list
`orders` (behind the run's key prefix), exactly what kombu's Redis transport reads.
"""

from __future__ import annotations

import base64
import json
import socket
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp
import redis
from sqlalchemy import Engine

from domain.secrets import redact_tokens
from tests.e2e.harness import Broker, Processes, rows, scalar, wait_for, wait_for_workers
from tests.e2e.test_pipeline import order, stock

QUEUE = EXCHANGE = ROUTING_KEY = "orders"


def message(task: str, kwargs: dict[str, Any], task_id: str) -> tuple[dict[str, Any], bytes]:
    """Celery protocol v2 headers and JSON body, as any language would build them."""
    headers = {
        "lang": "js",
        "task": task,
        "id": task_id,
        "root_id": task_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "argsrepr": "[]",
        "kwargsrepr": json.dumps(kwargs),
        "origin": f"node-client@{socket.gethostname()}",
    }
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    return headers, json.dumps([[], kwargs, embed]).encode("utf-8")


def publish_amqp(url: str, headers: dict[str, Any], body: bytes) -> None:
    parts = urlsplit(url)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    conn = amqp.Connection(
        host=f"{parts.hostname or '127.0.0.1'}:{parts.port or 5672}",
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        virtual_host=vhost,
    )
    conn.connect()
    try:
        channel = conn.channel()
        channel.exchange_declare(EXCHANGE, "direct", durable=True, auto_delete=False)
        channel.queue_declare(QUEUE, durable=True, auto_delete=False)
        channel.queue_bind(QUEUE, EXCHANGE, ROUTING_KEY)
        channel.basic_publish(
            amqp.Message(
                body,
                content_type="application/json",
                content_encoding="utf-8",
                application_headers=headers,
                correlation_id=headers["id"],
                reply_to=str(uuid.uuid4()),
                delivery_mode=2,
                priority=0,
            ),
            exchange=EXCHANGE,
            routing_key=ROUTING_KEY,
        )
    finally:
        conn.close()


def redis_client(url: str) -> redis.Redis:
    if url.startswith("redis+socket://"):
        return redis.Redis(unix_socket_path=url.removeprefix("redis+socket://"))
    return redis.Redis.from_url(url)


def publish_redis(broker: Broker, headers: dict[str, Any], body: bytes) -> None:
    envelope = {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "correlation_id": headers["id"],
            "reply_to": str(uuid.uuid4()),
            "delivery_mode": 2,
            "delivery_info": {"exchange": EXCHANGE, "routing_key": ROUTING_KEY},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    client = redis_client(broker.url)
    try:
        client.lpush(f"{broker.key_prefix}{QUEUE}", json.dumps(envelope))
    finally:
        client.close()


def publish_raw(broker: Broker, task: str, kwargs: dict[str, Any], task_id: str) -> None:
    headers, body = message(task, kwargs, task_id)
    if broker.name == "rabbitmq":
        publish_amqp(broker.url, headers, body)
    else:
        publish_redis(broker, headers, body)


def finished(log: Path, task_id: str) -> int:
    """How many times the worker's log says this task id ran to an end."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(text.count(f"orders.place[{task_id}] {end}") for end in ("succeeded", "raised"))


def test_given_raw_place_message_twice_when_worker_runs_then_one_order_shipped(
    broker: Broker, processes: Processes, clean: Engine
) -> None:
    stock(clean, RAW_1=10)
    processes.worker("w1", concurrency=1)
    wait_for_workers(broker, 1, processes)
    task_id = str(uuid.uuid4())
    payload = order("raw-1", RAW_1=2)

    publish_raw(broker, "orders.place", payload, task_id)
    wait_for(
        lambda: scalar(clean, "SELECT status FROM orders") == "shipped",
        60,
        "the raw order shipped",
        processes.logs,
    )
    publish_raw(broker, "orders.place", payload, task_id)
    log = processes.log_dir / "w1.log"
    wait_for(lambda: finished(log, task_id) == 2, 30, "both deliveries run", processes.logs)

    assert scalar(clean, "SELECT count(*) FROM orders") == 1
    assert scalar(clean, "SELECT status FROM orders") == "shipped"
    assert scalar(clean, "SELECT customer_email FROM orders") == "raw-1@example.com"
    assert scalar(clean, "SELECT quantity_on_hand FROM inventory") == 8
    assert scalar(clean, "SELECT count(*) FROM payments WHERE status = 'captured'") == 1
    assert scalar(clean, "SELECT count(*) FROM dead_letters") == 0


def test_given_raw_place_message_with_unknown_field_then_dead_letter_names_the_field(
    broker: Broker, processes: Processes, clean: Engine
) -> None:
    stock(clean, RAW_2=5)
    processes.worker("w1", concurrency=1, queues="orders")
    wait_for_workers(broker, 1, processes)
    task_id = str(uuid.uuid4())
    payload = {**order("raw-bad", RAW_2=1), "coupon": "FREE"}

    publish_raw(broker, "orders.place", payload, task_id)
    wait_for(
        lambda: scalar(clean, "SELECT count(*) FROM dead_letters") == 1,
        30,
        "a dead letter",
        processes.logs,
    )

    [letter] = rows(clean, "SELECT task, task_id, queue, reason, payload FROM dead_letters")
    assert letter.task == "orders.place"
    assert letter.task_id == task_id
    assert letter.queue == QUEUE
    assert letter.reason.startswith("coupon: ")
    # the token is kept sealed: the letter shows as the message did, token redacted
    assert redact_tokens(letter.payload) == redact_tokens({"args": [], "kwargs": payload})
    assert scalar(clean, "SELECT count(*) FROM orders") == 0
    assert scalar(clean, "SELECT quantity_on_hand FROM inventory") == 5
