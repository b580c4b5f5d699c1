"""`notifications.send(order_id)` (internal): the pending emails of one order, over SMTP.

The handler (`domain.handlers.orders.send`) locks the order's pending notifications oldest
first, sends each and marks it sent in one transaction: a duplicate message waits for that
transaction and then finds nothing left, and a worker that dies mid-send leaves them pending
for the sweep. The stable Message-ID lets mail systems drop the one repeat that a crash between
the server's 250 and our commit could cause. A refusal is recorded on its notification; a
transient one retries (the task raises `MailUnavailable`), a final one becomes a dead letter.
"""

from __future__ import annotations

from domain.steps import NOTIFY
from workers.app import app
from workers.base import execute


@app.task(name=NOTIFY, soft_time_limit=30, time_limit=40)  # SMTP has a 10 s timeout per email
def send(order_id: str, outbox_id: int | None = None) -> str:
    return str(execute(NOTIFY, (), {"order_id": order_id}, outbox_id))
