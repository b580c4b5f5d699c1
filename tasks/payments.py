"""Payment tasks (internal): `payments.capture`, `payments.refund`.

The provider is called outside any transaction; its idempotency key makes every retry, every
redelivered message and every re-drive land on the same single charge.
"""

from __future__ import annotations

import logging
import uuid

from domain import steps, uow
from domain.ports import PaymentDeclined
from domain.services import payments
from workers.app import app
from workers.base import publish
from workers.runtime import runtime

log = logging.getLogger("backroom.tasks.payments")


@app.task(name=steps.CAPTURE, soft_time_limit=20, time_limit=30)
def capture(order_id: str, outbox_id: int | None = None) -> str:
    rt = runtime()
    oid = uuid.UUID(order_id)
    request, _ = uow.run(rt.factory, lambda s: payments.request(s, oid))
    if request is None:
        uow.run(rt.factory, lambda s: None, consumed=outbox_id)
        return "skipped"
    gateway = rt.gateway
    try:
        captured = payments.charge(gateway, request)
    except PaymentDeclined as declined:
        reason = str(declined)
        result, next_steps = uow.run(
            rt.factory,
            lambda s: payments.declined(s, oid, reason, rt.clock.now()),
            consumed=outbox_id,
        )
    else:
        result, next_steps = uow.run(
            rt.factory,
            lambda s: payments.captured(s, oid, captured, gateway.name, rt.clock.now()),
            consumed=outbox_id,
        )
    publish(next_steps)
    log.debug("order_id=%s capture -> %s", order_id, result)
    return result


@app.task(name=steps.REFUND, soft_time_limit=20, time_limit=30)
def refund(order_id: str, outbox_id: int | None = None) -> str:
    rt = runtime()
    oid = uuid.UUID(order_id)
    request, _ = uow.run(rt.factory, lambda s: payments.refund_request(s, oid))
    if request is None:
        uow.run(rt.factory, lambda s: None, consumed=outbox_id)
        return "skipped"
    key, amount = request
    done = rt.gateway.refund(idempotency_key=key, amount=amount)
    result, _ = uow.run(
        rt.factory, lambda s: payments.refunded(s, oid, done, rt.clock.now()), consumed=outbox_id
    )
    log.info("order_id=%s refund -> %s", order_id, result)
    return result
