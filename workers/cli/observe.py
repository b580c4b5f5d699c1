"""`backroom metrics` (Prometheus) and `backroom status` (the same figures as a table).

Both read the queues from the broker and the pipeline's state from the database
(`workers.observe`). Task durations and failures come from the workers' events, which only a
running `backroom metrics` hears: `status` reads them from its endpoint (`--metrics-url`).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict

from prometheus_client import start_http_server
from sqlalchemy import Engine

from domain.db import make_engine
from scheduler.schedule import entries
from workers.cli.output import fail, out
from workers.cli.servers import served
from workers.observe import exporter, scraped
from workers.observe.events import TaskEvents
from workers.observe.snapshot import Snapshot, take
from workers.settings import Settings

log = logging.getLogger("backroom.metrics")
DEFAULT_PORT = 9808


def _taker(settings: Settings, engine: Engine) -> Callable[[], Snapshot]:
    from workers.app import app

    listed = entries(settings)
    return lambda: take(app, engine, listed)


def cmd_metrics(settings: Settings, args: argparse.Namespace) -> int:
    """Serve /metrics until SIGTERM or SIGINT."""
    with served(settings) as urls:
        assert urls.database_url is not None
        from workers.app import app

        engine = make_engine(urls.database_url, pool_size=1)
        collector = exporter.StateCollector(_taker(settings, engine), max_age=args.max_age)
        registry = exporter.registry(collector)
        events = TaskEvents(app, registry)
        events.start()
        server, _ = start_http_server(args.port, args.address, registry)
        log.warning("serving metrics on http://%s:%d/metrics", args.address, args.port)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        stop.wait()
        server.shutdown()
        events.stop()
        engine.dispose()
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """Print the snapshot (and the exporter's task figures); exit 1 when a source is away."""
    with served(settings) as urls:
        assert urls.database_url is not None
        engine = make_engine(urls.database_url, pool_size=0)
        try:
            snap = _taker(settings, engine)()
        finally:
            engine.dispose()
    tasks, why = _tasks(args.metrics_url)
    if args.json:
        out(json.dumps(_as_json(snap, tasks, why), indent=2, default=str))
    else:
        for line in _table(snap, tasks, why, args.metrics_url):
            out(line)
    for source, error in snap.errors.items():
        fail(f"the {source} could not be read: {error}")
    return 1 if snap.errors else 0


def _tasks(url: str) -> tuple[dict[str, scraped.TaskFigures] | None, str | None]:
    try:
        return scraped.task_figures(url), None
    except OSError as error:
        return None, f"no metrics at {url} ({error}): start `backroom metrics`"


def _as_json(
    snap: Snapshot, tasks: dict[str, scraped.TaskFigures] | None, why: str | None
) -> dict[str, object]:
    shown = {
        name: asdict(f) | {"mean": f.mean, "p95": f.quantile(0.95)}
        for name, f in (tasks or {}).items()
    }
    return {
        "queues": snap.queue_depth,
        "database": None if snap.vitals is None else asdict(snap.vitals),
        "schedule": {name: asdict(lag) for name, lag in snap.schedule.items()},
        "tasks": shown if tasks is not None else None,
        "errors": snap.errors | ({"metrics": why} if why else {}),
    }


def _table(
    snap: Snapshot, tasks: dict[str, scraped.TaskFigures] | None, why: str | None, url: str
) -> list[str]:
    lines: list[str] = []
    if snap.queue_depth is not None:
        lines += _section("queue", ["waiting"], {q: [n] for q, n in snap.queue_depth.items()})
    seen = snap.vitals
    if seen is not None:
        lines += _section("order status", ["orders"], {s: [n] for s, n in seen.orders.items()})
        lines += _section(
            "pipeline",
            ["value"],
            {
                "oldest open order (s)": [f"{seen.oldest_open_order_age:.1f}"],
                "outbox unconsumed": [seen.outbox_unconsumed],
                "outbox oldest (s)": [f"{seen.outbox_oldest_age:.1f}"],
            },
        )
        letters = {task: [n] for task, n in seen.dead_letters_open.items()} or {"(none)": [0]}
        lines += _section("open dead letters", ["count"], letters)
        lines += _section(
            "schedule entry",
            ["lag (s)", "paused"],
            {
                name: [f"{lag.lag:.1f}", "yes" if lag.paused else "no"]
                for name, lag in snap.schedule.items()
            },
        )
    if tasks is None:
        return [*lines, f"tasks: {why}"]
    return lines + _section(
        f"task (since {url} started)",
        _TASK_HEAD,
        {name: _task_row(f) for name, f in sorted(tasks.items())},
    )


_TASK_HEAD = ["runs", "failures", "retries", "mean (s)", "p95 (s) <="]


def _task_row(f: scraped.TaskFigures) -> list[object]:
    mean, p95 = f.mean, f.quantile(0.95)
    shown = ["-" if v is None else f"{v:.3f}" for v in (mean, p95)]
    return [f.runs, f.failures, f.retries, *shown]


def _section(title: str, head: list[str], rows: Mapping[str, Sequence[object]]) -> list[str]:
    """A titled table: the first column left-aligned, the others right-aligned."""
    table = [[title, *head]] + [[name, *map(str, cells)] for name, cells in rows.items()]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(
            [row[0].ljust(widths[0])]
            + [c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)]
        ).rstrip()
        for row in table
    ]
    return [*lines, ""]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    metrics = sub.add_parser("metrics", help="serve Prometheus metrics (queues, orders, tasks)")
    metrics.add_argument("--port", type=int, default=DEFAULT_PORT)
    metrics.add_argument("--address", default="127.0.0.1")
    metrics.add_argument(
        "--max-age",
        type=float,
        default=5.0,
        help="seconds a reading of the broker and database serves scrapes (default 5)",
    )
    metrics.set_defaults(handler=cmd_metrics)
    status = sub.add_parser("status", help="print queues, orders, dead letters, schedule, tasks")
    status.add_argument(
        "--metrics-url",
        default=f"http://127.0.0.1:{DEFAULT_PORT}/metrics",
        help="a running `backroom metrics`, for the task figures",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    status.set_defaults(handler=cmd_status)
