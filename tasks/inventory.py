"""Inventory tasks. Public: `inventory.restock`. Internal: `inventory.reserve`."""

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
