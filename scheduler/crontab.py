"""When a scheduled job's slots fall: five-field crontabs in the shop's time zone, DST defined.

The beat claims each slot exactly once (a UNIQUE (entry, slot UTC) row), so a slot is a
deterministic UTC instant. Local wall-clock times become instants by these rules:

1. Slots are generated from the local wall-clock times that match the cron fields, on each
   local date that matches (month, and day-of-month / day-of-week as `Cron` says).
2. A wall-clock time that does not exist (spring forward: 02:30 on the day clocks jump from
   02:00 to 03:00) maps to the next valid instant, the moment of the jump (03:00 local, the
   first wall time after the gap). A daily job at 02:30 runs once that day, at 03:00 local.
   Several nonexistent times (an every-minute job) all map to that one instant, which is one
   slot: duplicates are removed.
3. A wall-clock time that occurs twice (fall back: 01:00-01:59 happens twice) is one slot, its
   first occurrence (fold=0), unless the entry runs every hour (`Cron.every_hour`): then both
   occurrences are slots, as they are different real hours. A daily job at 01:30 runs once on
   the fall-back day; an hourly job (`0 * * * *`) runs once per real hour on both DST days:
   23 slots on the spring-forward day and 25 on the fall-back day (local day boundaries), each
   one real hour apart.
4. Everything returned is an aware UTC datetime. Instants taken (`after`, `until`, `now`,
   `last`) must be aware, in any zone; a naive one raises ValueError.

Slots are computed per matching local date and per matching (hour, minute), never per minute
of a range. A date whose first and last matching wall times are ordinary (neither skipped nor
repeated) and share one UTC offset is computed with that offset alone: exact, because no zone
in the tz database changes its offset twice within a day (its transitions are days apart).
Other dates (the DST days) take each wall time through rules 2 and 3.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import groupby
from typing import Protocol
from zoneinfo import ZoneInfo

_FIELD_NAMES = "minute hour day-of-month month day-of-week"
_LONGEST_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # days, leap years included
_NEXT_HORIZON = timedelta(days=3300)  # over 8 years: Feb 29 skips 2100, waiting 2096 -> 2104
_LATEST_HORIZON = timedelta(days=400)
_FIRST_WINDOW = timedelta(days=2)  # growing windows keep a frequent job's search short
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Field:
    """One crontab field: the numbers it accepts, the names it knows, what '*' stands for."""

    name: str
    low: int
    high: int
    star_high: int  # the highest value '*' stands for (day-of-week: 6, as 7 is Sunday again)
    names: tuple[str, ...] = ()  # names[0] stands for `low`
    seven_is_sunday: bool = False

    def parse(self, text: str) -> frozenset[int]:
        """The values of a comma-separated list of parts; day-of-week's 7 becomes 0 (Sunday)."""
        values = {value for part in text.split(",") for value in self._part(part)}
        return frozenset(value % 7 if self.seven_is_sunday else value for value in values)

    def error(self, part: str, reason: str) -> ValueError:
        return ValueError(f"{self.name} field: bad part {part!r}: {reason}")

    def _part(self, part: str) -> range:
        """The values one part stands for: '*', 'a', 'a-b', '*/n' or 'a-b/n'."""
        span, slash, step_text = part.partition("/")
        step = self._step(step_text, part) if slash else 1
        if span == "*":
            return range(self.low, self.star_high + 1, step)
        low_text, dash, high_text = span.partition("-")
        if slash and not dash:
            raise self.error(part, "a step needs '*' or a range 'a-b' before it")
        low = self._value(low_text, part)
        high = self._value(high_text, part) if dash else low
        if low > high:
            raise self.error(part, f"the range runs backwards ({low} > {high})")
        return range(low, high + 1, step)

    def _step(self, text: str, part: str) -> int:
        if not (text.isascii() and text.isdigit()) or int(text) == 0:
            raise self.error(part, f"step {text!r} is not a positive whole number")
        return int(text)

    def _value(self, token: str, part: str) -> int:
        """The number a token stands for: digits, or one of the field's names (any case)."""
        if token.lower() in self.names:
            return self.low + self.names.index(token.lower())
        if not (token.isascii() and token.isdigit()):
            kind = "a number or a name" if self.names else "a number"
            raise self.error(part, f"{token!r} is not {kind}")
        if not self.low <= int(token) <= self.high:
            raise self.error(part, f"{int(token)} is outside {self.low}-{self.high}")
        return int(token)


_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELDS = (
    _Field("minute", 0, 59, 59),
    _Field("hour", 0, 23, 23),
    _Field("day-of-month", 1, 31, 31),
    _Field("month", 1, 12, 12, _MONTH_NAMES),
    _Field("day-of-week", 0, 7, 6, _WEEKDAY_NAMES, seven_is_sunday=True),
)
_EVERY_HOUR = frozenset(range(24))
_EVERY_DAY = frozenset(range(1, 32))
_EVERY_WEEKDAY = frozenset(range(7))


