"""Trace: the explanation of an evaluation: which rule decided, and why the others did not.

The trace is data; `render` turns it into text, JSON or Markdown. It depends only on the
policy, the facts and the evaluation's per-rule outcomes, so both evaluators explain alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from typing import cast

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
from policy_engine.core.diagnostics import Diagnostic
from policy_engine.core.records import record
from policy_engine.evaluate.errors import (
    CalendarProblem,
    DivisionByZero,
    EvaluationError,
    MissingFact,
    NoRow,
    OutOfRange,
)
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import Attempt, as_of_date, attempt, environment, in_effect
from policy_engine.evaluate.runtime import Evaluation, RuleOutcome

#: How many near misses are shown when the default decided.
CLOSEST = 3
_ORDERING = {"<", "<=", ">", ">=", "==", "!="}


@record(slots=True)
class LookupTrace:
    """A table lookup made by a condition: the key, the row found and its value."""

    table: str
    key: Value | None
    row: str | None  # the row's label, None when no row was found
    value: Value | None


@record(slots=True)
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


@record(slots=True)
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


@record(slots=True)
class NearMiss:
    """A rule that did not apply, with every conjunct tried on its own; `held` of `total` held."""

    rule: RuleTrace
    held: int
    total: int


@record(slots=True)
class FactTrace:
    """A fact as evaluation saw it; origin is 'given', 'default' or 'missing'."""

    name: str
    value: Value | None
    origin: str


@record(slots=True)
class DerivedTrace:
    """A derived value that the evaluation read, explained once.

    Args:
        text: the expression it is computed from.
        value: None when it could not be computed (`problem` says why).
        explanation: how it came about, with the values it read: `days_sent = 50 > 45`, or
            `x > 15 or near; x = 20, near = no`.
    """

    name: str
    text: str
    value: Value | None
    lookups: tuple[LookupTrace, ...] = ()
    shown: str = ""  # the expression, with the value it compares written in where that reads well
    values: tuple[tuple[str, Value | None], ...] = ()  # what it read, unless shown in place
    problem: str | None = None

    @property
    def explanation(self) -> str:
        """How it came about: `days_sent = 50 > 45`, or `x > 15 or near; x = 20, near = no`."""
        read = ", ".join(f"{name} = {_plain(value)}" for name, value in self.values)
        return f"{self.shown}; {read}" if read else self.shown


@record(slots=True)
class ConstraintTrace:
    """A `require` or `ensure` the facts break, with the values it read.

    Args:
        kind: 'require' or 'ensure'.
        text: for an `ensure`, its condition; for a `require`, the facts it requires.
        when: the condition under which it applies, as written (None: always).
        values: the facts it read, with their values (None: not given).
    """

    kind: str
    text: str
    line: int
    label: str | None
    when: str | None
    values: tuple[tuple[str, Value | None], ...]


# ---------------------------------------------------------------- made quickly, per decision
# A frozen record's `__init__` sets each field through `object.__setattr__` (its own
# `__setattr__` refuses every change): 0.3 to 0.9 µs an object, most of the cost of a compiled
# decision's explanation. The classes below have the same slots as the records (so the same
# memory layout) and a plain `__init__`, whose stores CPython specialises; the last statement
# turns the object into the record, after which it is the record in every way (its class,
# equality, hash, repr, and no assignment). `expand` makes the trace objects of each decision
# with them; `test_expand` checks that each makes what the record's own `__init__` makes.


class _QuickLookup:
    __slots__ = LookupTrace.__slots__

    def __init__(self, table: str, key: Value | None, row: str | None,
                 value: Value | None) -> None:
        self.table = table
        self.key = key
        self.row = row
        self.value = value
        self.__class__ = LookupTrace  # type: ignore[assignment]


class _QuickCheck:
    __slots__ = CheckTrace.__slots__

    def __init__(self, text: str, line: int, column: int, result: bool | None,
                 values: tuple[tuple[str, Value | None], ...], display: str,
                 lookups: tuple[LookupTrace, ...] = ()) -> None:
        self.text = text
        self.line = line
        self.column = column
        self.result = result
        self.values = values
        self.display = display
        self.lookups = lookups
        self.__class__ = CheckTrace  # type: ignore[assignment]


class _QuickRule:
    __slots__ = RuleTrace.__slots__

    def __init__(self, id: str, title: str | None, line: int, status: str,  # noqa: A002
                 decision: str, reason: str | None, citation: str | None,
                 checks: tuple[CheckTrace, ...], kind: str, by: str | None,
                 overrides: tuple[str, ...], effective: str | None,
                 adds: tuple[Value, ...]) -> None:
        self.id = id
        self.title = title
        self.line = line
        self.status = status
        self.decision = decision
        self.reason = reason
        self.citation = citation
        self.checks = checks
        self.kind = kind
        self.by = by
        self.overrides = overrides
        self.effective = effective
        self.adds = adds
        self.__class__ = RuleTrace  # type: ignore[assignment]


class _QuickNearMiss:
    __slots__ = NearMiss.__slots__

    def __init__(self, rule: RuleTrace, held: int, total: int) -> None:
        self.rule = rule
        self.held = held
        self.total = total
        self.__class__ = NearMiss  # type: ignore[assignment]


class _QuickFact:
    __slots__ = FactTrace.__slots__

    def __init__(self, name: str, value: Value | None, origin: str) -> None:
        self.name = name
        self.value = value
        self.origin = origin
        self.__class__ = FactTrace  # type: ignore[assignment]


class _QuickDerived:
    __slots__ = DerivedTrace.__slots__

    def __init__(self, name: str, text: str, value: Value | None,
                 lookups: tuple[LookupTrace, ...], shown: str,
                 values: tuple[tuple[str, Value | None], ...], problem: str | None) -> None:
        self.name = name
        self.text = text
        self.value = value
        self.lookups = lookups
        self.shown = shown
        self.values = values
        self.problem = problem
        self.__class__ = DerivedTrace  # type: ignore[assignment]


#: The records' quick constructors (all arguments positional, none left out).
quick_lookup = cast("Callable[[str, Value | None, str | None, Value | None], LookupTrace]",
                    _QuickLookup)
quick_check = cast("Callable[..., CheckTrace]", _QuickCheck)
quick_rule = cast("Callable[..., RuleTrace]", _QuickRule)
quick_near_miss = cast("Callable[[RuleTrace, int, int], NearMiss]", _QuickNearMiss)
quick_fact = cast("Callable[[str, Value | None, str], FactTrace]", _QuickFact)
quick_derived = cast("Callable[..., DerivedTrace]", _QuickDerived)
QUICK = {LookupTrace: _QuickLookup, CheckTrace: _QuickCheck, RuleTrace: _QuickRule,
         NearMiss: _QuickNearMiss, FactTrace: _QuickFact, DerivedTrace: _QuickDerived}


class Trace:
    """The explanation of one evaluation.

    Only the policy, the facts and the evaluation are kept when it is made; every part below
    is worked out when first read (and then kept), so a caller that never looks at the trace
    pays almost nothing for it, and one that renders it pays once. A compiled first-match
    decision's trace is instead made from the walk's compact record in one pass
    (`expand.expand`): an `Expanded`, with every part set, or, when a part cannot be made
    from the record, a `Trace` with the others set.

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
                 given: set[str] | frozenset[str] | None, evaluation: Evaluation | None,
                 refusal: tuple[Diagnostic, ...] = ()) -> None:
        self.policy = policy
        self._values = facts
        self._given = given
        self._evaluation = evaluation
        self.refusal = refusal

    @property
    def refused(self) -> bool:
        """Whether the policy refused to decide: `refusal` says why, the rules how far it got."""
        return self._evaluation is None

    @functools.cached_property
    def _constraint_refusal(self) -> bool:
        # A broken `require` or `ensure` refuses before any rule is tried.
        return self.refused and all(d.code in ("E308", "E309") for d in self.refusal)

    @functools.cached_property
    def _attempt(self) -> Evaluation | Attempt | None:
        if self._evaluation is not None:
            return self._evaluation
        if self._constraint_refusal:
            return None
        # The explanation is the interpreter's, whichever engine refused: they refuse alike.
        return attempt(self.policy, self._scope.interpreter, self._values)

    @functools.cached_property
    def _outcomes(self) -> tuple[tuple[RuleOutcome, ...], tuple[RuleOutcome, ...]]:
        tried = self._attempt
        if tried is None:
            return (), ()
        return tried.outcomes, tried.advisories

    @functools.cached_property
    def _scope(self) -> _Scope:
        return _Scope(self.policy, self._values)

    @functools.cached_property
    def as_of(self) -> Value | None:
        return self._scope.as_of

    @functools.cached_property
    def rules(self) -> tuple[RuleTrace, ...]:
        """Every rule with what happened to it; none when a `require` or `ensure` refused
        (no rule was tried)."""
        units = self.policy.units()
        return tuple(_outcome_trace(self._scope, units[o.index], o)
                     for o in self._outcomes[0])

    @functools.cached_property
    def advisories(self) -> tuple[RuleTrace, ...]:
        units = self.policy.units()
        return tuple(_outcome_trace(self._scope, units[o.index], o)
                     for o in self._outcomes[1])

    @functools.cached_property
    def decided_by(self) -> RuleTrace | None:
        """The deciding rule, or `otherwise`; None when the policy refused."""
        evaluation = self._evaluation
        if evaluation is None:
            return None
        if evaluation.rule == "otherwise":
            assert self.policy.otherwise is not None
            return _rule_trace(self.policy.otherwise, "decided", ())
        return next(r for r, o in zip(self.rules, evaluation.outcomes, strict=True)
                    if o.index == evaluation.index)

    @functools.cached_property
    def closest(self) -> tuple[NearMiss, ...]:
        """When no rule matched (the default decided, or the policy refused for want of a
        rule or a fact), the rules that came closest to applying."""
        if self._evaluation is not None:
            return _closest(self._scope) if self._evaluation.rule == "otherwise" else ()
        tried = self._attempt
        if isinstance(tried, Attempt) and tried.error.code not in ("E402", "E403"):
            return _closest(self._scope)
        return ()

    @functools.cached_property
    def constraints(self) -> tuple[ConstraintTrace, ...]:
        """The `require` and `ensure` constraints the facts break (only when they refused)."""
        if not self._constraint_refusal:
            return ()
        return _broken_constraints(self._scope)

    @functools.cached_property
    def facts(self) -> tuple[FactTrace, ...]:
        values = self._values
        given = values if self._given is None else self._given
        return tuple(self._fact(info.name, values, given) for info in self.policy.facts)

    @staticmethod
    def _fact(name: str, values: Mapping[str, Value], given: Collection[str]) -> FactTrace:
        value = values.get(name)
        if value is None:  # not given, or given as null: the rules saw no value either way
            return FactTrace(name, None, "missing")
        return FactTrace(name, value, "given" if name in given else "default")

    @functools.cached_property
    def derived(self) -> tuple[DerivedTrace, ...]:
        """The derived values the explanation reads (its conditions, the deciding rule's
        outputs, and the values those are computed from), each explained once, in the
        policy's order."""
        scope = self._scope
        read = _derived_read(self)
        return tuple(
            DerivedTrace(d.name, d.text, scope.get(d.name),
                         tuple(_lookup(scope, node) for node in c.walk(d.expr)
                               if isinstance(node, c.Lookup)),
                         *scope.why(d.name), scope.problem(d.name))
            for d in self.policy.defines if d.name in read)

    @functools.cached_property
    def by_default(self) -> bool:
        """Whether the default (`otherwise`) decided."""
        return self._evaluation is not None and self._evaluation.rule == "otherwise"


