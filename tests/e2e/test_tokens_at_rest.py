"""Payment tokens through a real worker on Redis: placed with the Python client (and with a
careless client that shows its arguments as they are), they appear in no line of the worker's
log, no event it sends (what Flower shows), no result in the backend, no Redis key and no
database column; yet the capture charged the very token (the provider's ledger says so, by
fingerprint). The worker has no `BACKROOM_SECRET_KEYS`: it makes a key of its own, once."""

from __future__ import annotations

import json
import stat
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from backroom_client import BackroomClient
from domain import secrets
from domain.contracts import ContractViolation
from tests.e2e.harness import Broker, Processes, rows, scalar, wait_for, wait_for_workers
from tests.e2e.test_pipeline import order, stock
from tests.smtp_server import SmtpServer
from tests.token_scan import stored_in
from workers.runtime import KEY_FILE


class Events:
    """The events the workers send (what Flower shows), gathered on a thread of their own."""

    def __init__(self, client: BackroomClient) -> None:
        self.app = client.app
        self.seen: list[dict[str, Any]] = []
        self.receiver: Any = None
        self.thread = threading.Thread(target=self._capture, daemon=True)

    def _capture(self) -> None:
        with self.app.connection_for_read() as conn:
            self.receiver = self.app.events.Receiver(conn, handlers={"*": self.seen.append})
            self.receiver.capture(limit=None, timeout=None, wakeup=True)

    def __enter__(self) -> Events:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.receiver is not None:
            self.receiver.should_stop = True
        self.thread.join(10)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in list(self.seen) if event.get("type") == kind]


def redis_values(url: str, prefix: str, task_ids: list[str]) -> str:
    """Every value kept in Redis under the run's key prefix, and the tasks' results."""
    server = redis.Redis.from_url(url)
    kept: list[bytes] = []
    try:
        names = [*server.scan_iter(match=f"{prefix}*")]
        names += [f"celery-task-meta-{task_id}".encode() for task_id in task_ids]
        for name in names:
            kind = server.type(name)
            if kind == b"string":
                kept.append(server.get(name) or b"")
            elif kind == b"hash":
                kept.extend(server.hvals(name))
            elif kind == b"list":
                kept.extend(server.lrange(name, 0, -1))
    finally:
        server.close()
    return "\n".join(value.decode(errors="replace") for value in kept)


def test_given_orders_with_tokens_when_a_worker_runs_them_then_no_token_shows_anywhere(
    redis_broker: Broker,
    redis_processes: Processes,
    clean: Engine,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    stock(clean, TOK_1=10)
    good, careless, bad = (f"tok_ok_{uuid.uuid4().hex}" for _ in range(3))
    client = redis_broker.client()
    redis_processes.worker("w1", concurrency=2)
    wait_for_workers(redis_broker, 1, redis_processes)

    with Events(client) as events:
        wait_for(lambda: events.of("worker-heartbeat"), 30, "the worker's events", lambda: "")
        placed = client.place_order(**order("tok-good", good, TOK_1=2))
        loose = client.app.send_task(  # a client that shows its arguments as they are
            "orders.place", kwargs=order("tok-careless", careless, TOK_1=1), queue="orders"
        )
        refused = client.send("orders.place", {**order("tok-bad", bad, TOK_1=1), "coupon": "X"})
        logs = redis_processes.logs
        number = placed.get(timeout=30)["order_number"]
        loose.get(timeout=30)
        with pytest.raises(ContractViolation, match="coupon: unknown field"):
            refused.get(timeout=30)
        done = (
            "SELECT (SELECT count(*) FROM orders WHERE status = 'shipped') = 2 AND NOT EXISTS"
            " (SELECT 1 FROM notifications WHERE status <> 'sent')"
        )
        wait_for(lambda: scalar(clean, done), 60, "both orders shipped, their emails sent", logs)
        received = events.of("task-received")
    client.close()

    tokens = {"good": good, "careless": careless, "bad": bad}
    log = (tmp_path / "w1.log").read_text(errors="replace")
    assert f"order={number} placed=True" in log  # the log was written, and read whole
    assert f"orders.place[{placed.id}] received" in log
    assert {name: token in log for name, token in tokens.items()} == dict.fromkeys(tokens, False)
    shown = [event["kwargs"] for event in received if event["name"] == "orders.place"]
    assert len(shown) == 3
    assert all(
        f"fingerprint {secrets.fingerprint(t)[:8]}" in "".join(shown) for t in tokens.values()
    )
    assert not [t for t in tokens.values() if t in json.dumps(list(events.seen))]
    task_ids = [placed.id, loose.id, refused.id]
    in_redis = redis_values(redis_broker.result_backend, redis_broker.key_prefix, task_ids)
    assert number in in_redis  # the results are there, and were read
    assert not [t for t in tokens.values() if t in in_redis]
    assert {name: stored_in(clean, token) for name, token in tokens.items()} == {
        name: [] for name in tokens
    }
    numbers = [row.order_number for row in rows(clean, "SELECT order_number FROM orders")]
    mail = [m.raw.decode(errors="replace") for m in smtp_server.messages]
    ours = [text for text in mail if any(number in text for number in numbers)]
    assert len(ours) == 4  # confirmed and shipped, for each order
    assert not [t for t in tokens.values() if any(t in text for text in mail)]
    letters = rows(clean, "SELECT payload FROM dead_letters")
    assert [secrets.envelopes(row.payload) != [] for row in letters] == [True]

    charged = {
        row.token_fingerprint: (row.status, row.amount)
        for row in rows(clean, "SELECT token_fingerprint, status, amount FROM payment_sim.payments")
    }
    assert charged == {
        secrets.fingerprint(good): ("captured", 2 * 1250),
        secrets.fingerprint(careless): ("captured", 1250),
    }

    key_file = tmp_path / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert log.count("BACKROOM_SECRET_KEYS is not set") == 1
