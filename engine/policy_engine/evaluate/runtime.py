"""Runtime: what both evaluators share: exact arithmetic, errors, and the resolution strategies.

An evaluator only answers two questions per rule: which conjunct of its condition failed (or
-1 when all held), and what outputs it sets. `resolve` turns those answers into one decision
according to the policy's declared strategy, so both evaluators follow the same semantics.
"""

from __future__ import annotations

import datetime
import decimal
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple, Protocol

from policy_engine.check.checked import CheckedPolicy, CheckedRule, TableInfo
from policy_engine.check.types import Value
from policy_engine.evaluate.calendars import CalendarError, working_days

#: Amount arithmetic runs in this context whatever the caller's thread context is, so results
#: never depend on global state: 28 significant digits, halves rounded to even.
CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN,
                          traps=[decimal.InvalidOperation, decimal.DivisionByZero,
                                 decimal.Overflow])

Facts = Mapping[str, Value]
Outputs = tuple[tuple[str, Value], ...]


class MissingFact(Exception):
    """A condition or output read a fact that the fact set does not have."""

    def __init__(self, fact: str) -> None:
        super().__init__(fact)
        self.fact = fact


class DivisionByZero(Exception):
    """An amount was divided by zero."""


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


# ---------------------------------------------------------------- exact arithmetic


