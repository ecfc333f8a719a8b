"""Arithmetic: exact amounts in one fixed decimal context, exact rounding, the built-in functions,
and the engine's range, which every calculated whole number, amount, date and duration stays in.

Both evaluators compute with these functions (the compiler's generated code reaches them by
name through its namespace), so a value never depends on which evaluator computed it, nor on
the caller's decimal context. A result out of range raises `OutOfRange` (E408) the same way in
both: a date before 0001-01-01 or after 9999-12-31, a duration beyond `MAX_DAYS` days, a whole
number of more than `MAX_DIGITS` digits, an amount of 10**MAX_DIGITS or more, or one that is
not zero but closer to it than 10**-MAX_DIGITS. Without the bounds, a calculation could build
numbers too long to print (Python refuses to turn a whole number of more than 4,300 digits
into text) or so long that working with them takes minutes.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from policy_engine.check.types import CalendarMonths
from policy_engine.evaluate.errors import DivisionByZero, OutOfRange
from policy_engine.language.literals import MAX_DAYS, MAX_DIGITS, MAX_MONTHS

#: Amount arithmetic runs in this context whatever the caller's thread context is, so results
#: never depend on global state: 28 significant digits, halves rounded to even. Its exponent
#: limits are the engine's range for amounts: a result of 10**MAX_DIGITS or more overflows, and
#: one closer to zero than 10**-MAX_DIGITS is subnormal; both are trapped (and become E408).
CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN,
                          Emax=MAX_DIGITS - 1, Emin=-MAX_DIGITS,
                          traps=[decimal.InvalidOperation, decimal.DivisionByZero,
                                 decimal.Overflow, decimal.Subnormal])
#: Whole numbers lie strictly between -WHOLE_LIMIT and WHOLE_LIMIT: at most MAX_DIGITS digits.
WHOLE_LIMIT = 10**MAX_DIGITS

# What went out of range, and the help line, as a refusal (E408) words them.
_CHECK = "check the facts for a value that is far too large"
_TOO_MANY_DIGITS = (f"a whole number of more than {MAX_DIGITS:,} digits",
                    f"whole numbers have at most {MAX_DIGITS:,} digits; {_CHECK}")
_AMOUNT_TOO_LARGE = (f"an amount of more than {MAX_DIGITS:,} digits before the decimal point",
                     f"amounts have at most {MAX_DIGITS:,} digits before the decimal point; "
                     f"{_CHECK}")
_AMOUNT_TOO_SMALL = (f"an amount closer to zero than 10^-{MAX_DIGITS:,}",
                     f"an amount other than 0 has a digit within {MAX_DIGITS:,} places of the "
                     "decimal point; check the facts for a value that is far too small")
_DATE_HELP = ("the engine's dates run from 0001-01-01 to 9999-12-31; check the facts for a "
              "date or a number of days that is far off")
_DURATION_HELP = f"a duration is at most {MAX_DAYS:,} days either way; {_CHECK}"
_MONTHS_HELP = (f"a duration in months is at most {MAX_MONTHS:,} months ({MAX_MONTHS // 12:,} "
                f"years) either way; {_CHECK}")


def _amount_range(error: decimal.DecimalException) -> OutOfRange:
    """The refusal for an amount the context trapped as out of range."""
    return OutOfRange(*(_AMOUNT_TOO_SMALL if isinstance(error, decimal.Subnormal)
                        else _AMOUNT_TOO_LARGE))


def _dec(value: int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def add(a: int | Decimal, b: int | Decimal) -> Decimal:
    try:
        return CONTEXT.add(_dec(a), _dec(b))
    except (decimal.Overflow, decimal.Subnormal) as error:
        raise _amount_range(error) from None


def sub(a: int | Decimal, b: int | Decimal) -> Decimal:
    try:
        return CONTEXT.subtract(_dec(a), _dec(b))
    except (decimal.Overflow, decimal.Subnormal) as error:
        raise _amount_range(error) from None


def mul(a: int | Decimal, b: int | Decimal) -> Decimal:
    try:
        return CONTEXT.multiply(_dec(a), _dec(b))
    except (decimal.Overflow, decimal.Subnormal) as error:
        raise _amount_range(error) from None


def div(a: int | Decimal, b: int | Decimal) -> Decimal:
    if b == 0:
        raise DivisionByZero()
    try:
        return CONTEXT.divide(_dec(a), _dec(b))
    except (decimal.Overflow, decimal.Subnormal) as error:
        raise _amount_range(error) from None


def neg(a: int | Decimal) -> Decimal:
    try:
        return CONTEXT.minus(_dec(a))
    except (decimal.Overflow, decimal.Subnormal) as error:
        raise _amount_range(error) from None


# ---------------------------------------------------------------- whole numbers, dates, durations
# Python's whole numbers never overflow, but grow without end; dates and durations raise
# OverflowError. Each result is checked here, so both evaluators refuse the same values alike.


def whole_add(a: int, b: int) -> int:
    value = a + b
    if -WHOLE_LIMIT < value < WHOLE_LIMIT:
        return value
    raise OutOfRange(*_TOO_MANY_DIGITS)


def whole_sub(a: int, b: int) -> int:
    value = a - b
    if -WHOLE_LIMIT < value < WHOLE_LIMIT:
        return value
    raise OutOfRange(*_TOO_MANY_DIGITS)


def whole_mul(a: int, b: int) -> int:
    value = a * b
    if -WHOLE_LIMIT < value < WHOLE_LIMIT:
        return value
    raise OutOfRange(*_TOO_MANY_DIGITS)


def _date_range(forward: bool) -> OutOfRange:
    return OutOfRange("a date after 9999-12-31" if forward else "a date before 0001-01-01",
                      _DATE_HELP)


def date_add(a: datetime.date | datetime.timedelta,
             b: datetime.date | datetime.timedelta) -> datetime.date:
    """A date plus a duration (either way round)."""
    try:
        return a + b  # type: ignore[return-value, operator]
    except OverflowError:
        days = b if isinstance(b, datetime.timedelta) else a
        assert isinstance(days, datetime.timedelta)
        raise _date_range(days.days > 0) from None


def date_sub(a: datetime.date, b: datetime.timedelta) -> datetime.date:
    """A date minus a duration."""
    try:
        return a - b
    except OverflowError:
        raise _date_range(b.days < 0) from None


def _duration(days: int) -> datetime.timedelta:
    if -MAX_DAYS <= days <= MAX_DAYS:
        return datetime.timedelta(days=days)
    what = (f"a duration of more than {MAX_DAYS:,} days" if days > 0
            else f"a duration of more than {MAX_DAYS:,} days back")
    raise OutOfRange(what, _DURATION_HELP)


def duration_add(a: datetime.timedelta, b: datetime.timedelta) -> datetime.timedelta:
    return _duration(a.days + b.days)


def duration_sub(a: datetime.date | datetime.timedelta,
                 b: datetime.date | datetime.timedelta) -> datetime.timedelta:
    """A duration minus a duration, or the days from one date to another (always in range)."""
    if isinstance(a, datetime.timedelta):
        assert isinstance(b, datetime.timedelta)
        return _duration(a.days - b.days)
    assert isinstance(b, datetime.date)
    return a - b


def duration_mul(a: datetime.timedelta | int, b: datetime.timedelta | int) -> datetime.timedelta:
    """A duration times a whole number (either way round)."""
    if isinstance(a, datetime.timedelta):
        assert isinstance(b, int)
        return _duration(a.days * b)
    assert isinstance(b, datetime.timedelta)
    return _duration(a * b.days)


# ---------------------------------------------------------------- calendar months
# A month has no fixed number of days, so month durations are counted in months and added to
# a date on the calendar: the same day of the month, months later or earlier; when that month
# is too short for the day, its last day (the end-of-month rule: 2024-01-31 + 1 month is
# 2024-02-29). Adding is therefore not undone by subtracting (2024-02-29 - 1 month is
# 2024-01-29), and 1 month + 1 month is added at once (2024-01-31 + 2 months is 2024-03-31).


def shift_months(day: datetime.date, months: int) -> datetime.date:
    """The date `months` calendar months after `day` (before it, when negative), with the
    end-of-month rule; out of the calendar raises `OutOfRange` (E408)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    if not datetime.MINYEAR <= year <= datetime.MAXYEAR:
        raise _date_range(months > 0)
    month += 1
    if day.day <= 28:
        return datetime.date(year, month, day.day)
    return datetime.date(year, month, min(day.day, _month_days(year, month)))


