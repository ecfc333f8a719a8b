"""Calendars: counting working days, with public holidays from the `holidays` package.

The convention, stated once here and in docs/language.md: `working days from A to B` counts
the days D with A < D <= B (the start day excluded, the end day included) that fall Monday to
Friday and are neither in the holiday list nor public holidays of the calendar. When B is
before A the count is negative: -(working days from B to A). From a day to itself is 0.

A count with a calendar needs the public holidays of every year it reaches. The `holidays`
package knows each country's holidays for some years only (Germany's from 1991 to 2100, say),
and for years outside them it gives none, or warns that some are missing; a count that reaches
such a year would silently treat holidays as working days, so it is refused instead.
"""

from __future__ import annotations

import datetime
import functools
import threading
import warnings
from collections.abc import Iterable

#: A calendar covers at most this many years in one count, to bound the work a fact set can ask.
MAX_CALENDAR_YEARS = 200

#: `warnings.catch_warnings` changes process-wide state: one calendar is built at a time.
_WARNINGS = threading.Lock()


class CalendarError(Exception):
    """A calendar cannot be used: an unknown code, a range too long for it, or years for which
    the `holidays` package does not know all its public holidays."""


@functools.lru_cache(maxsize=1)
def supported() -> frozenset[str]:
    """Country codes the `holidays` package knows."""
    import holidays

    return frozenset(holidays.list_supported_countries())


def _check_code(code: str) -> None:
    if code not in supported():
        raise CalendarError(f"unknown holiday calendar '{code}'")


def _years(first: int, last: int) -> str:
    return str(first) if first == last else f"{first} to {last}"


@functools.lru_cache(maxsize=256)
def _public_holidays(code: str, first_year: int, last_year: int) -> frozenset[datetime.date]:
    """The public holidays of `code` in the years `first_year` to `last_year`.

    Raises:
        CalendarError: the code is unknown, the years are too many, or the package does not
            know every holiday of those years (it has no data for them, or warns).
    """
    import holidays

    _check_code(code)
    if last_year - first_year + 1 > MAX_CALENDAR_YEARS:
        raise CalendarError(f"a public-holiday calendar covers at most {MAX_CALENDAR_YEARS} "
                            f"years in one count")
    with _WARNINGS, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        days = holidays.country_holidays(code, years=range(first_year, last_year + 1))
    # Both are class attributes of every calendar of the package (holidays 0.50 and later).
    start, end = getattr(days, "start_year", first_year), getattr(days, "end_year", last_year)
    outside = (_years(max(first_year, end + 1), last_year) if last_year > end
               else _years(first_year, min(last_year, start - 1)) if first_year < start
               else None)
    if outside is not None:
        raise CalendarError(f"the holidays package knows the public holidays of '{code}' "
                            f"for {_years(start, end)} only, not for {outside}")
    notes = [str(note.message) for note in caught if issubclass(note.category, UserWarning)]
    if notes:
        raise CalendarError(f"the holidays package knows only some public holidays of '{code}' "
                            f"for {_years(first_year, last_year)} (it says: {notes[0]!r})")
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
        CalendarError: the calendar is unknown, the range too long for it, or it reaches years
            the calendar does not cover.
    """
    if end < start:
        return -working_days(end, start, excluding, calendar)
    skipped = {d for d in excluding if start < d <= end and d.weekday() < 5}
    if calendar is not None:
        _check_code(calendar)
        if start < end:  # the days counted are those after `start`, up to `end`
            first = start + datetime.timedelta(days=1)
            public = _public_holidays(calendar, first.year, end.year)
            skipped.update(d for d in public if start < d <= end and d.weekday() < 5)
    return _weekdays_after(start, end) - len(skipped)
