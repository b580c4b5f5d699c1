"""Inventory tasks. Public: `inventory.restock`. Internal: `inventory.reserve`."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from domain import contracts, steps, uow
from domain.services import stock
from workers.app import app
from workers.base import run_order_step
from workers.runtime import runtime

log = logging.getLogger("backroom.tasks.inventory")


@app.task(name=steps.RESERVE, soft_time_limit=15, time_limit=20)
def reserve(order_id: str, outbox_id: int | None = None) -> str:
    return run_order_step(stock.reserve, order_id, outbox_id, "reserve")


@app.task(name=steps.RESTOCK, bind=True, ignore_result=False)
def restock(self: Task, *args: Any, **kwargs: Any) -> dict[str, object]:
    cmd = contracts.parse(contracts.Restock, args, kwargs)
    key = cmd.idempotency_key or f"task:{self.request.id}"
    result, _ = uow.run(
        runtime().factory, lambda s: stock.restock(s, cmd.sku, cmd.quantity, cmd.reason, key)
    )
    log.info("restock sku=%s %s", cmd.sku, result)
    return result
