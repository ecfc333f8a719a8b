"""Explain: turns an evaluation into a trace: which rule decided, and why the others did not.

The trace is data; `render` turns it into text, JSON or Markdown. It depends only on the
policy, the facts and the evaluation's per-rule outcomes, so both evaluators explain alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from engine import checked as c
from engine.checked import CheckedPolicy, CheckedRule
from engine.interpreter import Interpreter
from engine.runtime import DivisionByZero, Evaluation, MissingFact
from engine.valuetypes import AmountType, DateType, Value, WholeType, format_value

#: How many near misses are shown when the default decided.
CLOSEST = 3
_ORDERING = {"<", "<=", ">", ">=", "==", "!="}


@dataclass(frozen=True)
class CheckTrace:
    """One conjunct of a rule's condition, with its result and the facts it read.

    Args:
        result: True or False; None when it could not be evaluated because a fact is missing
            (only in near misses, where conjuncts are tried one by one).
        values: (fact, value) pairs; the value is None when the fact is missing.
        display: the condition with the value written in where that reads well,
            for example `days_since_sent = 50 > 45`.
    """

    text: str
    line: int
    column: int
    result: bool | None
    values: tuple[tuple[str, Value | None], ...]
    display: str


@dataclass(frozen=True)
class RuleTrace:
    """A rule and what happened to it: 'decided', 'agreed', 'did not apply' or 'not reached'."""

    id: str
    title: str | None
    line: int
    status: str
    decision: str
    reason: str | None
    citation: str | None
    checks: tuple[CheckTrace, ...]


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
class Trace:
    policy: CheckedPolicy
    facts: tuple[FactTrace, ...]
    decided_by: RuleTrace
    rules: tuple[RuleTrace, ...]
    closest: tuple[NearMiss, ...]

    @property
    def by_default(self) -> bool:
        return self.decided_by.id == "otherwise"


def explain(policy: CheckedPolicy, facts: Mapping[str, Value], given: set[str] | frozenset[str],
            evaluation: Evaluation) -> Trace:
    """Builds the trace for one evaluation.

    Args:
        facts: the validated facts, defaults filled in.
        given: names of the facts the caller supplied (the others came from defaults).
    """
    interpreter = Interpreter(policy)
    by_id = {rule.id: rule for rule in policy.rules}
    rules: list[RuleTrace] = []
    for outcome in evaluation.outcomes:
        rule = by_id[outcome.rule]
        if outcome.status in ("decided", "agreed"):
            checks = tuple(_check(policy, j, facts, True) for j in rule.conjuncts)
        elif outcome.status == "did not apply":
            assert outcome.failed_at is not None
            checks = tuple(
                _check(policy, j, facts, position != outcome.failed_at)
                for position, j in enumerate(rule.conjuncts[: outcome.failed_at + 1])
            )
        else:
            checks = ()
        rules.append(_rule_trace(rule, outcome.status, checks))
    if evaluation.rule == "otherwise":
        assert policy.otherwise is not None
        decided_by = _rule_trace(policy.otherwise, "decided", ())
        closest = _closest(policy, interpreter, facts)
    else:
        decided_by = next(r for r in rules if r.id == evaluation.rule)
        closest = ()
    fact_traces = tuple(
        FactTrace(info.name, facts.get(info.name),
                  "given" if info.name in given else ("default" if info.name in facts
                                                      else "missing"))
        for info in policy.facts
    )
    return Trace(policy, fact_traces, decided_by, tuple(rules), closest)


def _rule_trace(rule: CheckedRule, status: str, checks: tuple[CheckTrace, ...]) -> RuleTrace:
    return RuleTrace(rule.id, rule.title, rule.line, status, rule.decision, rule.reason,
                     rule.citation, checks)


def _check(policy: CheckedPolicy, conjunct: c.Conjunct, facts: Mapping[str, Value],
           result: bool | None) -> CheckTrace:
    line, column = policy.source.line_col(conjunct.span.start)
    values = tuple((name, facts.get(name)) for name in conjunct.facts)
    return CheckTrace(conjunct.text, line, column, result, values,
                      _display(policy, conjunct, facts))


def _display(policy: CheckedPolicy, conjunct: c.Conjunct, facts: Mapping[str, Value]) -> str:
    expr = conjunct.expr
    if (isinstance(expr, c.Compare) and expr.op in _ORDERING and isinstance(expr.left, c.FactRef)
            and expr.left.name in facts and _is_ordered(expr)):
        subject = policy.source.snippet(expr.left.span)
        if conjunct.text.startswith(subject):
            rest = conjunct.text[len(subject):].lstrip()
            return f"{subject} = {format_value(facts[expr.left.name])} {rest}"
    return conjunct.text


def _is_ordered(expr: c.Compare) -> bool:
    # `request is goods_not_received` reads best as written; numbers and dates read best
    # with their value in place: `days_since_sent = 50 > 45`.
    return isinstance(expr.left.type, WholeType | AmountType | DateType)


def _closest(policy: CheckedPolicy, interpreter: Interpreter,
             facts: Mapping[str, Value]) -> tuple[NearMiss, ...]:
    misses: list[tuple[float, int, NearMiss]] = []
    for rule in policy.rules:
        checks = []
        for conjunct in rule.conjuncts:
            try:
                result: bool | None = bool(interpreter.value(conjunct.expr, facts))
            except (MissingFact, DivisionByZero):
                result = None
            checks.append(_check(policy, conjunct, facts, result))
        held = sum(1 for check in checks if check.result)
        total = len(checks)
        if total and held:
            trace = _rule_trace(rule, "did not apply", tuple(checks))
            misses.append((-held / total, rule.index, NearMiss(trace, held, total)))
    misses.sort(key=lambda item: (item[0], item[1]))
    return tuple(miss for _, _, miss in misses[:CLOSEST])
