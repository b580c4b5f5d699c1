"""The beat's entries, in the shop's time zone, across both DST changes of 2026 in New York."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.crontab import CatchUp
from scheduler.schedule import UnknownEntry, entries, entry_named
from workers.settings import load_settings

NEW_YORK = ZoneInfo("America/New_York")
SETTINGS = load_settings(timezone="America/New_York", sweep_interval="30")


def _local_day(day: str) -> tuple[datetime, datetime]:
    """(midnight before the day, the day's last instant), local, as UTC bounds."""
    start = datetime.fromisoformat(day).replace(tzinfo=NEW_YORK)
    end = (start + timedelta(days=1)).replace(tzinfo=NEW_YORK)
    return start.astimezone(UTC) - timedelta(microseconds=1), end.astimezone(UTC) - timedelta(
        microseconds=1
    )


@pytest.mark.parametrize(("day", "hours"), [("2026-03-08", 23), ("2026-11-01", 25)])
def test_given_a_dst_day_then_the_reorder_check_runs_once_per_real_hour(
    day: str, hours: int
) -> None:
    table = entry_named(SETTINGS, "check-reorder").timetable

    slots = table.slots_between(*_local_day(day))

    assert len(slots) == hours
    assert all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(slots))


@pytest.mark.parametrize(("day", "minutes"), [("2026-03-08", 23 * 60), ("2026-11-01", 25 * 60)])
def test_given_a_dst_day_then_expiry_runs_once_per_real_minute(day: str, minutes: int) -> None:
    table = entry_named(SETTINGS, "expire-reservations").timetable

    slots = table.slots_between(*_local_day(day))

    assert len(slots) == len(set(slots)) == minutes


def test_given_the_shops_zone_then_hourly_slots_fall_on_local_hours() -> None:
    table = entry_named(SETTINGS, "check-reorder").timetable
    winter = datetime(2026, 12, 6, 9, 30, tzinfo=NEW_YORK)

    assert table.next_after(winter) == datetime(2026, 12, 6, 10, 0, tzinfo=NEW_YORK)
    assert table.next_after(winter).utcoffset() == timedelta(0)  # slots are UTC


def test_given_the_sweep_then_its_slots_are_the_same_instants_in_any_zone() -> None:
    sweep = entry_named(SETTINGS, "sweep")
    utc_sweep = entry_named(load_settings(timezone="UTC", sweep_interval="30"), "sweep")
    moment = datetime(2026, 3, 8, 6, 59, 50, tzinfo=UTC)  # across New York's jump

    assert sweep.timetable.slots_between(moment, moment + timedelta(minutes=2)) == (
        utc_sweep.timetable.slots_between(moment, moment + timedelta(minutes=2))
    )
    assert sweep.catch_up == CatchUp.SKIP


def test_given_the_entries_then_each_is_routed_to_its_tasks_queue() -> None:
    found = {entry.name: (entry.task, entry.queue) for entry in entries(SETTINGS)}

    assert found == {
        "sweep": ("orders.sweep", "orders"),
        "expire-reservations": ("inventory.expire_reservations", "inventory"),
        "check-reorder": ("inventory.check_reorder", "inventory"),
        "rollup-today": ("analytics.rollup", "reports"),
        "rollup-yesterday": ("analytics.rollup_previous_day", "reports"),
        "nightly-report": ("reports.nightly", "reports"),
    }


def test_given_an_unknown_name_then_the_error_lists_the_entries() -> None:
    names = (
        "sweep, expire-reservations, check-reorder, rollup-today, rollup-yesterday, nightly-report"
    )
    with pytest.raises(UnknownEntry, match=names):
        entry_named(SETTINGS, "nightly")