@dataclass(frozen=True)
class Cron:
    """A five-field crontab: minute hour day-of-month month day-of-week (0 or 7 = Sunday,
    1 = Monday ... like cron).

    A date matches when its month matches and its day does. Standard cron rule: when both
    day-of-month and day-of-week are restricted, a day matches if EITHER matches; otherwise
    both must (the unrestricted one matches every day). A field is unrestricted when it
    covers its whole range: '*', or the same spelt out ('1-31', '0-6', '*/1').
    """

    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    every_hour: bool  # the hour field covers every hour of the day ('*', or '0-23')
    text: str

    @classmethod
    def parse(cls, text: str) -> Cron:
        """Parse `minute hour day-of-month month day-of-week`; parts are '*', 'a', 'a-b', 'a,b',
        '*/n' and 'a-b/n', months and weekdays may be names ('jan', 'mon'). A bad expression,
        or days that never occur ('30 feb'), raises ValueError naming the field and the part.
        """
        fields = text.split()
        if len(fields) != len(_FIELDS):
            raise ValueError(f"crontab {text!r} has {len(fields)} fields, not 5: {_FIELD_NAMES}")
        minutes, hours, days, months, weekdays = (
            field.parse(part) for field, part in zip(_FIELDS, fields, strict=True)
        )
        cron = cls(minutes, hours, days, months, weekdays, hours == _EVERY_HOUR, " ".join(fields))
        if not any(cron._can_fall_in(month) for month in months):
            raise ValueError(
                f"day-of-month field: {fields[2]!r} never falls in month field {fields[3]!r}"
            )
        return cron

    def _runs_on(self, day: date) -> bool:
        """Whether the date matches: its month, and its day of month and/or day of week."""
        if day.month not in self.months:
            return False
        by_day, by_weekday = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        if self.days != _EVERY_DAY and self.weekdays != _EVERY_WEEKDAY:
            return by_day or by_weekday
        return by_day and by_weekday

    def _can_fall_in(self, month: int) -> bool:
        """Whether some day of the month (in some year) can match: '31' never does in 'apr'."""
        only_days = self.days != _EVERY_DAY and self.weekdays == _EVERY_WEEKDAY
        return not only_days or min(self.days) <= _LONGEST_MONTH[month - 1]


def slots_between(cron: Cron, zone: ZoneInfo, after: datetime, until: datetime) -> list[datetime]:
    """The entry's slots s with after < s <= until, as aware UTC datetimes, ascending, no
    duplicates."""
    start, end = _to_utc(after, "after"), _to_utc(until, "until")
    times = sorted(timedelta(hours=h, minutes=m) for h in cron.hours for m in cron.minutes)
    if end <= start or not times:
        return []
    found = [
        slot
        for day in _local_dates(zone, start, end)
        if cron._runs_on(day)
        for slot in _day_slots(cron, zone, day, times)
        if start < slot <= end
    ]
    return [slot for slot, _ in groupby(sorted(found))]  # equal slots are adjacent once sorted


def next_slot(cron: Cron, zone: ZoneInfo, after: datetime) -> datetime:
    """The first slot strictly after `after` (UTC). Raises ValueError if there is none within
    3300 days (a parsed Cron always has one: a Feb 29 comes back within 8 years)."""
    start = _to_utc(after, "after")
    first = _first_between(cron, zone, start, start + _NEXT_HORIZON)
    if first is None:
        raise ValueError(f"crontab {cron.text!r} has no slot within {_NEXT_HORIZON.days} days")
    return first


def latest_slot(cron: Cron, zone: ZoneInfo, at_or_before: datetime) -> datetime | None:
    """The last slot at or before the instant (UTC), searching back at most 400 days, or None."""
    end = _to_utc(at_or_before, "at_or_before")
    return _latest_between(cron, zone, end - _LATEST_HORIZON, end)


class CatchUp(enum.StrEnum):
    """What a beat claims for the slots it missed (it was down, or a tick came late)."""

    SKIP = "skip"  # a missed slot is skipped: only a slot that is on time (now - slot <= grace)
    LATEST = "latest"  # of the missed slots, only the latest
    ALL = "all"  # every missed slot within the lookback


class Timetable(Protocol):
    """When an entry's slots fall: a crontab in a zone (`CronTable`) or a fixed interval
    (`Every`)."""

    @property
    def text(self) -> str: ...

    def slots_between(self, after: datetime, until: datetime) -> list[datetime]: ...

    def latest_between(self, after: datetime, until: datetime) -> datetime | None: ...

    def next_after(self, after: datetime) -> datetime: ...


@dataclass(frozen=True)
class CronTable:
    """A crontab read in the shop's time zone, with the DST rules above."""

    cron: Cron
    zone: ZoneInfo

    @property
    def text(self) -> str:
        return f"{self.cron.text} ({self.zone.key})"

    def slots_between(self, after: datetime, until: datetime) -> list[datetime]:
        return slots_between(self.cron, self.zone, after, until)

    def latest_between(self, after: datetime, until: datetime) -> datetime | None:
        return _latest_between(
            self.cron, self.zone, _to_utc(after, "after"), _to_utc(until, "until")
        )

    def next_after(self, after: datetime) -> datetime:
        return next_slot(self.cron, self.zone, after)


