"""Handlers of the beat's scheduled jobs: each is given its slot and works on the slot's
window, never on the clock (`work.now` only stamps what the job does).

    inventory.expire_reservations (every minute): unpaid orders past their hold cancelled
    inventory.check_reorder (hourly): low stock asked of its vendors, one email per vendor

Running a slot once is the runner's business; each job is also safe to run again for the same
slot or the next one: what it did is in the database, and it does nothing twice.
"""

from __future__ import annotations

import logging

from domain.contracts import Slot
from domain.handlers.flow import after
from domain.handlers.step import Done, Work
from domain.services import expiry, reorder

log = logging.getLogger("backroom.jobs")


def expire_reservations(work: Work, slot: Slot) -> Done:
    """`inventory.expire_reservations`: every order still unpaid `reservation_hold` after it
    was placed, as of the slot, cancelled (stock released, payment cancelled); then each
    cancelled order's email."""
    hold = work.ports.jobs.reservation_hold
    outcomes = expiry.expire(work.session, slot.slot, hold, work.now)
    expired = sum(outcome.moved for outcome in outcomes)
    if expired:
        log.info("slot=%s expired %d reservation(s)", slot.slot.isoformat(), expired)
    return Done({"expired": expired}, tuple(step for o in outcomes for step in after(o)))


def check_reorder(work: Work, slot: Slot) -> Done:
    """`inventory.check_reorder`: one reorder request per low stock SKU per shop-local day
    (the slot's date in the shop's zone), then one email per vendor listing its requests not
    emailed yet. A refusal by the mail server ends the step with its error once what went out
    is recorded."""
    day = slot.slot.astimezone(work.ports.jobs.zone).date()
    requested = reorder.request(work.session, day, slot.slot)
    mailing = reorder.email_vendors(work.session, work.ports.mailer, slot.slot, work.now)
    result = {"requested": requested, "vendors_emailed": len(mailing.sent)}
    log.info("slot=%s day=%s reorder %s", slot.slot.isoformat(), day, result)
    return Done(result, error=mailing.error)
