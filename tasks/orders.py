"""Order tasks. Public: `orders.place`, `.cancel`, `.status`. Internal: `.fulfil`, `.sweep`.

Each task parses its payload, runs its step's handler (`domain.handlers`) and publishes the
next steps: `workers.base.execute`.
"""

from __future__ import annotations

from typing import Any

from domain import steps
from workers.app import app
from workers.base import execute


@app.task(name=steps.PLACE, ignore_result=False, soft_time_limit=15, time_limit=20)
def place(*args: Any, **kwargs: Any) -> dict[str, str]:
    result: dict[str, str] = execute(steps.PLACE, args, kwargs)
    return result


@app.task(name=steps.CANCEL, ignore_result=False)
def cancel(*args: Any, **kwargs: Any) -> dict[str, str]:
    result: dict[str, str] = execute(steps.CANCEL, args, kwargs)
    return result


@app.task(name=steps.STATUS, ignore_result=False)
def status(*args: Any, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = execute(steps.STATUS, args, kwargs)
    return result


@app.task(name=steps.FULFIL, soft_time_limit=15, time_limit=20)
def fulfil(order_id: str, outbox_id: int | None = None) -> str:
    return str(execute(steps.FULFIL, (), {"order_id": order_id}, outbox_id))


@app.task(name=steps.SWEEP)
def sweep_orders(*args: Any, outbox_id: int | None = None, **kwargs: Any) -> dict[str, int]:
    """Sent by the beat with its slot (`entry`, `slot`), or run by hand with none."""
    result: dict[str, int] = execute(steps.SWEEP, args, kwargs, outbox_id)
    return result
