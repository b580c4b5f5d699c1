"""Inventory tasks. Public: `inventory.restock`. Internal: `inventory.reserve`. Scheduled by
the beat (their payload is the slot they run for): `inventory.expire_reservations` (every
minute), `inventory.check_reorder` (hourly)."""

from __future__ import annotations

from typing import Any

from celery import Task

from domain import steps
from workers.app import app
from workers.base import execute


@app.task(name=steps.RESERVE, soft_time_limit=15, time_limit=20)
def reserve(order_id: str, outbox_id: int | None = None) -> str:
    return str(execute(steps.RESERVE, (), {"order_id": order_id}, outbox_id))


@app.task(name=steps.RESTOCK, bind=True, ignore_result=False)
def restock(self: Task, *args: Any, **kwargs: Any) -> dict[str, object]:
    """Without an `idempotency_key`, the task's id is the key: a redelivery adds nothing."""
    if "idempotency_key" not in kwargs or kwargs["idempotency_key"] is None:
        kwargs = {**kwargs, "idempotency_key": f"task:{self.request.id}"}
    result: dict[str, object] = execute(steps.RESTOCK, args, kwargs)
    return result


@app.task(name=steps.EXPIRE_RESERVATIONS, soft_time_limit=45, time_limit=55)
def expire_reservations(*args: Any, **kwargs: Any) -> dict[str, int] | str:
    """The slot's overdue reservations expired; a slot that already succeeded says so."""
    result: dict[str, int] | str = execute(steps.EXPIRE_RESERVATIONS, args, kwargs)
    return result


@app.task(name=steps.CHECK_REORDER, soft_time_limit=600, time_limit=660)
def check_reorder(*args: Any, **kwargs: Any) -> dict[str, int] | str:
    """The slot's reorder requests made and emailed; a slot that already succeeded says so."""
    result: dict[str, int] | str = execute(steps.CHECK_REORDER, args, kwargs)
    return result
