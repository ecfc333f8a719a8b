"""Deciding over HTTP: raw facts to the answer a client gets and the line the decision log keeps.

A decision is made once, by `Policy.evaluate` on the generated code (the same answers as the
interpreter, held equal by the engine's tests). From it come three things: the answer in the
form the request asked for (`?explain=full` is exactly `Decision.to_json()`, explanation
included; `none` is the decision without the explanation, exactly what the hot-loop function's
`Decision.to_json()` gives; `summary` adds each rule's outcome to that), the trace summary,
and the decision log's `result`, which is always the form without the explanation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from policy_engine.core.data import JsonPath
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.explain.decision import Decision
from policy_engine.serve.config import Explain
from policy_engine.serve.registry import ServedPolicy

#: How the decision log and `?explain=summary` spell each status of `RuleOutcome`.
OUTCOMES = {
    "decided": "decided",
    "agreed": "agreed",
    "overridden": "overridden",
    "did not apply": "not_applicable",
    "not reached": "not_reached",
    "not in effect": "not_in_effect",
}

#: The file name the diagnostics about a request's facts give.
REQUEST = "<request>"


@dataclass(frozen=True)
class Decided:
    """One fact set decided: the client's answer, the log's result and the trace summary.

    Args:
        outcome: the decision's name, or `refused`, for the metrics.
    """

    answer: dict[str, Any]
    result: dict[str, Any]
    summary: list[dict[str, str]]
    outcome: str


def trace_summary(decision: Decision) -> list[dict[str, str]]:
    """Each rule's outcome in file order, then `otherwise` when the default decided; empty
    for a refusal (its `refused` diagnostics say why)."""
    summary = [{"rule": o.rule, "outcome": OUTCOMES.get(o.status, o.status.replace(" ", "_"))}
               for o in decision.outcomes]
    if decision.rule == "otherwise":
        summary.append({"rule": "otherwise", "outcome": "decided"})
    return summary


def decide(served: ServedPolicy, facts: object, explain: Explain,
           prefix: JsonPath = ()) -> Decided:
    """Decides one fact set.

    Args:
        prefix: the JSON path of the facts in the request body (`()` for decide, `(i,)` for
            the i-th fact set of decide-many), for the paths of the problems.

    Raises:
        DiagnosticError: the facts are not a valid fact set for the policy (E304 to E307);
            each problem names the JSON path of the bad value.
    """
    decision = served.policy.evaluate(facts, engine="compiled", file=REQUEST, prefix=prefix)
    if decision.refused:
        result = decision.to_json()  # a refusal has no explanation to leave out
        summary: list[dict[str, str]] = []
        answer = dict(result)
        outcome = "refused"
    else:
        assert decision.facts is not None
        result = served.decide_validated(decision.facts).to_json()
        summary = trace_summary(decision)
        answer = decision.to_json() if explain == "full" else dict(result)
        outcome = decision.decision or "refused"
    if explain == "summary":
        answer["trace_summary"] = summary
    return Decided(answer, result, summary, outcome)


def decide_all(served: ServedPolicy, fact_sets: Sequence[object],
               explain: Explain) -> list[Decided]:
    """Decides every fact set of a decide-many request, or none.

    Raises:
        DiagnosticError: every problem of every invalid fact set, each path starting with
            the fact set's index (`$[3].paid`).
    """
    decided: list[Decided] = []
    problems: list[Diagnostic] = []
    for index, facts in enumerate(fact_sets):
        try:
            decided.append(decide(served, facts, explain, (index,)))
        except DiagnosticError as error:
            problems += error.diagnostics
    if problems:
        raise DiagnosticError(problems)
    return decided
