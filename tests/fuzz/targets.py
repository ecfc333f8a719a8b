"""The fuzz targets: each takes a seeded random source, makes one input and runs it.

A target returns normally when the engine answered as it promises (a result, or diagnostics
with codes, or a usage error), and raises `Failure` when it did not: an internal error (exit
4), a traceback, an exception other than a diagnostic, or output that is not what the
command's format says. `campaign.py` runs them many times, each under a watchdog that calls
a run that takes too long a hang.
"""

from __future__ import annotations

import json
import os
import random
import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from policy_engine.cli import cli
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.explain.render import render_json, render_markdown, render_text
from policy_engine.policy import Policy
from policy_engine.scenarios.runner import run_scenario
from tests.helpers.paths import POLICY_FILES, ROOT, SCENARIOS


class Failure(Exception):
    """The engine broke a promise on this input; the message says how."""


class Hang(Exception):
    """The watchdog went off: the input ran longer than it may."""


# ---------------------------------------------------------------- mutations


#: Pieces of the language, of YAML and of JSON that mutations insert.
TOKENS = [
    "rule", "when", "then", "because", "and", "or", "not", "(", ")", "[", "]", "=", "==", ">",
    "<=", "is", "in", "contains", "missing", "present", '"', "\\", "#", "\n", "fact", "decision",
    "output", "otherwise", "refuse", "table", "end", "define", "require", "ensure", "advise",
    "add", "to", "overrides", "effective", "from", "until", "2024-02-30", "9999-12-31",
    "0001-01-01", "45 days", "9999999999 days", "working days from", "round(", ",", "/", "*",
    "-", "9" * 40, "9" * 5000, "1e999999999", "as of", "yes/no", "\u2028", "\ud800", "\x00",
    "\x1b[31m", "<img src=x>", "</td>", "```", "046", "0x10", "1:30", ".inf", "~", "null",
    "&a", "*a", "!!python/object", "{", "}", "- ", ": ", "'", "%", "\t",
]


def mutate(text: str, rng: random.Random, steps: int = 4) -> str:
    """The text with one to `steps` random edits: deletions, inserted tokens, repeated lines,
    replaced characters."""
    for _ in range(rng.randint(1, steps)):
        where = rng.randrange(len(text) + 1)
        action = rng.randrange(4)
        if action == 0:
            text = text[:where] + text[where + rng.randint(1, 12):]
        elif action == 1:
            text = text[:where] + rng.choice(["", " "]) + rng.choice(TOKENS) + " " + text[where:]
        elif action == 2:
            lines = text.splitlines(keepends=True)
            if lines:
                line = rng.randrange(len(lines))
                lines.insert(line, lines[line] * rng.randint(1, 3))
                text = "".join(lines)
        elif text:
            where = min(where, len(text) - 1)
            text = text[:where] + chr(rng.choice([rng.randrange(0, 0x80),
                                                  rng.randrange(0x80, 0x3000)])) \
                + text[where + 1:]
    return text


def _texts(paths: list[Path]) -> list[str]:
    return [path.read_text(encoding="utf-8") for path in paths]


_POLICY_TEXTS = _texts(POLICY_FILES)
_SCENARIO_TEXTS = _texts(SCENARIOS)
_ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"
_loaded: dict[str, Policy] = {}


def _policy(path: Path) -> Policy:
    if str(path) not in _loaded:
        _loaded[str(path)] = Policy.load(str(path))
    return _loaded[str(path)]


# ---------------------------------------------------------------- the targets


def policy_text(rng: random.Random, folder: Path) -> None:
    """A mutated policy is checked and analysed: a policy, or diagnostics."""
    text = mutate(rng.choice(_POLICY_TEXTS), rng)
    try:
        policy = Policy.from_text(text, "fuzz.policy")
    except DiagnosticError as error:
        _rendered(error)
        return
    for diagnostic in policy.check():
        diagnostic.render()


def scenario_file(rng: random.Random, folder: Path) -> None:
    """A mutated scenario is decided against its shipped policy and rendered three ways."""
    text = mutate(rng.choice(_SCENARIO_TEXTS), rng)
    path = folder / "scenario.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    policy = _policy(_ALIEXPRESS if "aliexpress" in text or rng.random() < 0.5
                     else POLICY_FILES[rng.randrange(len(POLICY_FILES))])
    try:
        result = run_scenario(str(path), policy=policy, ignore_expect=True)
    except DiagnosticError as error:
        _rendered(error)
        return
    for render in (render_text, render_json, render_markdown):
        render([result.report()]).encode("utf-8")


def batch_row(rng: random.Random, folder: Path) -> None:
    """A mutated JSON row is decided by the batch's row decider: always one output line."""
    from policy_engine.batch import parse_json_line

    base = json.dumps(_scenario_facts(rng), ensure_ascii=rng.random() < 0.5, default=str)
    row = mutate(base, rng, steps=3).encode("utf-8", "surrogatepass")
    decider = _decider()
    outcome = decider.decide(rng.randrange(1, 10**6), parse_json_line(row))
    line = outcome[0]
    if not isinstance(line, str) or "\n" in line:
        raise Failure(f"the row gave {line!r}, not one output line")
    line.encode("utf-8")  # the line can be written
    json.loads(line)


