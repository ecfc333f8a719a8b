"""The pre-commit hooks run commands that exist, and they pass on this repository."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from policy_engine.cli import cli

ROOT = Path(__file__).resolve().parent.parent
HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("hook", HOOKS, ids=[h["id"] for h in HOOKS])
def test_hook_passes_on_the_repository(hook: dict[str, object],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    words = shlex.split(str(hook["entry"]))
    assert words[0] == "policy"
    files = [] if hook.get("pass_filenames") is False else [
        str(p.relative_to(ROOT)) for p in sorted(ROOT.glob("policies/**/*.policy"))]
    result = CliRunner().invoke(cli, words[1:] + files)
    assert result.exit_code == 0, result.output[-3000:]
