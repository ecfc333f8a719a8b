"""Evaluation semantics as data: each file in tests/cases/semantics/ holds a policy and cases.

A case gives facts and either the expected decision (with rule and outputs, compared exactly
when given) or the expected refusal (a diagnostic code and a piece of its message). Every
case runs on both evaluators; the file name and case index are the test id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from policy_engine import DiagnosticError, Policy
from policy_engine.facts.conversion import convert_value

CASES = Path(__file__).resolve().parents[1] / "cases" / "semantics"
_KEYS = {"policy", "cases", "description"}
_CASE_KEYS = {"facts", "decision", "rule", "outputs", "error", "message", "note"}


def _load() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path in sorted(CASES.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert set(data) <= _KEYS, f"{path.name}: unknown keys {set(data) - _KEYS}"
        for index, case in enumerate(data["cases"]):
            assert set(case) <= _CASE_KEYS, f"{path.name}[{index}]: {set(case) - _CASE_KEYS}"
            found.append((f"{path.stem}[{index}]", data["policy"], case))
    return found


_POLICIES: dict[str, Policy] = {}


def _policy(text: str) -> Policy:
    if text not in _POLICIES:
        _POLICIES[text] = Policy.from_text(text, "case.policy")
    return _POLICIES[text]


@pytest.mark.parametrize("engine", ["interpreted", "compiled"])
@pytest.mark.parametrize(("case_id", "text", "case"), _load(), ids=[c[0] for c in _load()])
def test_case(case_id: str, text: str, case: dict[str, Any], engine: str) -> None:
    policy = _policy(text)
    facts = case.get("facts", {})
    if "error" in case:
        try:
            refusal = policy.evaluate(facts, engine=engine).refusal  # type: ignore[arg-type]
        except DiagnosticError as error:
            refusal = error.diagnostics
        assert refusal, f"expected {case['error']}, but the policy decided"
        codes = [d.code for d in refusal]
        messages = " | ".join(d.message for d in refusal)
        assert case["error"] in codes, messages
        assert case.get("message", "") in messages
        return
    decision = policy.evaluate(facts, engine=engine)  # type: ignore[arg-type]
    assert decision.decision == case["decision"]
    if "rule" in case:
        assert decision.rule == case["rule"]
    if "outputs" in case:
        expected = {name: convert_value(policy.checked.output(name).type, value)
                    for name, value in case["outputs"].items()}
        assert decision.outputs == expected
