"""`notifications.send(order_id)` (internal): the pending emails of one order, over SMTP.

The handler (`domain.handlers.orders.send`) leases the order's due emails in one statement,
hands each to the mail server with no transaction open and marks it sent as soon as the server
took it (`domain.services.notify`). A duplicate message finds the emails leased or sent and does
nothing. A server that cannot take mail now does not fail the task: the emails are put off and
the sweep sends them when due, so an outage adds no retries of its own; an email refused for
good, or still not taken after its last attempt, ends the task with that error (a dead letter).

The hard time limit is shorter than an email's lease, so a lease never ends while its sender
is alive; the soft one bounds how long a sender waits for the database to record a mark.
"""

from __future__ import annotations

from domain.services.notify import SEND_SOFT_TIME_LIMIT, SEND_TIME_LIMIT
from domain.steps import NOTIFY
from workers.app import app
from workers.base import execute


@app.task(name=NOTIFY, soft_time_limit=SEND_SOFT_TIME_LIMIT, time_limit=SEND_TIME_LIMIT)
def send(order_id: str, outbox_id: int | None = None) -> str:
    return str(execute(NOTIFY, (), {"order_id": order_id}, outbox_id))