def _dec(value: int | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(value)


def add(a: int | Decimal, b: int | Decimal) -> Decimal:
    return CONTEXT.add(_dec(a), _dec(b))


def sub(a: int | Decimal, b: int | Decimal) -> Decimal:
    return CONTEXT.subtract(_dec(a), _dec(b))


def mul(a: int | Decimal, b: int | Decimal) -> Decimal:
    return CONTEXT.multiply(_dec(a), _dec(b))


def div(a: int | Decimal, b: int | Decimal) -> Decimal:
    if b == 0:
        raise DivisionByZero()
    return CONTEXT.divide(_dec(a), _dec(b))


def neg(a: int | Decimal) -> Decimal:
    return CONTEXT.minus(_dec(a))


def between(value: object, low: object, high: object) -> bool:
    return low <= value <= high  # type: ignore[operator, no-any-return]


ARITH = {"+": add, "-": sub, "*": mul, "/": div}

def _fraction(value: int | Decimal) -> Fraction:
    return Fraction(value)


def _rounded(value: Fraction, places: int, mode: str) -> Decimal:
    """Rounds an exact rational to `places` decimals: half away from zero, up, or down."""
    scaled = value * 10**places
    negative = scaled < 0
    magnitude = -scaled if negative else scaled
    if mode == "round":
        whole = math.floor(magnitude + Fraction(1, 2))
    elif mode == "round_up":
        whole = math.ceil(magnitude)
    else:
        whole = math.floor(magnitude)
    digits = Decimal(whole).as_tuple().digits  # exact, whatever the number of digits
    return Decimal((1 if negative and whole else 0, digits, -places))


def round_value(mode: str, value: int | Decimal | Fraction, places: int) -> Decimal:
    """Rounds exactly; a division inside `round(...)` is computed as an exact fraction first."""
    exact = value if isinstance(value, Fraction) else _fraction(value)
    return _rounded(exact, places, mode)


def exact_div(a: int | Decimal, b: int | Decimal) -> Fraction:
    """An exact quotient, only ever passed straight to `round_value`."""
    if b == 0:
        raise DivisionByZero()
    return _fraction(a) / _fraction(b)


def minimum(*values: object) -> object:
    return min(values)  # type: ignore[type-var]


def maximum(*values: object) -> object:
    return max(values)  # type: ignore[type-var]


def absolute(value: int | Decimal) -> int | Decimal:
    return -value if value < 0 else value


def count(values: tuple[object, ...]) -> int:
    return len(values)


def days_between(start: datetime.date, end: datetime.date) -> int:
    return (end - start).days


ROUNDING = ("round", "round_up", "round_down")

#: Built-in functions by name; generated code reaches them only through this table.
FUNCTIONS: dict[str, Callable[..., object]] = {
    "min": minimum, "max": maximum, "abs": absolute, "count": count,
    "days_between": days_between,
}


class NoRow(Exception):
    """A table has no row (and no default row) in effect for a key."""

    def __init__(self, table: str, key: str, as_of: datetime.date | None) -> None:
        super().__init__(table)
        self.table, self.key, self.as_of = table, key, as_of


def lookup(table: TableInfo, key: str, facts: Facts, as_of_fact: str | None) -> Value:
    """The value of the table row for `key` in effect on the as-of date."""
    as_of: datetime.date | None = None
    if table.dated and as_of_fact is not None:
        if as_of_fact not in facts:
            raise MissingFact(as_of_fact)
        day = facts[as_of_fact]
        assert isinstance(day, datetime.date)
        as_of = day
    row = table.find(key, as_of)
    if row is None:
        raise NoRow(table.name, key, as_of)
    return row.value


def count_working_days(start: datetime.date, end: datetime.date,
                       excluding: tuple[datetime.date, ...] | None, calendar: str | None) -> int:
    try:
        return working_days(start, end, excluding or (), calendar)
    except CalendarError as error:
        raise CalendarProblem(str(error)) from None


class CalendarProblem(Exception):
    """A calendar could not be used during evaluation."""


class Env(dict[str, Value]):
    """The facts of one evaluation; derived values are computed on first use and kept."""

    __slots__ = ("_derive", "_names")

    def __init__(self, facts: Facts, derive: Callable[[str, Env], Value],
                 names: frozenset[str]) -> None:
        super().__init__(facts)
        self._derive = derive
        self._names = names

    def __missing__(self, key: str) -> Value:
        if key in self._names:
            value = self._derive(key, self)
            self[key] = value
            return value
        raise KeyError(key)


# ---------------------------------------------------------------- resolution


class RuleEvaluator(Protocol):
    """The questions an evaluator answers; both evaluators implement this."""

    def condition(self, index: int, facts: Facts) -> int:
        """Returns the index of the first conjunct of unit `index` that is false, or -1.

        Raises:
            MissingFact: a conjunct read a fact that is absent.
            DivisionByZero, NoRow, CalendarProblem: see `resolve`.
        """

    def outputs(self, index: int, facts: Facts) -> Outputs:
        """Returns the outputs unit `index` sets (for an advisory: the items it adds)."""

    def derive(self, name: str, facts: Env) -> Value:
        """Computes a derived value (`define`)."""


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What happened to one rule or advisory.

    Args:
        status: 'decided', 'agreed' (matched and agreed with the decider), 'overridden'
            (matched, but an exception that also matched took precedence), 'did not apply',
            'not reached' (first match: an earlier rule decided), 'not in effect' (its
            effective dates exclude the as-of date), and for advisories 'added'.
        failed_at: for 'did not apply', the index of the first false conjunct.
        by: for 'overridden', the id of the exception that took precedence.
    """

    rule: str
    status: str
    failed_at: int | None = None
    index: int = -1
    by: str | None = None


class Verdict(NamedTuple):
    """A bare decision: what the compiled fast path returns (see `fastpath`).

    Results of rules whose outputs are constants are built once per policy and returned as they
    are, so a decision allocates nothing; use `Policy.decide` for the rules' outcomes. (A named
    tuple, because it is immutable and the quickest such object to make.)
    """

    decision: str
    rule: str  # a rule id, or "otherwise"
    outputs: Outputs
    index: int = -1  # type: ignore[assignment]  # the deciding unit; hides tuple.index


Later = Callable[[Any], tuple[tuple[RuleOutcome, ...], tuple[RuleOutcome, ...]]]


class Evaluation:
    """The result of evaluation: the decision, its rule and outputs, and each rule's fate.

    `outcomes` (one per rule, in file order) and `advisories` may be computed only when first
    read (`Evaluation.later`), since only a trace needs them.
    """

    __slots__ = ("decision", "rule", "outputs", "index", "_outcomes", "_advisories", "_later",
                 "_argument")

    def __init__(self, decision: str, rule: str, outputs: Outputs,
                 outcomes: tuple[RuleOutcome, ...], advisories: tuple[RuleOutcome, ...] = (),
                 index: int = -1) -> None:
        self.decision = decision
        self.rule = rule  # a rule id, or "otherwise"
        self.outputs = outputs
        self.index = index  # the deciding unit
        self._outcomes = outcomes
        self._advisories = advisories
        self._later: Later | None = None
        self._argument: object = None

    @classmethod
    def later(cls, decision: str, rule: str, outputs: Outputs, index: int, compute: Later,
              argument: object) -> Evaluation:
        """An evaluation whose outcomes and advisories `compute(argument)` works out when they
        are first read."""
        evaluation = object.__new__(cls)
        evaluation.decision = decision
        evaluation.rule = rule
        evaluation.outputs = outputs
        evaluation.index = index
        evaluation._later = compute
        evaluation._argument = argument
        return evaluation

    def _settle(self) -> None:
        if self._later is not None:
            self._outcomes, self._advisories = self._later(self._argument)
            self._later = self._argument = None

    @property
    def outcomes(self) -> tuple[RuleOutcome, ...]:
        self._settle()
        return self._outcomes

    @property
    def advisories(self) -> tuple[RuleOutcome, ...]:
        self._settle()
        return self._advisories

    def _key(self) -> tuple[object, ...]:
        return (self.decision, self.rule, self.outputs, self.outcomes, self.advisories,
                self.index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evaluation):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Evaluation(decision={self.decision!r}, rule={self.rule!r}, "
                f"outputs={self.outputs!r}, outcomes={self.outcomes!r}, "
                f"advisories={self.advisories!r}, index={self.index!r})")


def ask(evaluator: RuleEvaluator, rule: CheckedRule, facts: Facts, what: str,
         where: str = "") -> object:
    try:
        if what == "condition":
            return evaluator.condition(rule.index, facts)
        return evaluator.outputs(rule.index, facts)
    except MissingFact as missing:
        guard = "the default" if rule.kind == "otherwise" else f"the {rule.kind}"
        label = rule.label.replace("(line ", f"({where}:" if where else "(line ")
        raise EvaluationError(
            "E401", f"{label} needs fact '{missing.fact}', which is missing",
            rules=(rule.id,), fact=missing.fact,
            help=f"give '{missing.fact}' in the facts, or guard {guard} with "
                 f"'{missing.fact} is present and ...'",
        ) from None
    except DivisionByZero:
        raise EvaluationError(
            "E405", f"{rule.label.replace('(line ', f'({where}:' if where else '(line ')} "
                    "divides by zero", rules=(rule.id,),
            help="guard the division, for example: x != 0 and round(y / x, 2) > 1",
        ) from None
    except NoRow as error:
        when = f" in effect on {error.as_of.isoformat()}" if error.as_of else ""
        raise EvaluationError(
            "E406", f"{rule.label} looks up '{error.key}' in table '{error.table}', which has "
                    f"no row for it{when}", rules=(rule.id,),
            help="add a row, or a 'default = ...' row, that covers this date") from None
    except CalendarProblem as error:
        raise EvaluationError("E407", f"{rule.label}: {error}", rules=(rule.id,)) from None


def environment(policy: CheckedPolicy, evaluator: RuleEvaluator, facts: Facts) -> Facts:
    """The facts as evaluation sees them: with derived values when the policy has any."""
    if not policy.defines:
        return facts
    return Env(facts, evaluator.derive, frozenset(d.name for d in policy.defines))


def as_of_date(policy: CheckedPolicy, facts: Facts) -> datetime.date | None:
    """The as-of date, when some rule or advisory says when it is in effect."""
    if policy.as_of is None or not any(u.effective for u in policy.units()):
        return None
    if policy.as_of not in facts:
        raise EvaluationError(
            "E401", f"the policy needs fact '{policy.as_of}' to know which rules are in effect",
            fact=policy.as_of, help=f"give '{policy.as_of}' in the facts")
    value = facts[policy.as_of]
    assert isinstance(value, datetime.date)
    return value


def _overrides(policy: CheckedPolicy, winner: CheckedRule, loser: CheckedRule) -> bool:
    """Whether `winner` is, directly or through other exceptions, an exception to `loser`."""
    return loser.index in policy.overridden_by.get(winner.index, frozenset())


def resolve(policy: CheckedPolicy, evaluator: RuleEvaluator, facts: Facts) -> Evaluation:
    """Evaluates the rules and applies the policy's strategy (see docs/language.md).

    Raises:
        EvaluationError: a needed fact is missing, rules conflict, or nothing decides.
    """
    env = environment(policy, evaluator, facts)
    today = as_of_date(policy, env)
    first_match = policy.strategy == "first match"
    outcomes: dict[int, RuleOutcome] = {}
    matched: list[CheckedRule] = []
    for rule in policy.first_match_order:
        if rule.effective is not None and (today is None or not rule.effective.contains(today)):
            outcomes[rule.index] = RuleOutcome(rule.id, "not in effect", index=rule.index)
            continue
        failed = ask(evaluator, rule, env, "condition", policy.source.name)
        assert isinstance(failed, int)
        if failed < 0:
            matched.append(rule)
            if first_match:
                break
        else:
            outcomes[rule.index] = RuleOutcome(rule.id, "did not apply", failed, rule.index)
    winners = [r for r in matched if not any(_overrides(policy, w, r) for w in matched)]
    for loser in matched:
        if loser not in winners:
            by = next(w for w in winners if _overrides(policy, w, loser))
            outcomes[loser.index] = RuleOutcome(loser.id, "overridden", None, loser.index, by.id)
    if first_match and winners:
        _explain_overridden(policy, evaluator, env, today, winners[0], outcomes)
    for rule in policy.rules:
        if rule.index not in outcomes and rule not in matched:
            status = "not in effect" if rule.effective is not None and (
                today is None or not rule.effective.contains(today)) else "not reached"
            outcomes[rule.index] = RuleOutcome(rule.id, status, index=rule.index)

    if not winners:
        if policy.refusal is not None or policy.otherwise is None:
            raise no_decision(policy)
        decider = policy.otherwise
    else:
        decider = winners[0]
        if policy.strategy == "unique" and len(winners) > 1:
            names = " and ".join(f"'{r.id}' ({policy.source.name}:{r.line})" for r in winners)
            count = "both" if len(winners) == 2 else "all"
            raise EvaluationError(
                "E402", f"rules {names} {count} match; the policy resolves with 'unique'",
                rules=tuple(r.id for r in winners),
                help="make the conditions exclude each other, declare one an exception "
                     "('overrides'), or use 'resolve first match'")
    outputs = ask(evaluator, decider, env, "outputs", policy.source.name)
    assert isinstance(outputs, tuple)
    if policy.strategy == "agreeing":
        for other in winners[1:]:
            other_outputs = ask(evaluator, other, env, "outputs", policy.source.name)
            assert isinstance(other_outputs, tuple)
            if other.decision != decider.decision or other_outputs != outputs:
                raise EvaluationError(
                    "E403", f"rules '{decider.id}' ({policy.source.name}:{decider.line}) and "
                            f"'{other.id}' ({policy.source.name}:{other.line}) match but "
                            f"disagree: "
                            f"{_describe(decider.decision, outputs)} against "
                            f"{_describe(other.decision, other_outputs)}",
                    rules=(decider.id, other.id),
                    help="under 'resolve agreeing' matching rules must give the same decision "
                         "and outputs")
    for rule in winners:
        status = "decided" if rule is decider else "agreed"
        outcomes[rule.index] = RuleOutcome(rule.id, status, index=rule.index)
    advisories, outputs = _advise(policy, evaluator, env, today, outputs)
    outputs = typed_outputs(policy, outputs)
    ordered = tuple(outcomes[r.index] for r in policy.rules)
    return Evaluation(decider.decision, decider.id, outputs, ordered, advisories, decider.index)


def no_decision(policy: CheckedPolicy) -> EvaluationError:
    """The refusal when no rule matched and there is no `otherwise` decision."""
    refusal = policy.refusal
    if refusal is not None:
        return EvaluationError(
            "E404", "no rule applies, and the policy refuses to decide (otherwise refuse, "
                    f"line {refusal.line})" + (f": {refusal.reason}" if refusal.reason else ""),
            label=refusal.label,
            help=f"source: {refusal.citation}" if refusal.citation else None)
    return EvaluationError(
        "E404", "no rule matched and the policy has no 'otherwise' default",
        help="add 'otherwise DECISION because \"...\"' to the policy")


def in_effect(rule: CheckedRule, today: datetime.date | None) -> bool:
    """Whether a rule or advisory is in effect on the as-of day."""
    return rule.effective is None or (today is not None and rule.effective.contains(today))


def first_match_outcomes(policy: CheckedPolicy, evaluator: RuleEvaluator, env: Facts,
                         today: datetime.date | None, decider: CheckedRule,
                         failed: Mapping[int, int]) -> tuple[RuleOutcome, ...]:
    """First match: each rule's outcome, from the first false conjunct of each rule tried.

    `failed` maps the index of every rule the fast path tried before `decider` to its first
    false conjunct; a rule in effect before the decider that it does not name was passed over by
    a rule index, because its first conjunct is false. Gives what `resolve` gives.
    """
    outcomes: dict[int, RuleOutcome] = {}
    for rule in policy.first_match_order:
        if rule is decider:
            break
        if not in_effect(rule, today):
            outcomes[rule.index] = RuleOutcome(rule.id, "not in effect", index=rule.index)
        else:
            outcomes[rule.index] = RuleOutcome(rule.id, "did not apply",
                                               failed.get(rule.index, 0), rule.index)
    if decider.kind == "rule":
        _explain_overridden(policy, evaluator, env, today, decider, outcomes)
        outcomes[decider.index] = RuleOutcome(decider.id, "decided", index=decider.index)
    for rule in policy.rules:
        if rule.index not in outcomes:
            status = "not reached" if in_effect(rule, today) else "not in effect"
            outcomes[rule.index] = RuleOutcome(rule.id, status, index=rule.index)
    return tuple(outcomes[r.index] for r in policy.rules)


def finish(policy: CheckedPolicy, evaluator: RuleEvaluator, env: Facts,
           today: datetime.date | None, decider: CheckedRule,
           outputs: Outputs) -> tuple[tuple[RuleOutcome, ...], Outputs]:
    """Runs the advisories over a decider's outputs and types them, as `resolve` does."""
    advisories, outputs = _advise(policy, evaluator, env, today, outputs)
    return advisories, typed_outputs(policy, outputs)


