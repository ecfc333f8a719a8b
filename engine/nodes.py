"""Nodes: the syntax tree of a policy file, as frozen dataclasses that carry source spans.

Spans are excluded from equality, so two trees that differ only in layout compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine.source import Span

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


Expr = (Name | Number | Text | DateLit | Bool | ListLit | Unary | Logic | Binary | Is | In
        | Contains | Presence | Between)

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
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Otherwise:
    decision: Name
    outputs: tuple[Assignment, ...]
    reason: Text | None
    citation: Text | None
    span: Span = _span()


Item = FactDecl | DecisionDecl | OutputDecl | Resolve | Rule | Otherwise


@dataclass(frozen=True, slots=True)
class PolicyFile:
    header: Header
    items: tuple[Item, ...]
    span: Span = _span()
