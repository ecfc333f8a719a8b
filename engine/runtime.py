"""Runtime: what both evaluators share: exact arithmetic, errors, and the resolution strategies.

An evaluator only answers two questions per rule: which conjunct of its condition failed (or
-1 when all held), and what outputs it sets. `resolve` turns those answers into one decision
according to the policy's declared strategy, so both evaluators follow the same semantics.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from engine.checked import CheckedPolicy, CheckedRule
from engine.valuetypes import Value

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
                 fact: str | None = None, help: str | None = None) -> None:
        super().__init__(message)
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

# ---------------------------------------------------------------- resolution


class RuleEvaluator(Protocol):
    """The two questions an evaluator answers; both evaluators implement this."""

    def condition(self, index: int, facts: Facts) -> int:
        """Returns the index of the first conjunct that is false, or -1 when all hold.

        Raises:
            MissingFact: a conjunct read a fact that is absent.
            DivisionByZero: an amount was divided by zero.
        """

    def outputs(self, index: int, facts: Facts) -> Outputs:
        """Returns the outputs of rule `index` (len(rules) is the `otherwise` default)."""


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What happened to one rule.

    Args:
        status: 'decided', 'agreed' (matched and agreed with the decider), 'did not apply',
            or 'not reached' (first match: an earlier rule decided).
        failed_at: for 'did not apply', the index of the first false conjunct.
    """

    rule: str
    status: str
    failed_at: int | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The bare result of evaluation: the decision, its rule and outputs, and each rule's fate."""

    decision: str
    rule: str  # a rule id, or "otherwise"
    outputs: Outputs
    outcomes: tuple[RuleOutcome, ...]


def _ask(evaluator: RuleEvaluator, policy: CheckedPolicy, rule: CheckedRule, facts: Facts,
         what: str) -> object:
    try:
        if what == "condition":
            return evaluator.condition(rule.index, facts)
        return evaluator.outputs(rule.index, facts)
    except MissingFact as missing:
        where = "rule" if rule.id != "otherwise" else "the default"
        label = f"rule '{rule.id}' (line {rule.line})" if rule.id != "otherwise" else \
            f"the 'otherwise' default (line {rule.line})"
        raise EvaluationError(
            "E401", f"{label} needs fact '{missing.fact}', which is missing",
            rules=(rule.id,), fact=missing.fact,
            help=f"give '{missing.fact}' in the facts, or guard the {where} with "
                 f"'{missing.fact} is present and ...'",
        ) from None
    except DivisionByZero:
        raise EvaluationError(
            "E405", f"rule '{rule.id}' (line {rule.line}) divides by zero", rules=(rule.id,),
            help="guard the division, for example: x != 0 and y / x > 1",
        ) from None


def resolve(policy: CheckedPolicy, evaluator: RuleEvaluator, facts: Facts) -> Evaluation:
    """Evaluates the rules and applies the policy's strategy (see docs/language.md).

    Raises:
        EvaluationError: a needed fact is missing, rules conflict, or nothing decides.
    """
    rules = policy.rules
    outcomes: list[RuleOutcome] = []
    matched: list[CheckedRule] = []
    for rule in rules:
        failed = _ask(evaluator, policy, rule, facts, "condition")
        assert isinstance(failed, int)
        if failed < 0:
            matched.append(rule)
            outcomes.append(RuleOutcome(rule.id, "matched"))
            if policy.strategy == "first match":
                break
        else:
            outcomes.append(RuleOutcome(rule.id, "did not apply", failed))
    if policy.strategy == "first match":
        outcomes.extend(RuleOutcome(r.id, "not reached") for r in rules[len(outcomes):])
    if not matched:
        if policy.otherwise is None:
            raise EvaluationError(
                "E404", "no rule matched and the policy has no 'otherwise' default",
                help="add 'otherwise DECISION because \"...\"' to the policy")
        outputs = _ask(evaluator, policy, policy.otherwise, facts, "outputs")
        return Evaluation(policy.otherwise.decision, "otherwise", outputs,  # type: ignore[arg-type]
                          tuple(outcomes))
    decider = matched[0]
    if policy.strategy == "unique" and len(matched) > 1:
        names = " and ".join(f"'{r.id}' (line {r.line})" for r in matched)
        raise EvaluationError(
            "E402", f"rules {names} all match; the policy resolves with 'unique'",
            rules=tuple(r.id for r in matched),
            help="make the conditions exclude each other, or use 'resolve first match'")
    outputs = _ask(evaluator, policy, decider, facts, "outputs")
    if policy.strategy == "agreeing":
        for other in matched[1:]:
            other_outputs = _ask(evaluator, policy, other, facts, "outputs")
            if other.decision != decider.decision or other_outputs != outputs:
                raise EvaluationError(
                    "E403", f"rules '{decider.id}' (line {decider.line}) and '{other.id}' "
                            f"(line {other.line}) match but disagree: "
                            f"{_describe(decider.decision, outputs)} against "  # type: ignore[arg-type]
                            f"{_describe(other.decision, other_outputs)}",  # type: ignore[arg-type]
                    rules=(decider.id, other.id),
                    help="under 'resolve agreeing' matching rules must give the same decision "
                         "and outputs")
    final = []
    for outcome in outcomes:
        if outcome.status == "matched":
            status = "decided" if outcome.rule == decider.id else "agreed"
            final.append(RuleOutcome(outcome.rule, status))
        else:
            final.append(outcome)
    return Evaluation(decider.decision, decider.id, outputs, tuple(final))  # type: ignore[arg-type]


def _describe(decision: str, outputs: Outputs) -> str:
    from engine.valuetypes import format_value

    if not outputs:
        return f"'{decision}'"
    shown = ", ".join(f"{k} = {format_value(v)}" for k, v in outputs)
    return f"'{decision}' with {shown}"