_FACTS: list[dict[str, Any]] = []


def _scenario_facts(rng: random.Random) -> dict[str, Any]:
    if not _FACTS:
        from policy_engine.scenarios.scenario_file import load_scenario

        for path in SCENARIOS:
            if "aliexpress" in str(path):
                try:
                    _FACTS.append(load_scenario(str(path)).facts)
                except DiagnosticError:
                    continue
    return dict(rng.choice(_FACTS))


_DECIDER: list[Any] = []


def _decider() -> Any:
    if not _DECIDER:
        from policy_engine.batch import RowDecider

        _DECIDER.append(RowDecider(_policy(_ALIEXPRESS), "fuzz.jsonl"))
    return _DECIDER[0]


_COMMANDS = ["eval", "test", "diff", "check", "lint", "fmt", "schema", "compile", "batch"]
_OPTIONS = ["--format", "json", "markdown", "text", "--engine", "compiled", "--policy",
            "--check", "--symbolic", "--fail-on-change", "--scenarios", "--out", "-", "--",
            "--jobs", "1", "0", "-1", "--no-lint", "--strict", "--min-coverage", "150",
            "--write-witnesses", "--trace", "--verbose", "--no-cache", "--allow-outside"]


def command_line(rng: random.Random, folder: Path) -> None:
    """A random command line over a folder of real, missing and strange files: an answer
    with one of the documented exit codes, never an internal error or a traceback."""
    files = _command_files(folder)
    words = [rng.choice(_COMMANDS)]
    for _ in range(rng.randint(0, 5)):
        pick = rng.random()
        if pick < 0.45:
            words.append(rng.choice(files))
        elif pick < 0.85:
            words.append(rng.choice(_OPTIONS))
        else:
            word = "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 8)))
            # A word naming a folder above this one could walk the whole file system (a long
            # run the user asked for, not a hang) or rewrite files that are not ours.
            inside = os.path.realpath(os.path.join(folder, word)).startswith(
                os.path.realpath(folder))
            words.append(word if inside else "elsewhere")
    if rng.random() < 0.1:
        words.insert(0, rng.choice(["--no-cache", "--allow-outside"]))
    # Relative words name files in the fuzz folder, never in the checkout: `fmt .` there
    # would rewrite the project's own policies.
    before = os.getcwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(cli, words, catch_exceptions=True)
    finally:
        os.chdir(before)
    if "internal error: Hang" in result.output:  # the watchdog, caught by the CLI
        raise Hang(f"policy {' '.join(words)}")
    if "Traceback" in result.output or "internal error" in result.output:
        raise Failure(f"policy {' '.join(words)}: {result.output[-400:]}")
    if result.exit_code not in (0, 1, 2, 3):
        raise Failure(f"policy {' '.join(words)}: exit {result.exit_code}: "
                      f"{result.output[-400:]}")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise Failure(f"policy {' '.join(words)}: {result.exception!r}")


def _command_files(folder: Path) -> list[str]:
    marker = folder / "files-made"
    if not marker.exists():
        (folder / "scenarios").mkdir(exist_ok=True)
        for index, text in enumerate(_SCENARIO_TEXTS[:5]):
            (folder / "scenarios" / f"s{index}.yaml").write_text(
                text.replace("../../refund.policy", "../refund.policy").replace(
                    "../refund.policy", "../refund.policy"), encoding="utf-8")
        (folder / "refund.policy").write_text(_POLICY_TEXTS[0], encoding="utf-8")
        (folder / "rows.jsonl").write_text('{"a": 1}\n[]\n', encoding="utf-8")
        (folder / "empty.policy").write_text("", encoding="utf-8")
        marker.write_text("", encoding="utf-8")
    # Relative to the fuzz folder, where the command runs. Not "/": walking a whole file
    # system is a legitimately long run, not a hang.
    return ["refund.policy", "scenarios", "scenarios/s0.yaml", "rows.jsonl", "empty.policy",
            "missing.policy", "missing.yaml", ".", "HEAD:refund.policy", "/dev/null", "/dev",
            "out.jsonl"]


def _rendered(error: DiagnosticError) -> None:
    if not error.diagnostics:
        raise Failure("a DiagnosticError without diagnostics")
    for diagnostic in error.diagnostics:
        diagnostic.render().encode("utf-8", "strict")
        json.dumps(diagnostic.to_json(), ensure_ascii=False).encode("utf-8", "strict")


#: The targets by name, as `--targets` names them.
TARGETS: dict[str, Callable[[random.Random, Path], None]] = {
    "policy": policy_text,
    "scenario": scenario_file,
    "row": batch_row,
    "cli": command_line,
}
