"""The correctness half of benchmarks/run.py: every engine it times gives our answers.

No timing here, ever: speed is what `python benchmarks/run.py` reports. These tests check what
the benchmark relies on: the reference policy is well-formed, the hand-written Python and each
peer engine that is installed decide as our interpreter does, and the generated policies load
and decide.
"""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from benchmarks import handwritten, peers
from benchmarks.cases import ALIEXPRESS_POLICY, REFERENCE_POLICY, aliexpress_cases, reference_cases
from benchmarks.generate import generate_policy, random_facts
from benchmarks.run import check
from policy_engine import Policy
from policy_engine.cli import cli
from policy_engine.core.diagnostics import DiagnosticError

CASES = 300


@pytest.fixture(scope="module")
def reference() -> tuple[Policy, list[Any], list[str]]:
    policy = Policy.load(str(REFERENCE_POLICY))
    decisions = [policy.evaluate(case) for case in reference_cases(CASES, seed=1)]
    facts = [decision.facts for decision in decisions]
    expected = [decision.decision for decision in decisions]
    return policy, facts, expected


@pytest.mark.parametrize("command", [["check"], ["fmt", "--check"]])
def test_reference_policy_checks_and_is_formatted(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, str(REFERENCE_POLICY)])
    assert result.exit_code == 0, result.output


def test_reference_cases_reach_every_decision(
        reference: tuple[Policy, list[Any], list[str]]) -> None:
    policy, _facts, expected = reference
    assert set(expected) == {decision.name for decision in policy.checked.decisions}


def test_handwritten_python_agrees(reference: tuple[Policy, list[Any], list[str]]) -> None:
    _policy, facts, expected = reference
    assert check(handwritten.decide, facts, expected)[0] == ""
    permitted = [decision in handwritten.PERMITTED for decision in expected]
    assert check(handwritten.permitted, facts, permitted)[0] == ""


def test_our_compiled_paths_agree(reference: tuple[Policy, list[Any], list[str]]) -> None:
    policy, facts, expected = reference
    decide = policy.decider(validated=True)
    assert check(lambda case: decide(case).decision, facts, expected)[0] == ""
    assert check(lambda case: policy.evaluate(case, engine="compiled").decision, facts,
                 expected)[0] == ""


@pytest.mark.parametrize("module", peers.MODULES)
def test_peer_engine_agrees(module: str, reference: tuple[Policy, list[Any], list[str]]) -> None:
    peer = peers.load(module)
    if isinstance(peer, peers.Unavailable):
        pytest.skip(f"{peer.package}: {peer.reason}")
    _policy, facts, expected = reference
    want: list[Any] = expected if peer.workload == "A" else [
        decision in handwritten.PERMITTED for decision in expected]
    assert check(peer.decide_facts, facts, want)[0] == ""


def test_check_reports_a_disagreement() -> None:
    problem, _ = check(lambda case: case, [1, 2, 3], [1, 5, 3])
    assert problem == ("disagrees with our interpreter on 1 of 3 cases "
                       "(first case 1: expected 5, got 2); not timed")


def test_generated_policy_checks_and_decides() -> None:
    text = generate_policy(50)
    assert text == generate_policy(50)
    policy = Policy.from_text(text, "generated_50.policy")
    assert not policy.warnings
    raw = random_facts(50, CASES, seed=3)
    assert raw == random_facts(50, CASES, seed=3)
    rules = set()
    decide = policy.decider()
    for case in raw:
        decision = decide(case)
        assert decision.decision == policy.evaluate(case).decision
        rules.add(decision.rule)
    assert "otherwise" in rules and len(rules) > 10


def test_aliexpress_cases_mostly_decide() -> None:
    policy = Policy.load(str(ALIEXPRESS_POLICY))
    decided = 0
    for case in aliexpress_cases(100, seed=3):
        try:
            decision = policy.evaluate(case)
        except DiagnosticError:
            continue
        decided += not decision.refused
    assert decided >= 80
