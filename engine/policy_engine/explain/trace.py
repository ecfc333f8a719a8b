"""Trace: the explanation of an evaluation: which rule decided, and why the others did not.

The trace is data; `render` turns it into text, JSON or Markdown. It depends only on the
policy, the facts and the evaluation's per-rule outcomes, so both evaluators explain alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, CheckedRule
from policy_engine.check.types import (
    AmountType,
    DateType,
    DurationType,
    Value,
    WholeType,
    format_value,
)
from policy_engine.evaluate.errors import (
    CalendarProblem,
    DivisionByZero,
    EvaluationError,
    MissingFact,
    NoRow,
    OutOfRange,
)
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import as_of_date, environment, in_effect
from policy_engine.evaluate.runtime import Evaluation, RuleOutcome

#: How many near misses are shown when the default decided.
CLOSEST = 3
_ORDERING = {"<", "<=", ">", ">=", "==", "!="}


@dataclass(frozen=True)
class LookupTrace:
    """A table lookup made by a condition: the key, the row found and its value."""

    table: str
    key: Value | None
    row: str | None  # the row's label, None when no row was found
    value: Value | None


@dataclass(frozen=True)
class CheckTrace:
    """One conjunct of a rule's condition, with its result and the facts it read.

    Args:
        result: True or False; None when it could not be evaluated because a fact is missing
            (only in near misses, where conjuncts are tried one by one).
        values: (fact or derived value, value) pairs; the value is None when missing.
        display: the condition with the value written in where that reads well,
            for example `days_since_sent = 50 > 45`.
        lookups: the table lookups it made.
    """

    text: str
    line: int
    column: int
    result: bool | None
    values: tuple[tuple[str, Value | None], ...]
    display: str
    lookups: tuple[LookupTrace, ...] = ()
    derived: tuple[tuple[str, str], ...] = ()  # (derived value, how it came about)


@dataclass(frozen=True)
class RuleTrace:
    """A rule and what happened to it (statuses as in `runtime.RuleOutcome`).

    Args:
        kind: 'rule', 'advisory' or 'otherwise'.
        by: for an overridden rule, the exception that took precedence.
        overrides: the rules this rule is an exception to.
        effective: when the rule is in effect, if it says.
        adds: for an advisory, the output and the items it adds.
    """

    id: str
    title: str | None
    line: int
    status: str
    decision: str
    reason: str | None
    citation: str | None
    checks: tuple[CheckTrace, ...]
    kind: str = "rule"
    by: str | None = None
    overrides: tuple[str, ...] = ()
    effective: str | None = None
    adds: tuple[Value, ...] = ()


@dataclass(frozen=True)
class NearMiss:
    """A rule that did not apply, with every conjunct tried on its own; `held` of `total` held."""

    rule: RuleTrace
    held: int
    total: int


@dataclass(frozen=True)
class FactTrace:
    """A fact as evaluation saw it; origin is 'given', 'default' or 'missing'."""

    name: str
    value: Value | None
    origin: str


@dataclass(frozen=True)
class DerivedTrace:
    """A derived value, with the expression it is computed from (None: it needs a missing fact)."""

    name: str
    text: str
    value: Value | None
    lookups: tuple[LookupTrace, ...] = ()


class Trace:
    """The explanation of one evaluation.

    Only the policy, the facts and the evaluation are kept when it is made; every part below
    is worked out when first read (and then kept), so a caller that never looks at the trace
    pays almost nothing for it, and one that renders it pays once.

    Attributes:
        policy: the checked policy.
        facts: each declared fact, with its value and origin.
        decided_by: the deciding rule, or `otherwise`.
        rules: every rule, in file order, with its status and the conjuncts evaluated.
        closest: when the default decided, the rules that came closest to applying.
        derived: the derived values, with the table rows they used.
        advisories: every advisory and whether it added its items.
        as_of: the `as of` day, when the policy has rules with effective dates.
    """

    def __init__(self, policy: CheckedPolicy, facts: Mapping[str, Value],
                 given: set[str] | frozenset[str] | None, evaluation: Evaluation) -> None:
        self.policy = policy
        self._values = facts
        self._given = given
        self._evaluation = evaluation

    @functools.cached_property
    def _scope(self) -> _Scope:
        return _Scope(self.policy, self._values)

    @functools.cached_property
    def as_of(self) -> Value | None:
        return self._scope.as_of

    @functools.cached_property
    def rules(self) -> tuple[RuleTrace, ...]:
        units = self.policy.units()
        return tuple(_outcome_trace(self._scope, units[o.index], o)
                     for o in self._evaluation.outcomes)

    @functools.cached_property
    def advisories(self) -> tuple[RuleTrace, ...]:
        units = self.policy.units()
        return tuple(_outcome_trace(self._scope, units[o.index], o)
                     for o in self._evaluation.advisories)

    @functools.cached_property
    def decided_by(self) -> RuleTrace:
        evaluation = self._evaluation
        if evaluation.rule == "otherwise":
            assert self.policy.otherwise is not None
            return _rule_trace(self.policy.otherwise, "decided", ())
        return next(r for r, o in zip(self.rules, evaluation.outcomes, strict=True)
                    if o.index == evaluation.index)

    @functools.cached_property
    def closest(self) -> tuple[NearMiss, ...]:
        return _closest(self._scope) if self._evaluation.rule == "otherwise" else ()

    @functools.cached_property
    def facts(self) -> tuple[FactTrace, ...]:
        values = self._values
        given = values if self._given is None else self._given
        return tuple(
            FactTrace(info.name, values.get(info.name),
                      "given" if info.name in given else ("default" if info.name in values
                                                          else "missing"))
            for info in self.policy.facts)

    @functools.cached_property
    def derived(self) -> tuple[DerivedTrace, ...]:
        scope = self._scope
        return tuple(
            DerivedTrace(d.name, d.text, scope.get(d.name),
                         tuple(_lookup(scope, node) for node in c.walk(d.expr)
                               if isinstance(node, c.Lookup)))
            for d in self.policy.defines)

    @property
    def by_default(self) -> bool:
        return self._evaluation.rule == "otherwise"


class _Scope:
    """Values as the trace shows them: facts, and derived values computed when possible."""

    def __init__(self, policy: CheckedPolicy, facts: Mapping[str, Value]) -> None:
        self.policy = policy
        self.facts = facts
        self.interpreter = Interpreter(policy)
        self.env = environment(policy, self.interpreter, facts)
        self.defines = {d.name for d in policy.defines}
        try:
            self.as_of = as_of_date(policy, facts)
        except EvaluationError:
            self.as_of = None

    def get(self, name: str) -> Value | None:
        if name in self.facts:
            return self.facts[name]
        if name in self.defines:
            return self.attempt(lambda: self.env[name])
        return None

    def why(self, name: str) -> str:
        """How a derived value came about: `days_sent = 50 > 45` for `days_sent > 45`, or the
        expression with the values it read: `x > 15 or near; x = 20, near = no`."""
        define = next(d for d in self.policy.defines if d.name == name)
        shown = _shown(self, define.expr, define.text)
        if shown != define.text:
            return shown
        read = dict.fromkeys(node.name for node in c.walk(define.expr)
                             if isinstance(node, c.FactRef))
        values = ", ".join(f"{fact} = {_plain(self.get(fact))}" for fact in read)
        return f"{shown}; {values}" if values else shown

    def attempt(self, compute: Callable[[], Value]) -> Value | None:
        # A value evaluation never needed may not be computable: the trace shows it as unknown.
        try:
            return compute()
        except (MissingFact, DivisionByZero, NoRow, CalendarProblem, OutOfRange,
                EvaluationError):
            return None

    def value(self, expr: c.CExpr) -> Value | None:
        return self.attempt(lambda: self.interpreter.value(expr, self.env))


def _outcome_trace(scope: _Scope, rule: CheckedRule, outcome: RuleOutcome) -> RuleTrace:
    if outcome.status in ("decided", "agreed", "overridden", "added"):
        checks = tuple(_check(scope, j, True) for j in rule.conjuncts)
    elif outcome.status == "did not apply":
        assert outcome.failed_at is not None
        checks = tuple(
            _check(scope, j, position != outcome.failed_at)
            for position, j in enumerate(rule.conjuncts[: outcome.failed_at + 1])
        )
    else:
        checks = ()
    return _rule_trace(rule, outcome.status, checks, outcome.by)


def _rule_trace(rule: CheckedRule, status: str, checks: tuple[CheckTrace, ...],
                by: str | None = None) -> RuleTrace:
    adds: tuple[Value, ...] = ()
    if rule.kind == "advisory":
        (_, items), = rule.outputs
        assert isinstance(items, c.ListExpr)
        adds = tuple(item.value for item in items.items if isinstance(item, c.Const))
    return RuleTrace(rule.id, rule.title, rule.line, status, rule.decision, rule.reason,
                     rule.citation, checks, rule.kind, by, rule.overrides,
                     rule.effective.describe() if rule.effective else None, adds)


def _check(scope: _Scope, conjunct: c.Conjunct, result: bool | None) -> CheckTrace:
    policy = scope.policy
    line, column = policy.source.line_col(conjunct.span.start)
    values = tuple((name, scope.get(name)) for name in conjunct.facts)
    lookups = tuple(_lookup(scope, node) for node in c.walk(conjunct.expr)
                    if isinstance(node, c.Lookup))
    derived = tuple((name, scope.why(name)) for name in conjunct.facts if name in scope.defines)
    return CheckTrace(conjunct.grouped, line, column, result, values,
                      _display(scope, conjunct), lookups, derived)


def _lookup(scope: _Scope, node: c.Lookup) -> LookupTrace:
    table = scope.policy.table(node.table)
    key = scope.value(node.key)
    row = table.find(key, scope.as_of) if isinstance(key, str) else None
    return LookupTrace(table.name, key, row.label() if row else None,
                       row.value if row else None)


def _plain(value: Value | None) -> str:
    return "(missing)" if value is None else format_value(value)


def _display(scope: _Scope, conjunct: c.Conjunct) -> str:
    # As the engine groups it: `(a and b) or c` even where the parentheses are not written.
    return _shown(scope, conjunct.expr, conjunct.grouped)


def _shown(scope: _Scope, expr: c.CExpr, text: str) -> str:
    if (isinstance(expr, c.Compare) and expr.op in _ORDERING and isinstance(expr.left, c.FactRef)
            and _is_ordered(expr)):
        value = scope.get(expr.left.name)
        subject = scope.policy.source.snippet(expr.left.span)
        if value is not None and text.startswith(subject):
            rest = text[len(subject):].lstrip()
            return f"{subject} = {format_value(value)} {rest}"
    return text


def _is_ordered(expr: c.Compare) -> bool:
    # `request is goods_not_received` reads best as written; numbers and dates read best
    # with their value in place: `days_since_sent = 50 > 45`.
    return isinstance(expr.left.type, WholeType | AmountType | DateType | DurationType)


def _closest(scope: _Scope) -> tuple[NearMiss, ...]:
    # Every conjunct of every rule is tried, but only the closest few are explained in full.
    misses: list[tuple[float, int, CheckedRule, list[bool | None]]] = []
    for rule in scope.policy.rules:
        if not in_effect(rule, scope.as_of):
            continue
        results: list[bool | None] = []
        for conjunct in rule.conjuncts:
            value = scope.value(conjunct.expr)
            results.append(None if value is None else bool(value))
        held = sum(1 for result in results if result)
        total = len(results)
        if total and held:
            misses.append((-held / total, rule.index, rule, results))
    misses.sort(key=lambda item: (item[0], item[1]))
    closest = []
    for _, _, rule, results in misses[:CLOSEST]:
        checks = tuple(_check(scope, conjunct, result)
                       for conjunct, result in zip(rule.conjuncts, results, strict=True))
        trace = _rule_trace(rule, "did not apply", checks)
        closest.append(NearMiss(trace, sum(1 for r in results if r), len(results)))
    return tuple(closest)
