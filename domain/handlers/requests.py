"""Handlers of what other systems and the beat ask for besides placing an order: cancel an
order, report on one, restock a SKU (closing the reorder request it names), and sweep (the
beat's recovery of lost steps)."""

from __future__ import annotations

import logging
from typing import Any

from domain.contracts import CancelOrder, OrderStatusQuery, Restock, Sweep
from domain.handlers.flow import WAITS_FOR, after, order_step, waits_for
from domain.handlers.step import Done, Work
from domain.services import orders, reorder, runs, stock, sweep
from domain.steps import NOTIFY
from domain.uow import Next

log = logging.getLogger("backroom.orders")


def cancel(work: Work, cmd: CancelOrder) -> Done:
    """`orders.cancel`: an order that has not shipped is cancelled (stock back, a payment not
    taken cancelled); then its refund if it was paid, and the email. `Refused` (a domain
    error) when there is no such order or it has shipped."""
    outcome = orders.cancel(work.session, cmd, work.now)
    log.info("order=%s cancelled status=%s", cmd.order_number, outcome.status.value)
    result = {"order_number": cmd.order_number, "status": outcome.status.value}
    return Done(result, after(outcome))


def status(work: Work, query: OrderStatusQuery) -> Done:
    """`orders.status`: where an order stands, with its history."""
    return Done(orders.status(work.session, query.order_number))


def restock(work: Work, cmd: Restock) -> Done:
    """`inventory.restock`: units received, added once per idempotency key; the reorder
    request it names, if any, closed by it (a request for another SKU, or none by that number,
    refuses the whole restock)."""
    key = cmd.idempotency_key
    if key is None:
        raise ValueError("inventory.restock needs its idempotency key (the task supplies one)")
    result = stock.restock(work.session, cmd.sku, cmd.quantity, cmd.reason, key)
    if cmd.reorder_request is not None and not result["duplicate"]:
        closed = reorder.close(work.session, cmd.reorder_request, cmd.sku, key, work.now)
        result |= {"reorder_request": cmd.reorder_request, "request_closed": closed}
    log.info("restock sku=%s %s", cmd.sku, result)
    return Done(result)


def sweep_orders(work: Work, _: Sweep) -> Done:
    """`orders.sweep`: outbox rows lost on the way are sent again as they are; orders that
    stopped moving get the step their state waits for again; emails left waiting get a send;
    finished scheduled runs past their keeping are deleted.
    Every step is idempotent, so re-driving an order that was merely slow does no harm."""
    policy, session = work.ports.sweep, work.session
    resend = sweep.unpublished(session, policy.publish_after, policy.limit)
    stuck = sweep.stuck_orders(session, WAITS_FOR, policy.stuck_after, policy.limit)
    redrive = [_step_for(order) for order in stuck]
    waiting = sweep.unsent_emails(session, policy.stuck_after, policy.limit)
    sends = [order_step(NOTIFY, order_id) for order_id in waiting]
    counts: dict[str, Any] = {
        "republished": len(resend),
        "redriven_orders": len(redrive),
        "redriven_notifications": len(sends),
        "pruned_runs": runs.prune(session, policy.keep_runs, policy.limit),
    }
    if any(counts.values()):
        log.info("sweep %s", counts)
    return Done(counts, (*redrive, *sends), tuple(resend))


def _step_for(order: sweep.StuckOrder) -> Next:
    task = waits_for(order.status, order.payment_status)
    assert task is not None, f"{order} is in no waiting state"
    return order_step(task, order.id)
