"""Business-hours arithmetic: open or not, next opening, adding and measuring business time, in any time
zone, across daylight-saving changes and holidays."""

import time as wall_clock
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from helpdesk.business_hours import (
    NeverOpen,
    Schedule,
    add_business_time,
    business_time_between,
    is_open,
    next_open,
)

TOKYO = ZoneInfo("Asia/Tokyo")
NEW_YORK = ZoneInfo("America/New_York")
WEEKDAYS = range(5)


def office(time_zone="Asia/Tokyo", opens=time(9), closes=time(18), holidays=()):
    return Schedule.build(time_zone, [(day, opens, closes) for day in WEEKDAYS], holidays)


def at(year, month, day, hour=0, minute=0, zone=TOKYO, fold=0):
    return datetime(year, month, day, hour, minute, fold=fold, tzinfo=zone)


# 2026-03-06 is a Friday; 2026-03-09 a Monday.


def test_open_during_a_period_and_closed_at_its_end_and_on_weekends():
    schedule = office()
    assert is_open(schedule, at(2026, 3, 9, 9))
    assert is_open(schedule, at(2026, 3, 9, 17, 59))
    assert not is_open(schedule, at(2026, 3, 9, 18))
    assert not is_open(schedule, at(2026, 3, 9, 8, 59))
    assert not is_open(schedule, at(2026, 3, 7, 12))
    assert is_open(schedule, at(2026, 3, 9, 1, zone=UTC))  # 10:00 in Tokyo


def test_next_open_is_now_when_open_else_the_next_opening():
    schedule = office()
    assert next_open(schedule, at(2026, 3, 9, 10)) == at(2026, 3, 9, 10)
    assert next_open(schedule, at(2026, 3, 6, 19)) == at(2026, 3, 9, 9)
    assert next_open(schedule, at(2026, 3, 6, 19)).tzinfo == UTC


def test_business_time_carries_over_the_weekend():
    schedule = office()
    assert add_business_time(schedule, at(2026, 3, 6, 17), timedelta(hours=2)) == at(2026, 3, 9, 10)
    assert add_business_time(schedule, at(2026, 3, 7, 12), timedelta(minutes=30)) == at(2026, 3, 9, 9, 30)
    assert business_time_between(schedule, at(2026, 3, 6, 17), at(2026, 3, 9, 10)) == timedelta(hours=2)


def test_a_duration_ending_at_closing_time_is_due_at_closing_time():
    schedule = office()
    assert add_business_time(schedule, at(2026, 3, 9, 9), timedelta(hours=9)) == at(2026, 3, 9, 18)
    assert add_business_time(schedule, at(2026, 3, 9, 9), timedelta(0)) == at(2026, 3, 9, 9)


def test_several_periods_a_day_skip_the_lunch_break():
    schedule = Schedule.build("Asia/Tokyo", [(0, time(9), time(12)), (0, time(13), time(18))])
    assert add_business_time(schedule, at(2026, 3, 9, 10), timedelta(hours=4)) == at(2026, 3, 9, 15)
    assert not is_open(schedule, at(2026, 3, 9, 12, 30))
    assert business_time_between(schedule, at(2026, 3, 9, 0), at(2026, 3, 10, 0)) == timedelta(hours=8)


def test_overlapping_periods_count_once():
    schedule = Schedule.build("UTC", [(0, time(9), time(13)), (0, time(12), time(17)), (0, time(10), time(11))])
    assert business_time_between(schedule, at(2026, 3, 9, zone=UTC), at(2026, 3, 10, zone=UTC)) == timedelta(hours=8)


def test_an_overnight_shift_is_two_periods_that_join_at_midnight():
    night = Schedule.build("Asia/Tokyo", [(0, time(22), time(0)), (1, time(0), time(6))])
    assert is_open(night, at(2026, 3, 10, 0))  # Tuesday midnight
    assert add_business_time(night, at(2026, 3, 9, 23), timedelta(hours=3)) == at(2026, 3, 10, 2)
    assert business_time_between(night, at(2026, 3, 9, 12), at(2026, 3, 10, 12)) == timedelta(hours=8)
    assert next_open(night, at(2026, 3, 10, 6)) == at(2026, 3, 16, 22)


