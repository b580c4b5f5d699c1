"""Inventory tasks. Public: `inventory.restock`. Internal: `inventory.reserve`."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import Task

from domain import contracts, steps, uow
from domain.services import stock
from workers.app import app
from workers.base import publish
from workers.runtime import runtime

log = logging.getLogger("backroom.tasks.inventory")


@app.task(name=steps.RESERVE, soft_time_limit=15, time_limit=20)
def reserve(order_id: str, outbox_id: int | None = None) -> str:
    rt = runtime()
    oid = uuid.UUID(order_id)
    result, next_steps = uow.run(
        rt.factory, lambda s: stock.reserve(s, oid, rt.clock.now()), consumed=outbox_id
    )
    publish(next_steps)
    log.info("order_id=%s reserve -> %s", order_id, result)
    return result


@app.task(name=steps.RESTOCK, bind=True, ignore_result=False)
def restock(self: Task, *args: Any, **kwargs: Any) -> dict[str, object]:
    cmd = contracts.parse(contracts.Restock, args, kwargs)
    key = cmd.idempotency_key or f"task:{self.request.id}"
    result, _ = uow.run(
        runtime().factory, lambda s: stock.restock(s, cmd.sku, cmd.quantity, cmd.reason, key)
    )
    log.info("restock sku=%s %s", cmd.sku, result)
    return result
