"""Payment tasks (internal): `payments.capture`, `payments.refund`.

The provider is called outside any transaction (`domain.handlers.orders.capture` is a
`CallOut`); its idempotency key makes every retry, every redelivered message and every
re-drive land on the same single charge. A provider that cannot answer now is asked again up to
20 times, backing off to a minute apart (about 15 minutes in all): a transient fault, even one
call in three, does not become a dead letter.
"""

from __future__ import annotations

from domain import steps
from workers.app import app
from workers.base import execute

PROVIDER_RETRIES = 20


@app.task(name=steps.CAPTURE, soft_time_limit=20, time_limit=30, max_retries=PROVIDER_RETRIES)
def capture(order_id: str, outbox_id: int | None = None) -> str:
    return str(execute(steps.CAPTURE, (), {"order_id": order_id}, outbox_id))


@app.task(name=steps.REFUND, soft_time_limit=20, time_limit=30, max_retries=PROVIDER_RETRIES)
def refund(order_id: str, outbox_id: int | None = None) -> str:
    return str(execute(steps.REFUND, (), {"order_id": order_id}, outbox_id))
