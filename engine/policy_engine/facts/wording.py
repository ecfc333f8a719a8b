"""Wording: how the fact stage says what a value should be and what it got instead."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from policy_engine.check.checked import FactInfo
from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EmptyListType,
    EnumType,
    ListType,
    TextType,
    Type,
    WholeType,
    format_value,
)
from policy_engine.core.data import JsonPath, kind_of
from policy_engine.core.diagnostics import did_you_mean
from policy_engine.facts.forms import AMOUNT_RE, DATE_RE

#: How many declared names an 'unknown fact' help line lists before it stops.
_LISTED_NAMES = 12
#: Longest piece of a bad value quoted in a message.
_SHOWN_CHARS = 40


def type_at(t: Type, rest: JsonPath) -> Type:
    for _ in rest:
        if isinstance(t, ListType):
            t = t.element
    return t


def expected(t: Type) -> str:
    """Says what a value of type `t` looks like, for 'expected ...' messages."""
    if isinstance(t, (WholeType, AmountType)):
        return ("an " if isinstance(t, AmountType) else "a ") + t.describe()
    if isinstance(t, DateType):
        return "a date YYYY-MM-DD"
    if isinstance(t, ListType):
        return f"a list, each item {expected(t.element)}"
    if isinstance(t, EmptyListType):
        return "an empty list"
    return t.describe()


#: A date written another way: 01.03.2024, 1/3/2024, 2024.03.01, 2024/03/01.
_OTHER_DATE = re.compile(r"[0-9]{1,2}[./][0-9]{1,2}[./][0-9]{2,4}"
                         r"|[0-9]{4}[./][0-9]{1,2}[./][0-9]{1,2}")


def mismatch(t: Type, value: object) -> str:
    return f"expected {expected(t)}, got {show(value)}"


def mismatch_help(t: Type, value: object) -> str | None:
    if isinstance(value, float):
        if isinstance(t, AmountType):
            return "use a decimal string or an exact number"
        if isinstance(t, WholeType):
            return "write a whole number without a decimal point"
    if isinstance(t, EnumType) and isinstance(value, str):
        return did_you_mean(value, t.values)
    if isinstance(t, (TextType, EnumType)) and isinstance(value, (bool, int, Decimal)):
        return "YAML reads this as a number or yes/no; put the value in quotes"
    if isinstance(t, BoolType) and isinstance(value, str) and value.lower() in (
            "yes", "no", "true", "false"):
        return f"'{value}' in quotes is text; write {value.lower()} without quotes"
    if isinstance(t, WholeType) and isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return "a number in quotes is text; write the number without quotes"
    if isinstance(t, DateType) and isinstance(value, str) and DATE_RE.fullmatch(value):
        return "there is no such day in the calendar"
    if isinstance(t, DateType) and isinstance(value, str) and _OTHER_DATE.fullmatch(value):
        return "write the date as YYYY-MM-DD, for example 2024-03-01 for 1 March 2024"
    if isinstance(t, AmountType) and isinstance(value, str) and not AMOUNT_RE.fullmatch(value):
        return "write the amount as digits with an optional decimal point, like 12.50"
    return None


def null_message(info: FactInfo) -> str:
    """Why null for a fact is refused (E314): it is not a value, and not a way to leave a
    fact out either, since a blank YAML value (`paid:`) is null too."""
    return f"{quote(info.name)} is null: a fact has a value, or is left out"


def null_help(info: FactInfo) -> str:
    """What to write instead of null for a fact."""
    if info.required:
        return (f"'{info.name}' is required: give it a value ({expected(info.type)}); leave "
                "a fact out only to say it is not given")
    if info.default is not None:
        return (f"leave the fact out to say it is not given; it then takes its default, "
                f"{format_value(info.default)}")
    return "leave the fact out to say it is not given"


def show(value: object) -> str:
    """Shows a value the way it would look in YAML."""
    if value is None:
        return "null"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, Decimal):
        # 1E+999999999 written out would be a billion digits: far from 0 it stays as it is.
        if value.is_finite() and abs(value.adjusted()) <= _SHOWN_CHARS:
            return format(value, "f")
        return str(value)
    if isinstance(value, (int, float)):
        try:
            return repr(value)
        except ValueError:  # Python writes out whole numbers of at most 4,300 digits
            return "a number of more than 4,300 digits"
    return kind_of(value)


def quote(text: str) -> str:
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return "'" + text.replace("'", "''") + "'"


def declared_list(names: Sequence[str]) -> str:
    if not names:
        return "the policy declares no facts"
    shown = ", ".join(names[:_LISTED_NAMES])
    if len(names) > _LISTED_NAMES:
        shown += f", ... ({len(names) - _LISTED_NAMES} more)"
    return f"declared facts: {shown}"
