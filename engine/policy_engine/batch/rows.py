"""Batch rows: one record of JSON Lines or CSV turned into raw facts, within the row limits.

A record is what the reader cuts from the input: the bytes of one JSON line, or the cells of
one CSV row. Parsing it gives a dict of raw facts for the fact stage, or a `RowError` that says
why the row is not a fact set. The limits (`RowLimits`) are checked before the expensive work
they guard: a row's nesting before `json` recurses into it, a number's digits before anything
expands it to an integer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from policy_engine.check.checked import FactInfo
from policy_engine.check.types import BoolType, EmptyListType, ListType, TextType, Type, WholeType
from policy_engine.core.data import JsonPath, json_path, kind_of
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, did_you_mean

Raw = dict[str, object]

_YES = {"yes": True, "true": True, "no": False, "false": False}
_WHOLE = re.compile(r"[+-]?[0-9]+")
#: A JSON string (skipped whole) or one bracket, for measuring how deep a row nests.
_STRUCTURE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)


@dataclass(frozen=True)
class RowLimits:
    """What one input row may hold; a row over a limit is reported as E307 and skipped.

    Args:
        max_row_bytes: the bytes of one row (a JSON line without its line break; the lines of
            one CSV row). A longer line is never held in memory whole.
        max_depth: how deeply arrays and objects may nest in a JSON row or a JSON cell.
        max_digits: the digits of one number written out in full: `1e6` has 7, `0.001` 4.
    """

    max_row_bytes: int = 1_048_576
    max_depth: int = 64
    max_digits: int = 100


DEFAULT_LIMITS = RowLimits()


@dataclass(frozen=True)
class RowError:
    """Why one input row is not a fact set, or could not be decided: a diagnostic code, a
    message and a JSON path.

    Args:
        more: how many further problems the row has beyond this one.
    """

    code: str
    message: str
    path: str = "$"
    more: int = 0

    def diagnostic(self, file: str, line: int) -> Diagnostic:
        """The row's problem as a diagnostic, the form `render` shows."""
        more = f" (and {self.more} more)" if self.more else ""
        return Diagnostic(self.code, self.message + more, file=file, line=line, path=self.path,
                          help=_HELP.get(self.code))


_HELP = {
    "E307": "split the row, or raise the limit (policy batch --help lists the options)",
    "E313": "the other rows are decided as usual; run this row again on its own, and report "
            "it if it fails again",
}


