"""The checked policy: the resolved, typed form of a policy that both evaluators consume.

The checker builds it from nodes; every name is resolved (a fact, or an enumeration value
turned into a constant) and every expression carries its type and its source span.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterator
from dataclasses import field

from policy_engine.check.types import AmountType, Type, Value
from policy_engine.core.cache import pickled_by_fields
from policy_engine.core.records import record
from policy_engine.core.source import Source, Span

# ---------------------------------------------------------------- typed expressions


@record(slots=True)
class FactRef:
    name: str
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Const:
    value: Value
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class ListExpr:
    items: tuple[CExpr, ...]
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Not:
    operand: CExpr
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Neg:
    operand: CExpr
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Arith:
    op: str  # + - * /
    left: CExpr
    right: CExpr
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Compare:
    op: str  # == != < <= > >=
    left: CExpr
    right: CExpr
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class InList:
    subject: CExpr
    options: CExpr  # a list-typed expression
    negated: bool
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class ListContains:
    subject: CExpr  # list-typed
    item: CExpr
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Presence:
    fact: str
    present: bool
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Between:
    subject: CExpr
    low: CExpr
    high: CExpr
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Logic:
    """`and` / `or` over two or more operands, evaluated left to right with short circuit."""

    op: str
    operands: tuple[CExpr, ...]
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Lookup:
    table: str
    key: CExpr
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Call:
    """A built-in function (see `runtime.FUNCTIONS`); the name is checked against that list."""

    function: str
    args: tuple[CExpr, ...]
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class WorkingDays:
    start: CExpr
    end: CExpr
    excluding: CExpr | None
    calendar: CExpr | None
    type: Type
    span: Span = field(compare=False)


@record(slots=True)
class Conditional:
    test: CExpr
    then: CExpr
    otherwise: CExpr
    type: Type
    span: Span = field(compare=False)


CExpr = (Conditional | FactRef | Const | ListExpr | Not | Neg | Arith | Compare | InList
         | ListContains
         | Presence | Between | Logic | Lookup | Call | WorkingDays)
# Loading a large policy from the cache unpickles hundreds of thousands of these: a call
# each, not a generic `__setstate__` (see `pickled_by_fields`).
pickled_by_fields(Conditional, FactRef, Const, ListExpr, Not, Neg, Arith, Compare, InList,
                  ListContains, Presence, Between, Logic, Lookup, Call, WorkingDays)

def children(expr: CExpr) -> list[CExpr]:
    """The expressions directly inside an expression, in field order."""
    cls = expr.__class__
    fields = _CHILD_FIELDS.get(cls)
    if fields is None:
        fields = _CHILD_FIELDS[cls] = _child_fields(cls)
    found: list[CExpr] = []
    for name, many in fields:
        child = getattr(expr, name)
        if many:
            found += child
        elif child is not None:
            found.append(child)
    return found


def _child_fields(cls: type) -> tuple[tuple[str, bool], ...]:
    """The fields of an expression class that hold expressions: (name, whether a tuple)."""
    return tuple((name, annotation.startswith("tuple["))
                 for name, annotation in cls.__annotations__.items()
                 if "CExpr" in annotation)


#: The expression fields of each expression class (see `_child_fields`).
_CHILD_FIELDS: dict[type, tuple[tuple[str, bool], ...]] = {}


def walk(expr: CExpr) -> Iterator[CExpr]:
    """Yields an expression and every expression inside it, parents first (the order of
    `children`, depth first).

    Checking a large policy walks every condition: the children are pushed straight onto the
    stack, last first, rather than listed by `children` and reversed.
    """
    stack = [expr]
    push, more = stack.append, stack.extend
    while stack:
        node = stack.pop()
        yield node
        fields = _REVERSED_CHILD_FIELDS.get(node.__class__)
        if fields is None:
            fields = _REVERSED_CHILD_FIELDS[node.__class__] = _child_fields(
                node.__class__)[::-1]
        for name, many in fields:
            child = getattr(node, name)
            if many:
                more(reversed(child))
            elif child is not None:
                push(child)


#: `_CHILD_FIELDS` last first, for `walk`.
_REVERSED_CHILD_FIELDS: dict[type, tuple[tuple[str, bool], ...]] = {}


# ---------------------------------------------------------------- declarations


@record
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


@record
class DecisionInfo:
    name: str
    description: str | None
    span: Span = field(compare=False)


@record
class OutputInfo:
    name: str
    type: Type
    description: str | None
    span: Span = field(compare=False)


@record
class Effective:
    """The dates a rule or a table row is in effect, both included; None is open-ended."""

    start: datetime.date | None
    end: datetime.date | None

    def contains(self, day: datetime.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def describe(self) -> str:
        if self.start and self.end:
            return f"effective from {self.start.isoformat()} until {self.end.isoformat()}"
        if self.start:
            return f"effective from {self.start.isoformat()}"
        assert self.end is not None
        return f"effective until {self.end.isoformat()}"


@record
class DefineInfo:
    """A derived value: computed from facts at most once per evaluation, when first needed."""

    name: str
    type: Type
    expr: CExpr
    text: str
    description: str | None
    span: Span = field(compare=False)


@record
class TableRowInfo:
    keys: tuple[str, ...]  # empty for the default row
    value: Value
    effective: Effective | None
    line: int

    def label(self) -> str:
        keys = ", ".join(self.keys) if self.keys else "default"
        return keys + (f" ({self.effective.describe()})" if self.effective else "")


@record
class TableInfo:
    name: str
    description: str | None
    key_fact: str
    type: Type
    rows: tuple[TableRowInfo, ...]
    span: Span = field(compare=False)

    def find(self, key: str, as_of: datetime.date | None) -> TableRowInfo | None:
        """The row for a key (or the default row) in effect on `as_of`."""
        for wanted in (True, False):
            for row in self.rows:
                if (key in row.keys) == wanted and (wanted or not row.keys):
                    if row.effective is None or (as_of is not None and
                                                 row.effective.contains(as_of)):
                        return row
        return None

    @property
    def dated(self) -> bool:
        return any(row.effective is not None for row in self.rows)


@record
class RequireInfo:
    facts: tuple[str, ...]
    when: CExpr | None
    when_text: str | None
    reason: str | None
    line: int
    span: Span = field(compare=False)
    label: str | None = None


@record
class EnsureInfo:
    condition: CExpr
    text: str
    facts: tuple[str, ...]
    when: CExpr | None
    when_text: str | None
    reason: str | None
    line: int
    span: Span = field(compare=False)
    label: str | None = None


@record
class RefusalInfo:
    """`otherwise refuse`: when no rule matches, the policy refuses to decide, on purpose."""

    label: str | None
    reason: str | None
    citation: str | None
    line: int


@record
class Conjunct:
    """One top-level `and` operand of a rule's condition, the unit the trace reports on.

    Args:
        expr: the typed condition.
        text: its source text, whitespace collapsed.
        facts: names of the facts it reads, in source order, without repeats.
        grouped: its text as the engine groups it: `text`, with parentheses added around
            each `and` inside an `or` written without them (`(a and b) or c`).
    """

    expr: CExpr
    text: str
    facts: tuple[str, ...]
    grouped: str
    span: Span = field(compare=False)


@record
class CheckedRule:
    """A rule, an advisory, or the `otherwise` default (id 'otherwise', no conjuncts).

    Args:
        index: the rule's slot in the evaluators (rules, then `otherwise`, then advisories).
        kind: 'rule', 'otherwise' or 'advisory'.
        decision: the decision; for an advisory, the output it adds to.
        outputs: the outputs it sets; for an advisory, one pair (output, list of items).
        overrides: ids of the rules this rule is an exception to.
    """

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
    kind: str = "rule"
    overrides: tuple[str, ...] = ()
    effective: Effective | None = None

    @property
    def label(self) -> str:
        """How messages name it: `rule 'x' (line 3)`."""
        if self.kind == "otherwise":
            return f"the 'otherwise' default (line {self.line})"
        return f"{self.kind} '{self.id}' (line {self.line})"


@record
class Quote:
    """A quotation of the source document: a `because`, or a passage in quotes in a `source`."""

    text: str
    span: Span
    where: str  # how messages name it: "the reason of rule 'R1'"


@record
class SourceDocument:
    """The document a policy encodes (`source document "PATH"`) and the quotations of it."""

    path: str  # as written: relative to the policy file
    span: Span  # of the path, for E120
    quotes: tuple[Quote, ...]


@record
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
    as_of: str | None = None
    defines: tuple[DefineInfo, ...] = ()
    tables: tuple[TableInfo, ...] = ()
    requires: tuple[RequireInfo, ...] = ()
    ensures: tuple[EnsureInfo, ...] = ()
    advisories: tuple[CheckedRule, ...] = ()
    refusal: RefusalInfo | None = None
    document: SourceDocument | None = None

    @functools.cached_property
    def first_match_order(self) -> tuple[CheckedRule, ...]:
        """Rules in the order first match tries them: each rule after the exceptions to it."""
        exceptions: dict[str, list[CheckedRule]] = {}
        for rule in self.rules:
            for target in rule.overrides:
                exceptions.setdefault(target, []).append(rule)
        placed: set[int] = set()
        order: list[CheckedRule] = []

        def place(rule: CheckedRule) -> None:
            if rule.index in placed:
                return
            placed.add(rule.index)
            for exception in exceptions.get(rule.id, ()):
                place(exception)
            order.append(rule)

        for rule in self.rules:
            place(rule)
        return tuple(order)

    @functools.cached_property
    def overridden_by(self) -> dict[int, frozenset[int]]:
        """For each rule index, the indexes of the rules it is an exception to, transitively."""
        by_id: dict[str, list[CheckedRule]] = {}
        for rule in self.rules:
            by_id.setdefault(rule.id, []).append(rule)
        closure: dict[int, frozenset[int]] = {}
        for rule in self.rules:
            found: set[int] = set()
            stack = list(rule.overrides)
            seen: set[str] = set()
            while stack:
                target = stack.pop()
                if target in seen:
                    continue
                seen.add(target)
                for other in by_id.get(target, ()):
                    found.add(other.index)
                    stack.extend(other.overrides)
            closure[rule.index] = frozenset(found)
        return closure

    @functools.cached_property
    def amount_outputs(self) -> frozenset[str]:
        return frozenset(o.name for o in self.outputs if isinstance(o.type, AmountType))

    def units(self) -> tuple[CheckedRule, ...]:
        """Everything an evaluator compiles, in slot order: rules, `otherwise`, advisories."""
        return self.rules + ((self.otherwise,) if self.otherwise else ()) + self.advisories

    def table(self, name: str) -> TableInfo:
        for info in self.tables:
            if info.name == name:
                return info
        raise KeyError(name)

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
