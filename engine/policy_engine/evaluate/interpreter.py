"""Interpreter: the reference evaluator, a direct walk over the checked policy's expressions."""

from __future__ import annotations

from typing import Any

from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import DateType, DurationType, MonthsType, Value, WholeType
from policy_engine.core.visitor import Visitor
from policy_engine.evaluate import arithmetic, runtime
from policy_engine.evaluate.errors import MissingFact
from policy_engine.evaluate.runtime import Env, Facts, Outputs

_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class Interpreter(Visitor[Any]):
    """Evaluates rules by walking their typed expressions; simple on purpose, it is the oracle."""

    def __init__(self, policy: CheckedPolicy) -> None:
        self.policy = policy
        self._rules = policy.units()
        self._defines = {d.name: d.expr for d in policy.defines}

    # ------------------------------------------------------------ RuleEvaluator
    def condition(self, index: int, facts: Facts) -> int:
        for position, conjunct in enumerate(self._rules[index].conjuncts):
            if not self.visit(conjunct.expr, facts):
                return position
        return -1

    def outputs(self, index: int, facts: Facts) -> Outputs:
        return tuple((name, self.visit(expr, facts)) for name, expr in self._rules[index].outputs)

    def derive(self, name: str, facts: Env) -> Value:
        return self.visit(self._defines[name], facts)  # type: ignore[no-any-return]

    def value(self, expr: c.CExpr, facts: Facts) -> Value:
        """Evaluates one expression (used by the explainer as well)."""
        return self.visit(expr, facts)  # type: ignore[no-any-return]

    # ------------------------------------------------------------ expressions
    def visit_FactRef(self, node: c.FactRef, facts: Facts) -> Value:
        try:
            return facts[node.name]
        except KeyError:
            raise MissingFact(node.name) from None

    def visit_Const(self, node: c.Const, facts: Facts) -> Value:
        return node.value

    def visit_ListExpr(self, node: c.ListExpr, facts: Facts) -> Value:
        return tuple(self.visit(item, facts) for item in node.items)

    def visit_Not(self, node: c.Not, facts: Facts) -> bool:
        return not self.visit(node.operand, facts)

    def visit_Neg(self, node: c.Neg, facts: Facts) -> Value:
        value = self.visit(node.operand, facts)
        return -value if isinstance(node.type, WholeType) else arithmetic.neg(value)

    def visit_Arith(self, node: c.Arith, facts: Facts) -> Value:
        left = self.visit(node.left, facts)
        right = self.visit(node.right, facts)
        if isinstance(node.type, WholeType):
            return arithmetic.WHOLE[node.op](left, right)  # type: ignore[return-value]
        if isinstance(node.type, DateType):
            if isinstance(node.left.type, MonthsType) or isinstance(node.right.type, MonthsType):
                return arithmetic.MONTH_DATES[node.op](left, right)  # type: ignore[return-value]
            return arithmetic.DATES[node.op](left, right)  # type: ignore[return-value]
        if isinstance(node.type, DurationType):
            return arithmetic.DURATIONS[node.op](left, right)  # type: ignore[return-value]
        if isinstance(node.type, MonthsType):
            return arithmetic.MONTHS[node.op](left, right)  # type: ignore[return-value]
        return arithmetic.ARITH[node.op](left, right)

    def visit_Compare(self, node: c.Compare, facts: Facts) -> bool:
        left = self.visit(node.left, facts)
        right = self.visit(node.right, facts)
        return bool(_COMPARE[node.op](left, right))

    def visit_InList(self, node: c.InList, facts: Facts) -> bool:
        subject = self.visit(node.subject, facts)
        found = subject in self.visit(node.options, facts)
        return not found if node.negated else found

    def visit_ListContains(self, node: c.ListContains, facts: Facts) -> bool:
        subject = self.visit(node.subject, facts)
        return bool(self.visit(node.item, facts) in subject)

    def visit_Presence(self, node: c.Presence, facts: Facts) -> bool:
        return (node.fact in facts) == node.present

    def visit_Between(self, node: c.Between, facts: Facts) -> bool:
        subject = self.visit(node.subject, facts)
        low = self.visit(node.low, facts)
        high = self.visit(node.high, facts)
        return arithmetic.between(subject, low, high)

    def visit_Lookup(self, node: c.Lookup, facts: Facts) -> Value:
        key = self.visit(node.key, facts)
        return runtime.lookup(self.policy.table(node.table), key, facts, self.policy.as_of)

    def visit_Call(self, node: c.Call, facts: Facts) -> Value:
        if node.function in arithmetic.ROUNDING:
            value_node, places_node = node.args
            if isinstance(value_node, c.Arith) and value_node.op == "/":
                left = self.visit(value_node.left, facts)
                right = self.visit(value_node.right, facts)
                exact: Any = arithmetic.exact_div(left, right)
            else:
                exact = self.visit(value_node, facts)
            return arithmetic.round_value(node.function, exact, self.visit(places_node, facts))
        args = [self.visit(arg, facts) for arg in node.args]
        return arithmetic.FUNCTIONS[node.function](*args)  # type: ignore[return-value]

    def visit_WorkingDays(self, node: c.WorkingDays, facts: Facts) -> Value:
        start = self.visit(node.start, facts)
        end = self.visit(node.end, facts)
        excluding = None if node.excluding is None else self.visit(node.excluding, facts)
        calendar = None if node.calendar is None else self.visit(node.calendar, facts)
        return runtime.count_working_days(start, end, excluding, calendar)

    def visit_Conditional(self, node: c.Conditional, facts: Facts) -> Value:
        if self.visit(node.test, facts):
            return self.visit(node.then, facts)  # type: ignore[no-any-return]
        return self.visit(node.otherwise, facts)  # type: ignore[no-any-return]

    def visit_Logic(self, node: c.Logic, facts: Facts) -> bool:
        if node.op == "and":
            return all(self.visit(operand, facts) for operand in node.operands)
        return any(self.visit(operand, facts) for operand in node.operands)
