"""SQL explanations: the interpreter's trace, rebuilt from what the query says about each rule.

With a trail, the query returns for every rule and advisory the first conjunct that was not
true (negative when its evaluation stopped there). That is all `resolution.resolve` asks an
evaluator, so `TrailEvaluator` answers from it and the interpreter's own resolution and trace
code (`explain.trace`) do the rest: the outcome of every rule is worked out once per distinct
trail (and as-of day), and the trace of a row is exactly the one `policy eval` gives.
"""

from __future__ import annotations

import datetime
from typing import Any

from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import Value
from policy_engine.evaluate.errors import MissingFact
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import resolve
from policy_engine.evaluate.runtime import Evaluation, Facts, Outputs
from policy_engine.explain.decision import trace_json
from policy_engine.explain.trace import Trace

#: Distinct trails whose outcomes are kept.
_KEPT = 4096


class TrailEvaluator:
    """Answers `resolve`'s questions from a row's trail (see the module docstring)."""

    def __init__(self, policy: CheckedPolicy, trail: list[int]) -> None:
        self.policy = policy
        self.trail = trail
        self._units = policy.units()
        self._interpreter = Interpreter(policy)

    def condition(self, index: int, facts: Facts) -> int:
        at = self.trail[index]
        if at < 0:
            raise MissingFact("?")  # the evaluation stopped there; never asked when deciding
        return -1 if at == len(self._units[index].conjuncts) else at

    def outputs(self, index: int, facts: Facts) -> Outputs:
        unit = self._units[index]
        if unit.kind == "advisory":  # its items are constants
            return self._interpreter.outputs(index, facts)
        return ()  # the trace does not show outputs; the line has them from the query

    def derive(self, name: str, facts: Any) -> Value:
        return self._interpreter.derive(name, facts)


class Explainer:
    """Traces of rows decided by SQL, with each distinct trail resolved once."""

    def __init__(self, policy: CheckedPolicy) -> None:
        self.policy = policy
        self._evaluations: dict[tuple[str, datetime.date | None], Evaluation] = {}
        dated = policy.as_of is not None and any(u.effective for u in policy.units())
        self._as_of = policy.as_of if dated else None

    def evaluation(self, trail: str, facts: dict[str, Value]) -> Evaluation:
        today = facts.get(self._as_of) if self._as_of is not None else None
        assert today is None or isinstance(today, datetime.date)
        key = (trail, today)
        found = self._evaluations.get(key)
        if found is None:
            ats = [int(part) for part in trail.split(".")] if trail else []
            found = resolve(self.policy, TrailEvaluator(self.policy, ats), facts)
            if len(self._evaluations) >= _KEPT:
                self._evaluations.clear()
            self._evaluations[key] = found
        return found

    def trace(self, trail: str, facts: dict[str, Value], given: frozenset[str]) -> dict[str, Any]:
        """The `trace` object of the JSON result for one row decided by SQL."""
        evaluation = self.evaluation(trail, facts)
        return trace_json(Trace(self.policy, facts, given, evaluation))
