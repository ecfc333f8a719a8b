"""Arithmetic: exact amounts in one fixed decimal context, exact rounding, the built-in functions.

Both evaluators compute with these functions (the compiler's generated code reaches them by
name through its namespace), so a value never depends on which evaluator computed it, nor on
the caller's decimal context.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

from policy_engine.evaluate.errors import DivisionByZero

#: Amount arithmetic runs in this context whatever the caller's thread context is, so results
#: never depend on global state: 28 significant digits, halves rounded to even.
CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN,
                          traps=[decimal.InvalidOperation, decimal.DivisionByZero,
                                 decimal.Overflow])


def _dec(value: int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def add(a: int | Decimal, b: int | Decimal) -> Decimal:
    return CONTEXT.add(_dec(a), _dec(b))


def sub(a: int | Decimal, b: int | Decimal) -> Decimal:
    return CONTEXT.subtract(_dec(a), _dec(b))


def mul(a: int | Decimal, b: int | Decimal) -> Decimal:
    return CONTEXT.multiply(_dec(a), _dec(b))


def div(a: int | Decimal, b: int | Decimal) -> Decimal:
    if b == 0:
        raise DivisionByZero()
    return CONTEXT.divide(_dec(a), _dec(b))


def neg(a: int | Decimal) -> Decimal:
    return CONTEXT.minus(_dec(a))


def between(value: object, low: object, high: object) -> bool:
    return low <= value <= high  # type: ignore[operator, no-any-return]


ARITH = {"+": add, "-": sub, "*": mul, "/": div}


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
