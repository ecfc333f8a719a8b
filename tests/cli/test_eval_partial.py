"""`policy eval --partial`: the residual of scenario files whose missing facts are unknown.

The expected output is computed through the library (`residual_of_scenario` and the residual
renderers), so these tests check the command's wiring, formats and exit codes, not wording.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from policy_engine.analysis.residual_render import RESIDUAL_RENDERERS
from policy_engine.scenarios.partial import residual_of_scenario
from tests.helpers.cli import Run, invoker

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLES = "docs/examples/partial"
UNDECIDED = f"{EXAMPLES}/not_received_paid.yaml"
DECIDED = f"{EXAMPLES}/sent_50_days_ago.yaml"
ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"
SCHEMA = json.loads((ROOT / "engine" / "policy_engine" / "schemas" / "residual.schema.json")
                    .read_text(encoding="utf-8"))


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Run:
    return invoker(ROOT, monkeypatch)


def _scenario(folder: Path, name: str, facts: str, expect: str = "") -> str:
    path = folder / name
    path.write_text(f"policy: {ALIEXPRESS}\nfacts:\n{facts}{expect}", encoding="utf-8")
    return str(path)


def test_the_schema_is_a_valid_json_schema() -> None:
    Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
@pytest.mark.parametrize("scenario", [UNDECIDED, DECIDED])
def test_each_format_prints_the_librarys_residual(run: Run, scenario: str, fmt: str) -> None:
    result = run("eval", "--partial", "--format", fmt, scenario)
    assert result.exit_code == 0, result.output
    expected = RESIDUAL_RENDERERS[fmt]([residual_of_scenario(scenario).report()])
    assert result.stdout == expected
    assert run("eval", "--partial", "--format", fmt, scenario).stdout == expected  # same bytes


@pytest.mark.parametrize("scenario", [UNDECIDED, DECIDED])
def test_the_json_follows_its_schema(run: Run, scenario: str) -> None:
    everything = json.loads(run("eval", "--partial", "--format", "json", scenario).stdout)
    assert isinstance(everything, list) and len(everything) == 1  # one shape for any count
    data = everything[0]
    Draft202012Validator(SCHEMA).validate(data)
    assert data["format"] == "policy-engine/residual" and data["format_version"] == 1
    residual = residual_of_scenario(scenario).residual
    assert data["status"] == residual.status
    if residual.decided:
        assert data["decision"] == residual.decision.to_json()  # type: ignore[union-attr]


def test_a_folder_prints_an_array_that_follows_the_schema(run: Run) -> None:
    result = run("eval", "--partial", "--format", "json", EXAMPLES)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data, list) and len(data) == 2
    for item in data:
        Draft202012Validator(SCHEMA).validate(item)


def test_without_the_option_the_same_scenario_is_refused(run: Run) -> None:
    assert run("eval", UNDECIDED).exit_code == 2
    assert run("eval", "--partial", UNDECIDED).exit_code == 0


def test_an_expect_the_facts_given_do_not_decide_yet_is_not_met(run: Run,
                                                                tmp_path: Path) -> None:
    path = _scenario(tmp_path, "early.yaml", "  request: goods_not_received\n",
                     "expect:\n  decision: wait\n")
    result = run("eval", "--partial", path)
    assert result.exit_code == 1
    assert "expectation not met" in result.stderr and "do not decide yet" in result.stderr


def test_a_refusal_is_status_5_unless_expected(run: Run, tmp_path: Path) -> None:
    facts = "  request: goods_problem\n  goods_received: no\n"
    result = run("eval", "--partial", _scenario(tmp_path, "refused.yaml", facts))
    assert result.exit_code == 5
    assert "decided" in result.stdout
    expected = _scenario(tmp_path, "expected.yaml", facts,
                         "expect:\n  error: INCONSISTENT_FACTS\n")
    assert run("eval", "--partial", expected).exit_code == 0


def test_an_invalid_fact_is_reported_with_its_json_path(run: Run, tmp_path: Path) -> None:
    path = _scenario(tmp_path, "bad.yaml", "  request: goods_not_received\n  paid: maybe\n")
    result = run("eval", "--partial", path)
    assert result.exit_code == 2
    assert "error[E304]" in result.stderr and "$.facts.paid" in result.stderr
    assert result.stdout == ""
