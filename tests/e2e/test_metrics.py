"""`backroom metrics` and `backroom status` as operators use them: a real exporter process
scraped over HTTP, against a real broker, the run's PostgreSQL, real workers and a real beat."""

from __future__ import annotations

import json
import urllib.request

import pytest
from kombu.connection import Connection
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text

from tests.e2e.flower import free_port
from tests.e2e.harness import Broker, Processes, scalar, wait_for, wait_for_workers
from tests.e2e.test_pipeline import all_final, order, stock
from workers.routing import QUEUES

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Exporter:
    """A `backroom metrics` process; `scrape()` reads its endpoint as Prometheus does."""

    def __init__(self, processes: Processes) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        argv = ["metrics", "--port", str(self.port), "--max-age", "0"]
        self.proc = processes.serve("metrics", *argv)
        self.processes = processes
        wait_for(self._answers, 60, "the exporter to answer", processes.logs)

    def _answers(self) -> bool:
        assert self.proc.poll() is None, f"the exporter exited\n{self.processes.logs()}"
        try:
            self.scrape()
        except OSError:
            return False
        return True

    def scrape(self) -> Samples:
        with urllib.request.urlopen(self.url, timeout=10) as response:
            body = response.read().decode()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }

    def value(self, name: str, **labels: str) -> float | None:
        return self.scrape().get((name, frozenset(labels.items())))

    def shows(self, name: str, expected: float, **labels: str) -> bool:
        return self.value(name, **labels) == expected


def purge(broker: Broker, queue: str) -> None:
    with Connection(broker.url, transport_options=broker.transport_options()) as connection:
        channel = connection.channel()
        try:
            channel.queue_purge(queue)
        except connection.channel_errors:
            pass  # never declared: nothing to purge
        finally:
            connection.close()


def test_given_orders_waiting_and_no_worker_when_scraped_then_queue_depth_counts_them(
    broker: Broker, processes: Processes, clean: Engine
) -> None:
    purge(broker, "orders")  # RabbitMQ: the run's vhost may hold what an earlier test left
    exporter = Exporter(processes)
    client = broker.client()
    try:
        for i in range(7):
            client.place_order(**order(f"waiting-{i}", A_1=1))

        wait_for(
            lambda: exporter.shows("backroom_queue_depth", 7, queue="orders"),
            30,
            "queue depth 7 on orders",
            lambda: str(exporter.scrape()),
        )
        for queue in set(QUEUES) - {"orders"}:
            assert exporter.value("backroom_queue_depth", queue=queue) == 0, queue
        assert exporter.value("backroom_source_up", source="broker") == 1
    finally:
        client.close()
        purge(broker, "orders")


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_given_an_order_stuck_before_reserve_when_scraped_then_its_age_and_step_show(
    broker: Broker, processes: Processes, clean: Engine
) -> None:
    # given: a worker that serves only `orders`, so the placed order's reserve step waits
    stock(clean, A_1=10)
    exporter = Exporter(processes)
    processes.worker("orders-only", concurrency=1, queues="orders")
    wait_for_workers(broker, 1, processes)
    client = broker.client()
    client.place_order(**order("stuck", A_1=1)).get(timeout=30)
    client.close()
    # when: two hours pass
    with clean.begin() as conn:
        conn.execute(text("UPDATE orders SET created_at = created_at - interval '2 hours'"))
        conn.execute(text("UPDATE outbox SET created_at = created_at - interval '2 hours'"))

    # then
    samples = exporter.scrape()
    age = samples[("backroom_oldest_open_order_age_seconds", frozenset())]
    assert 7200 <= age < 7200 + 120
    assert samples[("backroom_orders", frozenset({("status", "pending")}))] == 1
    assert samples[("backroom_outbox_unconsumed", frozenset())] == 1
    assert 7200 <= samples[("backroom_outbox_oldest_age_seconds", frozenset())] < 7200 + 120
    wait_for(
        lambda: exporter.shows("backroom_queue_depth", 1, queue="inventory"),
        30,
        "the reserve step waiting in the inventory queue",
    )