def test_a_holiday_closes_the_whole_local_day():
    schedule = office(holidays=[date(2026, 3, 9)])
    assert not is_open(schedule, at(2026, 3, 9, 10))
    assert add_business_time(schedule, at(2026, 3, 6, 17), timedelta(hours=2)) == at(2026, 3, 10, 10)
    assert business_time_between(schedule, at(2026, 3, 6, 0), at(2026, 3, 11, 0)) == timedelta(hours=18)


def test_a_holiday_is_a_local_date_not_a_utc_date():
    schedule = Schedule.build("Asia/Tokyo", [(1, time(0), time(0))], [date(2026, 3, 10)])  # Tuesdays, all day
    # Tuesday 08:00 in Tokyo is still Monday in UTC: closed all the same.
    assert not is_open(schedule, at(2026, 3, 9, 23, zone=UTC))
    assert is_open(schedule, at(2026, 3, 16, 23, zone=UTC))


def test_the_night_clocks_spring_forward_is_an_hour_shorter_and_the_night_they_fall_back_an_hour_longer():
    nights = Schedule.build("America/New_York", [(6, time(0), time(4))])  # Sundays 00:00-04:00
    spring, fall = date(2026, 3, 8), date(2026, 11, 1)
    assert business_time_between(nights, at(2026, 3, 7, zone=NEW_YORK), at(2026, 3, 9, zone=NEW_YORK)) == timedelta(
        hours=3
    )
    assert business_time_between(nights, at(2026, 10, 31, zone=NEW_YORK), at(2026, 11, 2, zone=NEW_YORK)) == (
        timedelta(hours=5)
    )
    # Sunday 00:00 EST (05:00 UTC) + 3 hours is 04:00 EDT (08:00 UTC), the end of the period.
    start = datetime.combine(spring, time(0), tzinfo=NEW_YORK)
    assert add_business_time(nights, start, timedelta(hours=3)) == datetime(2026, 3, 8, 8, tzinfo=UTC)
    # 01:30 happens twice on the fall-back night; the second one is still open, and 4.5 hours in.
    second = datetime.combine(fall, time(1, 30), tzinfo=NEW_YORK).replace(fold=1)
    assert is_open(nights, second)
    start = datetime.combine(fall, time(0), tzinfo=NEW_YORK)
    assert business_time_between(nights, start, second) == timedelta(hours=2, minutes=30)


def test_office_hours_keep_their_local_times_across_daylight_saving_changes():
    schedule = office("America/New_York")
    # Friday 17:00 EST + 2 hours = Monday 10:00 EDT, which is 14:00 UTC (it was 15:00 UTC a week before).
    assert add_business_time(schedule, at(2026, 3, 6, 17, zone=NEW_YORK), timedelta(hours=2)) == datetime(
        2026, 3, 9, 14, tzinfo=UTC
    )
    assert business_time_between(schedule, at(2026, 3, 6, 0, zone=NEW_YORK), at(2026, 3, 10, 0, zone=NEW_YORK)) == (
        timedelta(hours=18)
    )
    assert is_open(schedule, datetime(2026, 11, 2, 14, tzinfo=UTC))  # 09:00 EST
    assert not is_open(schedule, datetime(2026, 11, 2, 13, 30, tzinfo=UTC))  # 08:30 EST


def test_a_period_inside_the_skipped_hour_never_opens_that_day():
    schedule = Schedule.build("America/New_York", [(day, time(2), time(3)) for day in range(7)])
    assert business_time_between(schedule, at(2026, 3, 8, zone=NEW_YORK), at(2026, 3, 9, zone=NEW_YORK)) == timedelta(0)
    # A skipped local time reads with the offset before the jump: 02:30 lands at 03:30 EDT.
    opening = Schedule.build("America/New_York", [(6, time(2, 30), time(5))])
    assert next_open(opening, at(2026, 3, 8, zone=NEW_YORK)) == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_no_schedule_is_open_around_the_clock():
    start = at(2026, 3, 7, 3)
    assert is_open(None, start)
    assert next_open(None, start) == start
    assert add_business_time(None, start, timedelta(hours=30)) == start + timedelta(hours=30)
    assert business_time_between(None, start, start + timedelta(days=2)) == timedelta(days=2)


