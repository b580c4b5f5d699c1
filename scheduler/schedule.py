"""Beat entries, by task name. Times are UTC; the sweep runs every `sweep_interval` seconds."""

from __future__ import annotations

from typing import Any

from domain import steps
from workers.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "sweep-outbox-and-stuck-orders": {
            "task": steps.SWEEP,
            "schedule": settings.sweep_interval,
            "options": {"expires": settings.sweep_interval},
        },
    }