class Expanded(Trace):
    """A trace made whole at once from a compiled decision's record (`expand.expand`): every
    part is set when it is made, in slots, which CPython reads on its fastest path (a `Trace`
    reads each part through the class's `cached_property` first); nothing is worked out later.
    Only `expand` makes these, through `made`."""

    __slots__ = ("policy", "_values", "_given", "_evaluation", "refusal", "rules",
                 "decided_by", "advisories", "as_of", "by_default", "constraints", "facts",
                 "closest", "derived")

    @classmethod
    def made(cls, policy: CheckedPolicy, values: Mapping[str, Value],
             given: set[str] | frozenset[str] | None, evaluation: Evaluation,
             rules: tuple[RuleTrace, ...], decided_by: RuleTrace | None,
             advisories: tuple[RuleTrace, ...], as_of: Value | None, by_default: bool,
             facts: tuple[FactTrace, ...], closest: tuple[NearMiss, ...],
             derived: tuple[DerivedTrace, ...]) -> Expanded:
        trace = object.__new__(cls)
        trace.policy = policy
        trace._values = values
        trace._given = given
        trace._evaluation = evaluation
        trace.refusal = ()
        trace.rules = rules
        trace.decided_by = decided_by
        trace.advisories = advisories
        trace.as_of = as_of
        trace.by_default = by_default
        trace.constraints = ()
        trace.facts = facts
        trace.closest = closest
        trace.derived = derived
        return trace


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

    def problem(self, name: str) -> str | None:
        """Why a derived value could not be computed, in words; None when it could."""
        try:
            self.env[name]
        except MissingFact as missing:
            return f"it needs fact '{missing.fact}', which is not given"
        except DivisionByZero:
            return "it divides by zero"
        except NoRow as error:
            return f"table '{error.table}' has no row for '{error.key}'"
        except CalendarProblem as error:
            return str(error)
        except OutOfRange as error:
            return f"it computes {error.what}, out of the engine's range"
        except EvaluationError as error:
            return error.message
        return None

    def why(self, name: str) -> tuple[str, tuple[tuple[str, Value | None], ...]]:
        """How a derived value came about: `days_sent = 50 > 45` for `days_sent > 45`, or the
        expression and the values it read (`x > 15 or near`; x = 20, near = no)."""
        define = next(d for d in self.policy.defines if d.name == name)
        shown = _shown(self, define.expr, define.text)
        if shown != define.text:
            return shown, ()
        read = dict.fromkeys(node.name for node in c.walk(define.expr)
                             if isinstance(node, c.FactRef))
        return shown, tuple((fact, self.get(fact)) for fact in read)

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
    if outcome.status in ("decided", "agreed", "overridden", "added", "matched"):
        checks = tuple(_check(scope, j, True) for j in rule.conjuncts)
    elif outcome.status == "stopped":
        # Its conjuncts one by one, up to the first that is false or cannot be computed; when
        # all hold, its outputs could not be computed.
        tried: list[CheckTrace] = []
        for conjunct in rule.conjuncts:
            value = scope.value(conjunct.expr)
            result = None if value is None else bool(value)
            tried.append(_check(scope, conjunct, result))
            if result is not True:
                break
        checks = tuple(tried)
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
    return CheckTrace(conjunct.grouped, line, column, result, values,
                      _display(scope, conjunct), lookups)


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


