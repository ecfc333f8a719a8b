"""SQL amounts: exact decimal arithmetic that gives Python's `decimal` results, digit for digit.

Python keeps an amount's exponent (`20.00 * 0.05` is `1.0000`), rounds a result of more than 28
significant digits half to even, and has a negative zero. SQL decimals have a fixed scale per
column and no signed zero. So an amount in SQL is three things (`values.Val`): its value as a
DECIMAL wide enough for every row, its decimal places in this row, and its sign bit; every
operation works out all three the way Python's context does. A calculation that could need more
than 28 digits (where Python would round) is refused at translation time, never approximated;
so is a rounded division whose integers would not fit in a BIGINT.
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_engine.core.source import Span
from policy_engine.sql import trees as t
from policy_engine.sql.trees import Sql
from policy_engine.sql.values import (
    BIGINT_LIMIT,
    CONTEXT_DIGITS,
    Bounds,
    Digits,
    Untranslatable,
    Val,
)


def faults(*values: Val) -> Sql | None:
    """The first fault of values evaluated left to right (None when none can stop)."""
    found = [v.fault for v in values if v.fault is not None]
    return t.coalesce(found) if found else None


def digits_of(bounds: Bounds) -> int:
    return max(len(str(bounds.magnitude)), 1)


def fit(digits: Digits, span: Span | None, what: str) -> Digits:
    """Refuses a calculation that could need more digits than Python's context keeps."""
    if digits.total > CONTEXT_DIGITS:
        raise Untranslatable(
            f"{what} can need {digits.total} digits, more than the {CONTEXT_DIGITS} that "
            "amounts are computed with exactly", span,
            help="bound the facts it reads ('amount from 0 to 10000'), or decide with "
                 "--engine python", digits=True)
    return digits


def as_amount(value: Val) -> Val:
    """A whole number used where an amount is meant: exponent 0, negative when below zero."""
    if value.digits is not None:
        return value
    assert value.bounds is not None
    digits = Digits(digits_of(value.bounds), 0)
    return Val(t.decimal(value.sql, digits.total, 0), value.fault, digits=digits,
               scale=t.big(0), negative=t.compare("<", value.sql, t.num(0)))


def tight(value: Val) -> Sql:
    """The value in the narrowest DECIMAL that holds it, so that SQL's result types (which
    add the operands' widths) never need to drop digits."""
    assert value.digits is not None
    return t.decimal(value.sql, value.digits.total, value.digits.scale)


def _zero_or(result: Sql, zero_sign: Sql) -> Sql:
    """The sign bit of a result: below zero, or for a zero the sign Python gives it."""
    return t.when(t.compare("!=", result, t.num(0)), t.compare("<", result, t.num(0)),
                  zero_sign)


def add(a: Val, b: Val, subtract: bool, span: Span | None) -> Val:
    a, b = as_amount(a), as_amount(b)
    assert a.digits and b.digits and a.negative is not None and b.negative is not None
    digits = fit(Digits(max(a.digits.whole, b.digits.whole) + 1,
                        max(a.digits.scale, b.digits.scale)), span, "this sum")
    raw = t.arith("-" if subtract else "+", tight(a), tight(b))
    value = t.decimal(raw, digits.total, digits.scale)
    # Python: -0 + -0 is -0 and 0 + -0 is 0; -0 - 0 is -0 and -0 - -0 is 0.
    zero = (t.and_([a.negative, t.not_(b.negative)]) if subtract
            else t.and_([a.negative, b.negative]))
    scale = t.func("GREATEST", _scale(a), _scale(b))
    return Val(value, faults(a, b), digits=digits, scale=scale,
               negative=_zero_or(value, zero))


def multiply(a: Val, b: Val, span: Span | None) -> Val:
    a, b = as_amount(a), as_amount(b)
    assert a.digits and b.digits and a.negative is not None and b.negative is not None
    digits = fit(Digits(a.digits.whole + b.digits.whole, a.digits.scale + b.digits.scale),
                 span, "this product")
    value = t.decimal(t.arith("*", tight(a), tight(b)), digits.total, digits.scale)
    sign = t.compare("!=", a.negative, b.negative)
    return Val(value, faults(a, b), digits=digits, scale=t.arith("+", _scale(a), _scale(b)),
               negative=sign)


def negate(a: Val) -> Val:
    a = as_amount(a)
    assert a.digits is not None
    value = t.neg(a.sql)
    # Python's context gives the negation of any zero as a positive zero.
    return Val(value, a.fault, digits=a.digits, scale=a.scale,
               negative=t.compare("<", value, t.num(0)))


def absolute(a: Val) -> Val:
    a = as_amount(a)
    # `-value if value < 0 else value`: a negative zero stays negative.
    below = t.compare("<", a.sql, t.num(0))
    return Val(t.when(below, t.neg(a.sql), a.sql), a.fault, digits=a.digits, scale=a.scale,
               negative=t.when(below, t.false(), a.negative))


def choose(values: Sequence[Val], smallest: bool) -> Val:
    """min or max: the first of the values that no later one beats, as Python's min and max."""
    amounts = [as_amount(v) for v in values]
    best = amounts[0]
    for other in amounts[1:]:
        assert best.digits and other.digits
        beats = t.compare("<" if smallest else ">", other.sql, best.sql)
        digits = Digits(max(best.digits.whole, other.digits.whole),
                        max(best.digits.scale, other.digits.scale))
        best = Val(t.decimal(t.when(beats, other.sql, best.sql), digits.total, digits.scale),
                   faults(best, other), digits=digits,
                   scale=t.when(beats, _scale(other), _scale(best)),
                   negative=t.when(beats, _negative(other), _negative(best)))
    return best