#: Days in each month of a common year (January first).
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _month_days(year: int, month: int) -> int:
    """The days in a month of the Gregorian calendar (as `calendar.monthrange`, whose module
    and `locale` one evaluation need not import)."""
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _MONTH_DAYS[month - 1]


def months_date_add(a: datetime.date | CalendarMonths,
                    b: datetime.date | CalendarMonths) -> datetime.date:
    """A date plus a duration in months (either way round)."""
    if isinstance(a, CalendarMonths):
        assert isinstance(b, datetime.date)
        return shift_months(b, a.count)
    assert isinstance(b, CalendarMonths)
    return shift_months(a, b.count)


def months_date_sub(a: datetime.date, b: CalendarMonths) -> datetime.date:
    """A date minus a duration in months."""
    return shift_months(a, -b.count)


def _months(count: int) -> CalendarMonths:
    if -MAX_MONTHS <= count <= MAX_MONTHS:
        return CalendarMonths(count)
    what = (f"a duration of more than {MAX_MONTHS:,} months" if count > 0
            else f"a duration of more than {MAX_MONTHS:,} months back")
    raise OutOfRange(what, _MONTHS_HELP)


def months_add(a: CalendarMonths, b: CalendarMonths) -> CalendarMonths:
    return _months(a.count + b.count)


