"""The README's examples run: its Python snippet, its policy excerpt, its Quick start."""

from __future__ import annotations

import re

import pytest

from policy_engine import Policy
from policy_engine.cli import cli
from tests.helpers.golden import GOLDEN, ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_python_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    (code,) = _blocks("python")
    exec(compile(code, "README.md", "exec"), namespace)  # our own README, not user input
    assert namespace["decision"].decision == "no_refund_needed"  # type: ignore[attr-defined]


def test_policy_excerpt_is_from_a_shipped_policy() -> None:
    (excerpt,) = _blocks("policy")
    assert excerpt in (ROOT / "policies/aliexpress/refund.policy").read_text(encoding="utf-8")


def test_quick_start_commands_and_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    block = README.split("<!-- quickstart:begin -->")[1].split("<!-- quickstart:end -->")[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("```")]
    assert len(commands) == 2
    scenario = commands[0].split("policy eval ")[1]
    monkeypatch.chdir(ROOT)
    from click.testing import CliRunner

    result = CliRunner().invoke(cli, ["eval", scenario])
    assert result.exit_code == 0, result.output
    shown = [line for line in _blocks("text")[0].splitlines() if line.strip() != "..."]
    for line in shown:
        assert line in result.output


def test_every_golden_file_belongs_to_a_scenario() -> None:
    scenarios = {
        "/".join((p.relative_to(ROOT / "policies").parts[0],
                  *p.relative_to(ROOT / "policies").with_suffix("").parts[2:]))
        for p in (ROOT / "policies").glob("*/scenarios/**/*.yaml")
    }
    golden = {str(p.relative_to(GOLDEN).with_suffix("")) for p in GOLDEN.rglob("*.md")}
    assert golden - scenarios == set(), "golden files without a scenario: delete them"


def test_policy_api_loads_every_shipped_policy() -> None:
    for path in sorted(ROOT.glob("policies/**/*.policy")):
        assert Policy.load(str(path)).checked.rules
