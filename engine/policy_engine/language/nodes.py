"""Nodes: the syntax tree of a policy file, as frozen dataclasses that carry source spans.

Spans are excluded from equality, so two trees that differ only in layout compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from policy_engine.core.source import Span

_NOSPAN = Span(0, 0)


def _span() -> Span:
    return field(default=_NOSPAN, compare=False, repr=False)


# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Name:
    """A bare identifier: a fact, or an enumeration value; the checker decides which."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Number:
    value: int | Decimal
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Text:
    value: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DateLit:
    value: str  # ISO text; the checker validates and converts it
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "-" or "not"
    operand: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Logic:
    """`a and b and c` or `a or b or c`: two or more operands, kept flat."""

    op: str
    operands: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Binary:
    """Arithmetic (`+ - * /`) or comparison (`== != < <= > >=`)."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Is:
    """`x is v` / `x is not v`."""

    subject: Expr
    value: Expr
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class In:
    """`x in [..]` / `x not in [..]`."""

    subject: Expr
    options: Expr
    negated: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Contains:
    """`list contains x`."""

    subject: Expr
    item: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Presence:
    """`x is missing` (present=False) / `x is present` (present=True)."""

    subject: Expr
    present: bool
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Between:
    """`x between low and high`, both ends included."""

    subject: Expr
    low: Expr
    high: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Duration:
    """`45 days`, `2 weeks`: a number of calendar days."""

    days: int
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Months:
    """`12 months`, `1 year`: a number of calendar months (a year is 12), whose length in days
    depends on the date it is added to."""

    months: int
    text: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Lookup:
    """`table for key`: the table row for the key's value."""

    table: Name
    key: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    """A built-in function: round, round_up, round_down, min, max, abs, count."""

    function: Name
    args: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class WorkingDays:
    """`working days from A to B [excluding H] [calendar C]`."""

    start: Expr
    end: Expr
    excluding: Expr | None
    calendar: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Conditional:
    """`if TEST then A else B`."""

    test: Expr
    then: Expr
    otherwise: Expr
    span: Span = _span()


Expr = (Conditional | Name | Number | Text | DateLit | Bool | ListLit | Unary | Logic | Binary
        | Is | In
        | Contains | Presence | Between | Duration | Months | Lookup | Call | WorkingDays)

# ---------------------------------------------------------------- types


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A written type: kind is bool, whole, amount, text, date, enum or list."""

    kind: str
    values: tuple[Name, ...] = ()  # enumeration values
    element: TypeRef | None = None  # list element
    minimum: Number | None = None
    maximum: Number | None = None
    span: Span = _span()


# ---------------------------------------------------------------- declarations


@dataclass(frozen=True, slots=True)
class Header:
    name: Name
    title: str | None
    version: str | None
    span: Span = _span()
    document: Text | None = None  # `source document "PATH"`: the text the policy quotes


@dataclass(frozen=True, slots=True)
class FactDecl:
    name: Name
    description: str | None
    type: TypeRef
    optional: bool
    default: Expr | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DecisionDecl:
    name: Name
    description: str | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class OutputDecl:
    name: Name
    description: str | None
    type: TypeRef
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Resolve:
    """How several matching rules are resolved: 'first match', 'unique' or 'agreeing'."""

    strategy: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Effective:
    """`effective from A until B`: both ends included; either may be open."""

    start: DateLit | None
    end: DateLit | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class AsOf:
    """`as of FACT`: the date fact that selects the versions in effect."""

    fact: Name
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Define:
    name: Name
    description: str | None
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TableRow:
    """One row; no keys means the default row."""

    keys: tuple[Name, ...]
    value: Expr
    effective: Effective | None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Table:
    name: Name
    description: str | None
    key: Name  # the enumeration fact whose values key the rows
    type: TypeRef
    rows: tuple[TableRow, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Require:
    """`require a, b when CONDITION`: the facts must be given when the condition holds."""

    facts: tuple[Name, ...]
    when: Expr | None
    reason: str | None
    label: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Ensure:
    """`ensure CONDITION when GUARD`: the facts must be consistent before any rule runs."""

    condition: Expr
    when: Expr | None
    reason: str | None
    label: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Assignment:
    output: Name
    value: Expr
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Rule:
    id: Name
    title: str | None
    condition: Expr
    decision: Name
    outputs: tuple[Assignment, ...]
    reason: Text
    citation: Text | None
    overrides: tuple[Name, ...] = ()
    effective: Effective | None = None
    span: Span = _span()
    judgment: bool = False  # `because "..." (judgment)`: the policy's own words, not a quote


@dataclass(frozen=True, slots=True)
class Advisory:
    """`advise ID when CONDITION then add VALUE, ... to OUTPUT`: collected, never deciding."""

    id: Name
    title: str | None
    effective: Effective | None
    condition: Expr
    items: tuple[Expr, ...]
    output: Name
    reason: Text
    citation: Text | None
    span: Span = _span()
    judgment: bool = False


@dataclass(frozen=True, slots=True)
class Otherwise:
    """The default: a decision, or (`otherwise refuse`) an explicit refusal to decide."""

    decision: Name | None
    outputs: tuple[Assignment, ...]
    reason: Text | None
    citation: Text | None
    span: Span = _span()
    label: str | None = None
    judgment: bool = False


Item = (FactDecl | DecisionDecl | OutputDecl | Resolve | AsOf | Define | Table | Require | Ensure
        | Rule | Advisory | Otherwise)


@dataclass(frozen=True, slots=True)
class PolicyFile:
    header: Header
    items: tuple[Item, ...]
    span: Span = _span()
