"""Messages that reach a worker but are not tasks, on Redis and on RabbitMQ.

Each is published raw (kombu, no Celery) to the queue `orders`, as a broken or hostile sender
would, and must end as a dead letter with a reason that names what is wrong, while the worker
goes on serving good orders; the queues end empty. When the database cannot take the letter,
the message stays on the broker until it can. The six: a body that is not JSON, a pickle, an
unknown task, no task headers, a 10 MB body and a protocol 1 body.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from celery.exceptions import NotRegistered
from kombu import Connection, Queue
from sqlalchemy import Engine, text

from tests.e2e.harness import Broker, Processes, rows, scalar, wait_for, wait_for_workers
from tests.e2e.test_pipeline import order, stock
from tests.e2e.test_raw_protocol import message
from workers.cli.run import QUEUES

EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
SECRET = "tok_not_a_task_secret"  # the bad messages' payment token: never in the worker's log
BIG = 10 * 1024 * 1024


class Bomb:
    """Unpickled, it makes the folder `path`: proof that the worker unpickled it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.mkdir, (str(self.path),)


def headers(task: str, task_id: str) -> dict[str, Any]:
    """Protocol 2 headers (with no repr of the arguments: a 10 MB one does not fit a frame)."""
    return message(task, {}, task_id)[0]


def v2_body(kwargs: dict[str, Any]) -> bytes:
    return json.dumps([[], kwargs, EMBED]).encode()


def publish(
    broker: Broker,
    body: bytes,
    head: dict[str, Any],
    content_type: str = "application/json",
    encoding: str = "utf-8",
) -> None:
    with Connection(broker.url, transport_options=broker.transport_options()) as conn:
        conn.Producer().publish(
            body,
            exchange="orders",
            routing_key="orders",
            headers=head,
            content_type=content_type,
            content_encoding=encoding,
            delivery_mode=2,
        )


def depths(broker: Broker) -> dict[str, int]:
    """Messages in each of Backroom's queues (with no worker connected: unacked ones too)."""
    with Connection(broker.url, transport_options=broker.transport_options()) as conn:
        channel = conn.default_channel
        found = {q: Queue(q, routing_key=q, channel=channel).queue_declare()[1] for q in QUEUES}
        if broker.name == "redis":
            found["(unacked)"] = channel.client.hlen(channel.unacked_key)
    return found


def letters(engine: Engine) -> dict[str | None, Any]:
    found = rows(
        engine, "SELECT task, task_id, queue, reason, error_type, payload FROM dead_letters"
    )
    by_id = {letter.task_id: letter for letter in found}
    assert len(by_id) == len(found), "two letters for one message"
    return by_id


@pytest.fixture
def worker(broker: Broker, processes: Processes, clean: Engine) -> subprocess.Popen[bytes]:
    """One worker on every queue, and BAD-1 in stock."""
    stock(clean, BAD_1=5)
    proc = processes.worker("w1", concurrency=2)
    wait_for_workers(broker, 1, processes)
    return proc


