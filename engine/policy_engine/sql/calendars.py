"""SQL calendars: working days counted in SQL, with public holidays from a generated table.

The count follows `core.calendars` exactly: the days D with START < D <= END that fall Monday
to Friday and are neither in the holiday list nor public holidays, negative when END is before
START. Dates are day numbers (days since 0001-01-01, a Monday), so the weekdays up to a day are
a closed formula. A country's public holidays come from the `holidays` package, the same data
the interpreter reads: the query gets one table per calendar (a CTE generated from that data),
one row per day of the years the package covers fully, with the number of weekday holidays up
to that day; a count is two lookups in it. A count that reaches a year the table does not
cover stops with E407, as the interpreter's does (it is then decided by the reference engine,
which words the message).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from sqlglot import exp

from policy_engine.core.calendars import CalendarError, _public_holidays, supported
from policy_engine.sql import trees as t
from policy_engine.sql.trees import Sql

#: The years a calendar table covers at most (the interpreter's limit for one count).
MAX_YEARS = 200


@dataclass(frozen=True)
class Coverage:
    """The public holidays of one calendar over the years the table covers."""

    code: str
    first_year: int
    last_year: int
    holidays: tuple[int, ...]  # day numbers of the weekday holidays, ascending

    @property
    def first_day(self) -> int:
        """The table's first day: the day before January 1 of its first year, so a count may
        start there."""
        return _day(datetime.date(self.first_year, 1, 1)) - 1

    @property
    def last_day(self) -> int:
        return _day(datetime.date(self.last_year, 12, 31))

    @property
    def table(self) -> str:
        return "calendar_" + self.code.lower()


def _day(day: datetime.date) -> int:
    return day.toordinal() - 1


def coverage(code: str) -> Coverage:
    """The longest run of years (at most `MAX_YEARS`, the latest) for which the `holidays`
    package knows every public holiday of `code`.

    Raises:
        CalendarError: the code is unknown, or no year is fully known.
    """
    if code not in supported():
        raise CalendarError(f"unknown holiday calendar '{code}'")
    import holidays

    calendar = holidays.country_holidays(code)
    start = max(getattr(calendar, "start_year", 1950), 1)
    end = min(getattr(calendar, "end_year", 2100), 9999)
    good: list[int] = []
    best: list[int] = []
    for year in range(start, end + 1):
        try:
            _public_holidays(code, year, year)
        except CalendarError:
            best = max(best, good, key=len)
            good = []
            continue
        good.append(year)
    best = max(best, good, key=len)[-MAX_YEARS:]
    if not best:
        raise CalendarError(f"the holidays package knows no full year of '{code}'")
    days = _public_holidays(code, best[0], best[-1])
    weekdays = tuple(sorted(_day(d) for d in days if d.weekday() < 5))
    return Coverage(code, best[0], best[-1], weekdays)


@dataclass
class CalendarProbe:
    """Two lookups of a calendar table for one count: the table's row of each end."""

    coverage: Coverage
    low_column: str
    high_column: str
    low: Sql
    high: Sql


@dataclass
class Calendars:
    """The calendars a query uses and the lookups (joins) its counts need."""

    tables: dict[str, Coverage] = field(default_factory=dict)
    probes: list[CalendarProbe] = field(default_factory=list)

    def probe(self, code: str, start: Sql, end: Sql) -> CalendarProbe:
        found = self.tables.get(code)
        if found is None:
            found = self.tables[code] = coverage(code)
        number = len(self.probes)
        low, high = _least(start, end), _greatest(start, end)
        probe = CalendarProbe(found, f"calendar_{number}_low", f"calendar_{number}_high",
                              low, high)
        self.probes.append(probe)
        return probe

    def count(self, start: Sql, end: Sql, excluding: Sql | None,
              probe: CalendarProbe | None) -> tuple[Sql, Sql | None]:
        """The signed count of working days from `start` to `end`, and its fault (E407 when a
        calendar does not cover the years it reaches)."""
        low, high = _least(start, end), _greatest(start, end)
        count = t.arith("-", _weekdays_up_to(high), _weekdays_up_to(low))
        problem: Sql | None = None
        if excluding is not None:
            tests = [t.compare(">", t.var("x"), low), t.compare("<=", t.var("x"), high),
                     t.compare("<", t.arith("%", t.var("x"), t.big(7)), t.big(5))]
            if probe is not None and probe.coverage.holidays:
                tests.append(t.not_(t.in_list(t.var("x"), [t.big(d) for d in
                                                            probe.coverage.holidays])))
            listed = t.filter_(exp.ArrayDistinct(this=excluding), "x", t.and_(tests))
            count = t.arith("-", count, t.cast(t.size(listed), "BIGINT"))
        if probe is not None:
            public = t.arith("-", t.col(probe.high_column), t.col(probe.low_column))
            outside = t.or_([t.compare("<", low, t.big(probe.coverage.first_day)),
                             t.compare(">", high, t.big(probe.coverage.last_day))])
            count = t.arith("-", count, t.when(t.compare("<", low, high), public, t.big(0)))
            problem = t.when(t.and_([t.compare("<", low, high), outside]), t.lit("E407"))
        signed = t.when(t.compare("<", end, start), t.neg(count), count)
        return t.cast(signed, "BIGINT"), problem


def _least(a: Sql, b: Sql) -> Sql:
    return t.when(t.compare("<", b, a), b, a)


def _greatest(a: Sql, b: Sql) -> Sql:
    return t.when(t.compare("<", b, a), a, b)


def _weekdays_up_to(day: Sql) -> Sql:
    """Mondays to Fridays from 0001-01-01 up to `day` (a day number; 0001-01-01 is day 0, a
    Monday): five a week, plus up to five of the week the day is in."""
    n = t.arith("+", day, t.big(1))
    return t.arith("+", t.arith("*", t.big(5), t.arith("//", n, t.big(7))),
                   t.func("LEAST", t.arith("%", n, t.big(7)), t.big(5)))


def table_query(cover: Coverage) -> exp.Select:
    """The calendar table: every day it covers, with the weekday holidays up to that day."""
    day = t.col("day")
    holiday = t.when(t.in_list(day, [t.big(d) for d in cover.holidays]), t.big(1), t.big(0)) \
        if cover.holidays else t.big(0)
    running = exp.Window(this=exp.Sum(this=holiday),
                         order=exp.Order(expressions=[exp.Ordered(this=day)]),
                         spec=exp.WindowSpec(kind="ROWS", start="UNBOUNDED",
                                             start_side="PRECEDING", end="CURRENT ROW"))
    days = exp.select(t.alias(exp.Explode(this=exp.GenerateSeries(
        start=t.big(cover.first_day), end=t.big(cover.last_day))), "day"))
    return exp.select(t.alias(day, "day"), t.alias(t.cast(running, "BIGINT"), "holidays")) \
        .from_(days.subquery("days"), copy=False)
