"""Rewrites the expected output of the docs' examples: ```console blocks and scenarios.

Under every `$ policy ...` line of a ```console block goes what the command prints; after every
```yaml scenario that starts with `policy: example.policy` goes, in the ```text block that
follows it, what `policy eval scenario.yaml` prints with the nearest ```policy block above.

`python -m pytest --update-expected` runs it (with every other expected output), then review
the diff. The doc tests compare the same blocks with real output, so a stale example fails.
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from pathlib import Path

from click.testing import CliRunner

from policy_engine.cli import cli

ROOT = Path(__file__).resolve().parents[2]

BLOCK = re.compile(r"```console\n(\$ policy [^\n]*)\n(.*?)```", re.S)


def _run(match: re.Match[str]) -> str:
    command = match.group(1)
    words = shlex.split(command[2:])
    both = words[-1] == "2>&1"  # the docs show standard error too
    result = CliRunner().invoke(cli, words[1:-1] if both else words[1:], prog_name="policy")
    return f"```console\n{command}\n{result.output if both else result.stdout}```"


FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```$", re.S | re.M)
SCENARIO_PREFIX = "policy: example.policy"


def _scenario_outputs(text: str) -> str:
    """`text` with the ```text block after each example scenario rewritten."""
    pieces: list[str] = []
    last_policy: str | None = None
    pending: str | None = None  # the output of the scenario just above, for its ```text
    position = 0
    for fence in FENCE.finditer(text):
        info, body = fence.group(1).strip(), fence.group(2)
        if info == "text" and pending is not None:
            pieces.append(text[position : fence.start(2)])
            pieces.append(pending)
            position = fence.end(2)
        pending = None
        if info == "policy":
            last_policy = body
        elif info == "yaml" and body.startswith(SCENARIO_PREFIX) and last_policy is not None:
            pending = _evaluate_example(last_policy, body)
    pieces.append(text[position:])
    return "".join(pieces)


def _evaluate_example(policy: str, scenario: str) -> str:
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "example.policy").write_text(policy, encoding="utf-8")
        Path(folder, "scenario.yaml").write_text(scenario, encoding="utf-8")
        os.chdir(folder)
        try:
            return CliRunner().invoke(cli, ["eval", "scenario.yaml"], prog_name="policy").output
        finally:
            os.chdir(here)


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
            updated = _scenario_outputs(BLOCK.sub(_run, text))
            if updated != text:
                path.write_text(updated, encoding="utf-8")
                changed.append(str(path.relative_to(ROOT)))
    finally:
        os.chdir(here)
    return changed
