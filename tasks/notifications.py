"""`notifications.send` (internal): one customer email, sent over SMTP, recorded once.

The row is taken with `FOR UPDATE SKIP LOCKED` and marked sent in the same transaction as
the SMTP conversation: a second worker with the same message skips it, and a worker that
dies mid-send leaves it pending for the sweep. The stable Message-ID lets mail systems drop
the one repeat that a crash between the server's 250 and our commit could cause.
"""

from __future__ import annotations

import logging
import uuid

from domain import uow
from domain.notifications import render
from domain.ports import MailRejected, MailUnavailable
from domain.services import notify
from domain.steps import NOTIFY
from workers.app import app
from workers.runtime import Runtime, runtime

log = logging.getLogger("backroom.tasks.notifications")


@app.task(name=NOTIFY, soft_time_limit=30, time_limit=40)  # SMTP has a 10 s timeout
def send(notification_id: str, outbox_id: int | None = None) -> str:
    rt = runtime()
    nid = uuid.UUID(notification_id)
    try:
        result, _ = uow.run(rt.factory, lambda s: _send(s, rt, nid), consumed=outbox_id)
    except (MailRejected, MailUnavailable) as error:
        reason, final = str(error), isinstance(error, MailRejected)
        uow.run(rt.factory, lambda s: notify.unsent(s, nid, reason, final=final))
        raise
    return result


def _send(session: notify.Session, rt: Runtime, nid: uuid.UUID) -> str:
    claimed = notify.take(session, nid)
    if claimed is None:
        return "skipped"
    email = render(
        claimed.kind, claimed.context, to=claimed.recipient, message_id=f"{nid}@backroom"
    )
    rt.mailer.send(email)
    notify.sent(session, nid, rt.clock.now())
    log.info(
        "order=%s notification=%s kind=%s sent", claimed.context["order_number"], nid, claimed.kind
    )
    return "sent"
