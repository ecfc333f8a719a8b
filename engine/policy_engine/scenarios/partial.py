"""Partial scenarios: a scenario's facts as what is known so far (`policy eval --partial`).

The facts a scenario leaves out are unknown, not absent; `Policy.residual` says what the
policy answers on the rest. A scenario's `expect` still applies: a decided answer is compared
with it as `policy eval` compares a decision, and an undecided one does not meet an `expect`
that names a decision or a refusal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policy_engine.analysis.residual import Residual, raw_json
from policy_engine.analysis.residual_render import ResidualReport
from policy_engine.analysis.witnesses import dumps_scenario
from policy_engine.core.files import Confinement
from policy_engine.policy import Policy
from policy_engine.scenarios.runner import PolicyCache, compare, open_scenario

#: The comment above the facts an interview did not ask about, in the scenario it writes.
NOT_ASKED = "# not answered: any value the policy allows gives the same decision"


@dataclass(frozen=True)
class PartialResult:
    """One scenario's residual and how it compares with the scenario's `expect`.

    Args:
        refused: the answer is a refusal that the scenario does not expect (`policy eval`
            exits with status 2 for it, as for a refusal on whole facts).
    """

    scenario: str
    description: str | None
    residual: Residual
    expected: bool
    mismatches: tuple[str, ...]
    refused: bool

    def report(self) -> ResidualReport:
        return ResidualReport(self.residual, self.scenario, self.description, self.mismatches,
                              self.expected)


def residual_of_scenario(path: str, *, policy_path: str | None = None,
                         cache: PolicyCache | None = None,
                         confinement: Confinement | None = None, named: bool = True,
                         analysis_budget: int | None = None) -> PartialResult:
    """Loads a scenario, works out its residual, and checks its expectation.

    The arguments are those of `scenarios.runner.run_scenario`.

    Raises:
        DiagnosticError: the scenario, its policy or a fact it gives is invalid, its `expect`
            names something the policy does not have, or the analysis is over its budget.
    """
    scenario, shown, policy = open_scenario(path, policy_path=policy_path, cache=cache,
                                            confinement=confinement, named=named)
    residual = policy.residual(scenario.facts, file=shown, locate=scenario.document.locate,
                               analysis_budget=analysis_budget)
    expect = scenario.expect
    decision = residual.decision
    mismatches: list[str] = []
    refused = False
    if expect is not None and not residual.decided:
        wanted = expect.error or expect.decision or "the outputs given"
        possible = ", ".join(o.describe() for o in residual.outcomes)
        mismatches.append(f"expected {wanted}, but the facts given do not decide yet "
                          f"(possible: {possible})")
    elif decision is not None and decision.refused:
        labels = [d.label or d.code for d in decision.refusal]
        if expect is None or expect.error is None:
            refused = expect is None
            if expect is not None:
                mismatches.append("expected a decision, got a refusal: " + ", ".join(labels))
        elif not any(expect.error in (d.code, d.label) for d in decision.refusal):
            mismatches.append(f"error: expected {expect.error}, got " + ", ".join(labels))
    elif decision is not None and expect is not None:
        if expect.error is not None:
            mismatches.append(f"error: expected {expect.error}, got decision "
                              f"{decision.decision}")
        else:
            mismatches += compare(policy, scenario, decision)
            if expect.outputs is not None and residual.open_outputs:
                mismatches.append("outputs: they still depend on facts not given: " + ", ".join(
                    dict.fromkeys(f for o in residual.open_outputs for f in o.facts)))
    return PartialResult(shown, scenario.description, residual, expect is not None,
                         tuple(mismatches), refused)


def answers_scenario(policy: Policy, residual: Residual, answers: Mapping[str, Any],
                     path: str | None) -> str:
    """The answers of an interview (`policy ask`) as a scenario file to be saved at `path`
    (None: in the current folder): the facts answered, then those the explanation assumed
    (a comment says they were not answered), and what the policy decided as its `expect`."""
    facts: dict[str, Any] = {name: raw_json(value) for name, value in answers.items()}
    assumed = [name for name in residual.assumed if name not in facts] if residual.decided \
        else []
    facts.update({name: raw_json(residual.assumed[name]) for name in assumed})
    folder = os.path.dirname(os.path.abspath(path)) if path is not None else os.getcwd()
    where = policy.path or policy.checked.source.name
    data: dict[str, Any] = {
        "description": f"answers to policy ask: {len(answers)} facts given",
        "policy": os.path.relpath(os.path.abspath(where), folder).replace(os.sep, "/"),
        "facts": facts,
    }
    decision = residual.decision
    if residual.decided and decision is not None:
        data["expect"] = ({"error": decision.refusal[0].label or decision.refusal[0].code}
                          if decision.refused else
                          {"decision": decision.decision, "rule": decision.rule})
    text = dumps_scenario(data)
    if assumed:
        lines = text.split("\n")
        first = lines.index(next(line for line in lines
                                 if line.startswith(f"  {assumed[0]}:")))
        lines.insert(first, "  " + NOT_ASKED)
        text = "\n".join(lines)
    return text