def test_given_a_prefork_worker_when_orders_run_and_some_fail_then_each_run_counted_once(
    broker: Broker, processes: Processes, clean: Engine
) -> None:
    for queue in QUEUES:  # RabbitMQ: nothing an earlier test left runs in this one
        purge(broker, queue)
    stock(clean, A_1=100)
    exporter = Exporter(processes)
    processes.worker("prefork", concurrency=2)
    wait_for(
        lambda: exporter.shows("backroom_workers_online", 1),
        60,
        "the exporter to hear the worker's heartbeat",
        processes.logs,
    )
    client = broker.client()
    for i in range(6):
        client.place_order(**order(f"good-{i}", A_1=1))
    for i in range(2):
        bad = order(f"bad-{i}", A_1=1)
        del bad["customer_email"]  # refused by the contract: a dead letter, a failed run
        client.send("orders.place", bad)
    client.close()
    wait_for(lambda: all_final(clean, 6), 90, "six orders shipped", processes.logs)
    wait_for(
        lambda: scalar(clean, "SELECT count(*) FROM dead_letters") == 2, 30, "two dead letters"
    )

    def counted() -> bool:
        name = "backroom_task_duration_seconds_count"
        return all(
            exporter.value(name, task=task) == runs
            for task, runs in [
                ("orders.place", 8),
                ("inventory.reserve", 6),
                ("payments.capture", 6),
                ("orders.fulfil", 6),
            ]
        )

    wait_for(counted, 30, "every run counted", lambda: str(exporter.scrape()))
    samples = exporter.scrape()
    assert samples[("backroom_task_failures_total", frozenset({("task", "orders.place")}))] == 2
    assert ("backroom_task_failures_total", frozenset({("task", "payments.capture")})) not in (
        samples
    )
    assert samples[("backroom_dead_letters_open", frozenset({("task", "orders.place")}))] == 2
    assert samples[("backroom_orders", frozenset({("status", "shipped")}))] == 6
    inf = frozenset({("task", "orders.fulfil"), ("le", "+Inf")})
    assert samples[("backroom_task_duration_seconds_bucket", inf)] == 6

    # `backroom status` shows the same, with the exporter's task figures
    shown = json.loads(status(processes, exporter, "--json"))
    assert shown["database"]["orders"]["shipped"] == 6
    assert shown["database"]["dead_letters_open"] == {"orders.place": 2}
    assert shown["tasks"]["orders.place"]["runs"] == 8
    assert shown["tasks"]["orders.place"]["failures"] == 2
    table = status(processes, exporter)
    assert any(line.split()[:3] == ["orders.place", "8", "2"] for line in table.splitlines())


def status(processes: Processes, exporter: Exporter, *extra: str) -> str:
    """`backroom status` run as an operator would, pointed at the exporter: its stdout."""
    done = processes.command("status", "--metrics-url", exporter.url, *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_given_a_beat_when_it_runs_then_lag_is_small_and_when_it_stops_then_lag_grows(
    broker: Broker, processes: Processes, clean: Engine
) -> None:
    exporter = Exporter(processes)
    processes.worker("all", concurrency=1)
    beat = processes.beat()
    wait_for(
        lambda: (
            scalar(
                clean,
                "SELECT count(*) FROM scheduled_runs WHERE entry = 'sweep'"
                " AND started_at IS NOT NULL",
            )
            >= 2
        ),
        60,
        "the sweep to run twice",
        processes.logs,
    )
    lag = exporter.value("backroom_schedule_lag_seconds", entry="sweep")
    assert lag is not None
    assert lag < 3  # the sweep runs every second in these tests
    assert exporter.value("backroom_schedule_paused", entry="sweep") == 0

    processes.kill(beat)

    wait_for(
        lambda: (exporter.value("backroom_schedule_lag_seconds", entry="sweep") or 0) > 5,
        30,
        "the sweep's lag to grow once no beat runs",
    )
    for name in ("expire-reservations", "check-reorder", "nightly-report"):
        assert exporter.value("backroom_schedule_lag_seconds", entry=name) is not None


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_given_an_open_dead_letter_when_discarded_then_it_leaves_the_gauge(
    processes: Processes, clean: Engine
) -> None:
    with clean.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO dead_letters (task, payload, reason, error_type) VALUES"
                " ('payments.capture', '{}', 'retries exhausted', 'ProviderUnavailable')"
            )
        )
    exporter = Exporter(processes)
    assert exporter.value("backroom_dead_letters_open", task="payments.capture") == 1
    letter = scalar(clean, "SELECT id FROM dead_letters")
    discarded = processes.command("dead-letters", "discard", str(letter))
    assert discarded.returncode == 0, discarded.stderr
    assert exporter.value("backroom_dead_letters_open", task="payments.capture") is None
