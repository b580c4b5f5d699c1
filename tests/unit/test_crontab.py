"""Crontab slots in the shop's time zone: parsing, DST (New York and Berlin, 2026), catch-up.

New York springs forward on 2026-03-08 (02:00 -> 03:00 EDT) and falls back on 2026-11-01
(01:00-01:59 twice); Berlin springs forward on 2026-03-29 (02:00 -> 03:00 CEST) and falls back
on 2026-10-25 (02:00-02:59 twice).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from scheduler.crontab import CatchUp, Cron, CronTable, latest_slot, next_slot, slots_between
from scheduler.crontab import due as due_in

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
ZONE_UTC = ZoneInfo("UTC")
SECOND = timedelta(seconds=1)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)

SPRING_FORWARD = [
    pytest.param(NEW_YORK, date(2026, 3, 8), id="new-york"),
    pytest.param(BERLIN, date(2026, 3, 29), id="berlin"),
]
FALL_BACK = [
    pytest.param(NEW_YORK, date(2026, 11, 1), id="new-york"),
    pytest.param(BERLIN, date(2026, 10, 25), id="berlin"),
]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


def local(zone: ZoneInfo, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def slots_on(text: str, zone: ZoneInfo, day: date) -> list[datetime]:
    """The slots from the local midnight starting the day (included) to the next (excluded)."""
    start, end = local(zone, day, 0), local(zone, day + timedelta(days=1), 0)
    return slots_between(Cron.parse(text), zone, start - SECOND, end - SECOND)


def steps(slots: list[datetime]) -> set[timedelta]:
    """The distinct real times between consecutive slots."""
    return {later - earlier for earlier, later in pairwise(slots)}


# Parsing


def test_given_ranges_steps_lists_and_names_when_parsed_then_each_field_has_its_values() -> None:
    cron = Cron.parse("*/15 9-17/4 1,15 jan-mar MON-fri")

    assert cron.minutes == {0, 15, 30, 45}
    assert cron.hours == {9, 13, 17}
    assert cron.days == {1, 15}
    assert cron.months == {1, 2, 3}
    assert cron.weekdays == {1, 2, 3, 4, 5}
    assert cron.text == "*/15 9-17/4 1,15 jan-mar MON-fri"


def test_given_seven_in_day_of_week_when_parsed_then_it_is_sunday() -> None:
    assert Cron.parse("0 0 * * 7").weekdays == {0}
    assert Cron.parse("0 0 * * 5-7").weekdays == {5, 6, 0}
    assert Cron.parse("0 0 * * sun,0,7").weekdays == {0}


@pytest.mark.parametrize(
    ("text", "every_hour"),
    [("0 * * * *", True), ("*/5 0-23 * * *", True), ("0 9 * * *", False), ("0 */2 * * *", False)],
)
def test_given_an_hour_field_when_parsed_then_every_hour_says_if_it_covers_the_day(
    text: str, every_hour: bool
) -> None:
    assert Cron.parse(text).every_hour is every_hour


@pytest.mark.parametrize(
    ("text", "field", "part"),
    [
        ("60 * * * *", "minute", "60"),
        ("* 24 * * *", "hour", "24"),
        ("* * 0 * *", "day-of-month", "0"),
        ("* * * 13 *", "month", "13"),
        ("* * * * 8", "day-of-week", "8"),
        ("* * * foo *", "month", "foo"),
        ("* * * * mon-funday", "day-of-week", "mon-funday"),
        ("*/0 * * * *", "minute", "*/0"),
        ("* */x * * *", "hour", "*/x"),
        ("5-1 * * * *", "minute", "5-1"),
        ("5/10 * * * *", "minute", "5/10"),
        ("1,,2 * * * *", "minute", ""),
        ("-1 * * * *", "minute", "-1"),
        ("0 0 30 feb *", "day-of-month", "30"),
    ],
)
def test_given_a_bad_field_when_parsed_then_the_error_names_the_field_and_part(
    text: str, field: str, part: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{re.escape(field)} field: .*{re.escape(repr(part))}"):
        Cron.parse(text)


@pytest.mark.parametrize("text", ["* * * *", "* * * * * *", ""])
def test_given_not_five_fields_when_parsed_then_the_error_says_five(text: str) -> None:
    with pytest.raises(ValueError, match="not 5: minute hour day-of-month month day-of-week"):
        Cron.parse(text)


# Days: day-of-month OR day-of-week when both are restricted


@pytest.mark.parametrize(
    ("text", "days"),
    [
        pytest.param("0 12 1 * mon", [1, 2, 9, 16, 23, 30], id="both-restricted-either"),
        pytest.param("0 12 1 * *", [1], id="day-of-month-only"),
        pytest.param("0 12 * * mon", [2, 9, 16, 23, 30], id="day-of-week-only"),
        pytest.param("0 12 1-31 * mon", [2, 9, 16, 23, 30], id="spelt-out-star-is-unrestricted"),
        pytest.param("0 12 1 apr mon", [], id="month-still-required"),
    ],
)
def test_given_day_fields_when_march_2026_is_listed_then_the_days_follow_the_cron_rule(
    text: str, days: list[int]
) -> None:
    slots = slots_between(Cron.parse(text), ZONE_UTC, utc(2026, 3, 1), utc(2026, 4, 1))

    assert [slot.day for slot in slots] == days
    assert all(slot.time() == time(12, 0) for slot in slots)


# DST: spring forward


@pytest.mark.parametrize(("zone", "day"), SPRING_FORWARD)
def test_given_a_daily_job_in_the_gap_when_clocks_spring_forward_then_it_runs_once_at_the_jump(
    zone: ZoneInfo, day: date
) -> None:
    slots = slots_on("30 2 * * *", zone, day)

    assert slots == [local(zone, day, 3).astimezone(UTC)]
    assert slots_on("30 2 * * *", zone, day + timedelta(days=1)) == [
        local(zone, day + timedelta(days=1), 2, 30).astimezone(UTC)
    ]


def test_given_the_jump_then_its_instants_are_the_known_utc_ones() -> None:
    assert slots_on("30 2 * * *", NEW_YORK, date(2026, 3, 8)) == [utc(2026, 3, 8, 7)]
    assert slots_on("30 2 * * *", BERLIN, date(2026, 3, 29)) == [utc(2026, 3, 29, 1)]


@pytest.mark.parametrize(("zone", "day"), SPRING_FORWARD)
def test_given_an_hourly_job_when_clocks_spring_forward_then_23_slots_an_hour_apart(
    zone: ZoneInfo, day: date
) -> None:
    slots = slots_on("0 * * * *", zone, day)

    assert len(slots) == 23
    assert steps(slots) == {HOUR}


@pytest.mark.parametrize(("zone", "day"), SPRING_FORWARD)
def test_given_an_every_minute_job_across_spring_forward_then_no_duplicate_and_none_in_gap(
    zone: ZoneInfo, day: date
) -> None:
    slots = slots_between(Cron.parse("* * * * *"), zone, local(zone, day, 1), local(zone, day, 4))

    walls = [slot.astimezone(zone).time() for slot in slots]
    assert len(slots) == 59 + 60 + 1  # 01:01..01:59, 03:00..03:59 and 04:00
    assert not [wall for wall in walls if time(2, 0) <= wall < time(3, 0)]
    assert steps(slots) == {MINUTE}
    assert walls[58:60] == [time(1, 59), time(3, 0)]


def test_given_a_half_past_hourly_job_when_clocks_spring_forward_then_0230_is_the_jump() -> None:
    slots = slots_on("30 * * * *", NEW_YORK, date(2026, 3, 8))

    walls = [slot.astimezone(NEW_YORK).strftime("%H:%M") for slot in slots]
    assert walls[:4] == ["00:30", "01:30", "03:00", "03:30"]
    assert len(slots) == 24


# DST: fall back


@pytest.mark.parametrize(
    ("zone", "day", "text", "expected"),
    [
        pytest.param(NEW_YORK, date(2026, 11, 1), "30 1 * * *", utc(2026, 11, 1, 5, 30), id="ny"),
        pytest.param(BERLIN, date(2026, 10, 25), "30 2 * * *", utc(2026, 10, 25, 0, 30), id="ber"),
    ],
)
def test_given_a_daily_job_at_a_repeated_time_when_clocks_fall_back_then_once_at_the_first(
    zone: ZoneInfo, day: date, text: str, expected: datetime
) -> None:
    slots = slots_on(text, zone, day)

    assert slots == [expected]
    assert slots[0].astimezone(zone).fold == 0


@pytest.mark.parametrize(("zone", "day"), FALL_BACK)
def test_given_an_hourly_job_when_clocks_fall_back_then_25_slots_an_hour_apart(
    zone: ZoneInfo, day: date
) -> None:
    slots = slots_on("0 * * * *", zone, day)

    assert len(slots) == 25
    assert steps(slots) == {HOUR}


@pytest.mark.parametrize(("zone", "day"), FALL_BACK)
def test_given_an_every_minute_job_when_clocks_fall_back_then_every_real_minute_once(
    zone: ZoneInfo, day: date
) -> None:
    slots = slots_on("* * * * *", zone, day)

    assert len(slots) == 25 * 60
    assert steps(slots) == {MINUTE}


def test_given_every_minute_of_one_hour_when_that_hour_repeats_then_only_its_first_pass() -> None:
    slots = slots_on("* 1 * * *", NEW_YORK, date(2026, 11, 1))

    assert len(slots) == 60
    assert (slots[0], slots[-1]) == (utc(2026, 11, 1, 5, 0), utc(2026, 11, 1, 5, 59))


# Everything else about slots_between


def test_given_the_utc_zone_when_slots_are_listed_then_one_a_day_at_the_wall_time() -> None:
    slots = slots_between(Cron.parse("15 10 * * *"), ZONE_UTC, utc(2026, 3, 7), utc(2026, 3, 10))

    assert slots == [utc(2026, 3, 7, 10, 15), utc(2026, 3, 8, 10, 15), utc(2026, 3, 9, 10, 15)]
    assert all(slot.tzinfo is UTC for slot in slots)


def test_given_bounds_on_slots_then_after_is_excluded_and_until_included() -> None:
    cron = Cron.parse("0 * * * *")

    assert slots_between(cron, ZONE_UTC, utc(2026, 1, 1, 10), utc(2026, 1, 1, 12)) == [
        utc(2026, 1, 1, 11),
        utc(2026, 1, 1, 12),
    ]
    assert slots_between(cron, ZONE_UTC, utc(2026, 1, 1, 12), utc(2026, 1, 1, 10)) == []


def test_given_bounds_in_another_zone_then_they_are_the_same_instants() -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    after, until = utc(2026, 6, 1).astimezone(tokyo), utc(2026, 6, 3).astimezone(tokyo)

    assert slots_between(Cron.parse("0 9 * * *"), BERLIN, after, until) == [
        utc(2026, 6, 1, 7),
        utc(2026, 6, 2, 7),
    ]


def test_given_a_naive_datetime_then_value_error_names_the_argument() -> None:
    cron = Cron.parse("0 * * * *")
    naive = datetime.fromisoformat("2026-01-01T00:00:00")

    with pytest.raises(ValueError, match="until must be an aware datetime"):
        slots_between(cron, ZONE_UTC, utc(2026, 1, 1), naive)
    with pytest.raises(ValueError, match="now must be an aware datetime"):
        due_in(CronTable(cron, ZONE_UTC), last=None, now=naive, policy=CatchUp.ALL, lookback=HOUR)


def test_given_an_every_minute_job_over_a_year_then_every_real_minute_once() -> None:
    slots = slots_between(Cron.parse("* * * * *"), NEW_YORK, utc(2026, 1, 1), utc(2027, 1, 1))

    assert len(slots) == 365 * 24 * 60
    assert steps(slots) == {MINUTE}


# next_slot and latest_slot


def test_given_the_eve_of_spring_forward_when_asked_next_then_the_jump() -> None:
    cron = Cron.parse("30 2 * * *")

    after = local(NEW_YORK, date(2026, 3, 7), 12)
    assert next_slot(cron, NEW_YORK, after) == utc(2026, 3, 8, 7)
    assert next_slot(cron, NEW_YORK, utc(2026, 3, 8, 7)) == utc(2026, 3, 9, 6, 30)


def test_given_a_leap_day_job_when_asked_next_then_the_next_leap_day_years_away() -> None:
    cron = Cron.parse("0 0 29 feb *")

    assert next_slot(cron, ZONE_UTC, utc(2026, 6, 1)) == utc(2028, 2, 29)
    assert next_slot(cron, ZONE_UTC, utc(2096, 3, 1)) == utc(2104, 2, 29)


def test_given_an_instant_on_a_slot_when_asked_latest_then_that_slot() -> None:
    cron = Cron.parse("*/10 * * * *")

    assert latest_slot(cron, BERLIN, utc(2026, 5, 1, 10, 20)) == utc(2026, 5, 1, 10, 20)
    assert latest_slot(cron, BERLIN, utc(2026, 5, 1, 10, 29, 59)) == utc(2026, 5, 1, 10, 20)


def test_given_a_yearly_job_when_asked_latest_then_last_years_slot() -> None:
    cron = Cron.parse("0 9 1 jan *")

    assert latest_slot(cron, BERLIN, utc(2026, 12, 31)) == utc(2026, 1, 1, 8)


def test_given_no_slot_in_400_days_when_asked_latest_then_none() -> None:
    assert latest_slot(Cron.parse("0 0 29 2 *"), ZONE_UTC, utc(2026, 6, 1)) is None


# due: a job every 10 minutes, last claimed at 10:00 UTC

EVERY_TEN = Cron.parse("*/10 * * * *")
MISSED = [utc(2026, 5, 1, 10, minute) for minute in (10, 20, 30, 40, 50)] + [utc(2026, 5, 1, 11)]


def due(
    policy: CatchUp, *, last: datetime | None, now: datetime, lookback: timedelta = 2 * HOUR
) -> list[datetime]:
    table = CronTable(EVERY_TEN, BERLIN)
    return due_in(table, last=last, now=now, policy=policy, lookback=lookback)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(CatchUp.SKIP, []), (CatchUp.LATEST, MISSED[-1:]), (CatchUp.ALL, MISSED)],
)
def test_given_a_beat_down_for_an_hour_when_it_ticks_then_the_policy_picks_the_missed(
    policy: CatchUp, expected: list[datetime]
) -> None:
    assert due(policy, last=utc(2026, 5, 1, 10), now=utc(2026, 5, 1, 11, 5, 30)) == expected


def test_given_a_short_lookback_when_all_are_caught_up_then_only_slots_within_it() -> None:
    slots = due(
        CatchUp.ALL, last=utc(2026, 5, 1, 10), now=utc(2026, 5, 1, 11, 5), lookback=HOUR / 2
    )

    assert slots == [utc(2026, 5, 1, 10, 40), utc(2026, 5, 1, 10, 50), utc(2026, 5, 1, 11)]


def test_given_a_lookback_shorter_than_the_outage_when_latest_then_none_older() -> None:
    late = due(CatchUp.LATEST, last=utc(2026, 5, 1, 9), now=utc(2026, 5, 1, 11, 9), lookback=MINUTE)

    assert late == []


@pytest.mark.parametrize("policy", list(CatchUp))
def test_given_an_on_time_tick_then_every_policy_claims_the_one_slot(policy: CatchUp) -> None:
    assert due(policy, last=utc(2026, 5, 1, 10, 50), now=utc(2026, 5, 1, 11, 0, 20)) == MISSED[-1:]


@pytest.mark.parametrize("policy", list(CatchUp))
def test_given_the_slot_already_claimed_then_nothing_is_due(policy: CatchUp) -> None:
    assert due(policy, last=utc(2026, 5, 1, 11), now=utc(2026, 5, 1, 11, 0, 20)) == []


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(CatchUp.SKIP, MISSED[-1:]), (CatchUp.LATEST, MISSED[-1:]), (CatchUp.ALL, MISSED)],
)
def test_given_an_entry_that_never_ran_when_on_time_then_missed_within_lookback(
    policy: CatchUp, expected: list[datetime]
) -> None:
    assert due(policy, last=None, now=utc(2026, 5, 1, 11, 0, 20), lookback=HOUR) == expected


@pytest.mark.parametrize(
    ("policy", "expected"),
    [(CatchUp.SKIP, []), (CatchUp.LATEST, MISSED[-1:]), (CatchUp.ALL, MISSED)],
)
def test_given_an_entry_that_never_ran_when_late_then_skip_claims_nothing(
    policy: CatchUp, expected: list[datetime]
) -> None:
    assert due(policy, last=None, now=utc(2026, 5, 1, 11, 5), lookback=HOUR) == expected


def test_given_a_slot_exactly_grace_old_when_skip_then_it_is_still_on_time() -> None:
    now = utc(2026, 5, 1, 11, 1)

    assert due(CatchUp.SKIP, last=utc(2026, 5, 1, 10, 50), now=now) == MISSED[-1:]
    assert due(CatchUp.SKIP, last=utc(2026, 5, 1, 10, 50), now=now + SECOND) == []


def test_given_a_beat_down_across_spring_forward_when_all_then_each_real_hour_once() -> None:
    slots = due_in(
        CronTable(Cron.parse("0 * * * *"), NEW_YORK),
        last=utc(2026, 3, 8, 5),  # 00:00 EST
        now=utc(2026, 3, 8, 9, 0, 30),  # 05:00:30 EDT
        policy=CatchUp.ALL,
        lookback=timedelta(days=1),
    )

    assert slots == [utc(2026, 3, 8, hour) for hour in (6, 7, 8, 9)]