def months_sub(a: CalendarMonths, b: CalendarMonths) -> CalendarMonths:
    return _months(a.count - b.count)


def months_mul(a: CalendarMonths | int, b: CalendarMonths | int) -> CalendarMonths:
    """A duration in months times a whole number (either way round)."""
    if isinstance(a, CalendarMonths):
        assert isinstance(b, int)
        return _months(a.count * b)
    assert isinstance(b, CalendarMonths)
    return _months(a * b.count)


#: Arithmetic by the type of its result: amounts (`ARITH`), whole numbers, dates, durations;
#: a date with a duration in months (`MONTH_DATES`) and durations in months (`MONTHS`).
ARITH = {"+": add, "-": sub, "*": mul, "/": div}
WHOLE: dict[str, Callable[..., object]] = {"+": whole_add, "-": whole_sub, "*": whole_mul}
DATES: dict[str, Callable[..., object]] = {"+": date_add, "-": date_sub}
DURATIONS: dict[str, Callable[..., object]] = {"+": duration_add, "-": duration_sub,
                                               "*": duration_mul}
MONTH_DATES: dict[str, Callable[..., object]] = {"+": months_date_add, "-": months_date_sub}
MONTHS: dict[str, Callable[..., object]] = {"+": months_add, "-": months_sub, "*": months_mul}


def between(value: object, low: object, high: object) -> bool:
    return low <= value <= high  # type: ignore[operator, no-any-return]


#: WHOLE_LIMIT * 10**places for the places `round` takes (0 to 28), made once.
_ROUND_LIMITS = tuple(WHOLE_LIMIT * 10**places for places in range(29))


def _fraction(value: int | Decimal) -> Fraction:
    return Fraction(value)


def _rounded(value: Fraction, places: int, mode: str) -> Decimal:
    """Rounds an exact rational to `places` decimals: half away from zero, up, or down."""
    scaled = value * 10**places
    negative = scaled < 0
    magnitude = -scaled if negative else scaled
    if mode == "round":
        whole = math.floor(magnitude + Fraction(1, 2))
    elif mode == "round_up":
        whole = math.ceil(magnitude)
    else:
        whole = math.floor(magnitude)
    # An exact quotient can be far beyond the range: the result is whole * 10**-places.
    if whole >= (_ROUND_LIMITS[places] if places < len(_ROUND_LIMITS)
                 else WHOLE_LIMIT * 10**places):
        raise OutOfRange(*_AMOUNT_TOO_LARGE)
    digits = Decimal(whole).as_tuple().digits  # exact, whatever the number of digits
    return Decimal((1 if negative and whole else 0, digits, -places))


def round_value(mode: str, value: int | Decimal | Fraction, places: int) -> Decimal:
    """Rounds exactly; a division inside `round(...)` is computed as an exact fraction first."""
    exact = value if isinstance(value, Fraction) else _fraction(value)
    return _rounded(exact, places, mode)


def exact_div(a: int | Decimal, b: int | Decimal) -> Fraction:
    """An exact quotient, only ever passed straight to `round_value`."""
    if b == 0:
        raise DivisionByZero()
    return _fraction(a) / _fraction(b)


def minimum(*values: object) -> object:
    return min(values)  # type: ignore[type-var]


def maximum(*values: object) -> object:
    return max(values)  # type: ignore[type-var]


def absolute(value: int | Decimal) -> int | Decimal:
    return -value if value < 0 else value


def count(values: tuple[object, ...]) -> int:
    return len(values)


def days_between(start: datetime.date, end: datetime.date) -> int:
    return (end - start).days


ROUNDING = ("round", "round_up", "round_down")

#: Built-in functions by name; generated code reaches them only through this table.
FUNCTIONS: dict[str, Callable[..., object]] = {
    "min": minimum, "max": maximum, "abs": absolute, "count": count,
    "days_between": days_between,
}
