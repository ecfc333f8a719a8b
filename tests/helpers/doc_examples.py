"""Rewrites the output under every `$ policy ...` line of the ```console blocks in docs/.

Run it after a change that moves policy lines or changes output, then review the diff:
    python tests/update_doc_examples.py
The doc tests compare the same blocks with real output, so a stale example fails the suite.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from pathlib import Path

from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from policy_engine.cli import cli  # noqa: E402

BLOCK = re.compile(r"```console\n(\$ policy [^\n]*)\n(.*?)```", re.S)


def _run(match: re.Match[str]) -> str:
    command = match.group(1)
    words = shlex.split(command[2:])
    both = words[-1] == "2>&1"  # the docs show standard error too
    result = CliRunner().invoke(cli, words[1:-1] if both else words[1:])
    return f"```console\n{command}\n{result.output if both else result.stdout}```"


def main() -> None:
    os.chdir(ROOT)
    for path in sorted(ROOT.glob("docs/**/*.md")):
        if path.name == "tutorial.md":
            continue  # its commands run in the tutorial's own folder: tests/test_tutorial.py
        text = path.read_text(encoding="utf-8")
        updated = BLOCK.sub(_run, text)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            print(f"updated {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
