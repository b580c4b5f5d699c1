"""Analytics tasks, scheduled by the beat (their payload is the slot they run for):
`analytics.rollup` (hourly: the slot's shop-local day) and `analytics.rollup_previous_day`
(nightly: the day before it), each with the days whose orders changed since."""

from __future__ import annotations

from typing import Any

from domain import steps
from workers.app import app
from workers.base import execute


@app.task(name=steps.ROLLUP, soft_time_limit=600, time_limit=660)
def rollup(*args: Any, **kwargs: Any) -> dict[str, object] | str:
    """The slot's day rolled up, and the changed days; a slot that already succeeded says so."""
    result: dict[str, object] | str = execute(steps.ROLLUP, args, kwargs)
    return result


@app.task(name=steps.ROLLUP_PREVIOUS_DAY, soft_time_limit=600, time_limit=660)
def rollup_previous_day(*args: Any, **kwargs: Any) -> dict[str, object] | str:
    """The day before the slot's rolled up, and the changed days."""
    result: dict[str, object] | str = execute(steps.ROLLUP_PREVIOUS_DAY, args, kwargs)
    return result
