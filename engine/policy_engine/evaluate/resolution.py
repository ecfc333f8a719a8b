"""Resolution: how the answers of an evaluator about each rule become one decision.

An evaluator only answers two questions per rule: which conjunct of its condition failed (or
-1 when all held), and what outputs it sets. `resolve` turns those answers into one decision
according to the policy's declared strategy (first match, unique, agreeing), exceptions,
effective dates, `otherwise` and advisories, so both evaluators follow the same semantics.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from policy_engine.check.checked import CheckedPolicy, CheckedRule
from policy_engine.check.types import Value, format_value
from policy_engine.core.records import record
from policy_engine.evaluate.errors import (
    CalendarProblem,
    DivisionByZero,
    EvaluationError,
    MissingFact,
    NoRow,
    OutOfRange,
)
from policy_engine.evaluate.runtime import Env, Evaluation, Facts, Outputs, RuleOutcome


class RuleEvaluator(Protocol):
    """The questions an evaluator answers; both evaluators implement this."""

    def condition(self, index: int, facts: Facts) -> int:
        """Returns the index of the first conjunct of unit `index` that is false, or -1.

        Raises:
            MissingFact: a conjunct read a fact that is absent.
            DivisionByZero, NoRow, CalendarProblem, OutOfRange: see `ask`.
        """

    def outputs(self, index: int, facts: Facts) -> Outputs:
        """Returns the outputs unit `index` sets (for an advisory: the items it adds)."""

    def derive(self, name: str, facts: Env) -> Value:
        """Computes a derived value (`define`)."""


def ask(evaluator: RuleEvaluator, rule: CheckedRule, facts: Facts, what: str,
        where: str = "") -> object:
    """Asks an evaluator about one rule; what stops the evaluation becomes a refusal.

    Args:
        what: "condition" (the first false conjunct) or "outputs".
        where: the policy's file name, to name the rule's place by file and line.

    Raises:
        EvaluationError: E401 (a missing fact), E405 (a division by zero), E406 (no table
            row), E407 (a calendar) or E408 (a value out of the engine's range).
    """
    try:
        if what == "condition":
            return evaluator.condition(rule.index, facts)
        return evaluator.outputs(rule.index, facts)
    except MissingFact as missing:
        guard = "the default" if rule.kind == "otherwise" else f"the {rule.kind}"
        label = rule.label.replace("(line ", f"({where}:" if where else "(line ")
        fact, define = missing.fact, missing.define
        if define is not None:  # the unguarded read is in the derived value, not the rule
            raise EvaluationError(
                "E401", f"{label} needs fact '{fact}', which is missing, for derived value "
                        f"'{define}'", rules=(rule.id,), fact=fact,
                help=f"give '{fact}' in the facts, or guard the derived value: define "
                     f"{define} = if {fact} is present then ... else ...; or guard {guard} with "
                     f"'{fact} is present and ...'",
            ) from None
        raise EvaluationError(
            "E401", f"{label} needs fact '{fact}', which is missing",
            rules=(rule.id,), fact=fact,
            help=f"give '{fact}' in the facts, or guard {guard} with '{fact} is present and ...'",
        ) from None
    except DivisionByZero:
        raise EvaluationError(
            "E405", f"{rule.label.replace('(line ', f'({where}:' if where else '(line ')} "
                    "divides by zero", rules=(rule.id,),
            help="guard the division, for example: x != 0 and round(y / x, 2) > 1",
        ) from None
    except OutOfRange as error:
        label = rule.label.replace("(line ", f"({where}:" if where else "(line ")
        raise EvaluationError(
            "E408", f"{label} computes {error.what}, out of the engine's range",
            rules=(rule.id,), help=error.help) from None
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
    return _resolve(policy, evaluator, facts, {}, [], [])


def attempt(policy: CheckedPolicy, evaluator: RuleEvaluator,
            facts: Facts) -> Evaluation | Attempt:
    """Evaluates as `resolve` does; a refusal gives what happened to each rule up to it.

    What explains a refusal: the rules tried before evaluation stopped keep their outcomes,
    the rules it stopped in are 'stopped' (a condition or its outputs could not be computed)
    or 'matched' (they conflict, or disagree), and the rest were 'not tried'.
    """
    outcomes: dict[int, RuleOutcome] = {}
    advised: list[RuleOutcome] = []
    matched: list[CheckedRule] = []
    try:
        return _resolve(policy, evaluator, facts, outcomes, advised, matched)
    except EvaluationError as error:
        stopping = "matched" if error.code in ("E402", "E403") else "stopped"
        involved = set(error.rules)
        matched_ids = {rule.id for rule in matched}

        def fate(unit: CheckedRule, known: RuleOutcome | None) -> RuleOutcome:
            if unit.id in involved:
                return RuleOutcome(unit.id, stopping, index=unit.index)
            if known is not None:
                return known
            if unit.id in matched_ids:
                return RuleOutcome(unit.id, "matched", index=unit.index)
            return RuleOutcome(unit.id, "not tried", index=unit.index)

        rules = tuple(fate(r, outcomes.get(r.index)) for r in policy.rules)
        default = policy.otherwise
        if default is not None and default.id in involved:  # its outputs stopped it
            rules += (RuleOutcome(default.id, "stopped", index=default.index),)
        by_advisory = {o.index: o for o in advised}
        advisories = tuple(fate(a, by_advisory.get(a.index)) for a in policy.advisories) \
            if advised or involved & {a.id for a in policy.advisories} else ()
        return Attempt(error, rules, advisories)


@record
class Attempt:
    """A refused evaluation: why (`error`), and each rule's and advisory's outcome up to it."""

    error: EvaluationError
    outcomes: tuple[RuleOutcome, ...]
    advisories: tuple[RuleOutcome, ...]


def _resolve(policy: CheckedPolicy, evaluator: RuleEvaluator, facts: Facts,
             outcomes: dict[int, RuleOutcome], advised: list[RuleOutcome],
             matched: list[CheckedRule]) -> Evaluation:
    env = environment(policy, evaluator, facts)
    today = as_of_date(policy, env)
    first_match = policy.strategy == "first match"
    for rule in policy.first_match_order:
        if not in_effect(rule, today):
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
            status = "not reached" if in_effect(rule, today) else "not in effect"
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
    advisories, outputs = _advise(policy, evaluator, env, today, outputs, advised)
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
        if not in_effect(rule, today):
            continue
        try:
            failed = evaluator.condition(rule.index, env)
        except (MissingFact, DivisionByZero, NoRow, CalendarProblem, OutOfRange):
            continue  # it stays 'not reached': first match never needed it
        if failed < 0:
            outcomes[rule.index] = RuleOutcome(rule.id, "overridden", None, rule.index, decider.id)
        else:
            outcomes[rule.index] = RuleOutcome(rule.id, "did not apply", failed, rule.index)


def _advise(policy: CheckedPolicy, evaluator: RuleEvaluator, env: Facts,
            today: datetime.date | None, outputs: Outputs,
            outcomes: list[RuleOutcome] | None = None) -> tuple[tuple[RuleOutcome, ...],
                                                                Outputs]:
    """Runs every advisory; each that matches adds its items to its list output.

    Args:
        outcomes: where each advisory's outcome is recorded as it is known (a fresh list when
            None), so that a refusal in a later advisory still shows the earlier ones.
    """
    if not policy.advisories:
        return (), outputs
    added: list[tuple[str, Value]] = []
    outcomes = [] if outcomes is None else outcomes
    for advisory in policy.advisories:
        if not in_effect(advisory, today):
            outcomes.append(RuleOutcome(advisory.id, "not in effect", index=advisory.index))
            continue
        failed = ask(evaluator, advisory, env, "condition", policy.source.name)
        assert isinstance(failed, int)
        if failed >= 0:
            outcomes.append(RuleOutcome(advisory.id, "did not apply", failed, advisory.index))
            continue
        items = ask(evaluator, advisory, env, "outputs", policy.source.name)
        assert isinstance(items, tuple)
        added.extend(items)
        outcomes.append(RuleOutcome(advisory.id, "added", index=advisory.index))
    return tuple(outcomes), add_advice(policy, outputs, added)


def add_advice(policy: CheckedPolicy, outputs: Outputs,
               added: Iterable[tuple[str, Value]]) -> Outputs:
    """A decider's outputs with the items that advisories add to list outputs (each item once),
    in the policy's output order; both evaluators merge advice with this."""
    values = dict(outputs)
    for name, items in added:
        current = values.get(name, ())
        assert isinstance(current, tuple) and isinstance(items, tuple)
        values[name] = current + tuple(i for i in items if i not in current)
    return tuple([(o.name, values[o.name]) for o in policy.outputs if o.name in values])


def typed_outputs(policy: CheckedPolicy, outputs: Outputs) -> Outputs:
    """An amount output written as a whole number (`refund = 0`) is still an amount."""
    amounts = policy.amount_outputs
    if not amounts or not any(name in amounts and type(value) is int for name, value in outputs):
        return outputs
    return tuple((name, Decimal(value) if name in amounts and type(value) is int else value)
                 for name, value in outputs)


def _describe(decision: str, outputs: Outputs) -> str:
    if not outputs:
        return f"'{decision}'"
    shown = ", ".join(f"{k} = {format_value(v)}" for k, v in outputs)
    return f"'{decision}' with {shown}"
