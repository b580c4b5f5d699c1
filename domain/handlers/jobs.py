"""Handlers of the beat's scheduled jobs: each is given its slot and works on the slot's
window, never on the clock (`work.now` only stamps what the job does).

    inventory.expire_reservations (every minute): unpaid orders past their hold cancelled
    inventory.check_reorder (hourly): low stock asked of its vendors, one email per vendor
    analytics.rollup (hourly): the slot's shop-local day's daily sales, and the changed days
    analytics.rollup_previous_day (nightly): the day before the slot's, and the changed days
    reports.nightly (06:00): the day before the slot's report, saved, emailed once per recipient

Running a slot once is the runner's business; each job is also safe to run again for the same
slot or the next one: what it did is in the database, and it does nothing twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from domain import reports, uow
from domain.contracts import Slot
from domain.handlers.flow import after
from domain.handlers.step import Done, JobPolicy, Work
from domain.services import analytics, expiry, reorder, report, report_delivery

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
    # Committed at once (UNIQUE (sku, day) makes it once a day whatever becomes of this run),
    # so that each vendor's email can be marked sent on its own the moment it went out.
    requested = uow.read(work.ports.factory, lambda s: reorder.request(s, day, slot.slot))
    mailing = reorder.email_vendors(work.session, work.ports.factory, work.ports.mailer, work.now)
    result = {"requested": requested, "vendors_emailed": len(mailing.sent)}
    log.info("slot=%s day=%s reorder %s", slot.slot.isoformat(), day, result)
    return Done(result, error=mailing.error)


def rollup(work: Work, slot: Slot) -> Done:
    """`analytics.rollup`: the daily sales of the slot's shop-local day written again, then
    those of every day of the look-back whose orders changed since its rows were written."""
    day = slot.slot.astimezone(work.ports.jobs.zone).date()
    return Done(_roll_up(work, day))


def rollup_previous_day(work: Work, slot: Slot) -> Done:
    """`analytics.rollup_previous_day`: as `rollup`, for the day before the slot's local day
    (the nightly run after midnight closes the day that just ended)."""
    day = slot.slot.astimezone(work.ports.jobs.zone).date() - timedelta(days=1)
    return Done(_roll_up(work, day))


def _roll_up(work: Work, day: date) -> dict[str, object]:
    """Roll up `day`, then the changed days of the `analytics.LOOKBACK` before it."""
    zone = work.ports.jobs.zone
    rolled = [analytics.rollup(work.session, day, zone)]
    since = day - analytics.LOOKBACK
    dirty = [d for d in analytics.dirty_days(work.session, zone, since, day) if d != day]
    rolled += [analytics.rollup(work.session, d, zone) for d in dirty]
    result = {
        "day": day.isoformat(),
        "dirty": [d.isoformat() for d in dirty],
        "written": sum(r.written for r in rolled),
        "deleted": sum(r.deleted for r in rolled),
    }
    log.info("rollup %s", result)
    return result


def nightly_report(work: Work, slot: Slot) -> Done:
    """`reports.nightly`: the report of the day before the slot's local day, built and saved
    (`build_report`), then emailed to each recipient it has not gone to. A refusal by the mail
    server ends the step with its error once the recipients reached are recorded."""
    jobs = work.ports.jobs
    day = slot.slot.astimezone(jobs.zone).date() - timedelta(days=1)
    built = build_report(work.session, jobs, day)
    before, mailing = report_delivery.deliver(
        work.session,
        work.ports.factory,
        work.ports.mailer,
        built.nightly,
        built.files,
        jobs.report_recipients,
        work.now,
    )
    result = {
        "day": day.isoformat(),
        "folder": str(built.folder),
        "emailed": mailing.sent,
        "emailed_before": before,
        "refused": [recipient for recipient, _ in mailing.refused],
    }
    log.info("nightly report %s", result)
    return Done(result, error=mailing.error)


@dataclass(frozen=True)
class Built:
    """A report built: its numbers, its files (name: content), the folder they were saved in."""

    nightly: report.Nightly
    files: dict[str, bytes]
    folder: Path


def build_report(session: Session, jobs: JobPolicy, day: date) -> Built:
    """The report of the shop-local `day`, saved in `jobs.reports/YYYY-MM-DD/` (replacing what
    was there). The days of its chart whose orders changed since they were rolled up are rolled
    up first, so the report's numbers are the rollups' and current."""
    first = day - timedelta(days=report.DAYS - 1)
    for changed in analytics.dirty_days(session, jobs.zone, first, day):
        analytics.rollup(session, changed, jobs.zone)
    nightly = report.read(session, day, jobs.zone)
    rendered = reports.files(nightly)
    folder = reports.save(jobs.reports / day.isoformat(), rendered)
    return Built(nightly, rendered, folder)
