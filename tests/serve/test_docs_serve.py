"""docs/serve.md's curl examples run against a real server, and answer what the page shows.

The page's examples are ```sh blocks whose command starts with `curl`, against
`localhost:8181`; each runs (with the real curl) against `policy serve policies/` started from
the repository root on a free port, and must succeed, unless the answer shown is an error
(a JSON object with a 4xx `status`), which must then be the answer's status. When a ```json
block follows, the answer must match it, where `"..."` as a value matches anything, a
`"...": "..."` member stands for members left out, and a last `"..."` item in an array for
items left out. When a ```text block follows, each of its lines must be a line of the answer,
in order, where `...` within a line matches any text and a line `...` stands for lines left
out. Text shown ending in `...` matches any text that starts with what comes before it.

The page's example of a decision log line must be a line the server writes: its facts are
decided through the server, and the line logged for that decision must match it (its id and
time aside, which no two lines share). Without curl the test is skipped with the reason,
unless POLICY_SERVE_STRICT=1 (set by .ci/run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.server import ROOT, ServerProcess, check_lines, log_lines, serving

DOC = ROOT / "docs" / "serve.md"
ELLIPSIS = "..."


def _blocks() -> list[tuple[int, str, str]]:
    """(line, info, text) of every fenced block of the page."""
    lines = DOC.read_text(encoding="utf-8").split("\n")
    found = []
    index = 0
    while index < len(lines):
        if lines[index].startswith("```"):
            end = index + 1
            while lines[end].rstrip() != "```":
                end += 1
            found.append((index + 1, lines[index][3:].strip(), "\n".join(lines[index + 1:end])))
            index = end
        index += 1
    return found


def _examples() -> list[tuple[int, str, tuple[str, str] | None]]:
    blocks = _blocks()
    examples = []
    for position, (line, info, text) in enumerate(blocks):
        if info == "sh" and text.startswith("curl "):
            following = blocks[position + 1] if position + 1 < len(blocks) else None
            shown = (following[1], following[2]) if following is not None and following[1] in (
                "json", "text") else None
            examples.append((line, text, shown))
    return examples


EXAMPLES = _examples()


def matches(shown: Any, actual: Any, where: str = "$") -> list[str]:
    """Where `actual` differs from `shown` (with the page's `...` conventions)."""
    if shown == ELLIPSIS:
        return []
    if isinstance(shown, str) and shown.endswith(ELLIPSIS) and isinstance(actual, str):
        if actual.startswith(shown[:-len(ELLIPSIS)]):
            return []
        return [f"{where}: the page shows {shown!r}, got {actual!r}"]
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        problems = []
        for key, value in shown.items():
            if key == ELLIPSIS:
                continue
            if key not in actual:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += matches(value, actual[key], f"{where}.{key}")
        if ELLIPSIS not in shown and set(actual) - set(shown):
            problems.append(f"{where}: more members: {sorted(set(actual) - set(shown))}")
        return problems
    if isinstance(shown, list):
        if not isinstance(actual, list):
            return [f"{where}: expected an array, got {actual!r}"]
        open_ended = bool(shown) and shown[-1] == ELLIPSIS
        items = shown[:-1] if open_ended else shown
        if len(actual) < len(items) or (not open_ended and len(actual) != len(items)):
            return [f"{where}: {len(actual)} items, the page shows {len(shown)}"]
        return [p for i, item in enumerate(items) for p in matches(item, actual[i],
                                                                   f"{where}[{i}]")]
    return [] if shown == actual else [f"{where}: the page shows {shown!r}, got {actual!r}"]


def text_matches(shown: str, actual: str) -> list[str]:
    """The lines of `shown` missing from `actual` (in order, with the page's `...`)."""
    lines = actual.split("\n")
    at = 0
    for wanted in shown.split("\n"):
        if wanted == ELLIPSIS:
            continue
        pattern = re.compile(".*".join(re.escape(part) for part in wanted.split(ELLIPSIS)))
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        if at == len(lines):
            return [f"no line like {wanted!r} (in order)"]
        at += 1
    return []


def test_the_page_has_an_example_per_endpoint() -> None:
    text = " ".join(command for _, command, _ in EXAMPLES)
    for endpoint in ("/decide", "/decide-many", "/v1/policies ", "/v1/policies/aliexpress",
                     "/schema", "/openapi.json", "/ready", "/metrics"):
        assert endpoint in text + " ", endpoint


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("doc-logs")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, logs: Path) -> Iterator[ServerProcess]:
    if shutil.which("curl") is None:
        if os.environ.get("POLICY_SERVE_STRICT"):
            pytest.fail("curl is needed to run docs/serve.md's examples")
        pytest.skip("curl is not installed: docs/serve.md's examples are not run")
    with serving(["policies/", "--decision-log", str(logs)], ROOT,
                 output=tmp_path_factory.mktemp("doc-server")) as running:
        yield running


@pytest.mark.parametrize(("line", "command", "shown"), EXAMPLES,
                         ids=[f"serve.md:{line}" for line, _, _ in EXAMPLES])
def test_curl_example_answers_what_the_page_shows(
    server: ServerProcess, line: int, command: str, shown: tuple[str, str] | None
) -> None:
    command = re.sub(r"\blocalhost:8181\b", f"127.0.0.1:{server.port}", command)
    expected = json.loads(shown[1]) if shown is not None and shown[0] == "json" else None
    error = expected.get("status") if isinstance(expected, dict) else None
    # The status as curl's last line, so that an error answer's status is checked too.
    done = subprocess.run(["bash", "-c", command + " -w '\\n%{http_code}'"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "TOKEN": "no-token-needed-here"})
    assert done.returncode == 0, f"serve.md:{line}: {done.stderr}{done.stdout}"
    body, _, status = done.stdout.rpartition("\n")
    assert status == str(error or 200), f"serve.md:{line}: status {status}: {body}"
    if shown is None:
        return
    if expected is None:
        problems = text_matches(shown[1], body)
    else:
        problems = matches(expected, json.loads(body))
    assert problems == [], f"serve.md:{line}: " + "; ".join(problems)


def test_the_log_line_shown_is_a_line_the_server_writes(server: ServerProcess,
                                                        logs: Path) -> None:
    shown = [json.loads(text) for _, info, text in _blocks()
             if info == "json" and '"policy-engine/decision-log"' in text]
    assert len(shown) == 1, "docs/serve.md shows one decision log line"
    example = shown[0]
    client = server.client()
    reply = client.post(f"/v1/policies/{example['policy']['name']}/decide",
                        json.dumps(example["facts"]))
    client.close()
    assert reply.status == 200, reply.body
    records = [r for r in check_lines(log_lines(logs))
               if r["decision_id"] == reply.headers["decision-id"]]
    assert len(records) == 1
    problems = matches({**example, "decision_id": ELLIPSIS, "time": ELLIPSIS}, records[0])
    assert problems == [], "; ".join(problems)