def test_a_schedule_without_periods_is_never_open_and_answers_at_once():
    never = Schedule.build("Asia/Tokyo", [])
    started = wall_clock.monotonic()
    assert not is_open(never, at(2026, 3, 9, 10))
    assert next_open(never, at(2026, 3, 9, 10)) is None
    with pytest.raises(NeverOpen):
        add_business_time(never, at(2026, 3, 9, 10), timedelta(minutes=1))
    assert business_time_between(never, at(2020, 1, 1), at(2030, 1, 1)) == timedelta(0)
    assert wall_clock.monotonic() - started < 0.1


def test_looking_forward_stops_at_the_horizon():
    mondays_off = [date(2026, 3, 9) + timedelta(weeks=n) for n in range(200)]  # past the horizon
    weekly = Schedule.build("UTC", [(0, time(9), time(10))], mondays_off)
    assert next_open(weekly, at(2026, 3, 9, zone=UTC)) is None
    with pytest.raises(NeverOpen):
        add_business_time(weekly, at(2026, 3, 9, zone=UTC), timedelta(minutes=1))
    assert next_open(weekly, at(2027, 3, 9, zone=UTC)) == at(2030, 1, 7, 9, zone=UTC)


def test_times_must_be_aware_and_durations_not_negative():
    with pytest.raises(ValueError, match="aware"):
        is_open(office(), datetime(2026, 3, 9, 10))  # noqa: DTZ001 - naive on purpose
    with pytest.raises(ValueError, match="negative"):
        add_business_time(office(), at(2026, 3, 9, 10), timedelta(minutes=-1))
    assert business_time_between(office(), at(2026, 3, 9, 12), at(2026, 3, 9, 10)) == timedelta(0)


def test_periods_must_end_after_they_start():
    with pytest.raises(ValueError, match="ends before"):
        Schedule.build("UTC", [(0, time(18), time(9))])


# Properties over generated schedules: any time zone we serve, periods on a quarter-hour grid, holidays.

ZONES = ["Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Lord_Howe", "America/Santiago", "UTC"]
quarter_hours = st.integers(0, 95).map(lambda n: time(n // 4, n % 4 * 15))


@st.composite
def schedules(draw):
    periods = []
    for _ in range(draw(st.integers(1, 8))):
        start, end = sorted(draw(st.lists(quarter_hours, min_size=2, max_size=2, unique=True)))
        periods.append((draw(st.integers(0, 6)), start, end if draw(st.booleans()) else time(0)))
    holidays = draw(st.lists(st.dates(date(2025, 12, 1), date(2026, 12, 31)), max_size=20))
    return Schedule.build(draw(st.sampled_from(ZONES)), periods, holidays)


# Naive bounds are how hypothesis takes them; the values are aware.
instants = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 1), timezones=st.just(UTC))  # noqa: DTZ001
durations = st.integers(0, 5 * 24 * 60).map(lambda minutes: timedelta(minutes=minutes))


@settings(max_examples=200, deadline=None)
@given(schedules(), instants, durations)
def test_business_time_between_a_start_and_that_start_plus_a_duration_is_the_duration(schedule, start, duration):
    # A schedule open a quarter of an hour a week reaches five days of business time only after the horizon.
    assume(business_time_between(schedule, start, start + timedelta(weeks=1)) * 100 > duration)
    end = add_business_time(schedule, start, duration)
    assert end >= start
    assert business_time_between(schedule, start, end) == duration
    if duration:
        assert business_time_between(schedule, start, end - timedelta(microseconds=1)) < duration


@settings(max_examples=200, deadline=None)
@given(schedules(), instants, durations, durations)
def test_business_time_adds_up_and_never_exceeds_wall_time(schedule, start, first, second):
    middle, end = start + first, start + first + second
    total = business_time_between(schedule, start, end)
    assert total == business_time_between(schedule, start, middle) + business_time_between(schedule, middle, end)
    assert total <= end - start


@settings(max_examples=200, deadline=None)
@given(schedules(), instants)
def test_the_next_opening_is_open_and_nothing_is_open_before_it(schedule, moment):
    opening = next_open(schedule, moment)
    assert opening is not None
    assert is_open(schedule, opening)
    assert business_time_between(schedule, moment, opening) == timedelta(0)
    assert is_open(schedule, moment) == (opening == moment)
