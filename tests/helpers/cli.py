"""Running the `policy` command inside a test: one invoker for every test module that needs it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from policy_engine.cli import cli

Run = Callable[..., Result]


def invoker(folder: Path, monkeypatch: pytest.MonkeyPatch, *command: str) -> Run:
    """A function running `policy COMMAND... ARGS...` from `folder`; it fails the test on a
    traceback or an exception other than the command's exit."""
    monkeypatch.chdir(folder)
    monkeypatch.delenv("POLICY_DEBUG", raising=False)

    def invoke(*args: str) -> Result:
        result = CliRunner().invoke(cli, [*command, *args])
        assert "Traceback" not in result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            result.exception
        return result

    return invoke
