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
from decimal import Decimal

from policy_engine.core.data import JsonPath
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.evaluate.runtime import RuleOutcome
from policy_engine.explain.decision import Decision
from policy_engine.serve.config import Explain
from policy_engine.serve.records import dumps
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
    """One fact set decided, as JSON text ready to send and to write.

    Args:
        answer: the client's answer, in the form `?explain=` asked for.
        result: the decision log's `result`: the decision without its explanation.
        summary: the decision log's `trace_summary`.
        outcome: the decision's name, or `refused`, for the metrics.
    """

    answer: bytes
    result: bytes
    summary: bytes
    outcome: str


#: Distinct results and summaries kept per policy version; most decisions repeat a few.
_CACHED = 4096


def _summary_json(served: ServedPolicy, outcomes: tuple[RuleOutcome, ...],
                  by_default: bool) -> bytes:
    """The trace summary's JSON: each rule's outcome in file order, then `otherwise` when
    the default decided."""
    key = (outcomes, by_default)
    found = served.cache.get(key)
    if found is None:
        summary = [{"rule": o.rule,
                    "outcome": OUTCOMES.get(o.status, o.status.replace(" ", "_"))}
                   for o in outcomes]
        if by_default:
            summary.append({"rule": "otherwise", "outcome": "decided"})
        found = _remember(served, key, dumps(summary))
    return found


def _result_json(served: ServedPolicy, decision: Decision) -> bytes:
    """`Decision.to_json()` of the decision without its explanation, as the hot-loop function
    gives it; the same text for every decision with the same rule and outputs."""
    key = (decision.decision, decision.rule,
           tuple((k, str(v) if isinstance(v, Decimal) else v)  # 1.0 and 1.00 differ in JSON
                 for k, v in decision.outputs.items()))
    found = served.cache.get(key)
    if found is None:
        assert decision.facts is not None
        found = _remember(served, key,
                          dumps(served.decide_validated(decision.facts).to_json()))
    return found


def _remember(served: ServedPolicy, key: object, value: bytes) -> bytes:
    if len(served.cache) >= _CACHED:
        served.cache.clear()
    served.cache[key] = value
    return value


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
        result = dumps(decision.to_json(explain=False))  # the explanation only when asked
        summary = b"[]"
        outcome = "refused"
    else:
        result = _result_json(served, decision)
        summary = _summary_json(served, decision.outcomes, decision.rule == "otherwise")
        outcome = decision.decision or "refused"
    if explain == "full":  # a refusal is explained too: the rules up to it, the constraint
        answer = dumps(decision.to_json())
    elif explain == "summary":
        answer = result[:-1] + b',"trace_summary":' + summary + b"}"
    else:
        answer = result
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
