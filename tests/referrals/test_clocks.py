"""Response clocks against an independent oracle: the ``holidays`` calendar for England,
across bank holidays, weekends and the clock changes."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import holidays
from hypothesis import given, settings
from hypothesis import strategies as st

from referrals import clocks

LONDON = ZoneInfo("Europe/London")
ENGLAND = holidays.country_holidays("GB", subdiv="ENG", years=range(2024, 2031))


def oracle_due(received: dt.datetime, n: int) -> dt.datetime:
    """Walk the calendar a day at a time, counting days that are neither weekend nor listed."""
    day = received.astimezone(LONDON).date()
    while n:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in ENGLAND:
            n -= 1
    following = day + dt.timedelta(days=1)
    next_midnight = dt.datetime(following.year, following.month, following.day, tzinfo=LONDON)
    return next_midnight


moments = st.datetimes(
    min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2029, 12, 1), timezones=st.just(LONDON)
)


@settings(max_examples=300, deadline=None)
@given(received=moments, n=st.integers(1, 15))
def test_working_day_due_times_agree_with_the_holidays_calendar(
    received: dt.datetime, n: int
) -> None:
    assert clocks.due_at(received, working_days=n) == oracle_due(received, n)


def test_easter_is_skipped_good_friday_and_easter_monday() -> None:
    # Thursday 2 April 2026, 16:00: Good Friday 3rd and Easter Monday 6th are bank holidays.
    received = dt.datetime(2026, 4, 2, 16, 0, tzinfo=LONDON)
    assert clocks.due_at(received, working_days=1) == dt.datetime(2026, 4, 8, tzinfo=LONDON)


def test_christmas_and_the_substitute_boxing_day_are_skipped() -> None:
    # Thursday 24 December 2026: Christmas (Fri), weekend, Boxing Day observed Monday 28th.
    received = dt.datetime(2026, 12, 24, 9, 0, tzinfo=LONDON)
    assert clocks.due_at(received, working_days=1) == dt.datetime(2026, 12, 30, tzinfo=LONDON)


def test_friday_afternoon_with_one_working_day_is_due_by_the_end_of_monday() -> None:
    received = dt.datetime(2026, 6, 5, 15, 0, tzinfo=LONDON)
    assert clocks.due_at(received, working_days=1) == dt.datetime(2026, 6, 9, tzinfo=LONDON)


def test_an_hours_target_runs_in_real_time_across_the_spring_clock_change() -> None:
    # 29 March 2026, 00:30 GMT; the clocks go forward at 01:00: two hours later is 03:30 BST.
    received = dt.datetime(2026, 3, 29, 0, 30, tzinfo=LONDON)
    due = clocks.due_at(received, hours=2)
    assert due.astimezone(dt.UTC) - received.astimezone(dt.UTC) == dt.timedelta(hours=2)
    assert due.astimezone(LONDON).hour == 3 and due.astimezone(LONDON).minute == 30


def test_a_working_day_ending_on_the_autumn_change_ends_at_local_midnight() -> None:
    # Friday 23 October 2026 + 1 working day = Monday 26th; the clocks went back on the 25th.
    received = dt.datetime(2026, 10, 23, 12, 0, tzinfo=LONDON)
    due = clocks.due_at(received, working_days=1)
    assert due.astimezone(LONDON) == dt.datetime(2026, 10, 27, 0, 0, tzinfo=LONDON)
    assert due.utcoffset() == dt.timedelta(0)  # GMT again
