"""Report tasks, scheduled by the beat (their payload is the slot they run for):
`reports.nightly` (at 06:00 in the shop's zone: the day before's report, saved and emailed)."""

from __future__ import annotations

from typing import Any

from domain import steps
from workers.app import app
from workers.base import execute


@app.task(name=steps.NIGHTLY_REPORT, soft_time_limit=600, time_limit=660)
def nightly(*args: Any, **kwargs: Any) -> dict[str, object] | str:
    """The report of the day before the slot's, saved and emailed to each recipient once."""
    result: dict[str, object] | str = execute(steps.NIGHTLY_REPORT, args, kwargs)
    return result
