"""docs/tutorial.md cannot rot: its files are written and its commands run, in order, in an
empty folder, and each command's output must be exactly what the tutorial shows.

After an intended change to the output, refresh the tutorial with
`TUTORIAL_UPDATE=1 pytest tests/test_tutorial.py` and review the diff.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine.cli import cli

TUTORIAL = Path(__file__).resolve().parent.parent / "docs" / "tutorial.md"
FENCE = re.compile(r"```(\w+)( file=(\S+))?\n(.*?)```", re.S)
REMOVE = re.compile(r"<!-- tutorial: remove (\S+) -->")


def _run(command: str) -> str:
    words = shlex.split(command)
    assert words[0] == "policy", command
    return CliRunner().invoke(cli, words[1:]).output


def test_the_tutorial_runs_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = TUTORIAL.read_text(encoding="utf-8")
    events = sorted([(m.start(), "block", m) for m in FENCE.finditer(text)]
                    + [(m.start(), "remove", m) for m in REMOVE.finditer(text)],
                    key=lambda e: e[0])
    replacements: list[tuple[int, int, str]] = []
    files = commands = 0
    for _, kind, match in events:
        if kind == "remove":
            (tmp_path / match.group(1)).unlink()
            continue
        language, name, body = match.group(1), match.group(3), match.group(4)
        if name is not None:
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
            files += 1
        elif language == "console":
            command, _, shown = body.partition("\n")
            assert command.startswith("$ "), f"a console block starts with '$ ': {command}"
            output = _run(command[2:])
            commands += 1
            if os.environ.get("TUTORIAL_UPDATE"):
                replacements.append((match.start(4), match.end(4), f"{command}\n{output}"))
            else:
                assert shown == output, f"the tutorial shows other output for: {command}"
    if replacements:
        for start, end, new in reversed(replacements):
            text = text[:start] + new + text[end:]
        TUTORIAL.write_text(text, encoding="utf-8")
    assert files >= 8 and commands >= 8
