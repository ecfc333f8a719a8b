"""docs/reviewing.md stays true: its commands exist, its diff example is real output, its
pre-commit and CI examples are valid YAML that call real commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from policy_engine.cli import cli
from tests.helpers.paths import aliexpress_copy

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "reviewing.md").read_text(encoding="utf-8")


def _block(info: str) -> str:
    match = re.search(rf"```{re.escape(info)}\n(.*?)```", PAGE, re.S)
    assert match, info
    return match.group(1)


def test_the_worked_example_is_real_output(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    excerpt = _block("policy-excerpt").strip()
    policy = (ROOT / "policies/aliexpress/refund.policy").read_text(encoding="utf-8")
    assert excerpt in policy
    changed = aliexpress_copy(tmp_path, policy.replace("days_sent > 45", "days_sent > 30"),
                              "refund_30.policy")
    result = CliRunner().invoke(cli, ["diff", "policies/aliexpress/refund.policy", str(changed),
                                      "--scenarios", "policies/aliexpress/scenarios",
                                      "--format", "markdown"])
    assert result.exit_code == 0
    for line in _block("markdown diff-example").splitlines():
        assert line in result.stdout.splitlines(), line


def test_the_ci_example_calls_real_commands() -> None:
    workflow = yaml.safe_load(_block("yaml ci-example"))
    steps = workflow["jobs"]["review"]["steps"]
    commands = [s["run"] for s in steps if "run" in s and s["run"].startswith("policy ")]
    assert len(commands) >= 4
    for command in commands:
        name = shlex.split(command.replace("${{", "").replace("}}", ""))[1]
        assert name in cli.commands, command


def test_the_pre_commit_example_names_our_hooks() -> None:
    config = yaml.safe_load(_block("yaml pre-commit"))
    hooks = {h["id"] for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert {h["id"] for h in config["repos"][0]["hooks"]} == hooks


@pytest.mark.parametrize("line", [line for line in _block("sh").splitlines()
                                  if line.startswith("policy ")])
def test_the_listed_checks_pass(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    words = shlex.split(line.split("#")[0])
    result = CliRunner().invoke(cli, words[1:])
    assert result.exit_code == 0, result.output[-2000:]
