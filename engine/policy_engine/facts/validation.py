"""Facts: the input stage that derives a JSON Schema from declarations and validates fact sets.

Validation runs the schema first, so problems carry JSON paths, and then converts each value
to its runtime form (amounts to `Decimal`, dates to `datetime.date`, lists to tuples), which
also enforces what JSON Schema cannot say exactly, such as amount bounds on decimal strings.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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
    Value,
    WholeType,
    to_json_value,
)
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from policy_engine.scenarios.yaml_data import json_path

if TYPE_CHECKING:
    from jsonschema import ValidationError

JsonPath = tuple[str | int, ...]
Locator = Callable[[JsonPath], tuple[int, int] | None]

_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
_AMOUNT_RE = re.compile(_AMOUNT_PATTERN)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: How many declared names an 'unknown fact' help line lists before it stops.
_LISTED_NAMES = 12
#: Longest piece of a bad value quoted in a message.
_SHOWN_CHARS = 40


def fact_schema(facts: Sequence[FactInfo], *, title: str | None = None,
                nullable: bool = False) -> dict[str, Any]:
    """Builds the JSON Schema (draft 2020-12) that a fact set for these declarations obeys.

    Args:
        facts: the declared facts, in declaration order.
        title: an optional schema title, usually the policy's name.
        nullable: allow null for optional facts without a default (null means "not given");
            the published schema says so, the internal validator removes such nulls first.

    Returns:
        A JSON-serialisable schema; the same declarations always give the same schema.
    """
    schema: dict[str, Any] = {"$schema": _SCHEMA_DIALECT}
    if title is not None:
        schema["title"] = title
    properties: dict[str, Any] = {}
    for info in facts:
        prop = _type_schema(info.type)
        if nullable and info.optional and info.default is None:
            prop = {"anyOf": [prop, {"type": "null"}]}
        if info.description:
            prop["description"] = info.description
        if info.default is not None:
            prop["default"] = to_json_value(info.default)
        properties[info.name] = prop
    schema["type"] = "object"
    schema["properties"] = properties
    schema["required"] = [info.name for info in facts if info.required]
    schema["additionalProperties"] = False
    return schema


def _type_schema(t: Type) -> dict[str, Any]:
    if isinstance(t, BoolType):
        return {"type": "boolean"}
    if isinstance(t, WholeType):
        result: dict[str, Any] = {"type": "integer"}
        if t.minimum is not None:
            result["minimum"] = t.minimum
        if t.maximum is not None:
            result["maximum"] = t.maximum
        return result
    if isinstance(t, AmountType):
        # `minimum` and `maximum` apply to numbers only and `pattern` to strings only; the
        # conversion step checks the bounds exactly for both forms.
        result = {"type": ["number", "string"], "pattern": _AMOUNT_PATTERN}
        if t.minimum is not None:
            result["minimum"] = _json_number(t.minimum)
        if t.maximum is not None:
            result["maximum"] = _json_number(t.maximum)
        return result
    if isinstance(t, TextType):
        return {"type": "string"}
    if isinstance(t, DateType):
        return {"type": "string", "format": "date", "pattern": _DATE_PATTERN}
    if isinstance(t, EnumType):
        return {"type": "string", "enum": list(t.values)}
    if isinstance(t, ListType):
        return {"type": "array", "items": _type_schema(t.element)}
    return {"type": "array", "maxItems": 0}


def _json_number(number: Decimal) -> int | float:
    # JSON has no decimals; an integral bound stays exact, others are as close as JSON allows.
    return int(number) if number == number.to_integral_value() else float(number)


class FactValidator:
    """Validates fact sets against declarations; build one per policy and reuse it.

    Args:
        facts: the declared facts, in declaration order.
        title: an optional schema title.
    """

    def __init__(self, facts: Sequence[FactInfo], *, title: str | None = None) -> None:
        self.facts: tuple[FactInfo, ...] = tuple(facts)
        self.schema: dict[str, Any] = fact_schema(self.facts, title=title, nullable=True)
        self._strict_schema = fact_schema(self.facts, title=title)
        self._by_name = {info.name: info for info in self.facts}
        # Imported here: programs that only decide (the compiled validator) never need it.
        from jsonschema import Draft202012Validator, FormatChecker

        self._validator = Draft202012Validator(self._strict_schema,
                                               format_checker=FormatChecker())
        self._nullable = frozenset(info.name for info in self.facts
                                   if info.optional and info.default is None)

    def validate(
        self,
        data: object,
        *,
        file: str,
        locate: Locator | None = None,
        prefix: JsonPath = ("facts",),
    ) -> dict[str, Value]:
        """Checks a fact set and converts it to runtime values.

        Args:
            data: plain data, usually from `policy_engine.scenarios.yaml_data` or JSON.
            file: the file name used in diagnostics.
            locate: maps a JSON path to its (line, column), for example `YamlDocument.locate`.
            prefix: the JSON path of `data` inside its file.

        Returns:
            The facts in declaration order: the values given, plus defaults for optional facts
            that were left out. Optional facts without a default that were left out are absent.

        Raises:
            DiagnosticError: with every problem found, sorted by JSON path.
        """
        reporter = _Reporter(file, locate, prefix)
        if not isinstance(data, dict):
            reporter.add(
                "E304",
                f"facts must be a mapping of fact names to values, got {_kind(data)}",
                (),
                help="write one 'name: value' line per fact",
            )
            raise reporter.error()
        # null for an optional fact without a default means "not given": the fact is absent,
        # and a rule that needs it refuses to decide like for any absent fact.
        data = {key: _plain(value) for key, value in data.items()
                if not (value is None and key in self._nullable)}
        broken: set[object] = set()
        reported_required = False
        by_path: dict[JsonPath, list[ValidationError]] = {}
        for error in self._validator.iter_errors(data):
            if not error.path:
                if error.validator == "additionalProperties":
                    self._unknown(data, reporter)
                elif error.validator == "required" and not reported_required:
                    reported_required = True
                    self._missing(data, reporter)
                continue
            path = tuple(error.path)
            if error.validator in ("minimum", "maximum") and self._is_amount_at(path):
                continue  # float comparison is inexact; the conversion checks amounts exactly
            by_path.setdefault(path, []).append(error)
        for path, errors in by_path.items():
            broken.add(path[0])
            self._wrong_value(path, errors[0].instance, reporter)
        result: dict[str, Value] = {}
        for info in self.facts:
            if info.name in data:
                if info.name in broken:
                    continue
                try:
                    result[info.name] = convert_value(info.type, data[info.name])
                except _ConversionError as exc:
                    reporter.add("E304", str(exc), (info.name, *exc.path), help=exc.help)
            elif info.default is not None:
                result[info.name] = info.default
        if reporter.diagnostics:
            raise reporter.error()
        return result

    # ------------------------------------------------------------ messages

    def _unknown(self, data: dict[Any, object], reporter: _Reporter) -> None:
        names = [info.name for info in self.facts]
        for key in data:
            if key in self._by_name:
                continue
            shown = str(key)
            help_text = did_you_mean(shown, names)
            if help_text is None:
                help_text = _declared_list(names)
            reporter.add("E305", f"unknown fact {_quote(shown)}", (shown,), help=help_text)

    def _missing(self, data: dict[Any, object], reporter: _Reporter) -> None:
        for info in self.facts:
            if info.required and info.name not in data:
                reporter.add(
                    "E306",
                    f"required fact {_quote(info.name)} is missing",
                    (info.name,),
                    help=f"expected {_expected(info.type)}",
                    locate_at=(),
                )

    def _wrong_value(self, path: JsonPath, value: object, reporter: _Reporter) -> None:
        info = self._by_name[str(path[0])]
        t = _type_at(info.type, path[1:])
        if value is None:
            if len(path) > 1:
                message = f"expected {_expected(t)}, got null"
                help_text = "lists cannot hold null; remove the item"
            elif info.required:
                message = f"{_quote(info.name)} is null, but it is a required fact"
                help_text = f"expected {_expected(t)}"
            else:
                message = (
                    f"{_quote(info.name)} is null; leave an optional fact out "
                    "instead of writing null"
                )
                help_text = f"expected {_expected(t)}"
            reporter.add("E304", message, path, help=help_text)
            return
        reporter.add("E304", _mismatch(t, value), path, help=_mismatch_help(t, value))

    def _is_amount_at(self, path: JsonPath) -> bool:
        info = self._by_name.get(str(path[0]))
        return info is not None and isinstance(_type_at(info.type, path[1:]), AmountType)


class _Reporter:
    """Collects diagnostics for one fact set, with positions from the caller's locator."""

    def __init__(self, file: str, locate: Locator | None, prefix: JsonPath) -> None:
        self.file = file
        self.locate = locate
        self.prefix = prefix
        self.diagnostics: list[tuple[tuple[tuple[int, int, str], ...], Diagnostic]] = []

    def add(
        self,
        code: str,
        message: str,
        path: JsonPath,
        *,
        help: str | None = None,
        locate_at: JsonPath | None = None,
    ) -> None:
        full = self.prefix + path
        where = self.prefix + locate_at if locate_at is not None else full
        position = self.locate(where) if self.locate is not None else None
        diagnostic = Diagnostic(
            code,
            message,
            file=self.file,
            line=position[0] if position else None,
            column=position[1] if position else None,
            path=json_path(full),
            help=help,
        )
        self.diagnostics.append((_path_key(full), diagnostic))

    def error(self) -> DiagnosticError:
        ordered = sorted(self.diagnostics, key=lambda item: (item[0], item[1].message))
        return DiagnosticError([diagnostic for _, diagnostic in ordered])


