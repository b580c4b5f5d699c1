"""Payment tasks (internal): `payments.capture`, `payments.refund`.

The provider is called outside any transaction (`domain.handlers.orders.capture` is a
`CallOut`); its idempotency key makes every retry, every redelivered message and every
re-drive land on the same single charge.
"""

from __future__ import annotations

from domain import steps
from workers.app import app
from workers.base import execute


@app.task(name=steps.CAPTURE, soft_time_limit=20, time_limit=30)
def capture(order_id: str, outbox_id: int | None = None) -> str:
    return str(execute(steps.CAPTURE, (), {"order_id": order_id}, outbox_id))


@app.task(name=steps.REFUND, soft_time_limit=20, time_limit=30)
def refund(order_id: str, outbox_id: int | None = None) -> str:
    return str(execute(steps.REFUND, (), {"order_id": order_id}, outbox_id))
