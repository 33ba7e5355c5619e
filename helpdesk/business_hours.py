"""Business-hours arithmetic: pure functions over a weekly schedule in a time zone.

A `Schedule` is the immutable form of a `BusinessHours` row with its periods and holidays
(`load_schedule` builds it); every function also takes the row itself, or `None` for "open 24/7".
Instants are aware datetimes, answers are in UTC.

- Business time is real elapsed time inside open periods: 00:00-04:00 lasts three hours on the night
  clocks spring forward and five on the night they fall back.
- A local time that does not exist (02:30 when clocks jump from 02:00 to 03:00) is read with the offset
  before the jump, so it lands an hour later (03:30), and a local time that happens twice is its first
  occurrence: RFC 5545's rule, and Python's `fold=0`.
- A holiday closes its whole local day. A period ending at 00:00 ends at midnight, so an overnight shift is
  two periods that join up across midnight.
- The work is proportional to the number of local days looked at, never to minutes. Looking forward stops
  after `HORIZON`: a schedule that is never open (no periods at all) answers at once, `next_open` gives
  None and `add_business_time` raises `NeverOpen`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from helpdesk.models import BusinessHours

HORIZON = timedelta(days=3 * 366)
MIDNIGHT = time(0)
ONE_DAY = timedelta(days=1)

Interval = tuple[datetime, datetime]


class NeverOpen(ValueError):
    """The schedule has no open time within the horizon."""


@dataclasses.dataclass(frozen=True)
class Period:
    weekday: int  # 0 is Monday, as in date.weekday()
    start: time
    end: time  # 00:00 is midnight at the end of the day

    def __post_init__(self) -> None:
        if not 0 <= self.weekday <= 6:
            raise ValueError(f"weekday {self.weekday} is not 0 (Monday) to 6 (Sunday)")
        if self.end != MIDNIGHT and self.start >= self.end:
            raise ValueError(f"period {self.start}-{self.end} ends before it starts")


@dataclasses.dataclass(frozen=True)
class Schedule:
    time_zone: ZoneInfo
    periods: tuple[Period, ...]
    holidays: frozenset[date] = frozenset()
    # Local (start, end) offsets from midnight per weekday, sorted and with overlaps merged.
    _by_weekday: tuple[tuple[tuple[timedelta, timedelta], ...], ...] = dataclasses.field(
        init=False, repr=False, compare=False
    )
    # Open intervals per local day, computed once: SLA clocks of a batch of tickets walk the same days.
    _days: dict[date, list[Interval]] = dataclasses.field(init=False, repr=False, compare=False, default_factory=dict)

    def __post_init__(self) -> None:
        by_weekday = []
        for weekday in range(7):
            spans = sorted((_offset(p.start), _offset(p.end) or ONE_DAY) for p in self.periods if p.weekday == weekday)
            merged: list[tuple[timedelta, timedelta]] = []
            for start, end in spans:
                if merged and start <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end))
                else:
                    merged.append((start, end))
            by_weekday.append(tuple(merged))
        object.__setattr__(self, "_by_weekday", tuple(by_weekday))

    @classmethod
    def build(
        cls, time_zone: str, periods: Iterable[tuple[int, time, time]], holidays: Iterable[date] = ()
    ) -> Schedule:
        return cls(ZoneInfo(time_zone), tuple(Period(*period) for period in periods), frozenset(holidays))

    @property
    def never_open(self) -> bool:
        return not self.periods

    def day_intervals(self, day: date) -> list[Interval]:
        """The open intervals of one local day, in UTC, sorted and disjoint."""
        if day not in self._days:
            self._days[day] = self._compute_day(day)
        return self._days[day]

    def _compute_day(self, day: date) -> list[Interval]:
        if day in self.holidays:
            return []
        midnight = datetime.combine(day, MIDNIGHT)
        intervals = []
        for start, end in self._by_weekday[day.weekday()]:
            opens = _instant(midnight + start, self.time_zone)
            closes = _instant(midnight + end, self.time_zone)
            if opens < closes:  # empty when the period lies inside a spring-forward gap
                intervals.append((opens, closes))
        return _merge(sorted(intervals))


ScheduleLike = Schedule | BusinessHours | None


def load_schedule(business_hours: BusinessHours | None) -> Schedule | None:
    """The schedule of a `BusinessHours` row (two queries, or none if they were prefetched)."""
    if business_hours is None:
        return None
    return Schedule(
        ZoneInfo(business_hours.time_zone),
        tuple(Period(p.weekday, p.start_time, p.end_time) for p in business_hours.periods.all()),
        frozenset(holiday.date for holiday in business_hours.holidays.all()),
    )


def is_open(schedule: ScheduleLike, at: datetime) -> bool:
    schedule = _as_schedule(schedule)
    _check_aware(at)
    if schedule is None:
        return True
    local_day = at.astimezone(schedule.time_zone).date()
    # The neighbouring days too: around a fall-back change a local date and an instant can disagree.
    return any(
        opens <= at < closes
        for day in (local_day - ONE_DAY, local_day, local_day + ONE_DAY)
        for opens, closes in schedule.day_intervals(day)
    )


def next_open(schedule: ScheduleLike, at: datetime) -> datetime | None:
    """`at` itself if open then, else the next opening; None if it does not open within the horizon."""
    schedule = _as_schedule(schedule)
    _check_aware(at)
    if schedule is None:
        return at.astimezone(UTC)
    first = next(_open_intervals(schedule, at, at + HORIZON), None)
    return first[0] if first else None


def add_business_time(schedule: ScheduleLike, start: datetime, duration: timedelta) -> datetime:
    """The instant when `duration` of business time has passed since `start`.

    It lands on a closing time when the duration ends exactly there (a target of a full day from Monday
    09:00 is due Monday 17:00, not Tuesday 09:00). NeverOpen if the horizon is reached first.
    """
    schedule = _as_schedule(schedule)
    _check_aware(start)
    if duration < timedelta(0):
        raise ValueError("duration must not be negative")
    if schedule is None or not duration:
        return start.astimezone(UTC) + (duration if schedule is None else timedelta(0))
    left = duration
    for opens, closes in _open_intervals(schedule, start, start + HORIZON):
        if closes - opens >= left:
            return opens + left
        left -= closes - opens
    raise NeverOpen(f"{duration} of business time is not reached within {HORIZON.days} days")


def business_time_between(schedule: ScheduleLike, start: datetime, end: datetime) -> timedelta:
    """Open time between two instants; zero when `end` is not after `start`."""
    schedule = _as_schedule(schedule)
    _check_aware(start)
    _check_aware(end)
    if end <= start:
        return timedelta(0)
    if schedule is None:
        return end - start
    total = timedelta(0)
    for opens, closes in _open_intervals(schedule, start, end):
        total += min(closes, end) - opens
    return total


def _open_intervals(schedule: Schedule, start: datetime, until: datetime) -> Iterator[Interval]:
    """Open intervals from `start` (the first one clipped to it) that begin before `until`, merged
    across midnights, in UTC."""
    if schedule.never_open:
        return
    start, until = start.astimezone(UTC), until.astimezone(UTC)
    day = start.astimezone(schedule.time_zone).date() - ONE_DAY
    last_day = until.astimezone(schedule.time_zone).date() + ONE_DAY
    pending: Interval | None = None
    while day <= last_day:
        for opens, closes in schedule.day_intervals(day):
            if closes <= start:
                continue
            if opens >= until:
                if pending:
                    yield pending
                return
            opens = max(opens, start)
            if pending and opens <= pending[1]:
                pending = (pending[0], max(pending[1], closes))
                continue
            if pending:
                yield pending
            pending = (opens, closes)
        day += ONE_DAY
    if pending:
        yield pending


def _offset(local: time) -> timedelta:
    return timedelta(hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond)


def _instant(local: datetime, time_zone: ZoneInfo) -> datetime:
    """A naive local time as an instant (fold=0: see the module's docstring)."""
    return local.replace(tzinfo=time_zone).astimezone(UTC)


def _merge(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for opens, closes in intervals:
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def _as_schedule(schedule: ScheduleLike) -> Schedule | None:
    if isinstance(schedule, BusinessHours):
        return load_schedule(schedule)
    return schedule


def _check_aware(value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("business-hours arithmetic needs aware datetimes")
