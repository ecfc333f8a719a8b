"""Nothing crashes: random text, mutated policies, random fact sets and random files only ever
give a decision or a diagnostic, never an unexpected exception or a traceback.

The suite runs a short version. For the long run, set POLICY_FUZZ_EXAMPLES, for example
`POLICY_FUZZ_EXAMPLES=25000 pytest tests/test_robustness.py` (four properties, 100,000 inputs).
"""

from __future__ import annotations

import os
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine import DiagnosticError, Policy
from policy_engine.cli import cli
from tests.helpers.examples import examples

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILES = sorted(ROOT.glob("policies/**/*.policy"))
POLICY_TEXTS = [p.read_text(encoding="utf-8") for p in POLICY_FILES]
EXAMPLES = int(os.environ.get("POLICY_FUZZ_EXAMPLES", examples(150)))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_TOKENS = ["rule", "when", "then", "because", "and", "or", "not", "(", ")", "[", "]", "=", "==",
           ">", "<=", "is", "in", "contains", "missing", "present", "\"", "\\", "#", "\n",
           "fact", "decision", "output", "otherwise", "refuse", "table", "end", "define",
           "require", "ensure", "advise", "add", "to", "overrides", "effective", "from",
           "until", "2024-02-30", "45 days", "working days from", "round(", ",", "/", "*",
           "__import__('os')", "\u2028", "if", "else", "-", "9" * 40, "as of", "yes/no"]


def _mutate(text: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 4)):
        where = rng.randrange(len(text) + 1)
        action = rng.randrange(4)
        if action == 0:  # delete a stretch
            text = text[:where] + text[where + rng.randint(1, 12):]
        elif action == 1:  # insert a token
            text = text[:where] + " " + rng.choice(_TOKENS) + " " + text[where:]
        elif action == 2:  # duplicate a line
            lines = text.splitlines(keepends=True)
            if lines:
                line = rng.randrange(len(lines))
                lines.insert(line, lines[line])
                text = "".join(lines)
        else:  # replace a character
            if text:
                where = min(where, len(text) - 1)
                text = text[:where] + chr(rng.randrange(32, 0x250)) + text[where + 1:]
    return text


def _check(text: str) -> Policy | None:
    try:
        return Policy.from_text(text, "fuzz.policy")
    except DiagnosticError as error:
        assert error.diagnostics, "a DiagnosticError must carry diagnostics"
        for diagnostic in error.diagnostics:
            diagnostic.render()  # rendering never fails either
        return None


def _evaluate(policy: Policy, facts: object) -> tuple[object, ...]:
    """What both engines make of raw facts: a decision, a refusal or invalid facts; they agree,
    and each answer is one the policy can give."""
    checked = policy.checked
    decisions = {d.name for d in checked.decisions}
    rules = {r.id for r in checked.rules} | {"otherwise"}
    answers = []
    for engine in ("interpreted", "compiled"):
        try:
            decision = policy.evaluate(facts, engine=engine)  # type: ignore[arg-type]
        except DiagnosticError as error:
            # Invalid facts: E30x, or E314 for a fact given as null.
            assert error.diagnostics and all(d.code.startswith("E30") or d.code == "E314"
                                             for d in error.diagnostics)
            answers.append(("invalid", tuple(d.code for d in error.diagnostics)))
            continue
        if decision.refused:
            assert decision.decision is None and decision.rule is None
            assert all(d.code in ("E308", "E309") or d.code.startswith("E40")
                       for d in decision.refusal), decision.refusal
            answers.append(("refused", tuple(d.code for d in decision.refusal)))
        else:
            assert decision.decision in decisions and decision.rule in rules, decision
            answers.append(("decided", decision.decision, decision.rule,
                            tuple(decision.outputs.items())))
    assert answers[0] == answers[1], answers
    return answers[0]


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False, places=2).map(Decimal)
    | st.sampled_from(["2024-02-29", "2024-13-01", "card", "paypal", "sent", "yes", ""]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                               max_size=3),
    max_leaves=8,
)


@FUZZ
@given(st.text(max_size=400))
def test_random_text_gives_a_policy_or_diagnostics(text: str) -> None:
    _check(text)


@FUZZ
@given(st.integers(0, len(POLICY_TEXTS) - 1), st.integers(0, 2**32))
def test_mutated_policies_give_diagnostics_or_decide(which: int, seed: int) -> None:
    rng = random.Random(seed)
    policy = _check(_mutate(POLICY_TEXTS[which], rng))
    if policy is not None:
        names = [f.name for f in policy.checked.facts]
        facts = {name: rng.choice([True, 1, "x", "2024-01-01", [], "card", None])
                 for name in rng.sample(names, k=min(len(names), rng.randint(0, len(names))))}
        _evaluate(policy, facts)


_SHIPPED = [Policy.load(str(path)) for path in POLICY_FILES]


@FUZZ
@given(st.integers(0, len(_SHIPPED) - 1), st.data())
def test_random_fact_sets_decide_or_refuse(which: int, data: st.DataObject) -> None:
    policy = _SHIPPED[which]
    names = [f.name for f in policy.checked.facts]
    keys = st.sampled_from(names) | st.text(max_size=8)
    facts = data.draw(st.dictionaries(keys, _JSONISH, max_size=len(names) + 2))
    outcome = _evaluate(policy, facts)
    assert outcome[0] in ("decided", "refused", "invalid")
    # Only declared facts of the right type can be decided on.
    if outcome[0] != "invalid":
        assert set(facts) <= set(names)


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(lambda t: t.encode("utf-8")))
def test_the_cli_never_shows_a_traceback(tmp_path_factory: Any, content: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    scenario = folder / "scenario.yaml"
    scenario.write_bytes(content)
    policy = folder / "p.policy"
    policy.write_bytes(content)
    runner = CliRunner()
    for args in (["eval", str(scenario), "--policy", str(POLICY_FILES[0])],
                 ["check", str(policy)]):
        result = runner.invoke(cli, args)
        assert result.exit_code in (0, 1, 2), (args, result.output, result.exception)
        assert "Traceback" not in result.output
        if result.exception is not None:
            assert isinstance(result.exception, SystemExit), repr(result.exception)


@pytest.mark.parametrize("path", POLICY_FILES, ids=[p.name for p in POLICY_FILES])
def test_shipped_policies_survive_the_deletion_of_a_line(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    step = max(1, len(lines) // (EXAMPLES // 3 or 1))  # every line in the long run
    for index in range(0, len(lines), step):
        _check("".join(lines[:index] + lines[index + 1:]))
