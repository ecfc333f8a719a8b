"""Calendars: counting working days, with public holidays from the `holidays` package.

The convention, stated once here and in docs/language.md: `working days from A to B` counts
the days D with A < D <= B (the start day excluded, the end day included) that fall Monday to
Friday and are neither in the holiday list nor public holidays of the calendar. When B is
before A the count is negative: -(working days from B to A). From a day to itself is 0.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterable

#: A calendar covers at most this many years in one count, to bound the work a fact set can ask.
MAX_CALENDAR_YEARS = 200


class CalendarError(Exception):
    """A calendar cannot be used: unknown code, or a range too long for it."""


@functools.lru_cache(maxsize=1)
def supported() -> frozenset[str]:
    """Country codes the `holidays` package knows."""
    import holidays

    return frozenset(holidays.list_supported_countries())


@functools.lru_cache(maxsize=256)
def _public_holidays(code: str, first_year: int, last_year: int) -> frozenset[datetime.date]:
    import holidays

    if code not in supported():
        raise CalendarError(f"unknown holiday calendar '{code}'")
    if last_year - first_year + 1 > MAX_CALENDAR_YEARS:
        raise CalendarError(f"a public-holiday calendar covers at most {MAX_CALENDAR_YEARS} "
                            f"years in one count")
    days = holidays.country_holidays(code, years=range(first_year, last_year + 1))
    return frozenset(days.keys())


def _weekdays_after(start: datetime.date, end: datetime.date) -> int:
    """Mondays to Fridays D with start < D <= end, for start <= end; constant time."""
    days = (end - start).days
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    weekday = start.weekday()
    for offset in range(1, rest + 1):
        if (weekday + offset) % 7 < 5:
            count += 1
    return count


def working_days(start: datetime.date, end: datetime.date,
                 excluding: Iterable[datetime.date] = (), calendar: str | None = None) -> int:
    """Counts working days from `start` to `end` (see the module docstring for the convention).

    Raises:
        CalendarError: the calendar is unknown or the range too long for it.
    """
    if end < start:
        return -working_days(end, start, excluding, calendar)
    skipped = {d for d in excluding if start < d <= end and d.weekday() < 5}
    if calendar is not None:
        public = _public_holidays(calendar, start.year, end.year)
        skipped.update(d for d in public if start < d <= end and d.weekday() < 5)
    return _weekdays_after(start, end) - len(skipped)