def _derived_read(trace: Trace) -> set[str]:
    """The derived values an explanation reads: those its conditions read, those the deciding
    rule's outputs and the advisories that added read, and those these are computed from."""
    policy = trace.policy
    defines = {d.name: d for d in policy.defines}
    if not defines:
        return set()
    wanted: list[str] = []
    rules = [*trace.rules, *trace.advisories, *(miss.rule for miss in trace.closest)]
    for rule in rules:
        for check in rule.checks:
            wanted.extend(name for name, _ in check.values if name in defines)
    units = {unit.id: unit for unit in policy.units()}
    deciding = [trace.decided_by] if trace.decided_by is not None else []
    for rule in [*deciding, *(a for a in trace.advisories if a.status == "added")]:
        unit = units.get(rule.id) if rule.kind != "otherwise" else policy.otherwise
        for _, expr in unit.outputs if unit is not None else ():
            wanted.extend(_names_read(expr, defines))
    for constraint in trace.constraints:
        wanted.extend(name for name, _ in constraint.values if name in defines)
    read: set[str] = set()
    while wanted:
        name = wanted.pop()
        if name not in read:
            read.add(name)
            wanted.extend(_names_read(defines[name].expr, defines))
    return read


def _names_read(expr: c.CExpr, defines: Mapping[str, object]) -> list[str]:
    return [node.name for node in c.walk(expr)
            if isinstance(node, c.FactRef) and node.name in defines]


