"""Errors: why an evaluation stops: a fact it needs is missing, or the policy refuses to decide.

The low-level ones (`MissingFact`, `DivisionByZero`, `NoRow`, `CalendarProblem`, `OutOfRange`)
are raised while an expression is evaluated; `resolution.ask` turns each into an
`EvaluationError`, the refusal with a diagnostic code (E401 to E408) that callers see.
"""

from __future__ import annotations

import datetime


class MissingFact(Exception):
    """A condition or output read a fact that the fact set does not have.

    Args:
        define: the derived value whose expression read the fact, when one did (set by
            `runtime.Env` as the error leaves the derived value); None for a direct read.
    """

    def __init__(self, fact: str, define: str | None = None) -> None:
        super().__init__(fact)
        self.fact = fact
        self.define = define


class DivisionByZero(Exception):
    """An amount was divided by zero."""


class OutOfRange(Exception):
    """A calculation gave a value the engine cannot hold (see `arithmetic`).

    Args:
        what: the value, as a refusal words it: 'a date after 9999-12-31'.
        help: what the engine's range is for such values, and what to check.
    """

    def __init__(self, what: str, help: str) -> None:
        super().__init__(what)
        self.what, self.help = what, help


class EvaluationError(Exception):
    """Evaluation refused to decide; carries a diagnostic code and the rules involved."""

    def __init__(self, code: str, message: str, *, rules: tuple[str, ...] = (),
                 fact: str | None = None, help: str | None = None,
                 label: str | None = None) -> None:
        super().__init__(message)
        self.label = label
        self.code = code
        self.message = message
        self.rules = rules
        self.fact = fact
        self.help = help


class NoRow(Exception):
    """A table has no row (and no default row) in effect for a key."""

    def __init__(self, table: str, key: str, as_of: datetime.date | None) -> None:
        super().__init__(table)
        self.table, self.key, self.as_of = table, key, as_of


class CalendarProblem(Exception):
    """A calendar could not be used during evaluation."""


#: What makes a value unknown to the explanation (a near miss's conjunct, a derived value no
#: rule needed), as the trace's own evaluation finds it; in generated code a fact left out is a
#: KeyError.
UNKNOWN = (KeyError, MissingFact, DivisionByZero, NoRow, CalendarProblem, OutOfRange,
           EvaluationError)
