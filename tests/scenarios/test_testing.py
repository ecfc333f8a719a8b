"""`policy test`: runs scenario folders like pytest, with coverage, JSON and JUnit XML."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner

from policy_engine.cli import cli
from tests.helpers.json_output import parsed

POLICY = """policy p
fact x: whole number at least 0
decision small
decision big
rule is_small when x < 10 then small because "small"
rule is_big when x >= 10 then big because "big"
"""


def _scenario(folder: Path, name: str, x: int, decision: str) -> None:
    (folder / name).write_text(
        f"policy: p.policy\nfacts: {{x: {x}}}\nexpect: {{decision: {decision}}}\n")


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "p.policy").write_text(POLICY)
    _scenario(tmp_path, "a.yaml", 3, "small")
    _scenario(tmp_path, "b.yaml", 30, "big")
    return tmp_path


def test_all_pass_with_full_coverage(suite: Path) -> None:
    result = CliRunner().invoke(cli, ["test", str(suite), "--min-coverage", "100"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == ".."
    assert result.stdout.splitlines()[-1] == "2 passed, 0 failed"
    assert "rules that decided:   2/2 (100%)" in result.stdout


def test_a_failure_shows_expected_and_actual_and_the_trace(suite: Path) -> None:
    _scenario(suite, "c.yaml", 4, "big")
    result = CliRunner().invoke(cli, ["test", str(suite)])
    assert result.exit_code == 1
    assert "decision: expected big, got small" in result.stdout
    assert "why it applies:" in result.stdout
    assert result.stdout.splitlines()[-1] == "2 passed, 1 failed"


def test_coverage_below_the_minimum_fails(suite: Path) -> None:
    (suite / "b.yaml").unlink()
    result = CliRunner().invoke(cli, ["test", str(suite), "--min-coverage", "75"])
    assert result.exit_code == 1
    assert "is_big (" in result.stdout and "never decided" in result.stdout
    assert "below --min-coverage 75%" in result.stdout


def test_an_unreadable_scenario_is_an_error(suite: Path) -> None:
    (suite / "broken.yaml").write_text("facts: [\n")
    result = CliRunner().invoke(cli, ["test", str(suite)])
    assert result.exit_code == 2
    assert "E302" in result.stdout
    assert result.stdout.splitlines()[-1] == "2 passed, 0 failed, 1 errors"


def test_json_and_junit(suite: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    _scenario(suite, "c.yaml", 4, "big")
    junit = tmp_path_factory.mktemp("out") / "junit.xml"
    result = CliRunner().invoke(cli, ["test", str(suite), "--format", "json",
                                      "--junit-xml", str(junit)])
    assert result.exit_code == 1
    data = parsed(result.stdout, "test")
    assert data["summary"] == {"scenarios": 3, "passed": 2, "failed": 1, "refused": 0,
                               "error": 0, "below_min_coverage": []}
    assert [s["status"] for s in data["scenarios"]] == ["passed", "passed", "failed"]
    rules = {r["rule"]: r for r in data["coverage"][0]["rules"]}
    assert rules["is_small"]["decided"] == 2 and rules["is_big"]["evaluated"] == 1
    suite_xml = ElementTree.parse(junit).getroot()
    assert suite_xml.get("tests") == "3" and suite_xml.get("failures") == "1"


def test_the_aliexpress_policy_reaches_full_rule_coverage(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    result = CliRunner().invoke(cli, ["test", "policies/aliexpress", "--min-coverage", "100"])
    assert result.exit_code == 0, result.stdout[-2000:]


def test_junit_xml_is_well_formed_whatever_the_text(suite: Path) -> None:
    # A control character in an expected decision ends up in the failure's message: XML 1.0
    # cannot hold it, so it is written as its escape.
    (suite / "c.yaml").write_text('policy: p.policy\nfacts: {x: 4}\n'
                                  'expect: {rule: "is_big\\x01\\x1b[31m"}\n')
    report = suite / "report.xml"
    result = CliRunner().invoke(cli, ["test", str(suite), "--junit-xml", str(report)])
    assert result.exit_code == 2, result.output
    root = ElementTree.fromstring(report.read_bytes())  # a strict XML parser accepts it
    errors = [case for case in root.iter("testcase") if case.find("error") is not None]
    assert len(errors) == 1
    assert "is_big\\x01\\x1b[31m" in (errors[0].find("error").text or "")  # type: ignore[union-attr]
