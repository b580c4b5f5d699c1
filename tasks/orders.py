"""Order tasks. Public: `orders.place`, `.cancel`, `.status`. Internal: `.fulfil`, `.sweep`."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from domain import contracts, steps, uow
from domain.services import fulfilment, orders, sweep
from workers.app import app
from workers.base import Refused, publish, run_order_step
from workers.runtime import runtime

log = logging.getLogger("backroom.tasks.orders")


@app.task(name=steps.PLACE, ignore_result=False, soft_time_limit=15, time_limit=20)
def place(*args: Any, **kwargs: Any) -> dict[str, str]:
    cmd = contracts.parse(contracts.PlaceOrder, args, kwargs)
    rt = runtime()
    placed, next_steps = uow.run(rt.factory, lambda s: orders.place(s, cmd, rt.clock.now()))
    publish(next_steps)
    log.info("order=%s placed=%s key=%s", placed.order_number, placed.created, cmd.idempotency_key)
    return {
        "order_id": placed.order_id,
        "order_number": placed.order_number,
        "status": placed.status,
    }


@app.task(name=steps.CANCEL, ignore_result=False)
def cancel(*args: Any, **kwargs: Any) -> dict[str, str]:
    cmd = contracts.parse(contracts.CancelOrder, args, kwargs)
    rt = runtime()
    try:
        result, next_steps = uow.run(rt.factory, lambda s: orders.cancel(s, cmd, rt.clock.now()))
    except (orders.NotCancellable, orders.OrderNotFound) as refused:
        raise Refused(str(refused)) from None
    publish(next_steps)
    log.info("order=%s cancelled status=%s", cmd.order_number, result["status"])
    return result


@app.task(name=steps.STATUS, ignore_result=False)
def status(*args: Any, **kwargs: Any) -> dict[str, Any]:
    cmd = contracts.parse(contracts.OrderStatusQuery, args, kwargs)
    try:
        result, _ = uow.run(runtime().factory, lambda s: orders.status(s, cmd.order_number))
    except orders.OrderNotFound as refused:
        raise Refused(str(refused)) from None
    return result


@app.task(name=steps.FULFIL, soft_time_limit=15, time_limit=20)
def fulfil(order_id: str, outbox_id: int | None = None) -> str:
    return run_order_step(fulfilment.fulfil, order_id, outbox_id, "fulfil")


@app.task(name=steps.SWEEP)
def sweep_orders(outbox_id: int | None = None) -> dict[str, int]:
    rt = runtime()
    settings = rt.settings
    report, redriven = uow.run(
        rt.factory,
        lambda s: sweep.sweep(
            s,
            publish_after=timedelta(seconds=settings.sweep_publish_after),
            stuck_after=timedelta(seconds=settings.sweep_stuck_after),
        ),
    )
    publish(report.republished + redriven)
    counts = {
        "republished": len(report.republished),
        "redriven_orders": report.redriven_orders,
        "redriven_notifications": report.redriven_notifications,
    }
    if any(counts.values()):
        log.info("sweep %s", counts)
    return counts