class OverLimit(ValueError):
    """A value over one of the `RowLimits` (reported as E307), and where it is in the row."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def digits_written_out(token: str) -> int:
    """How many digits the JSON number `token` has when written without an exponent."""
    if "e" not in token and "E" not in token:
        return sum(1 for c in token if c.isdigit())
    number = Decimal(token)  # cheap: the exponent is kept, not expanded
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # JSON has no NaN or infinity
    count = len(number.as_tuple().digits)
    return max(count + exponent, 1) + max(-exponent, 0)


def nesting_depth(text: str, limit: int) -> int:
    """How deeply `text`'s arrays and objects nest, counted until it passes `limit`.

    Brackets inside strings do not count. Only called when the row has more brackets than
    the limit, so most rows never pay for it.
    """
    depth = deepest = 0
    for match in _STRUCTURE.finditer(text):
        token = match.group()
        if len(token) != 1:
            continue  # a string
        if token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > limit:
                    break
        else:
            depth -= 1
    return deepest


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


class _LongNumber:
    """Stands in for a number over the digits limit, so the row can say where it is."""

    __slots__ = ("digits", "token")

    def __init__(self, token: str, digits: int) -> None:
        self.token = token
        self.digits = digits


class JsonRows:
    """Parses JSON Lines records (and JSON cells of CSV rows) within the row limits.

    Numbers with a fraction or an exponent become exact Decimals; a number with more digits
    than `max_digits` (written out) is never expanded, and the row is refused with its path.
    """

    def __init__(self, limits: RowLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self._long: list[_LongNumber] = []
        # Built once: `json.loads` with options builds a new decoder per call.
        self._decoder = json.JSONDecoder(parse_float=self._float, parse_int=self._int,
                                         parse_constant=_no_constant,
                                         object_pairs_hook=_unique_keys)
        self._quick = quick_decoder(limits)

    def _int(self, token: str) -> object:
        digits = len(token) - (token[0] == "-")
        if digits > self.limits.max_digits:
            return self._too_long(token, digits)
        return int(token)

    def _float(self, token: str) -> object:
        if len(token) > self.limits.max_digits or "e" in token or "E" in token:
            digits = digits_written_out(token)
            if digits > self.limits.max_digits:
                return self._too_long(token, digits)
        return Decimal(token)

    def _too_long(self, token: str, digits: int) -> _LongNumber:
        found = _LongNumber(token, digits)
        self._long.append(found)
        return found

    def decode(self, text: str) -> object:
        """The JSON value of `text`.

        Raises:
            OverLimit: it nests too deeply, or holds a number with too many digits.
            ValueError: it is not JSON (`json.JSONDecodeError`), or has a key twice.
        """
        limit = self.limits.max_depth
        if text.count("[") + text.count("{") > limit:
            depth = nesting_depth(text, limit)
            if depth > limit:
                raise OverLimit(f"the row nests arrays and objects more than {limit} levels "
                                "deep (the limit, --max-depth)")
        self._long.clear()
        data = self._decoder.decode(text)
        if self._long:
            first = self._long[0]
            self._long.clear()
            where = _find(data, first)
            shown = first.token if len(first.token) <= 24 else first.token[:20] + "..."
            raise OverLimit(f"the number {shown} has {first.digits:,} digits written out, more "
                            f"than the limit of {self.limits.max_digits} (--max-digits)",
                            json_path(where or ()))
        return data

    def parse(self, record: bytes) -> Raw | RowError:
        """Parses one JSON Lines record into raw facts, or says why it is not a fact set."""
        if self._quick is not None:
            quick = self._quick(record)
            if quick is not None:
                return quick
        try:
            text = record.decode("utf-8")
        except UnicodeDecodeError as error:
            return RowError("E304", f"not UTF-8 text (byte {error.start} cannot be decoded)")
        if not text.strip():
            return RowError("E304", "blank line; expected a JSON object of facts")
        try:
            data = self.decode(text)
        except OverLimit as error:
            return RowError("E307", error.message, error.path)
        except _DuplicateKey as error:
            return RowError("E304", f"the key '{error.key}' appears twice",
                            json_path((error.key,)))
        except ValueError as error:  # JSONDecodeError, and the constants refused above
            if isinstance(error, json.JSONDecodeError):
                return RowError("E304", f"invalid JSON: {error.msg} (column {error.colno})")
            return RowError("E304", f"invalid JSON: {error}")
        if not isinstance(data, dict):
            return RowError("E304",
                            f"expected a JSON object of facts, got {kind_of(data, json=True)}")
        return data


#: Whether `JsonRows` may decode with msgspec (tests turn it off to compare the two paths).
USE_MSGSPEC = True


def msgspec_decoding(limits: RowLimits) -> tuple[Callable[[bytes], Any],
                                                 tuple[type[BaseException], ...]] | None:
    """msgspec's decoder of JSON Lines records (the `batch` extra), with the exceptions that
    mean "leave this row to the `json` path"; None when msgspec is not installed (or turned
    off), or when the depth limit is under 2.

    Numbers with a fraction or an exponent become exact Decimals, as on the `json` path; one
    with more digits than the limit (written out) is left to that path, which refuses it.
    """
    if not USE_MSGSPEC:
        return None
    try:
        import msgspec
    except ImportError:
        return None
    max_digits = limits.max_digits
    if limits.max_depth < 2:
        return None  # even a row of lists of values is too deep: the `json` path says so

    class _Doubt(ValueError):
        pass

    def exact(token: str) -> Decimal:
        if len(token) > max_digits or "e" in token or "E" in token:
            if digits_written_out(token) > max_digits:
                raise _Doubt
        return Decimal(token)

    # msgspec wraps a hook's ValueError in its own; it guards its recursion as Python does,
    # so a row nested very deep is a RecursionError, for the `json` path to measure.
    return (msgspec.json.Decoder(float_hook=exact).decode,
            (msgspec.DecodeError, _Doubt, RecursionError))


def plain_values(data: dict[str, Any], bound: int) -> bool:
    """Whether a row's values are values or lists of values (it nests two deep at most), with
    every integer under `bound` in size: what `quick_decoder` vouches for without `json`."""
    for value in data.values():
        kind = value.__class__
        if kind is int:
            if not -bound < value < bound:
                return False
        elif kind is list:
            for item in value:
                kind = item.__class__
                if kind is int:
                    if not -bound < item < bound:
                        return False
                elif kind is list or kind is dict:
                    return False
        elif kind is dict:
            return False
    return True


def quick_decoder(limits: RowLimits) -> Callable[[bytes], Raw | None] | None:
    """A decoder of JSON Lines records with msgspec (the `batch` extra), several times faster
    than `json`, for the rows it can vouch for; None when msgspec is not installed.

    It answers None (take the `json` path) for any row it cannot decode exactly as that path
    would, so that the values and every error message stay the same: a row that is not JSON,
    not an object or not UTF-8 (the `json` path words the error), a row nesting deeper than a
    list in a value (the depth limit is at least 2 here), a number with more digits than the
    digits limit (written out), or more colons than the object has keys (msgspec keeps the
    last of a key given twice, where a row with a key twice is invalid; with no more colons
    than top-level keys, no key can be written twice).
    """
    decoding = msgspec_decoding(limits)
    if decoding is None:
        return None
    decode, failed = decoding
    bound = 10 ** limits.max_digits  # JSON integers have no leading zeros: digits <= limit below

    def quick(record: bytes) -> Raw | None:
        try:
            data = decode(record)
        except failed:
            return None
        if data.__class__ is not dict or record.count(b":") != len(data):
            return None
        return data if plain_values(data, bound) else None

    return quick


def _find(data: object, target: object, path: JsonPath = ()) -> JsonPath | None:
    """The JSON path of `target` (by identity) in `data`, which nests within the limits."""
    if data is target:
        return path
    if isinstance(data, dict):
        items: Iterable[tuple[str | int, object]] = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        found = _find(value, target, (*path, key))
        if found is not None:
            return found
    return None


_DEFAULT_JSON = JsonRows()


def parse_json_line(record: bytes, limits: RowLimits = DEFAULT_LIMITS) -> Raw | RowError:
    """Parses one JSON Lines record; numbers with a fraction become exact Decimals."""
    parser = _DEFAULT_JSON if limits == DEFAULT_LIMITS else JsonRows(limits)
    return parser.parse(record)


class CsvRows:
    """Turns CSV rows into raw facts, converting each cell by its column's declared type.

    An empty cell leaves the fact out. A yes/no cell is yes, no, true or false (any case); a
    whole number is digits; a list is a JSON array (`["photo", "video"]`) or items separated by
    semicolons (`photo;video`); anything else is kept as text for the fact stage to check, so
    a bad cell is reported like a bad JSON value.

    Args:
        header: the fact names, one per column, from the first line.
        facts: the policy's declared facts.
        limits: the row limits: digits of a whole number, nesting of a JSON cell.
    """

    def __init__(self, header: tuple[str, ...], facts: Iterable[FactInfo],
                 limits: RowLimits = DEFAULT_LIMITS) -> None:
        types = {info.name: info.type for info in facts}
        self.header = header
        self.types = tuple(types.get(name) for name in header)
        self._json = JsonRows(limits)

    def parse(self, cells: list[str]) -> Raw | RowError:
        if not cells:
            return RowError("E304", "blank line; expected a row of cells")
        if len(cells) != len(self.header):
            return RowError("E304", f"the row has {len(cells)} cells, but the header has "
                                    f"{len(self.header)}")
        raw: Raw = {}
        for name, t, cell in zip(self.header, self.types, cells, strict=True):
            if cell == "":
                continue
            if t is None:
                raw[name] = cell
                continue
            try:
                raw[name] = csv_cell(t, cell, self._json)
            except OverLimit as error:
                return RowError("E307", error.message, json_path((name,)))
            except ValueError as error:
                return RowError("E304", str(error), json_path((name,)))
        return raw


def csv_cell(t: Type, cell: str, parser: JsonRows = _DEFAULT_JSON) -> object:
    """Converts one non-empty CSV cell for a fact of type `t` (see `CsvRows`).

    Raises:
        OverLimit: a whole number with too many digits, or a JSON cell over a limit.
        ValueError: a list cell that starts like a JSON array but is not one.
    """
    if isinstance(t, TextType):
        return cell
    cell = cell.strip()
    if isinstance(t, BoolType):
        return _YES.get(cell.lower(), cell)
    if isinstance(t, WholeType):
        if not _WHOLE.fullmatch(cell):
            return cell
        digits = len(cell.lstrip("+-"))
        if digits > parser.limits.max_digits:
            raise OverLimit(f"the number has {digits:,} digits, more than the limit of "
                            f"{parser.limits.max_digits} (--max-digits)")
        return int(cell)
    if isinstance(t, (ListType, EmptyListType)):
        if cell.startswith("["):
            try:
                return parser.decode(cell)
            except OverLimit:
                raise
            except _DuplicateKey as error:
                raise ValueError(f"invalid JSON array: the key '{error.key}' appears twice") \
                    from None
            except ValueError as error:
                raise ValueError(f"invalid JSON array: {error}") from None
        items = cell.split(";")
        if isinstance(t, EmptyListType):
            return items  # the fact stage says the list must be empty
        return [csv_cell(t.element, item, parser) for item in items]
    return cell  # amounts, dates and enumeration values are checked by the fact stage


def check_header(header: list[str], facts: Iterable[FactInfo], shown: str) -> tuple[str, ...]:
    """The fact names of a CSV header, each a declared fact, none twice.

    Raises:
        DiagnosticError: a column with no name, a name twice, or a name that is not a fact.
    """
    names = [info.name for info in facts]
    problems: list[Diagnostic] = []
    seen: set[str] = set()
    cleaned = tuple(cell.strip() for cell in header)
    for column, name in enumerate(cleaned, 1):
        if not name:
            problems.append(Diagnostic("E304", f"column {column} of the header has no name",
                                       file=shown, line=1,
                                       help="the header row names one fact per column"))
        elif name in seen:
            problems.append(Diagnostic("E304", f"column {column}: '{name}' is named twice",
                                       file=shown, line=1, path=json_path((name,))))
        elif name not in names:
            problems.append(Diagnostic(
                "E305", f"column {column}: unknown fact '{name}'", file=shown, line=1,
                path=json_path((name,)),
                help=did_you_mean(name, names) or "declared facts: " + ", ".join(names)))
        seen.add(name)
    if problems:
        raise DiagnosticError(problems)
    return cleaned
