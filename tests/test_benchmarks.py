"""The correctness half of benchmarks/run.py: every engine it times gives our answers.

No timing here, ever: speed is what `python benchmarks/run.py` reports. These tests check what
the benchmark relies on: the reference policy is well-formed, the hand-written Python and each
peer engine that is installed decide as our interpreter does, and the generated policies load
and decide.
"""

from __future__ import annotations

import types
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from benchmarks import batch_bench, handwritten, memory, peers
from benchmarks import run as run_module
from benchmarks.cases import ALIEXPRESS_POLICY, REFERENCE_POLICY, aliexpress_cases, reference_cases
from benchmarks.generate import generate_policy, random_facts
from benchmarks.run import Job, Row, check, decimal_amounts, read_trace, time_interleaved
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


def test_handwritten_validate_and_decide_agrees_and_refuses_what_the_engine_refuses(
        reference: tuple[Policy, list[Any], list[str]]) -> None:
    policy, _facts, expected = reference
    raw = decimal_amounts(policy, reference_cases(CASES, seed=1))
    assert check(handwritten.validate_and_decide, raw, expected)[0] == ""
    case = raw[0]
    for bad in ({**case, "paid": 1}, {**case, "days_since_ship": True},
                {**case, "days_since_ship": 91}, {**case, "problem": "lost"},
                {**case, "amount": 20.0}, {**case, "extra": 1},
                {k: v for k, v in case.items() if k != "status"},
                {**case, "amount": Decimal("1" * 29)},
                {**case, "amount": Decimal("10"), "requested_refund": Decimal("11")}):
        try:
            assert policy.decider()(bad).refused, bad  # an `ensure` broken
        except DiagnosticError:
            pass  # invalid facts
        with pytest.raises((handwritten.Invalid, KeyError)):
            handwritten.validate_and_decide(bad)


def test_the_trace_row_reads_every_part_of_the_trace(
        reference: tuple[Policy, list[Any], list[str]]) -> None:
    policy, facts, _expected = reference
    decision = policy.evaluate(facts[0], engine="compiled")
    trace = decision.trace
    assert trace is not None
    assert read_trace(decision) is decision
    # every part a renderer shows has been worked out (each is kept once read): in the
    # trace's dict, or, for a trace made whole from the record (`Expanded`), in its slot
    for part in ("rules", "advisories", "decided_by", "closest", "constraints", "facts",
                 "derived", "as_of"):
        slot = getattr(type(trace), part, None)
        if isinstance(slot, types.MemberDescriptorType):
            slot.__get__(trace)  # raises AttributeError when the slot is not set
        else:
            assert part in vars(trace), part


def test_engines_are_timed_interleaved_block_by_block() -> None:
    calls: list[str] = []
    jobs = [Job(Row(name, "A", "reference"), lambda item, name=name: calls.append(name),
                list(range(2500 if name != "slow" else 300)))
            for name in ("a", "b", "slow")]
    time_interleaved(jobs, repeats=2)
    assert all(job.row.us is not None for job in jobs)
    assert [len(job.samples) for job in jobs] == [6, 6, 2]  # 3 blocks (1 for slow) x 2 rounds
    # each engine is timed a block at a time, the others in between, never all in one go
    last_a = len(calls) - 1 - calls[::-1].index("a")
    assert calls.index("b") < last_a and calls.index("slow") < last_a
    runs = [name for index, name in enumerate(calls) if index == 0 or calls[index - 1] != name]
    assert len(runs) >= 10


def test_the_memory_figure_is_a_fresh_processs_own_peak() -> None:
    # A parent holding 100 MiB: a child it forks directly would report at least that as its
    # own peak (Linux keeps it across exec); the benchmark's children must not.
    ballast = bytearray(100 * 2**20)
    ballast[::4096] = b"\x01" * len(ballast[::4096])
    bare = memory._peak_kib(memory._PEAK, cache=False)
    assert bare < 60 * 1024, f"a bare Python peaked at {bare} KiB: the parent's peak leaked in"
    del ballast


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


def test_the_batch_benchmark_runs_the_command_and_reports_both_targets(tmp_path: Path) -> None:
    measured = batch_bench.measure(rows=300, repeats=1, folder=tmp_path)
    found = run_module.batch_targets(measured)
    assert [target.passed is not None for target in found] == [True, True]
    assert all(measured[name]["rows_per_second"] > 0 for name in ("aliexpress", "reference"))
    skipped = run_module.batch_targets({"error": "skipped"})
    assert [target.passed for target in skipped] == [None, None]


def test_the_start_up_figure_runs_the_installed_engine_it_is_given(tmp_path: Path) -> None:
    # benchmarks/startup.py: a wheel in a scratch environment runs both commands with its own
    # Python, without the checkout on the path, and keeps its cache of policies apart.
    from benchmarks import startup

    python, policy = str(tmp_path / "bin" / "python"), [str(tmp_path / "bin" / "policy")]
    chosen = startup.commands(python, policy, tmp_path / "cache")
    assert chosen[startup.BARE][0] == [python, "-c", "import click, yaml"]
    assert chosen[startup.EVAL][0][:2] == [*policy, "eval"]
    for _, env in chosen.values():
        assert "PYTHONPATH" not in env and env["XDG_CACHE_HOME"] == str(tmp_path / "cache")
    assert chosen[startup.EVAL_NO_CACHE][1]["POLICY_ENGINE_CACHE"] == "0"
    assert startup.INSTALLS[0] == "wheel"  # the default: what a user gets
