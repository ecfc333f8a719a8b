"""Specialise: the analysis stage's translation of a policy with the known facts as constants.

Partial evaluation translates the policy as `symbolic` does, except that every expression
that reads only known facts (and at least one) is worked out by the reference interpreter
and becomes a constant, or an error where evaluation would stop. So a comparison between a
known fact and an unknown one (`days_without_tracking <= days_sent` with `days_sent` known)
becomes an exact comparison with a constant, arithmetic between known facts is exact, and
what is left over-approximates only where unknown facts meet each other in arithmetic.
The partition of the space that is left is then exactly the policy's behaviour on the
completions of the known facts.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

from policy_engine.analysis.budget import Budget
from policy_engine.analysis.formulas import Formula, Three
from policy_engine.analysis.partition import Model, analyse
from policy_engine.analysis.symbolic import Case, Registry, Term, Translator
from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, Effective
from policy_engine.check.types import Value
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import environment
from policy_engine.facts.constraints import SKIPPED
from policy_engine.facts.known import KnownFacts

#: Marks an expression whose evaluation on the known facts stops (a missing fact...).
_STOPS = object()


class KnownTranslator(Translator):
    """A translator that reads the known facts as constants (see the module's docstring)."""

    def __init__(self, policy: CheckedPolicy, registry: Registry, budget: Budget,
                 known: KnownFacts) -> None:
        self.known = known
        self._interpreter = Interpreter(policy)
        self._env = environment(policy, self._interpreter, dict(known.values))
        #: For each expression (by id; the checked policy keeps them alive): its value on the
        #: known facts, `_STOPS`, or None when it reads an unknown fact or no fact at all.
        self._constants: dict[int, tuple[object] | None] = {}
        super().__init__(policy, registry, budget)

    def _constant(self, expr: c.CExpr) -> tuple[object] | None:
        found = self._constants.get(id(expr), False)
        if found is not False:
            return found  # type: ignore[return-value]
        result: tuple[object] | None = None
        names = self.reads(expr)
        if names and all(self.known.is_known(name) for name in names):
            try:
                result = (self._interpreter.value(expr, self._env),)
            except SKIPPED:
                result = (_STOPS,)
        self._constants[id(expr)] = result
        return result

    def condition(self, expr: c.CExpr) -> Three:
        constant = self._constant(expr)
        if constant is None:
            return super().condition(expr)
        if constant[0] is _STOPS:
            return Three(False, False, True)
        holds = bool(constant[0])
        return Three(holds, not holds, False)

    def cases(self, expr: c.CExpr) -> tuple[list[Case], Formula]:
        constant = self._constant(expr)
        if constant is None:
            return super().cases(expr)
        if constant[0] is _STOPS:
            return [], True
        value: Value = constant[0]  # type: ignore[assignment]
        return [Case(True, Term("const", value, type=expr.type))], False

    def _errors(self, expr: c.CExpr, inner: bool = False) -> Iterator[Formula]:
        constant = self._constant(expr)
        if constant is None:
            yield from super()._errors(expr, inner)
        elif constant[0] is _STOPS:
            yield True

    def present(self, fact: str) -> Formula:
        if fact in self.known.values:
            return True
        if fact in self.known.absent:
            return False
        return super().present(fact)

    def effective(self, effective: Effective | None) -> Formula:
        as_of = self.policy.as_of
        if effective is None or as_of is None or not self.known.is_known(as_of):
            return super().effective(effective)
        day = self.known.values.get(as_of)
        return day is not None and effective.contains(day)  # type: ignore[arg-type]


def specialise(policy: CheckedPolicy, known: KnownFacts, budget: Budget) -> Model:
    """The partition of the completions of `known`: the policy translated with the known facts
    as constants, within `budget` (what goes over it is recorded on the model, as for lint)."""
    model, = analyse([policy], budget, partial(KnownTranslator, known=known))
    return model
