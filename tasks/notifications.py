"""`notifications.send` (internal): one customer email, claimed, sent over SMTP, recorded."""

from __future__ import annotations

import logging
import uuid

from domain import uow
from domain.notifications import render
from domain.ports import MailRejected, MailUnavailable
from domain.services import notify
from domain.steps import NOTIFY
from workers.app import app
from workers.runtime import runtime

log = logging.getLogger("backroom.tasks.notifications")


@app.task(name=NOTIFY)
def send(notification_id: str) -> str:
    rt = runtime()
    nid = uuid.UUID(notification_id)
    claimed, _ = uow.run(rt.factory, lambda s: notify.claim(s, nid, rt.clock.now()))
    if claimed is None:
        return "skipped"
    email = render(
        claimed.kind, claimed.context, to=claimed.recipient, message_id=f"{nid}@backroom"
    )
    try:
        rt.mailer.send(email)
    except (MailRejected, MailUnavailable) as error:
        reason, final = str(error), isinstance(error, MailRejected)
        uow.run(rt.factory, lambda s: notify.unsent(s, nid, reason, final=final))
        raise
    uow.run(rt.factory, lambda s: notify.sent(s, nid, rt.clock.now()))
    log.info("notification=%s kind=%s sent to %s", nid, claimed.kind, claimed.recipient)
    return "sent"
