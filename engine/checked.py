"""The checked policy: the resolved, typed form of a policy that both evaluators consume.

The checker builds it from nodes; every name is resolved (a fact, or an enumeration value
turned into a constant) and every expression carries its type and its source span.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.source import Source, Span
from engine.valuetypes import Type, Value

# ---------------------------------------------------------------- typed expressions


@dataclass(frozen=True, slots=True)
class FactRef:
    name: str
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Const:
    value: Value
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class ListExpr:
    items: tuple[CExpr, ...]
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Not:
    operand: CExpr
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Neg:
    operand: CExpr
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Arith:
    op: str  # + - * /
    left: CExpr
    right: CExpr
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # == != < <= > >=
    left: CExpr
    right: CExpr
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class InList:
    subject: CExpr
    options: CExpr  # a list-typed expression
    negated: bool
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class ListContains:
    subject: CExpr  # list-typed
    item: CExpr
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Presence:
    fact: str
    present: bool
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Between:
    subject: CExpr
    low: CExpr
    high: CExpr
    type: Type
    span: Span = field(compare=False)


@dataclass(frozen=True, slots=True)
class Logic:
    """`and` / `or` over two or more operands, evaluated left to right with short circuit."""

    op: str
    operands: tuple[CExpr, ...]
    type: Type
    span: Span = field(compare=False)


CExpr = (FactRef | Const | ListExpr | Not | Neg | Arith | Compare | InList | ListContains
         | Presence | Between | Logic)

# ---------------------------------------------------------------- declarations


@dataclass(frozen=True)
class FactInfo:
    """A declared fact.

    Args:
        name: the fact's name, as used in conditions and in scenario files.
        type: its value type.
        optional: whether a fact set may leave it out.
        default: the value used when it is left out (implies optional), or None.
        description: the text written after the name, if any.
    """

    name: str
    type: Type
    optional: bool
    default: Value | None
    description: str | None
    span: Span = field(compare=False)

    @property
    def required(self) -> bool:
        return not self.optional and self.default is None


@dataclass(frozen=True)
class DecisionInfo:
    name: str
    description: str | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class OutputInfo:
    name: str
    type: Type
    description: str | None
    span: Span = field(compare=False)


@dataclass(frozen=True)
class Conjunct:
    """One top-level `and` operand of a rule's condition, the unit the trace reports on.

    Args:
        expr: the typed condition.
        text: its source text, whitespace collapsed.
        facts: names of the facts it reads, in source order, without repeats.
    """

    expr: CExpr
    text: str
    facts: tuple[str, ...]
    span: Span = field(compare=False)


@dataclass(frozen=True)
class CheckedRule:
    """A rule, or the `otherwise` default (with id 'otherwise' and no conjuncts)."""

    index: int
    id: str
    title: str | None
    conjuncts: tuple[Conjunct, ...]
    decision: str
    outputs: tuple[tuple[str, CExpr], ...]
    reason: str | None
    citation: str | None
    line: int
    span: Span = field(compare=False)


@dataclass(frozen=True)
class CheckedPolicy:
    """A policy that passed the checker; immutable and safe to share between threads."""

    name: str
    title: str | None
    version: str | None
    strategy: str  # "first match" | "unique" | "agreeing"
    facts: tuple[FactInfo, ...]
    decisions: tuple[DecisionInfo, ...]
    outputs: tuple[OutputInfo, ...]
    rules: tuple[CheckedRule, ...]
    otherwise: CheckedRule | None
    source: Source = field(compare=False)

    def fact(self, name: str) -> FactInfo:
        for info in self.facts:
            if info.name == name:
                return info
        raise KeyError(name)

    def output(self, name: str) -> OutputInfo:
        for info in self.outputs:
            if info.name == name:
                return info
        raise KeyError(name)

    def rule(self, rule_id: str) -> CheckedRule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        if self.otherwise is not None and rule_id == "otherwise":
            return self.otherwise
        raise KeyError(rule_id)