def _explain_overridden(policy: CheckedPolicy, evaluator: RuleEvaluator, env: Facts,
                        today: datetime.date | None, decider: CheckedRule,
                        outcomes: dict[int, RuleOutcome]) -> None:
    """First match: say whether the rules the decider is an exception to would have matched."""
    for rule in policy.rules:
        if rule.index in outcomes or rule is decider or not _overrides(policy, decider, rule):
            continue
        if rule.effective is not None and (today is None or not rule.effective.contains(today)):
            continue
        try:
            failed = evaluator.condition(rule.index, env)
        except (MissingFact, DivisionByZero, NoRow, CalendarProblem):
            continue  # it stays 'not reached': first match never needed it
        if failed < 0:
            outcomes[rule.index] = RuleOutcome(rule.id, "overridden", None, rule.index, decider.id)
        else:
            outcomes[rule.index] = RuleOutcome(rule.id, "did not apply", failed, rule.index)


def _advise(policy: CheckedPolicy, evaluator: RuleEvaluator, env: Facts,
            today: datetime.date | None, outputs: Outputs) -> tuple[tuple[RuleOutcome, ...],
                                                                    Outputs]:
    """Runs every advisory; each that matches adds its items to its list output."""
    if not policy.advisories:
        return (), outputs
    values = dict(outputs)
    outcomes: list[RuleOutcome] = []
    for advisory in policy.advisories:
        if advisory.effective is not None and (
                today is None or not advisory.effective.contains(today)):
            outcomes.append(RuleOutcome(advisory.id, "not in effect", index=advisory.index))
            continue
        failed = ask(evaluator, advisory, env, "condition", policy.source.name)
        assert isinstance(failed, int)
        if failed >= 0:
            outcomes.append(RuleOutcome(advisory.id, "did not apply", failed, advisory.index))
            continue
        added = ask(evaluator, advisory, env, "outputs", policy.source.name)
        assert isinstance(added, tuple)
        for name, items in added:
            current = values.get(name, ())
            assert isinstance(current, tuple) and isinstance(items, tuple)
            values[name] = current + tuple(i for i in items if i not in current)
        outcomes.append(RuleOutcome(advisory.id, "added", index=advisory.index))
    order = [o.name for o in policy.outputs]
    merged = tuple(sorted(values.items(), key=lambda kv: order.index(kv[0])))
    return tuple(outcomes), merged


def typed_outputs(policy: CheckedPolicy, outputs: Outputs) -> Outputs:
    """An amount output written as a whole number (`refund = 0`) is still an amount."""
    amounts = policy.amount_outputs
    if not amounts or not any(name in amounts and type(value) is int for name, value in outputs):
        return outputs
    return tuple((name, Decimal(value) if name in amounts and type(value) is int else value)
                 for name, value in outputs)


def _describe(decision: str, outputs: Outputs) -> str:
    from policy_engine.check.types import format_value

    if not outputs:
        return f"'{decision}'"
    shown = ", ".join(f"{k} = {format_value(v)}" for k, v in outputs)
    return f"'{decision}' with {shown}"
