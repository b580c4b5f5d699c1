"""docs/grafana-dashboard.json shows what `backroom metrics` serves: every metric a panel
queries is one the exporter has, and every metric the exporter has is on some panel."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest

from domain.services.vitals import SlotSeen, Vitals
from workers.observe import exporter
from workers.observe.events import TaskEvents
from workers.observe.snapshot import EntryLag, Snapshot

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json"
NAME = re.compile(r"\bbackroom_[a-z_]+\b")
SUFFIXES = ("_bucket", "_count", "_sum", "_created")


def served() -> set[str]:
    """The metric families a full scrape holds (every source readable, a task counted)."""
    now = datetime(2026, 12, 6, tzinfo=UTC)
    snap = Snapshot(
        queue_depth={"orders": 1},
        vitals=Vitals(
            {"pending": 1}, 1.0, 1, 1.0, {"orders.place": 1}, {"sweep": SlotSeen(now, now)}, now
        ),
        schedule={"sweep": EntryLag(0.5, False)},
    )
    registry = exporter.registry(exporter.StateCollector(lambda: snap))
    events = TaskEvents(app=None, registry=registry)  # type: ignore[arg-type]
    for event in [
        {"type": "task-received", "uuid": "a", "name": "orders.place"},
        {"type": "task-started", "uuid": "a", "timestamp": 1.0},
        {"type": "task-retried", "uuid": "a", "timestamp": 2.0},
        {"type": "task-failed", "uuid": "a", "timestamp": 3.0},
    ]:
        events.on_event(event)
    text = generate_latest(registry).decode()
    return {re.sub("(_total)?$", "", n) for n in re.findall(r"^# TYPE (\S+)", text, re.M)}


def queried(board: dict[str, Any]) -> set[str]:
    names = set()
    for panel in board["panels"]:
        for target in panel["targets"]:
            for name in NAME.findall(target["expr"]):
                for suffix in (*SUFFIXES, "_total"):
                    name = name.removesuffix(suffix)
                names.add(name)
    return names


def test_given_the_dashboard_then_it_queries_only_served_metrics_and_all_of_them() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert queried(board) <= served(), queried(board) - served()
    assert served() <= queried(board), f"not on the dashboard: {served() - queried(board)}"


def test_given_the_dashboard_then_it_imports_with_any_prometheus_data_source() -> None:
    board = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in board["__inputs"]] == ["DS_PROMETHEUS"]
    sources = {json.dumps(p["datasource"]) for p in board["panels"]}
    assert sources == {json.dumps({"type": "prometheus", "uid": "${DS_PROMETHEUS}"})}
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
