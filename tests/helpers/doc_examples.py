"""Rewrites the output under every `$ policy ...` line of the ```console blocks in docs/.

`python -m pytest --update-expected` runs it (with every other expected output), then review
the diff. The doc tests compare the same blocks with real output, so a stale example fails.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

from click.testing import CliRunner

from policy_engine.cli import cli

ROOT = Path(__file__).resolve().parents[2]

BLOCK = re.compile(r"```console\n(\$ policy [^\n]*)\n(.*?)```", re.S)


def _run(match: re.Match[str]) -> str:
    command = match.group(1)
    words = shlex.split(command[2:])
    both = words[-1] == "2>&1"  # the docs show standard error too
    result = CliRunner().invoke(cli, words[1:-1] if both else words[1:])
    return f"```console\n{command}\n{result.output if both else result.stdout}```"


def update() -> list[str]:
    """Rewrites the stale examples; returns the files it changed."""
    changed = []
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        for path in sorted(ROOT.glob("docs/**/*.md")):
            if path.name == "tutorial.md":
                continue  # its commands run in the tutorial's own folder: test_tutorial.py
            text = path.read_text(encoding="utf-8")
            updated = BLOCK.sub(_run, text)
            if updated != text:
                path.write_text(updated, encoding="utf-8")
                changed.append(str(path.relative_to(ROOT)))
    finally:
        os.chdir(here)
    return changed
