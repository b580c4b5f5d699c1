"""The task figures of a running `backroom metrics`, read back from its endpoint for
`backroom status` (only the exporter hears the workers' events, so only it knows them)."""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

DURATION = "backroom_task_duration_seconds"


@dataclass
class TaskFigures:
    """One task's runs since the exporter started."""

    runs: int = 0
    failures: int = 0
    retries: int = 0
    seconds: float = 0.0  # their total duration
    buckets: list[tuple[float, float]] = field(default_factory=list)  # (le, cumulative count)

    @property
    def mean(self) -> float | None:
        return self.seconds / self.runs if self.runs else None

    def quantile(self, q: float) -> float | None:
        """The upper bound of the histogram bucket that holds the q-quantile."""
        if not self.runs:
            return None
        return next((le for le, count in sorted(self.buckets) if count >= q * self.runs), None)


def task_figures(url: str, timeout: float = 5.0) -> dict[str, TaskFigures]:
    """Per task, what the exporter at `url` counted; raises OSError when it does not answer."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode()
    found: dict[str, TaskFigures] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            task = sample.labels.get("task")
            if task is not None:
                _add(found.setdefault(task, TaskFigures()), sample.name, sample)
    return found


def _add(figures: TaskFigures, name: str, sample: object) -> None:
    value = float(sample.value)  # type: ignore[attr-defined]
    if name == f"{DURATION}_count":
        figures.runs = int(value)
    elif name == f"{DURATION}_sum":
        figures.seconds = value
    elif name == f"{DURATION}_bucket":
        figures.buckets.append((float(sample.labels["le"]), value))  # type: ignore[attr-defined]
    elif name == "backroom_task_failures_total":
        figures.failures = int(value)
    elif name == "backroom_task_retries_total":
        figures.retries = int(value)