def _path_key(path: JsonPath) -> tuple[tuple[int, int, str], ...]:
    # Indexes sort before keys and numerically among themselves, so [2] comes before [10].
    return tuple((0, step, "") if isinstance(step, int) else (1, 0, step) for step in path)


# ---------------------------------------------------------------- conversion


class _ConversionError(ValueError):
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
        if isinstance(raw, str) and _DATE_RE.fullmatch(raw):
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
    raise _ConversionError(_mismatch(t, raw), help=_mismatch_help(t, raw))


def _convert_list(t: ListType | EmptyListType, raw: list[object] | tuple[object, ...]) -> Value:
    if isinstance(t, EmptyListType):
        if raw:
            raise _ConversionError(f"expected an empty list, got {_kind(raw)} of {len(raw)}")
        return ()
    items: list[Value] = []
    for index, item in enumerate(raw):
        try:
            items.append(convert_value(t.element, item))
        except _ConversionError as exc:
            raise _ConversionError(str(exc), (index, *exc.path), exc.help) from None
    return tuple(items)


#: Amounts are money: at most this many significant digits, and no further from the decimal
#: point, so exact arithmetic on them stays within the evaluator's 28-digit context.
AMOUNT_DIGITS = 28


def _amount(t: AmountType, raw: object) -> Decimal | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, float):
        raise _float_error(t, raw)
    value: Decimal | None = None
    if isinstance(raw, int):
        value = Decimal(raw) if len(str(abs(raw))) <= AMOUNT_DIGITS else Decimal("1E+99")
    elif isinstance(raw, Decimal):
        value = raw if raw.is_finite() else None
    elif isinstance(raw, str) and _AMOUNT_RE.fullmatch(raw):
        if len(raw) > 4 * AMOUNT_DIGITS:
            value = Decimal("1E+99")
        else:
            value = Decimal(raw)
    if value is not None and (len(value.as_tuple().digits) > AMOUNT_DIGITS
                              or abs(value.adjusted()) > AMOUNT_DIGITS):
        raise _ConversionError(
            f"an amount has at most {AMOUNT_DIGITS} significant digits, within "
            f"{AMOUNT_DIGITS} places of the decimal point",
            help="write the amount in the order currency, for example 12.50")
    return value


