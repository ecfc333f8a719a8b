"""SQL values: what a translated expression is in SQL, its faults, and the range SQL handles.

A policy expression becomes a `Val`: the SQL of its value and the SQL of its *fault*, which is
NULL when the value can be worked out and otherwise says why the evaluation stops, exactly as
the interpreter would stop: `E401:fact` (a missing fact), `E405` (a division by zero),
`E406` (no table row), `E407` (a calendar) or `E408` (out of range). Faults travel beside
values instead of as SQL NULLs, so SQL's three-valued logic can never turn a missing fact into
a condition that is merely false.

Amounts are exact decimals with a scale that depends on the row (`24.9` and `24.90` print
differently), so an amount carries its dynamic number of decimal places and its sign bit (a
decimal zero can be negative) beside its value. SQL engines compute in fixed widths where
Python does not: every whole number and amount a translation builds has static bounds, checked
at translation time, and rows whose facts lie outside `Envelope` are *deferred*: never decided
by SQL, decided by the reference engine in `policy batch`, or marked `deferred` in the query's
output for a warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass

from policy_engine.core.source import Span
from policy_engine.sql.trees import Sql

#: The input table's row-number column (the row's `line` in the batch output).
LINE = "_line"
#: The first day SQL dates count from: day numbers are days since 0001-01-01 (a Monday).
EPOCH = "0001-01-01"
#: The last day a date can be (9999-12-31) as a day number.
LAST_DAY = 3652058
#: The most digits an amount computation may need for Python's 28-digit context to be exact.
CONTEXT_DIGITS = 28
#: Whole numbers SQL engines compute with (BIGINT) stay below this in size.
BIGINT_LIMIT = 2**63 - 1


@dataclass(frozen=True)
class Envelope:
    """The facts SQL decides exactly; a row with a fact outside is deferred.

    Args:
        whole_digits: whole-number facts have at most this many digits.
        amount_digits: amount facts have at most this many digits before the decimal point.
        amount_scale: ... and at most this many after it.
    """

    whole_digits: int = 15
    amount_digits: int = 15
    amount_scale: int = 6


ENVELOPE = Envelope()
#: The envelopes a translation tries, widest first: a policy whose calculations would need
#: more digits than SQL computes exactly with the wide one gets a narrower one (more rows are
#: then deferred), rather than no translation at all.
ENVELOPES = (ENVELOPE, Envelope(15, 12, 4), Envelope(12, 9, 2))


class Untranslatable(Exception):
    """A construct the SQL backend cannot translate exactly; the policy is refused (E601)."""

    def __init__(self, what: str, span: Span | None, help: str | None = None,
                 digits: bool = False) -> None:
        super().__init__(what)
        self.what = what
        self.span = span
        self.help = help
        self.digits = digits  # whether a narrower envelope could make it translatable


@dataclass(frozen=True)
class Bounds:
    """Static bounds of a whole number, a duration or a day number (both included)."""

    low: int
    high: int

    def __add__(self, other: Bounds) -> Bounds:
        return Bounds(self.low + other.low, self.high + other.high)

    def __sub__(self, other: Bounds) -> Bounds:
        return Bounds(self.low - other.high, self.high - other.low)

    def __mul__(self, other: Bounds) -> Bounds:
        corners = [a * b for a in (self.low, self.high) for b in (other.low, other.high)]
        return Bounds(min(corners), max(corners))

    def __neg__(self) -> Bounds:
        return Bounds(-self.high, -self.low)

    def join(self, other: Bounds) -> Bounds:
        return Bounds(min(self.low, other.low), max(self.high, other.high))

    @property
    def magnitude(self) -> int:
        return max(abs(self.low), abs(self.high))


@dataclass(frozen=True)
class Digits:
    """Static size of an amount: digits before the point and decimal places, at most."""

    whole: int
    scale: int

    @property
    def total(self) -> int:
        return self.whole + self.scale

    @property
    def sql_type(self) -> str:
        return f"DECIMAL({max(self.total, 1)}, {self.scale})"


@dataclass(frozen=True)
class Val:
    """A translated expression.

    Args:
        sql: the value (BOOLEAN, BIGINT, DECIMAL, VARCHAR, a day number, an ARRAY); only
            meaningful when `fault` is NULL.
        fault: NULL, or why the evaluation stops (see the module docstring); None when it can
            never stop.
        bounds: static bounds of a whole number, duration or day number.
        digits: static size of an amount.
        scale: an amount's decimal places in this row (BIGINT).
        negative: an amount's sign bit in this row (BOOLEAN).
    """

    sql: Sql
    fault: Sql | None = None
    bounds: Bounds | None = None
    digits: Digits | None = None
    scale: Sql | None = None
    negative: Sql | None = None