@dataclass(frozen=True)
class Every:
    """A slot every `interval`, at whole multiples of it since the Unix epoch (UTC): the same
    instants whoever computes them, with no time zone in play."""

    interval: timedelta

    @property
    def text(self) -> str:
        return f"every {self.interval.total_seconds():g} s"

    def _index(self, moment: datetime, name: str) -> int:
        return (_to_utc(moment, name) - _EPOCH) // self.interval

    def slots_between(self, after: datetime, until: datetime) -> list[datetime]:
        first, last = self._index(after, "after") + 1, self._index(until, "until")
        return [_EPOCH + n * self.interval for n in range(first, last + 1)]

    def latest_between(self, after: datetime, until: datetime) -> datetime | None:
        latest = _EPOCH + self._index(until, "until") * self.interval
        return latest if latest > _to_utc(after, "after") else None

    def next_after(self, after: datetime) -> datetime:
        return _EPOCH + (self._index(after, "after") + 1) * self.interval


def due(
    table: Timetable,
    *,
    last: datetime | None,
    now: datetime,
    policy: CatchUp,
    lookback: timedelta,
    grace: timedelta = timedelta(seconds=60),
) -> list[datetime]:
    """The slots to claim now (UTC, ascending). Missed slots are those in (last, now], or, when
    the entry never ran (last is None), those in (now - lookback, now]. SKIP: the latest missed
    slot if now - slot <= grace, else none. LATEST: the latest missed slot with slot > now -
    lookback. ALL: every missed slot with slot > now - lookback, ascending.
    """
    end = _to_utc(now, "now")
    if lookback <= timedelta(0) or grace < timedelta(0):
        raise ValueError(f"lookback must be positive and grace not negative: {lookback}, {grace}")
    since = end - lookback if last is None else _to_utc(last, "last")
    policy = CatchUp(policy)
    if policy == CatchUp.SKIP:
        latest = table.latest_between(since, end)
        return [latest] if latest is not None and end - latest <= grace else []
    since = max(since, end - lookback)
    if policy == CatchUp.LATEST:
        latest = table.latest_between(since, end)
        return [] if latest is None else [latest]
    return table.slots_between(since, end)


def _to_utc(moment: datetime, name: str) -> datetime:
    """The instant in UTC; a naive datetime names no instant and raises ValueError."""
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _first_between(cron: Cron, zone: ZoneInfo, after: datetime, until: datetime) -> datetime | None:
    """The first slot in (after, until], or None: searched in windows growing forwards."""
    window = _FIRST_WINDOW
    while after < until:
        end = min(until, after + window)
        slots = slots_between(cron, zone, after, end)
        if slots:
            return slots[0]
        after, window = end, window * 8
    return None


def _latest_between(
    cron: Cron, zone: ZoneInfo, after: datetime, until: datetime
) -> datetime | None:
    """The last slot in (after, until], or None: searched in windows growing backwards."""
    window = _FIRST_WINDOW
    while until > after:
        start = max(after, until - window)
        slots = slots_between(cron, zone, start, until)
        if slots:
            return slots[-1]
        until, window = start, window * 8
    return None


def _local_dates(zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[date]:
    """The local dates whose slots can fall in [start, end]: a day's margin each side, as a
    skipped time moves forward to the jump and a repeated one falls after the wall time."""
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        yield day
        day += timedelta(days=1)


def _day_slots(cron: Cron, zone: ZoneInfo, day: date, times: list[timedelta]) -> list[datetime]:
    """A date's slots from its matching times of day (ascending): with one UTC offset when the
    first and last are ordinary and share it, else each wall time by rules 2 and 3."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    offset = _plain_offset(midnight + times[0])
    if offset is not None and offset == _plain_offset(midnight + times[-1]):
        utc_midnight = midnight.replace(tzinfo=UTC) - offset
        return [utc_midnight + time for time in times]
    return [slot for time in times for slot in _instants(midnight + time, zone, cron.every_hour)]


def _plain_offset(wall: datetime) -> timedelta | None:
    """The wall time's UTC offset if it is ordinary (occurs exactly once), else None."""
    offset = wall.utcoffset()
    return offset if offset == wall.replace(fold=1).utcoffset() else None


def _instants(wall: datetime, zone: ZoneInfo, every_hour: bool) -> tuple[datetime, ...]:
    """The slots of one local wall time (fold=0): itself if ordinary, the jump if skipped
    (rule 2), its first occurrence, or both for an every-hour entry, if repeated (rule 3)."""
    first, second = wall.astimezone(UTC), wall.replace(fold=1).astimezone(UTC)
    if first > second:  # skipped: fold=0 reads it with the offset before the jump, fold=1 after
        return (_jump(zone, second, first),)
    if first < second and every_hour:
        return (first, second)
    return (first,)


def _jump(zone: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant clocks jump forward, given a UTC instant before it and one at or after it:
    the first whole second with the offset the zone has after the jump (bisection)."""
    target = after.astimezone(zone).utcoffset()
    low, high = 0, int((after - before).total_seconds())
    while high - low > 1:
        middle = (low + high) // 2
        if (before + timedelta(seconds=middle)).astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return before + timedelta(seconds=high)
