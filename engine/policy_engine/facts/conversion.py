"""Conversion: raw fact values (from YAML, JSON or a program) to their typed runtime form.

Amounts become exact `Decimal`s (never from a float), dates `datetime.date`s, lists tuples.
Whole numbers have at most `MAX_DIGITS` digits, the engine's range; a number given with a huge
exponent (`Decimal("1E+999999999")`) is judged by its exponent, never written out in digits.
`convert_value` says exactly what is wrong with a value; `converter` gives, per type, a quick
function that converts a plain value or answers None when in doubt (the compiled validator
and `validation.validate` try those first, and the full path words the problem).
"""

from __future__ import annotations

import datetime
import decimal
from collections.abc import Callable
from decimal import Decimal

from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EmptyListType,
    EnumType,
    ListType,
    TextType,
    Type,
    Value,
    WholeType,
)
from policy_engine.core.data import JsonPath, kind_of
from policy_engine.evaluate.arithmetic import WHOLE_LIMIT
from policy_engine.facts.forms import AMOUNT_DIGITS, AMOUNT_RE, DATE_RE
from policy_engine.facts.wording import expected, mismatch, mismatch_help
from policy_engine.language.literals import MAX_DIGITS

#: Raises `decimal.Rounded` for an amount with more than `AMOUNT_DIGITS` significant digits.
DIGITS_CONTEXT = decimal.Context(prec=AMOUNT_DIGITS,
                                 traps=[decimal.Rounded, decimal.InvalidOperation])
#: Integers at least this large (in magnitude) have more digits than an amount may have.
_INT_LIMIT = 10**AMOUNT_DIGITS
#: Longest amount text the full path converts (longer text is refused there).
_TEXT_LIMIT = 4 * AMOUNT_DIGITS


class ConversionError(ValueError):
    """A value that does not fit its type; `path` leads to the bad item inside a list."""

    def __init__(self, message: str, path: JsonPath = (), help: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.help = help


def convert_value(t: Type, raw: object) -> Value:
    """Converts plain data to a runtime value of type `t`, checking it fits.

    Args:
        t: the declared type.
        raw: the value as loaded from YAML or JSON. Amounts may be ints, Decimals or decimal
            strings, never floats; dates are ISO `YYYY-MM-DD` strings or `datetime.date`.

    Returns:
        The runtime value: bool, int, Decimal, str, datetime.date or a tuple of these.

    Raises:
        ValueError: with a message saying what was expected and what was found.
    """
    if isinstance(t, BoolType):
        if isinstance(raw, bool):
            return raw
    elif isinstance(t, WholeType):
        if isinstance(raw, int) and not isinstance(raw, bool):
            if not -WHOLE_LIMIT < raw < WHOLE_LIMIT:
                raise ConversionError(
                    f"a whole number has at most {MAX_DIGITS:,} digits; this one has more",
                    help="check the value: whole numbers this long are out of the engine's "
                         "range")
            if _within(raw, t.minimum, t.maximum):
                return raw
        elif isinstance(raw, float):
            raise _float_error(t, raw)
    elif isinstance(t, AmountType):
        number = _amount(t, raw)
        if number is not None and _within(number, t.minimum, t.maximum):
            return number
    elif isinstance(t, TextType):
        if isinstance(raw, str):
            return raw
    elif isinstance(t, DateType):
        if isinstance(raw, datetime.date) and not isinstance(raw, datetime.datetime):
            return raw
        if isinstance(raw, str) and DATE_RE.fullmatch(raw):
            try:
                return datetime.date.fromisoformat(raw)
            except ValueError:
                pass
    elif isinstance(t, EnumType):
        if isinstance(raw, str) and raw in t.values:
            return raw
    elif isinstance(t, (ListType, EmptyListType)):
        if isinstance(raw, (list, tuple)):
            return _convert_list(t, raw)
    raise ConversionError(mismatch(t, raw), help=mismatch_help(t, raw))


def _convert_list(t: ListType | EmptyListType, raw: list[object] | tuple[object, ...]) -> Value:
    if isinstance(t, EmptyListType):
        if raw:
            raise ConversionError(f"expected an empty list, got {kind_of(raw)} of {len(raw)}")
        return ()
    items: list[Value] = []
    for index, item in enumerate(raw):
        try:
            items.append(convert_value(t.element, item))
        except ConversionError as exc:
            raise ConversionError(str(exc), (index, *exc.path), exc.help) from None
    return tuple(items)


def _amount(t: AmountType, raw: object) -> Decimal | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, float):
        raise _float_error(t, raw)
    value: Decimal | None = None
    if isinstance(raw, int):
        # Compared, not counted in text: a whole number of more than 4,300 digits has no text.
        value = Decimal(raw) if -_INT_LIMIT < raw < _INT_LIMIT else Decimal("1E+99")
    elif isinstance(raw, Decimal):
        value = raw if raw.is_finite() else None
    elif isinstance(raw, str) and AMOUNT_RE.fullmatch(raw):
        if len(raw) > 4 * AMOUNT_DIGITS:
            value = Decimal("1E+99")
        else:
            value = Decimal(raw)
    if value is not None and (len(value.as_tuple().digits) > AMOUNT_DIGITS
                              or abs(value.adjusted()) > AMOUNT_DIGITS):
        raise ConversionError(
            f"an amount has at most {AMOUNT_DIGITS} significant digits, within "
            f"{AMOUNT_DIGITS} places of the decimal point",
            help="write the amount in the order currency, for example 12.50")
    return value


