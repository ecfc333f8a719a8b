"""SQL explanations: the interpreter's trace, rebuilt from what the query says about each rule.

With a trail, the query returns for every unit it tried whose first conjunct was not false
the first conjunct that was not true (negative when its evaluation stopped there), as
`index:at` pairs (`indexing.trail`); a unit it leaves out was false at its first conjunct.
That is all `resolution.resolve` asks an evaluator, so `TrailEvaluator` answers from it and
the interpreter's own resolution and trace code (`explain.trace`) do the rest: the outcome of
every rule is worked out once per distinct trail (and as-of day), and the trace of a row is
exactly the one `policy eval` gives. A refusal is explained the same way: the rules up to the
one that stopped (`resolution.attempt` over the trail), or, for a broken `require` or
`ensure`, the constraints with the values they read (worded by `explain.trace` from the
row's facts).
"""

from __future__ import annotations

import datetime
from typing import Any

from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import Value
from policy_engine.core.diagnostics import Diagnostic
from policy_engine.evaluate.errors import MissingFact
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import Attempt, attempt, resolve
from policy_engine.evaluate.runtime import Evaluation, Facts, Outputs
from policy_engine.explain.decision import trace_json
from policy_engine.explain.trace import Trace

#: Distinct trails whose outcomes are kept.
_KEPT = 4096


class TrailEvaluator:
    """Answers `resolve`'s questions from a row's trail (see the module docstring)."""

    def __init__(self, policy: CheckedPolicy, trail: dict[int, int],
                 interpreter: Interpreter | None = None) -> None:
        self.policy = policy
        self.trail = trail
        self._units = policy.units()
        self._interpreter = interpreter or Interpreter(policy)

    def condition(self, index: int, facts: Facts) -> int:
        at = self.trail.get(index, 0)
        if at < 0:
            # The evaluation stopped there: only a refusal asks, and its trace reads no more
            # than that the rule stopped.
            raise MissingFact("?")
        return -1 if at == len(self._units[index].conjuncts) else at

    def outputs(self, index: int, facts: Facts) -> Outputs:
        unit = self._units[index]
        if unit.kind == "advisory":  # its items are constants
            return self._interpreter.outputs(index, facts)
        return ()  # the trace does not show outputs; the line has them from the query

    def derive(self, name: str, facts: Any) -> Value:
        return self._interpreter.derive(name, facts)


class Explainer:
    """Traces of rows decided (or refused) by SQL, with each distinct trail resolved once."""

    def __init__(self, policy: CheckedPolicy) -> None:
        self.policy = policy
        self._interpreter = Interpreter(policy)
        self._evaluations: dict[tuple[str, datetime.date | None], Evaluation] = {}
        self._attempts: dict[tuple[str, datetime.date | None], Attempt | None] = {}
        dated = policy.as_of is not None and any(u.effective for u in policy.units())
        self._as_of = policy.as_of if dated else None

    def _key(self, trail: str, facts: dict[str, Value]) -> tuple[str, datetime.date | None]:
        today = facts.get(self._as_of) if self._as_of is not None else None
        return trail, today if isinstance(today, datetime.date) else None

    def _evaluator(self, trail: str) -> TrailEvaluator:
        return TrailEvaluator(self.policy, parse(trail), self._interpreter)

    def evaluation(self, trail: str, facts: dict[str, Value]) -> Evaluation:
        key = self._key(trail, facts)
        found = self._evaluations.get(key)
        if found is None:
            found = resolve(self.policy, self._evaluator(trail), facts)
            if len(self._evaluations) >= _KEPT:
                self._evaluations.clear()
            self._evaluations[key] = found
        return found

    def attempt(self, trail: str, facts: dict[str, Value]) -> Attempt | None:
        """What happened to each rule up to a refusal; None when the trail cannot tell (the
        refusal was in the deciding rule's outputs, which the trail does not follow)."""
        key = self._key(trail, facts)
        if key in self._attempts:
            return self._attempts[key]
        tried = attempt(self.policy, self._evaluator(trail), facts)
        found = tried if isinstance(tried, Attempt) else None
        if len(self._attempts) >= _KEPT:
            self._attempts.clear()
        self._attempts[key] = found
        return found

    def trace(self, trail: str, facts: dict[str, Value], given: frozenset[str],
              refused: str | None = None) -> dict[str, Any]:
        """The `trace` object of the JSON result for one row decided by SQL, or refused with
        the code `refused`."""
        if refused is None:
            return trace_json(Trace(self.policy, facts, given, self.evaluation(trail, facts)))
        # The trace reads only the refusal's code (a broken constraint is explained from the
        # facts alone); the message is the query's.
        explained = Trace(self.policy, facts, given, None, (Diagnostic(refused, ""),))
        if refused not in _CONSTRAINTS:
            tried = self.attempt(trail, facts)
            if tried is not None:
                # What the trace would otherwise work out by running the interpreter on the
                # facts: the same rules, stopped at the same one.
                explained.__dict__["_attempt"] = tried
        return trace_json(explained)


#: The codes of a broken `require` (E309) or `ensure` (E308): no rule was tried.
_CONSTRAINTS = ("E308", "E309")


def parse(trail: str) -> dict[int, int]:
    """A trail's `index:at` pairs."""
    found: dict[int, int] = {}
    for entry in trail.split(",") if trail else ():
        index, _, at = entry.partition(":")
        found[int(index)] = int(at)
    return found