def test_given_six_messages_that_are_not_tasks_then_each_is_a_dead_letter_and_work_goes_on(
    broker: Broker,
    processes: Processes,
    clean: Engine,
    worker: subprocess.Popen[bytes],
    tmp_path: Path,
) -> None:
    ids = {case: str(uuid.uuid4()) for case in "abcef"}
    marker = tmp_path / "unpickled"
    pickled = pickle.dumps(Bomb(marker))
    headerless = v2_body(order("headerless", SECRET, BAD_1=1))
    big = v2_body({**order("big", SECRET, BAD_1=1), "customer_name": "x" * BIG})
    proto_1: dict[str, Any] = {
        **{"task": "orders.place", "id": ids["f"], "args": [], "retries": 0, "eta": None},
        "kwargs": order("protocol-1", SECRET, BAD_1=1),
    }

    publish(broker, b"{not json", headers("orders.place", ids["a"]))
    publish(
        broker,
        pickled,
        headers("orders.place", ids["b"]),
        "application/x-python-serialize",
        "binary",
    )
    publish(broker, v2_body({"x": 1}), headers("orders.nope", ids["c"]))
    publish(broker, headerless, {})
    publish(broker, big, headers("orders.place", ids["e"]))
    publish(broker, json.dumps(proto_1).encode(), {})
    client = broker.client()
    good = client.place_order(**order("good", BAD_1=1)).get(timeout=60)
    wait_for(
        lambda: scalar(clean, "SELECT count(*) FROM dead_letters") >= 6,
        60,
        "six dead letters",
        processes.logs,
    )
    wait_for(
        lambda: scalar(clean, "SELECT status FROM orders") == "shipped",
        60,
        "the good order shipped",
        processes.logs,
    )
    wait_for(  # its emails' send is the last message of its work: then every queue is empty
        lambda: scalar(clean, "SELECT count(*) FROM notifications WHERE status = 'sent'") == 2,
        60,
        "the good order's two emails sent",
        processes.logs,
    )

    kept = letters(clean)
    assert set(kept) == {*ids.values(), None}
    assert {(k.queue, k.error_type) for k in kept.values()} == {("orders", "NotATask")}
    a, b, c, d, e, f = (kept[ids.get(case)] for case in "abcdef")
    assert (a.task, a.reason) == (
        "orders.place",
        "body is not valid JSON: Expecting property name enclosed in double quotes:"
        " line 1 column 2 (char 1)",
    )
    assert a.payload["body"] == "{not json"
    assert a.payload["content_type"] == "application/json"
    assert a.payload["headers"]["task"] == "orders.place"
    assert b.reason == "content type application/x-python-serialize is not accepted" + (
        " (application/json only)"
    )
    assert base64.b64decode(b.payload["body"]) == pickled
    assert not marker.exists(), "the worker unpickled the pickle"
    assert (c.task, c.reason) == ("orders.nope", "unknown task orders.nope")
    assert c.payload["body"] == [[], {"x": 1}, EMBED]
    with pytest.raises(NotRegistered):
        client.app.AsyncResult(ids["c"]).get(timeout=30)
    assert (d.task, d.reason) == ("(no task name)", "missing headers 'task' and 'id'")
    assert d.payload["body"][1]["idempotency_key"] == "headerless"
    assert d.payload["headers"] == {}
    assert e.task == "orders.place"
    assert e.reason.startswith(f"body is {len(big):,} bytes, over the 1,048,576-byte limit; kept")
    assert e.payload["body_size"] == len(big)
    assert e.payload["body_sha256"] == hashlib.sha256(big).hexdigest()
    assert e.payload["body"][1]["idempotency_key"] == "big"
    assert e.payload["body"][1]["customer_name"].startswith("x" * 1024 + "... [")
    assert (f.task, f.reason.split(" (")[0]) == ("orders.place", "protocol 1 message")
    token = f.payload["body"]["kwargs"].pop("payment_token")
    assert token["$sealed"]
    del proto_1["kwargs"]["payment_token"]
    assert f.payload["body"] == proto_1
    assert SECRET not in str([(k.reason, k.payload) for k in kept.values()]), "a token in clear"
    assert rows(clean, "SELECT order_number, status FROM orders") == [
        (good["order_number"], "shipped")
    ]
    assert worker.poll() is None, "the worker died"
    assert SECRET not in (processes.log_dir / "w1.log").read_text(errors="replace")
    client.close()
    processes.stop_all()
    assert set(depths(broker).values()) == {0}
    assert scalar(clean, "SELECT count(*) FROM dead_letters") == 6


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_given_a_message_kept_when_listed_shown_and_replayed_then_shown_whole_and_not_replayed(
    broker: Broker, processes: Processes, clean: Engine, worker: subprocess.Popen[bytes]
) -> None:
    publish(broker, v2_body(order("headerless", BAD_1=1)), {})
    wait_for(lambda: scalar(clean, "SELECT count(*) FROM dead_letters") == 1, 60, "a dead letter")
    letter_id = str(scalar(clean, "SELECT id FROM dead_letters"))

    listed = processes.command("dead-letters", "list")
    shown = processes.command("dead-letters", "show", letter_id)
    replayed = processes.command("dead-letters", "replay", letter_id)

    assert listed.returncode == 0, listed.stderr
    row = next(line for line in listed.stdout.splitlines() if line.split()[0] == letter_id)
    assert "(no task name)" in row
    assert "missing headers 'task' and 'id'" in row
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["payload"]["body"][1]["idempotency_key"] == "headerless"
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert f"dead letter {letter_id} cannot be replayed" in replayed.stderr
    assert "Traceback" not in replayed.stderr
    assert replayed.stdout == ""
    assert scalar(clean, "SELECT status FROM dead_letters") == "open"
    discarded = processes.command("dead-letters", "discard", letter_id, "--note", "sender fixed")
    assert discarded.returncode == 0, discarded.stderr


def test_given_the_database_cannot_take_the_letter_then_the_message_waits_on_the_broker(
    broker: Broker, processes: Processes, clean: Engine, worker: subprocess.Popen[bytes]
) -> None:
    log = processes.log_dir / "w1.log"
    with clean.connect() as conn:
        conn.execute(text("LOCK TABLE dead_letters IN SHARE MODE"))  # no INSERT gets through
        publish(broker, b"{not json", headers("orders.place", str(uuid.uuid4())))
        wait_for(
            lambda: "could not keep a message that is not a task" in log.read_text(),
            60,
            "the worker to find the database unable to take the letter",
            processes.logs,
        )
        assert scalar(clean, "SELECT count(*) FROM dead_letters") == 0
        if broker.name == "redis":  # RabbitMQ shows what it holds for a consumer only by API
            assert depths(broker)["(unacked)"] == 1
        conn.rollback()

    wait_for(
        lambda: scalar(clean, "SELECT count(*) FROM dead_letters") == 1,
        60,
        "the letter kept once the database takes it",
        processes.logs,
    )
    assert scalar(clean, "SELECT reason FROM dead_letters").startswith("body is not valid JSON")
    assert worker.poll() is None, "the worker died"
    processes.stop_all()
    assert set(depths(broker).values()) == {0}
    assert scalar(clean, "SELECT count(*) FROM dead_letters") == 1
