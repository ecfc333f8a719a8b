"""Value types: the types a fact, an output or an expression can have, and how values print."""

from __future__ import annotations

import datetime
from decimal import Decimal

from policy_engine.core.cache import pickled_by_fields
from policy_engine.core.records import record


@record(slots=True, order=True)
class CalendarMonths:
    """The value of a duration in calendar months (`12 months`, `1 year`): a count of months,
    not of days, since a month has no fixed length. Month durations compare with each other
    by their count (`1 year == 12 months`)."""

    count: int


#: A runtime value. Enumeration values and text are `str`; lists are tuples; amounts are
#: `Decimal` and never `float`; durations are `timedelta` in whole days, or `CalendarMonths`.
Value = (bool | int | Decimal | str | datetime.date | datetime.timedelta | CalendarMonths
         | tuple["Value", ...])


@record(slots=True)
class BoolType:
    def describe(self) -> str:
        return "yes/no"


@record(slots=True)
class WholeType:
    minimum: int | None = None
    maximum: int | None = None

    def describe(self) -> str:
        return "whole number" + _bounds_text(self.minimum, self.maximum)


@record(slots=True)
class AmountType:
    minimum: Decimal | None = None
    maximum: Decimal | None = None

    def describe(self) -> str:
        return "amount" + _bounds_text(self.minimum, self.maximum)


@record(slots=True)
class TextType:
    def describe(self) -> str:
        return "text"


@record(slots=True)
class DateType:
    def describe(self) -> str:
        return "date"


@record(slots=True)
class DurationType:
    """A number of calendar days: `45 days`, or one date minus another."""

    def describe(self) -> str:
        return "duration"


@record(slots=True)
class MonthsType:
    """A number of calendar months: `12 months`, `1 year`, or a sum or multiple of such."""

    def describe(self) -> str:
        return "duration in months"


@record(slots=True)
class EnumType:
    """An enumeration; two enumerations are compatible when they list the same values."""

    values: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(self.values)


@record(slots=True)
class ListType:
    element: Type

    def describe(self) -> str:
        return "list of " + self.element.describe()


@record(slots=True)
class EmptyListType:
    """The type of the literal `[]`, compatible with any list type."""

    def describe(self) -> str:
        return "empty list"


Type = (BoolType | WholeType | AmountType | TextType | DateType | DurationType | MonthsType
        | EnumType | ListType | EmptyListType)
# Loading a large policy from the cache unpickles thousands of these: a call each, not a
# generic `__setstate__` (see `pickled_by_fields`).
pickled_by_fields(BoolType, WholeType, AmountType, TextType, DateType, DurationType, MonthsType,
                  EnumType, ListType, EmptyListType)

NUMERIC = (WholeType, AmountType)


def _bounds_text(minimum: object, maximum: object) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" at least {minimum}"
    if maximum is not None:
        return f" at most {maximum}"
    return ""


def article(t: Type) -> str:
    """A type as a message says it: 'a whole number at least 0', 'an amount', 'yes/no'."""
    if isinstance(t, (BoolType, TextType, EnumType)):
        return t.describe()
    if isinstance(t, (AmountType, EmptyListType)):
        return "an " + t.describe()
    return "a " + t.describe()


def is_numeric(t: Type) -> bool:
    return isinstance(t, NUMERIC)


def compatible(a: Type, b: Type) -> bool:
    """Whether values of the two types can be compared for equality."""
    if is_numeric(a) and is_numeric(b):
        return True
    if isinstance(a, EnumType) and isinstance(b, EnumType):
        return set(a.values) == set(b.values)
    if isinstance(a, (ListType, EmptyListType)) and isinstance(b, (ListType, EmptyListType)):
        if isinstance(a, EmptyListType) or isinstance(b, EmptyListType):
            return True
        return compatible(a.element, b.element)
    return type(a) is type(b)


def assignable(value: Type, target: Type) -> bool:
    """Whether a value of type `value` may be stored where `target` is declared."""
    if isinstance(target, AmountType):
        return is_numeric(value)
    if isinstance(target, WholeType):
        return isinstance(value, WholeType)
    if isinstance(target, EnumType):
        return isinstance(value, EnumType) and set(value.values) <= set(target.values)
    if isinstance(target, ListType):
        if isinstance(value, EmptyListType):
            return True
        return isinstance(value, ListType) and assignable(value.element, target.element)
    return type(value) is type(target)


def format_value(value: object) -> str:
    """Formats a runtime value the same way in every renderer, so output is deterministic."""
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return f"{value.days} day" if abs(value.days) == 1 else f"{value.days} days"
    if isinstance(value, CalendarMonths):
        return f"{value.count} month" if abs(value.count) == 1 else f"{value.count} months"
    if isinstance(value, tuple):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    return str(value)


def to_json_value(value: object) -> object:
    """Converts a runtime value to JSON: amounts become exact decimal strings, dates ISO text."""
    if isinstance(value, bool) or isinstance(value, int):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return f"P{value.days}D"  # ISO 8601
    if isinstance(value, CalendarMonths):
        return f"P{value.count}M"
    if isinstance(value, tuple):
        return [to_json_value(v) for v in value]
    return value
