"""`policy diff`: exactly the scenarios whose answer changes, rule changes, git revisions."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine import DiagnosticError, Policy
from policy_engine.cli import cli
from policy_engine.scenarios.diff import diff_policies, load_version
from policy_engine.scenarios.scenario_file import load_scenario
from tests.helpers.paths import aliexpress_copy

ROOT = Path(__file__).resolve().parents[2]
ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"
SCENARIOS = ROOT / "policies" / "aliexpress" / "scenarios"


def _thirty_days(tmp_path: Path) -> Path:
    text = ALIEXPRESS.read_text(encoding="utf-8")
    changed = text.replace("= days_sent > 45", "= days_sent > 30")
    assert changed != text
    return aliexpress_copy(tmp_path, changed)


def _decision(policy: Policy, scenario: Path) -> str:
    facts = load_scenario(str(scenario)).facts
    try:
        decision = policy.evaluate(facts)
    except DiagnosticError:
        return "invalid facts"
    return decision.decision if not decision.refused else "refused"


def test_a_shorter_window_lists_exactly_the_scenarios_whose_decision_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    old, new = Policy.load(str(ALIEXPRESS)), Policy.load(str(_thirty_days(tmp_path)))
    files = sorted(SCENARIOS.rglob("*.yaml"))
    expected = {str(f.relative_to(ROOT)) for f in files
                if _decision(old, f) != _decision(new, f)}
    assert expected, "the change must matter to some scenario"
    diff = diff_policies(old, new, [str(SCENARIOS.relative_to(ROOT))])
    assert {c.scenario for c in diff.changes if "decision" in c.what} == expected
    assert [(r.id, r.status) for r in diff.rules] == [("define window_expired", "changed")]


def test_markdown_is_ready_for_a_pull_request(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["diff", str(ALIEXPRESS.relative_to(ROOT)),
                                      str(_thirty_days(tmp_path)), "--format", "markdown",
                                      "--fail-on-change", "--scenarios",
                                      str(SCENARIOS.relative_to(ROOT))])
    assert result.exit_code == 1
    assert result.stdout.startswith("### Policy diff:")
    assert "| Scenario | Before | After |" in result.stdout
    assert "<details>" in result.stdout and "no_refund_window_expired" in result.stdout


def test_no_change_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    path = str(ALIEXPRESS.relative_to(ROOT))
    result = CliRunner().invoke(cli, ["diff", path, path, "--fail-on-change"])
    assert result.exit_code == 0
    assert "0 changed" in result.stdout


def test_git_revisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    policy = tmp_path / "p.policy"
    policy.write_text('policy p\nfact x: whole number\ndecision a\ndecision b\n'
                      'rule r when x > 5 then a because "r"\notherwise b because "o"\n')
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "s.yaml").write_text("policy: ../p.policy\nfacts: {x: 7}\n")
    git("add", ".")
    git("commit", "-qm", "first")
    policy.write_text(policy.read_text().replace("x > 5", "x > 8"))
    monkeypatch.chdir(tmp_path)
    assert load_version("HEAD:p.policy").checked.rules[0].conjuncts[0].text == "x > 5"
    result = CliRunner().invoke(cli, ["diff", "HEAD:p.policy", "p.policy"])
    assert result.exit_code == 0, result.output
    assert "changed  r (line 5)" in result.stdout
    assert "before: a by r" in result.stdout and "after:  b by otherwise" in result.stdout
    missing = CliRunner().invoke(cli, ["diff", "HEAD:nope.policy", "p.policy"])
    assert missing.exit_code == 2 and "git cannot show it" in missing.stderr
