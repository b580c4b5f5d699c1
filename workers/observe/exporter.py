"""`backroom metrics`: Backroom's figures in Prometheus' text format, over HTTP.

The state figures come from a `Snapshot` taken when Prometheus scrapes, at most once per
`max_age` seconds however many scrapers ask (the database's figures count every order); the
task figures come from the workers' events (`workers.observe.events`).

| metric | labels | what |
|---|---|---|
| backroom_queue_depth | queue | messages waiting in the queue (broker) |
| backroom_orders | status | orders in each status |
| backroom_oldest_open_order_age_seconds | | age of the oldest open order (not yet final) |
| backroom_outbox_unconsumed | | next steps written but not yet run |
| backroom_outbox_oldest_age_seconds | | age of the oldest of those |
| backroom_dead_letters_open | task | dead letters waiting for an operator |
| backroom_schedule_lag_seconds | entry | how late the entry's latest slot ran (see snapshot) |
| backroom_schedule_paused | entry | 1 when an operator paused the entry |
| backroom_source_up | source | 1 when the broker / database could be read |
| backroom_task_duration_seconds | task | histogram of run times |
| backroom_task_failures_total | task | runs that failed for good |
| backroom_task_retries_total | task | runs to be retried |
| backroom_workers_online | | workers whose heartbeat was heard |
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from workers.observe.snapshot import Snapshot

SOURCES = ("broker", "database")


class StateCollector(Collector):
    """The snapshot's figures as gauges, the snapshot taken again when older than `max_age`."""

    def __init__(self, take: Callable[[], Snapshot], max_age: float = 5.0) -> None:
        self.take, self.max_age = take, max_age
        self._lock = threading.Lock()
        self._taken: tuple[float, Snapshot] | None = None

    def snapshot(self) -> Snapshot:
        with self._lock:
            if self._taken is None or time.monotonic() - self._taken[0] > self.max_age:
                self._taken = (time.monotonic(), self.take())
            return self._taken[1]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return iter(families(self.snapshot()))

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())  # no scrape at registration: the names are only known by collecting


def families(snap: Snapshot) -> list[GaugeMetricFamily]:
    """The snapshot as Prometheus gauges; a source that could not be read gives none of its
    figures, and `backroom_source_up{source}` 0."""
    up = _gauge("source_up", "1 when the source could be read for this scrape.", ["source"])
    for source in SOURCES:
        up.add_metric([source], 0.0 if source in snap.errors else 1.0)
    found = [up]
    if snap.queue_depth is not None:
        depth = _gauge("queue_depth", "Messages waiting in the queue.", ["queue"])
        for queue, count in snap.queue_depth.items():
            depth.add_metric([queue], count)
        found.append(depth)
    return found + _database_families(snap)


def _database_families(snap: Snapshot) -> list[GaugeMetricFamily]:
    seen = snap.vitals
    if seen is None:
        return []
    orders = _gauge("orders", "Orders in each status.", ["status"])
    for status, count in seen.orders.items():
        orders.add_metric([status], count)
    letters = _gauge("dead_letters_open", "Dead letters waiting for an operator.", ["task"])
    for task, count in seen.dead_letters_open.items():
        letters.add_metric([task], count)
    lag = _gauge("schedule_lag_seconds", "How late the entry's latest slot ran.", ["entry"])
    paused = _gauge("schedule_paused", "1 when an operator paused the entry.", ["entry"])
    for entry, late in snap.schedule.items():
        lag.add_metric([entry], late.lag)
        paused.add_metric([entry], 1.0 if late.paused else 0.0)
    return [
        orders,
        _value(
            "oldest_open_order_age_seconds",
            "Age of the oldest open order.",
            seen.oldest_open_order_age,
        ),
        _value("outbox_unconsumed", "Next steps written and not yet run.", seen.outbox_unconsumed),
        _value(
            "outbox_oldest_age_seconds",
            "Age of the oldest unconsumed next step.",
            seen.outbox_oldest_age,
        ),
        letters,
        lag,
        paused,
    ]


def _gauge(name: str, text: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"backroom_{name}", text, labels=labels)


def _value(name: str, text: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"backroom_{name}", text, value=value)


def registry(collector: StateCollector) -> CollectorRegistry:
    """A registry of Backroom's own metrics only (no process or Python metrics of this
    exporter, which would be mistaken for the workers', and no `_created` series)."""
    disable_created_metrics()  # type: ignore[no-untyped-call]
    found = CollectorRegistry(auto_describe=False)
    found.register(collector)
    return found