def _broken_constraints(scope: _Scope) -> tuple[ConstraintTrace, ...]:
    """The constraints the facts break, as `facts.constraints` finds them."""
    policy = scope.policy
    found: list[ConstraintTrace] = []

    def holds(expr: c.CExpr | None) -> bool | None:
        if expr is None:
            return True
        value = scope.value(expr)
        return None if value is None else bool(value)

    def read(*exprs: c.CExpr | None) -> tuple[str, ...]:
        names = (node.name for expr in exprs if expr is not None for node in c.walk(expr)
                 if isinstance(node, c.FactRef))
        return tuple(dict.fromkeys(names))

    for require in policy.requires:
        missing = [fact for fact in require.facts if fact not in scope.facts]
        if missing and holds(require.when):
            names = tuple(dict.fromkeys([*read(require.when), *require.facts]))
            found.append(ConstraintTrace(
                "require", ", ".join(require.facts), require.line, require.label,
                require.when_text, tuple((name, scope.get(name)) for name in names)))
    for ensure in policy.ensures:
        if holds(ensure.when) and holds(ensure.condition) is False:
            names = read(ensure.when, ensure.condition)
            found.append(ConstraintTrace(
                "ensure", ensure.text, ensure.line, ensure.label, ensure.when_text,
                tuple((name, scope.get(name)) for name in names)))
    return tuple(found)
