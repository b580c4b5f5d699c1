"""Task durations, failures and retries, counted from the workers' Celery events.

Every worker sends task events (`worker_send_task_events`) from its main process, whatever
pool runs the task, to the broker's event exchange, from every machine. `TaskEvents` listens
to them in a thread of its own and keeps Prometheus metrics:

- `backroom_task_duration_seconds{task}`, a histogram of how long each run took in the pool:
  Celery's `runtime` for a success, the time from `task-started` to `task-failed` or
  `task-retried` for the others (both stamped by the same worker's clock);
- `backroom_task_failures_total{task}`: runs that ended failed (bad input refused, retries
  exhausted, a permanent error); `backroom_task_retries_total{task}`: runs that will be retried;
- `backroom_workers_online`: workers whose heartbeat was heard recently.

Only the `task-received` event names the task, so a run received before the listener started
is not counted. Counters start at zero when the listener starts, as Prometheus expects of a
process that restarted (`rate()` and `increase()` handle it). Events are not stored by the
broker: while the listener is away they are lost, and so is what they would have counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

from celery import Celery
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger("backroom.metrics")

# From a few milliseconds (a step) to the report's minutes.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
KEEP = 50_000  # tasks remembered between their received and their last event
ONLINE_AFTER_MISSED = 3  # a worker is offline after this many heartbeats missed


class TaskEvents:
    """The task metrics, and the thread that keeps them from the workers' events."""

    def __init__(self, app: Celery, registry: CollectorRegistry) -> None:
        self.app = app
        self.duration = Histogram(
            "backroom_task_duration_seconds",
            "How long task runs took in the worker pool, by task.",
            ["task"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.failures = Counter(
            "backroom_task_failures",
            "Task runs that failed for good, by task.",
            ["task"],
            registry=registry,
        )
        self.retries = Counter(
            "backroom_task_retries",
            "Task runs that will be retried, by task.",
            ["task"],
            registry=registry,
        )
        Gauge(
            "backroom_workers_online",
            "Workers whose heartbeat was heard recently.",
            registry=registry,
        ).set_function(self.workers_online)
        self._tasks: OrderedDict[str, list[Any]] = OrderedDict()  # uuid -> [name, started]
        self._workers: dict[str, float] = {}  # hostname -> when it is considered gone
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._receiver: Any = None
        self.connected = threading.Event()

    def on_event(self, event: dict[str, Any]) -> None:
        """Count one event (the listener calls this for every event it receives)."""
        kind = str(event.get("type", ""))
        with self._lock:
            if kind.startswith("worker-"):
                self._worker(kind, event)
            elif kind.startswith("task-"):
                self._task(kind, event)

    def _worker(self, kind: str, event: dict[str, Any]) -> None:
        host = str(event.get("hostname"))
        if kind == "worker-offline":
            self._workers.pop(host, None)
            return
        every = float(event.get("freq") or 2.0)
        self._workers[host] = time.monotonic() + every * ONLINE_AFTER_MISSED

    def _task(self, kind: str, event: dict[str, Any]) -> None:
        uuid = str(event.get("uuid"))
        if kind == "task-received":
            self._remember(uuid, [str(event.get("name")), None])
            return
        known = self._tasks.get(uuid)
        if known is None:
            return  # received before the listener started: its name is unknown
        name, started = known
        if kind == "task-started":
            known[1] = float(event.get("timestamp") or 0)
        elif kind == "task-succeeded":
            self.duration.labels(name).observe(float(event.get("runtime") or 0))
            self._tasks.pop(uuid, None)
        elif kind in ("task-failed", "task-retried"):
            if started is not None:
                self.duration.labels(name).observe(max(0.0, event["timestamp"] - started))
            (self.failures if kind == "task-failed" else self.retries).labels(name).inc()
            if kind == "task-failed":
                self._tasks.pop(uuid, None)

    def _remember(self, uuid: str, task: list[Any]) -> None:
        self._tasks[uuid] = task
        while len(self._tasks) > KEEP:
            self._tasks.popitem(last=False)

    def workers_online(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for until in self._workers.values() if until > now)

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._listen, name="task-events", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()
        if self._receiver is not None:
            self._receiver.should_stop = True

    def _listen(self) -> None:
        """Receive events until stopped, connecting again (after 1 s, up to 30 s) whenever the
        broker goes away."""
        wait = 1.0
        while not self._stop.is_set():
            try:
                self._capture()
                wait = 1.0
            except Exception as error:
                self.connected.clear()
                log.warning("task events: broker unreachable (%s); again in %.0f s", error, wait)
            self._stop.wait(wait)
            wait = min(wait * 2, 30.0)

    def _capture(self) -> None:
        with self.app.connection_for_read() as connection:
            self._receiver = self.app.events.Receiver(
                connection, handlers={"*": self.on_event}, app=self.app
            )
            self._receiver.should_stop = self._stop.is_set()
            connection.ensure_connection(max_retries=1)
            self.connected.set()
            self._receiver.capture(limit=None, timeout=None, wakeup=True)
