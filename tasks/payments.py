"""Payment tasks (internal): `payments.capture`, `payments.refund`.

The provider is called outside any transaction; its idempotency key makes every retry, every
redelivered message and every re-drive land on the same single charge.
"""

from __future__ import annotations

import logging
import uuid

from domain import steps
from domain.services import payments
from workers.app import app
from workers.base import publish
from workers.runtime import runtime

log = logging.getLogger("backroom.tasks.payments")


@app.task(name=steps.CAPTURE, soft_time_limit=20, time_limit=30)
def capture(order_id: str, outbox_id: int | None = None) -> str:
    rt = runtime()
    result, next_steps = payments.capture_step(
        rt.factory, rt.gateway, uuid.UUID(order_id), rt.clock.now, consumed=outbox_id
    )
    publish(next_steps)
    log.debug("order_id=%s capture -> %s", order_id, result)
    return result


@app.task(name=steps.REFUND, soft_time_limit=20, time_limit=30)
def refund(order_id: str, outbox_id: int | None = None) -> str:
    rt = runtime()
    result = payments.refund_step(
        rt.factory, rt.gateway, uuid.UUID(order_id), rt.clock.now, consumed=outbox_id
    )
    log.info("order_id=%s refund -> %s", order_id, result)
    return result