def _float_error(t: Type, raw: float) -> _ConversionError:
    if isinstance(t, AmountType):
        exact = str(Decimal(raw))
        inexact = exact != repr(raw) and len(exact) <= 80
        return _ConversionError(
            f"expected {_expected(t)}, got the floating-point number {raw!r}; "
            "use a decimal string or an exact number",
            help=f"a float is inexact: {raw!r} is really {exact}" if inexact else None,
        )
    return _ConversionError(
        f"expected {_expected(t)}, got the floating-point number {raw!r}",
        help="write a whole number without a decimal point",
    )


def _within(number: int | Decimal, minimum: object, maximum: object) -> bool:
    if isinstance(minimum, (int, Decimal)) and number < minimum:
        return False
    return not (isinstance(maximum, (int, Decimal)) and number > maximum)


def _plain(value: object) -> object:
    """Turns values a Python caller may pass (tuples, dates) into their JSON form."""
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, Decimal) and not value.is_finite():
        # JSON Schema would compare it with the bounds, which NaN refuses; as text it is
        # reported as a value that is not an amount.
        return str(value)
    return value


# ---------------------------------------------------------------- wording


def _type_at(t: Type, rest: JsonPath) -> Type:
    for _ in rest:
        if isinstance(t, ListType):
            t = t.element
    return t


def _expected(t: Type) -> str:
    """Says what a value of type `t` looks like, for 'expected ...' messages."""
    if isinstance(t, (WholeType, AmountType)):
        return ("an " if isinstance(t, AmountType) else "a ") + t.describe()
    if isinstance(t, DateType):
        return "a date YYYY-MM-DD"
    if isinstance(t, ListType):
        return f"a list, each item {_expected(t.element)}"
    if isinstance(t, EmptyListType):
        return "an empty list"
    return t.describe()


def _mismatch(t: Type, value: object) -> str:
    return f"expected {_expected(t)}, got {_show(value)}"


def _mismatch_help(t: Type, value: object) -> str | None:
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
    if isinstance(t, DateType) and isinstance(value, str) and _DATE_RE.fullmatch(value):
        return "there is no such day in the calendar"
    if isinstance(t, AmountType) and isinstance(value, str) and not _AMOUNT_RE.fullmatch(value):
        return "write the amount as digits with an optional decimal point, like 12.50"
    return None


def _show(value: object) -> str:
    """Shows a value the way it would look in YAML."""
    if value is None:
        return "null"
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, Decimal):
        return format(value, "f") if value.is_finite() else str(value)
    if isinstance(value, (int, float)):
        return repr(value)
    return _kind(value)


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "yes/no"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__


def _quote(text: str) -> str:
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    return "'" + text.replace("'", "''") + "'"


def _declared_list(names: Sequence[str]) -> str:
    if not names:
        return "the policy declares no facts"
    shown = ", ".join(names[:_LISTED_NAMES])
    if len(names) > _LISTED_NAMES:
        shown += f", ... ({len(names) - _LISTED_NAMES} more)"
    return f"declared facts: {shown}"
