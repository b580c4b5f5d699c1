"""The figures operators read, from their inputs: schedule lag from the slots claimed, task
metrics from Celery events, the Prometheus families of a snapshot with a source away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from domain.services.vitals import SlotSeen, Vitals
from scheduler.crontab import CatchUp, Cron, CronTable, Every
from scheduler.schedule import Entry
from workers.observe import exporter, scraped
from workers.observe.events import TaskEvents
from workers.observe.snapshot import EntryLag, Snapshot, _lag

NOW = datetime(2026, 12, 6, 12, 0, 30, tzinfo=UTC)
EVERY_MINUTE = Entry(
    "expire",
    "inventory.expire_reservations",
    CronTable(Cron.parse("* * * * *"), UTC),
    CatchUp.LATEST,
    timedelta(hours=6),
    "inventory",
)
EVERY_10_S = Entry(
    "sweep",
    "orders.sweep",
    Every(timedelta(seconds=10)),
    CatchUp.SKIP,
    timedelta(minutes=10),
    "orders",
)


def seen(**slots: SlotSeen) -> Vitals:
    return Vitals({}, 0.0, 0, 0.0, {}, latest_slots=dict(slots), now=NOW)


def at(hh: int, mm: int, ss: float = 0) -> datetime:
    return datetime(2026, 12, 6, hh, mm, tzinfo=UTC) + timedelta(seconds=ss)


def test_given_latest_slot_started_late_then_lag_is_its_delay() -> None:
    vitals = seen(expire=SlotSeen(at(12, 0), at(12, 0, 2.5)))
    assert _lag(EVERY_MINUTE, vitals, paused=False) == EntryLag(2.5, False)


def test_given_latest_slot_claimed_not_started_then_lag_is_its_wait_so_far() -> None:
    vitals = seen(expire=SlotSeen(at(12, 0), None))
    assert _lag(EVERY_MINUTE, vitals, paused=True) == EntryLag(30.0, True)


def test_given_no_beat_for_three_slots_then_lag_counts_from_the_first_missed() -> None:
    vitals = seen(expire=SlotSeen(at(11, 57), at(11, 57, 1)))
    assert _lag(EVERY_MINUTE, vitals, paused=False).lag == 150.0  # 11:58:00 -> 12:00:30


def test_given_interval_entry_never_claimed_then_lag_counts_from_latest_due() -> None:
    assert _lag(EVERY_10_S, seen(), paused=False).lag == 0.0  # 12:00:30 is a slot itself
    later = Vitals({}, 0.0, 0, 0.0, {}, latest_slots={}, now=NOW + timedelta(seconds=4))
    assert _lag(EVERY_10_S, later, paused=False).lag == 4.0


def _events() -> tuple[TaskEvents, CollectorRegistry]:
    registry = CollectorRegistry()
    return TaskEvents(app=None, registry=registry), registry  # type: ignore[arg-type]


def test_given_events_of_two_runs_then_duration_failures_and_retries_counted() -> None:
    events, registry = _events()
    for event in [
        {"type": "task-received", "uuid": "a", "name": "orders.place", "timestamp": 1.0},
        {"type": "task-started", "uuid": "a", "timestamp": 1.0},
        {"type": "task-succeeded", "uuid": "a", "runtime": 0.04, "timestamp": 1.1},
        {"type": "task-received", "uuid": "b", "name": "payments.capture", "timestamp": 2.0},
        {"type": "task-started", "uuid": "b", "timestamp": 2.0},
        {"type": "task-retried", "uuid": "b", "timestamp": 2.5},
        {"type": "task-started", "uuid": "b", "timestamp": 4.0},
        {"type": "task-failed", "uuid": "b", "timestamp": 7.0},
        {"type": "task-succeeded", "uuid": "unknown", "runtime": 9.0},  # before we listened
    ]:
        events.on_event(event)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("backroom_task_duration_seconds_count", task="orders.place") == 1
    assert value("backroom_task_duration_seconds_sum", task="orders.place") == 0.04
    assert value("backroom_task_duration_seconds_count", task="payments.capture") == 2
    assert value("backroom_task_duration_seconds_sum", task="payments.capture") == 3.5
    assert value("backroom_task_failures_total", task="payments.capture") == 1
    assert value("backroom_task_retries_total", task="payments.capture") == 1
    assert value("backroom_task_failures_total", task="orders.place") is None


def test_given_heartbeats_then_online_until_offline() -> None:
    events, _ = _events()
    events.on_event({"type": "worker-heartbeat", "hostname": "a@h", "freq": 2.0})
    events.on_event({"type": "worker-online", "hostname": "b@h", "freq": 2.0})
    assert events.workers_online() == 2
    events.on_event({"type": "worker-offline", "hostname": "a@h"})
    assert events.workers_online() == 1


def test_given_database_away_then_only_broker_figures_and_source_down() -> None:
    snap = Snapshot(queue_depth={"orders": 3}, errors={"database": "connection refused"})
    registry = CollectorRegistry(auto_describe=False)
    registry.register(exporter.StateCollector(lambda: snap))
    body = generate_latest(registry).decode()

    assert 'backroom_queue_depth{queue="orders"} 3.0' in body
    assert 'backroom_source_up{source="database"} 0.0' in body
    assert 'backroom_source_up{source="broker"} 1.0' in body
    assert "backroom_orders" not in body


def test_given_scrapes_within_max_age_then_one_snapshot_serves_them() -> None:
    taken: list[int] = []
    collector = exporter.StateCollector(lambda: taken.append(1) or Snapshot(), max_age=60)
    collector.snapshot()
    collector.snapshot()
    assert len(taken) == 1


@pytest.mark.parametrize(("q", "bound"), [(0.5, 0.1), (0.95, 1.0), (1.0, 1.0)])
def test_given_a_histogram_then_quantile_is_the_bucket_bound_holding_it(
    q: float, bound: float
) -> None:
    figures = scraped.TaskFigures(
        runs=20, buckets=[(0.05, 8), (0.1, 12), (1.0, 20), (float("inf"), 20)]
    )
    assert figures.quantile(q) == bound
