"""Response clocks on England's business calendar.

A target in hours runs round the clock (a rapid response service answers at night too). A
target in working days is counted in Europe/London, skipping Saturdays, Sundays and England's
bank holidays as the maintained ``holidays`` library lists them (never a hand-typed list):
the referral is due by the end of the Nth working day after the day it arrived, so one that
arrives on Friday afternoon with a target of one working day is due by the end of Monday.
"""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import holidays

LONDON = ZoneInfo("Europe/London")


@functools.cache
def _england_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("GB", subdiv="ENG", years=year)


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _england_holidays(day.year)


def add_working_days(day: dt.date, n: int) -> dt.date:
    """The Nth working day after ``day`` (``day`` itself never counts)."""
    if n < 1:
        raise ValueError("Count at least one working day.")
    counted = 0
    while counted < n:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end``."""
    days = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            days += 1
    return days


def end_of_day(day: dt.date) -> dt.datetime:
    """The end of a London day: the first instant of the next (23 or 25 hours long on the
    days the clocks change, which zoneinfo accounts for)."""
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=LONDON)


def due_at(
    received_at: dt.datetime, *, hours: int | None = None, working_days: int | None = None
) -> dt.datetime:
    """When a referral received at ``received_at`` must have been answered."""
    if (hours is None) == (working_days is None):
        raise ValueError("Give a target in hours or in working days, not both.")
    if hours is not None:
        # In UTC: arithmetic on two datetimes of one zoneinfo zone is wall-clock arithmetic,
        # which would make a 2-hour target across the spring change last 1 hour (or 3).
        return (received_at.astimezone(dt.UTC) + dt.timedelta(hours=hours)).astimezone(LONDON)
    local_day = received_at.astimezone(LONDON).date()
    assert working_days is not None
    return end_of_day(add_working_days(local_day, working_days))


def london_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(LONDON).date()