def _float_error(t: Type, raw: float) -> ConversionError:
    if isinstance(t, AmountType):
        exact = str(Decimal(raw))
        inexact = exact != repr(raw) and len(exact) <= 80
        return ConversionError(
            f"expected {expected(t)}, got the floating-point number {raw!r}; "
            "use a decimal string or an exact number",
            help=f"a float is inexact: {raw!r} is really {exact}" if inexact else None,
        )
    return ConversionError(
        f"expected {expected(t)}, got the floating-point number {raw!r}",
        help="write a whole number without a decimal point",
    )


def _within(number: int | Decimal, minimum: object, maximum: object) -> bool:
    if isinstance(minimum, (int, Decimal)) and number < minimum:
        return False
    return not (isinstance(maximum, (int, Decimal)) and number > maximum)


class _LongWhole(int):
    """A whole number beyond the engine's range, as the full path sees it: Python cannot write
    it out (it writes at most 4,300 digits), nor then can JSON Schema's messages, so it shows
    as what it is. `convert_value` refuses it."""

    def __repr__(self) -> str:
        return f"a number of more than {MAX_DIGITS:,} digits"

    __str__ = __repr__


def plain(value: object) -> object:
    """Turns values a Python caller may pass (tuples, dates) into their JSON form, and whole
    numbers beyond the engine's range into a form that can be shown."""
    if value.__class__ is int:
        assert isinstance(value, int)
        return value if -WHOLE_LIMIT < value < WHOLE_LIMIT else _LongWhole(value)
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal) and not value.is_finite():
        # JSON Schema would compare it with the bounds, which NaN refuses; as text it is
        # reported as a value that is not an amount.
        return str(value)
    return value


# ---------------------------------------------------------------- quick converters


def _amount_digits_ok(value: Decimal) -> bool:
    return (len(value.as_tuple().digits) <= AMOUNT_DIGITS
            and abs(value.adjusted()) <= AMOUNT_DIGITS)


def _within_type(number: int | Decimal, t: WholeType | AmountType) -> bool:
    if t.minimum is not None and number < t.minimum:
        return False
    return not (t.maximum is not None and number > t.maximum)


def quick_amount(t: AmountType, raw: object) -> Decimal | None:
    """An amount from any accepted form (see `_amount`), or None when in doubt."""
    cls = raw.__class__
    if cls is Decimal:
        assert isinstance(raw, Decimal)
        if not raw.is_finite() or not _amount_digits_ok(raw):
            return None
        value = raw
    elif cls is int:
        assert isinstance(raw, int)
        if not -_INT_LIMIT < raw < _INT_LIMIT:
            return None
        value = Decimal(raw)
    elif cls is str:
        assert isinstance(raw, str)
        if len(raw) > _TEXT_LIMIT or not AMOUNT_RE.fullmatch(raw):
            return None
        value = Decimal(raw)
        if not _amount_digits_ok(value):
            return None
    else:
        return None
    return value if _within_type(value, t) else None


def quick_date(raw: object) -> datetime.date | None:
    cls = raw.__class__
    if cls is datetime.date:
        assert isinstance(raw, datetime.date)
        return raw
    if cls is str:
        assert isinstance(raw, str)
        if DATE_RE.fullmatch(raw):
            try:
                return datetime.date.fromisoformat(raw)
            except ValueError:
                return None
    return None


def quick_text(raw: object) -> str | None:
    # Like `plain`: a date given for a text is its ISO form, and so is a decimal that is
    # not a number (NaN, Infinity) its name.
    cls = raw.__class__
    if cls is str:
        assert isinstance(raw, str)
        return raw
    if cls is datetime.date:
        assert isinstance(raw, datetime.date)
        return raw.isoformat()
    if cls is Decimal:
        assert isinstance(raw, Decimal)
        return None if raw.is_finite() else str(raw)
    return None


def converter(t: Type) -> Callable[[object], Value | None] | None:
    """A function converting one raw value of type `t` (None when in doubt), or None if the
    fast path does not handle the type at all."""
    if isinstance(t, BoolType):
        return lambda raw: raw if raw.__class__ is bool else None
    if isinstance(t, WholeType):
        return lambda raw: (raw if raw.__class__ is int and -WHOLE_LIMIT < raw < WHOLE_LIMIT
                            and _within_type(raw, t) else None)
    if isinstance(t, AmountType):
        return lambda raw: quick_amount(t, raw)
    if isinstance(t, TextType):
        return quick_text
    if isinstance(t, DateType):
        return quick_date
    if isinstance(t, EnumType):
        values = frozenset(t.values)
        return lambda raw: raw if raw.__class__ is str and raw in values else None
    if isinstance(t, ListType):
        item = converter(t.element)
        if item is None:
            return None
        return _list_converter(item)
    return None


def _list_converter(item: Callable[[object], Value | None]) -> Callable[[object], Value | None]:
    def convert(raw: object) -> Value | None:
        if raw.__class__ is not list and raw.__class__ is not tuple:
            return None
        out: list[Value] = []
        for element in raw:
            value = item(element)
            if value is None:
                return None
            out.append(value)
        return tuple(out)

    return convert
