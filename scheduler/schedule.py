"""The beat's entries, defined in code: each names its task (a string: the task runs wherever a
worker serves its queue), when its slots fall, and what a beat that was down does about the
slots it missed. Their state (which slots ran, which entries are paused) is in the database
(`domain.services.runs`).

- `sweep` (`orders.sweep`), every `BACKROOM_SWEEP_INTERVAL` seconds: resend what the broker
  lost, re-drive orders that stopped. A missed sweep is skipped: the next one does its work.
- `expire-reservations` (`inventory.expire_reservations`), every minute in the shop's zone:
  the latest missed slot only, as it covers every earlier one.
- `check-reorder` (`inventory.check_reorder`), hourly in the shop's zone: the latest missed
  slot only (one reorder request per SKU per day whatever runs).
- `rollup-today` (`analytics.rollup`), hourly at minute 5 in the shop's zone: the slot's
  local day's daily sales, and the days whose orders changed; the latest missed slot only
  (a day never rolled up is a changed day for the next run).
- `rollup-yesterday` (`analytics.rollup_previous_day`), at 00:15 in the shop's zone: the day
  that just ended, closed; the latest missed slot only, for the same reason.
- `nightly-report` (`reports.nightly`), at 06:00 in the shop's zone: the day before's report,
  saved and emailed; the latest missed slot only (a later day's report is the one to read; an
  earlier one is rebuilt with `backroom report nightly --date`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain import steps
from scheduler.crontab import CatchUp, Cron, CronTable, Every, Timetable, due
from workers.routing import queue_for
from workers.settings import Settings


@dataclass(frozen=True)
class Entry:
    """One scheduled job: its name (what operators type), its task, its slots, its catch-up
    policy (how far back a beat that was down looks: `lookback`) and its queue."""

    name: str
    task: str
    timetable: Timetable
    catch_up: CatchUp
    lookback: timedelta
    queue: str

    def due(self, last: datetime | None, now: datetime) -> list[datetime]:
        """The slots to claim now, after the `last` claimed (None: it never ran)."""
        return due(self.timetable, last=last, now=now, policy=self.catch_up, lookback=self.lookback)


def _entry(
    name: str, task: str, timetable: Timetable, catch_up: CatchUp, lookback: timedelta
) -> Entry:
    return Entry(name, task, timetable, catch_up, lookback, queue_for(task))


def entries(settings: Settings) -> list[Entry]:
    """Every entry the beat runs, with the shop's zone and the sweep's interval."""
    zone = settings.zone
    return [
        _entry(
            "sweep",
            steps.SWEEP,
            Every(timedelta(seconds=settings.sweep_interval)),
            CatchUp.SKIP,
            timedelta(minutes=10),
        ),
        _entry(
            "expire-reservations",
            steps.EXPIRE_RESERVATIONS,
            CronTable(Cron.parse("* * * * *"), zone),
            CatchUp.LATEST,
            timedelta(hours=6),
        ),
        _entry(
            "check-reorder",
            steps.CHECK_REORDER,
            CronTable(Cron.parse("0 * * * *"), zone),
            CatchUp.LATEST,
            timedelta(days=1),
        ),
        _entry(
            "rollup-today",
            steps.ROLLUP,
            CronTable(Cron.parse("5 * * * *"), zone),
            CatchUp.LATEST,
            timedelta(days=1),
        ),
        _entry(
            "rollup-yesterday",
            steps.ROLLUP_PREVIOUS_DAY,
            CronTable(Cron.parse("15 0 * * *"), zone),
            CatchUp.LATEST,
            timedelta(days=2),
        ),
        _entry(
            "nightly-report",
            steps.NIGHTLY_REPORT,
            CronTable(Cron.parse("0 6 * * *"), zone),
            CatchUp.LATEST,
            timedelta(days=2),
        ),
    ]


class UnknownEntry(LookupError):
    """No entry has that name; the message lists the names there are."""


def entry_named(settings: Settings, name: str) -> Entry:
    """The entry called `name`, or `UnknownEntry`."""
    found = {entry.name: entry for entry in entries(settings)}
    if name not in found:
        raise UnknownEntry(f"no scheduled entry {name!r}: there are {', '.join(found)}")
    return found[name]