def round_value(mode: str, value: Val, places: int, span: Span | None) -> Val:
    """round (half away from zero), round_up or round_down of a number to `places`."""
    value = as_amount(value)
    assert value.digits is not None
    digits = fit(Digits(value.digits.whole + 1, places), span, "this rounding")
    if places >= value.digits.scale:
        exact = t.decimal(value.sql, digits.total, places)
        return Val(exact, value.fault, digits=digits, scale=t.big(places),
                   negative=t.compare("<", exact, t.num(0)))
    shifted = t.arith("*", tight(value), t.decimal(t.lit("1" + "0" * places), places + 1, 0))
    magnitude = t.func("ABS", shifted)
    if mode == "round":
        whole = t.func("FLOOR", t.arith("+", magnitude, t.decimal(t.lit("0.5"), 1, 1)))
    elif mode == "round_up":
        whole = t.func("CEIL", magnitude)
    else:
        whole = t.func("FLOOR", magnitude)
    return _from_whole(whole, t.compare("<", value.sql, t.num(0)), places, digits, value.fault)


def _from_whole(whole: Sql, below: Sql, places: int, digits: Digits, fault: Sql | None) -> Val:
    """An amount of `places` decimals from its digits as a whole number and its sign."""
    step = t.decimal(t.lit("1" if places == 0 else "0." + "0" * (places - 1) + "1"),
                     places + 1, places)
    magnitude = t.decimal(t.arith("*", t.decimal(whole, digits.whole + places, 0), step),
                          digits.total, places)
    value = t.when(below, t.neg(magnitude), magnitude)
    return Val(t.decimal(value, digits.total, places), fault, digits=digits,
               scale=t.big(places), negative=t.and_([below, t.compare("!=", whole, t.num(0))]))


def round_division(mode: str, a: Val, b: Val, places: int, span: Span | None) -> Val:
    """`round(a / b, places)`: the exact quotient rounded once, in BIGINT arithmetic.

    With a = A / 10^sa and b = B / 10^sb (A, B whole), a / b * 10^places is
    (A * 10^(places + sb - sa)) / B; its integer quotient and remainder give the rounding.
    """
    a, b = as_amount(a), as_amount(b)
    assert a.digits and b.digits
    shift = places + b.digits.scale - a.digits.scale
    top_digits = a.digits.total + max(shift, 0)
    bottom_digits = b.digits.total + max(-shift, 0)
    if max(top_digits, bottom_digits) > len(str(BIGINT_LIMIT)) - 1:
        raise Untranslatable(
            f"this rounded division needs whole numbers of {max(top_digits, bottom_digits)} "
            "digits, more than SQL's BIGINT holds", span,
            help="bound the facts it reads, or decide with --engine python", digits=True)
    digits = fit(Digits(a.digits.whole + b.digits.scale + 1, places), span, "this quotient")
    top = t.func("ABS", t.cast(t.arith("*", tight(a), t.decimal(
        t.lit("1" + "0" * a.digits.scale), a.digits.scale + 1, 0)), "BIGINT"))
    bottom = t.func("ABS", t.cast(t.arith("*", tight(b), t.decimal(
        t.lit("1" + "0" * b.digits.scale), b.digits.scale + 1, 0)), "BIGINT"))
    if shift > 0:
        top = t.arith("*", top, t.big(10**shift))
    elif shift < 0:
        bottom = t.arith("*", bottom, t.big(10**-shift))
    safe_bottom = t.when(t.compare("==", bottom, t.num(0)), t.big(1), bottom)
    quotient = t.arith("//", top, safe_bottom)
    remainder = t.arith("%", top, safe_bottom)
    if mode == "round":
        whole = t.arith("+", quotient, t.when(
            t.compare(">=", t.arith("*", remainder, t.big(2)), safe_bottom), t.big(1), t.big(0)))
    elif mode == "round_up":
        whole = t.arith("+", quotient, t.when(t.compare(">", remainder, t.num(0)),
                                              t.big(1), t.big(0)))
    else:
        whole = quotient
    below = t.compare("!=", t.compare("<", a.sql, t.num(0)), t.compare("<", b.sql, t.num(0)))
    zero = t.when(t.compare("==", b.sql, t.num(0)), t.lit("E405"))
    fault = faults(a, b)
    fault = t.coalesce([fault, zero]) if fault is not None else zero
    return _from_whole(whole, below, places, digits, fault)


def _scale(value: Val) -> Sql:
    assert value.scale is not None
    return value.scale


def _negative(value: Val) -> Sql:
    assert value.negative is not None
    return value.negative


def text(value: Val) -> Sql:
    """The amount as Python writes it (`format(value, "f")`): its own decimal places, `-` for
    a negative value or a negative zero."""
    assert value.digits is not None and value.negative is not None
    scale = value.digits.scale
    units = t.cast(t.func("ABS", t.arith("*", tight(value), t.decimal(
        t.lit("1" + "0" * scale), scale + 1, 0))), f"DECIMAL({max(value.digits.total, 1)}, 0)")
    written = t.cast(units, "VARCHAR")
    # LPAD cuts a longer text down to the width: pad only up to it.
    digits = t.lpad(written, t.cast(t.func("GREATEST", t.length(written), t.num(scale + 1)),
                                    "INT"), "0")
    whole = t.substring(digits, t.num(1), t.arith("-", t.length(digits), t.num(scale)))
    places = _scale(value)
    fraction = t.substring(digits, t.arith("+", t.arith("-", t.length(digits), t.num(scale)),
                                           t.num(1)), places)
    body = t.when(t.compare("==", places, t.num(0)), whole,
                  t.concat([whole, t.lit("."), fraction]))
    return t.concat([t.when(value.negative, t.lit("-"), t.lit("")), body])
