"""SQL rules: each rule, advisory and `otherwise` of a policy as SQL columns of its outcome.

For every unit the query knows, per row, three things the interpreter's `condition` answers:
whether the scan stops at it (`hit`: every conjunct held, or one stopped the evaluation
before any was false), the first conjunct that is not true (`at`, the number of conjuncts
when all held: what the trace is built from), and the fault that stopped it, if one did. The
outputs a unit sets are translated beside them. How a unit stops is worded by the
interpreter's own `resolution.ask`, so refusals read the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_engine.check.checked import CheckedPolicy, CheckedRule
from policy_engine.check.types import AmountType
from policy_engine.evaluate.errors import DivisionByZero, EvaluationError, MissingFact
from policy_engine.evaluate.resolution import ask
from policy_engine.evaluate.runtime import Facts, Outputs
from policy_engine.sql import amounts
from policy_engine.sql import trees as t
from policy_engine.sql.expressions import Scope, day_number, short_circuit
from policy_engine.sql.trees import Sql
from policy_engine.sql.values import Val


@dataclass
class Unit:
    """One rule, advisory or `otherwise`, translated.

    Args:
        hit: TRUE when the scan stops here (it applies, or its evaluation stopped).
        at: the first conjunct that is not true (-1 - its position when its evaluation
            stopped there); len(conjuncts) when all hold.
        fault: why its evaluation stopped, or None when it never can.
        applies: TRUE when every conjunct holds (only meaningful without a fault).
        in_effect: whether it is in effect on the as-of day (None: always).
        outputs: (output, value) for each output it sets.
    """

    rule: CheckedRule
    hit: Sql
    at: Sql
    fault: Sql | None
    applies: Sql
    in_effect: Sql | None
    outputs: list[tuple[str, Val]]
    conjuncts: list[Val] = field(default_factory=list)

    def known_first(self) -> tuple[Sql, Sql] | None:
        """`hit` and `at` where the first conjunct is known to hold (an index chose the
        rule by it), or None when that conjunct could stop the evaluation."""
        if not self.conjuncts or self.conjuncts[0].fault is not None:
            return None
        return _hit(self.conjuncts[1:]), _at(self.conjuncts, 1)


def _hit(conjuncts: list[Val]) -> Sql:
    """TRUE when the scan stops at these conjuncts: all hold, or one stops the evaluation
    before any is false."""
    if short_circuit("and", conjuncts) is None:
        return t.and_([j.sql for j in conjuncts])
    branches: list[tuple[Sql, Sql]] = []
    for conjunct in conjuncts:
        if conjunct.fault is not None:
            branches.append((t.not_null(conjunct.fault), t.true()))
        branches.append((t.not_(conjunct.sql), t.false()))
    return t.case(branches, t.true())


def _at(conjuncts: list[Val], start: int = 0) -> Sql:
    """The first conjunct that is not true, from `start` on (see `Unit`)."""
    at_branches = []
    for position, conjunct in enumerate(conjuncts[start:], start=start):
        if conjunct.fault is not None:  # stopped here: -1 for the first conjunct, -2 ...
            at_branches.append((t.not_null(conjunct.fault), t.num(-position - 1)))
        at_branches.append((t.not_(conjunct.sql), t.num(position)))
    return t.case(at_branches, t.num(len(conjuncts)))


def translate_unit(scope: Scope, rule: CheckedRule) -> Unit:
    policy = scope.policy
    conjuncts = [scope.translator.condition(j.expr) for j in rule.conjuncts]
    fault = short_circuit("and", conjuncts)
    applies = t.and_([j.sql for j in conjuncts])
    hit = applies if fault is None else _hit(conjuncts)
    at = _at(conjuncts)
    outputs = []
    for name, expr in rule.outputs:
        value = scope.translator.value(expr)
        if isinstance(policy.output(name).type, AmountType) and rule.kind != "advisory":
            value = amounts.as_amount(value)
        outputs.append((name, value))
    return Unit(rule, hit, at, fault, applies, effective(scope, rule), outputs, conjuncts)


def effective(scope: Scope, rule: CheckedRule) -> Sql | None:
    period = rule.effective
    policy = scope.policy
    if period is None:
        return None
    if policy.as_of is None:
        return t.false()
    day = scope.fact(policy.as_of).sql
    tests = [t.not_null(day)]
    if period.start is not None:
        tests.append(t.compare(">=", day, t.big(day_number(period.start))))
    if period.end is not None:
        tests.append(t.compare("<=", day, t.big(day_number(period.end))))
    return t.and_(tests)


# ---------------------------------------------------------------- wording


class _Stops:
    """An evaluator whose every answer stops with one exception, for `ask` to word it."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def condition(self, index: int, facts: Facts) -> int:
        raise self.error

    def outputs(self, index: int, facts: Facts) -> Outputs:
        raise self.error

    def derive(self, name: str, facts: object) -> object:
        raise self.error


#: Stands for the fact's name in a worded refusal, to cut the message around it.
_HOLE = "\x00"


def missing_message(policy: CheckedPolicy, rule: CheckedRule) -> tuple[str, str]:
    """The text before and after the fact's name in the E401 refusal of `rule`."""
    try:
        ask(_Stops(MissingFact(_HOLE)), rule, {}, "condition",  # type: ignore[arg-type]
            policy.source.name)
    except EvaluationError as error:
        before, after = error.message.split(_HOLE, 1)
        return before, after
    raise AssertionError("ask always refuses here")


def zero_message(policy: CheckedPolicy, rule: CheckedRule) -> str:
    """The E405 refusal of `rule`."""
    try:
        ask(_Stops(DivisionByZero()), rule, {}, "condition",  # type: ignore[arg-type]
            policy.source.name)
    except EvaluationError as error:
        return error.message
    raise AssertionError("ask always refuses here")
