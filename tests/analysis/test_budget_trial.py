"""The adversarial trial's policies, through the commands it ran: each ends within the budget.

`policy check` (which runs the analysis), `policy lint` and `policy diff --symbolic` run in a
subprocess, as in the trial, with a generous timeout that only guards against a hang: the
evidence that the budget works is what they report (W112, at the rule or line it names) and
the budget's counters, which are the same whatever the machine or the hash seed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policy_engine import Policy
from policy_engine.cli import cli
from policy_engine.policy import MAX_POLICY_BYTES
from tests.analysis.generated import TRIAL_RULES, chained_defines, pairs, simple_rules
from tests.helpers.json_output import findings

ROOT = Path(__file__).resolve().parents[2]
#: Only a guard against a hang, far above what any of these takes; never a measure of speed.
HANG_GUARD = 600


def _policy(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "policy_engine", *args], capture_output=True,
                          text=True, timeout=HANG_GUARD, cwd=ROOT,
                          env={**os.environ, "POLICY_ENGINE_CACHE": "0", **(env or {})},
                          check=False)


def _w112(found: list[dict[str, Any]]) -> list[str]:
    return [item["message"] for item in found if item["code"] == "W112"]


def test_the_trials_large_policy_is_checked_within_the_budget(tmp_path: Path) -> None:
    text = simple_rules(TRIAL_RULES)
    assert 1_800_000 < len(text.encode()) <= MAX_POLICY_BYTES
    path = tmp_path / "simple.policy"
    path.write_text(text, encoding="utf-8")
    result = _policy(["check", "--format", "json", str(path)])
    assert result.returncode == 0, result.stderr
    message, = _w112(findings(result.stdout))
    assert message.startswith("analysis incomplete: the policy is over the analysis budget "
                              "(5,000,000 steps) at rule 'r")


@pytest.mark.parametrize(("name", "text", "what"), [
    ("chained-20", chained_defines(20), "derived value 'e20'"),
    ("pairs-20", pairs(20), "rule 'pairs0'"),
])
def test_the_trials_small_policies_are_checked_within_the_budget(
        tmp_path: Path, name: str, text: str, what: str) -> None:
    path = tmp_path / f"{name}.policy"
    path.write_text(text, encoding="utf-8")
    checked = _policy(["check", "--format", "json", str(path)])
    assert checked.returncode == 0, checked.stderr
    assert _w112(findings(checked.stdout)) == [
        f"analysis incomplete: {what} is over its share of the budget (500,000 steps)"]
    linted = _policy(["lint", str(path)])
    assert linted.returncode == 1 and f"warning[W112]: {path}:" in linted.stdout


def test_the_trials_eleven_lines_are_analysed_completely(tmp_path: Path) -> None:
    path = tmp_path / "chained.policy"
    path.write_text(chained_defines(7), encoding="utf-8")
    assert len(chained_defines(7).splitlines()) == 11
    result = _policy(["lint", "--format", "json", str(path)])
    assert _w112(findings(result.stdout, "lint")) == []
    assert "1 analysed" in _policy(["lint", str(path)]).stdout


_COUNTERS = """
import json, sys
from policy_engine import Policy
from policy_engine.analysis.budget import Budget
from policy_engine.analysis.lint import lint
from tests.analysis.generated import pairs, simple_rules
out = []
for text, steps in ((pairs(20), 5_000_000), (simple_rules(600), 300_000)):
    report = lint(Policy.from_text(text, "p.policy").checked, Budget(steps))
    out.append([report.budget.spent, report.budget.largest_item, report.nodes,
                [f.diagnostic.render() for f in report.findings]])
print(json.dumps(out))
"""


def test_the_budget_and_the_findings_do_not_depend_on_the_hash_seed() -> None:
    """Steps count work, so two processes with different hash seeds (as two machines would
    have) spend the same steps and report the same findings, byte for byte."""
    runs = [subprocess.run([sys.executable, "-c", _COUNTERS], capture_output=True, text=True,
                           timeout=HANG_GUARD, cwd=ROOT, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")]
    assert runs[0] == runs[1]
    (spent, largest, _, findings), (stopped_spent, _, _, stopped) = json.loads(runs[0])
    assert largest <= 500_000 + 100 and spent <= 5_000_000
    assert any("W112" in text for text in findings)
    assert 300_000 < stopped_spent <= 302_000 and any("W112" in text for text in stopped)


# ---------------------------------------------------------------- options


def test_the_budget_options_reach_lint_check_and_the_symbolic_diff(tmp_path: Path) -> None:
    runner = CliRunner()
    small = tmp_path / "small.policy"
    small.write_text(chained_defines(7), encoding="utf-8")
    other = tmp_path / "other.policy"
    other.write_text(chained_defines(7).replace("e7 > 10", "e7 > 11"), encoding="utf-8")
    fits = runner.invoke(cli, ["lint", str(small)])
    assert "W112" not in fits.output
    tight = runner.invoke(cli, ["lint", "--analysis-budget", "2000", str(small)])
    assert tight.exit_code == 1 and "analysis incomplete" in tight.output
    checked = runner.invoke(cli, ["check", "--analysis-budget", "2000", str(small)])
    assert checked.exit_code == 0 and "warning[W112]" in checked.output
    assert "W112" not in runner.invoke(cli, ["check", "--analysis-budget", "0",
                                             str(small)]).output
    diffed = runner.invoke(cli, ["diff", "--symbolic", "--fail-on-change", "--analysis-budget",
                                 "2000", str(small), str(other)])
    assert diffed.exit_code == 1  # incomplete: a change may be hidden
    assert "warning[W112]" in diffed.output
    assert runner.invoke(cli, ["diff", "--analysis-budget", "10", str(small),
                               str(other)]).exit_code == 3
    assert runner.invoke(cli, ["lint", "--analysis-budget", "-1", str(small)]).exit_code == 3
    assert runner.invoke(cli, ["lint", "--analysis-timeout", "0", str(small)]).exit_code == 3
    assert "W112" not in runner.invoke(cli, ["lint", "--analysis-timeout", "600",
                                             str(small)]).output


def test_policy_check_takes_the_budget() -> None:
    policy = Policy.from_text(pairs(20), "pairs.policy")
    found = [d.code for d in policy.check(analysis_budget=100_000)]
    assert found.count("W112") == 1
    assert "W112" not in [d.code for d in policy.check(lint=False)]
