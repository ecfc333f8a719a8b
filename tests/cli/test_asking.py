"""`policy ask`: the interview, through a pseudo-terminal as a person sees it, and scripted.

Expected decisions and explanations are computed through the library (`Policy.residual`,
`explain.render`), never written out here, so the tests survive changes to the trace.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policy_engine.explain.render import Report, render_text
from policy_engine.policy import Policy
from policy_engine.scenarios.partial import NOT_ASKED
from policy_engine.scenarios.runner import run_scenario
from policy_engine.scenarios.yaml_data import load_yaml
from tests.helpers.cli import Run, invoker

ROOT = Path(__file__).resolve().parent.parent.parent
ALIEXPRESS = "policies/aliexpress/refund.policy"
START = "docs/examples/partial/not_received_paid.yaml"
PROMPT = re.compile(r"^(\w+)> (.*)$")
#: The longest a step of the pseudo-terminal session may wait for output (a hang fails the
#: test instead of blocking the suite; it is not a performance threshold).
PTY_PATIENCE = 120.0


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Run:
    return invoker(ROOT, monkeypatch)


def _doc_transcript() -> tuple[str, str]:
    """The `policy ask` transcript of docs/partial.md: its command line and what follows."""
    text = (ROOT / "docs" / "partial.md").read_text(encoding="utf-8")
    match = re.search(r"```text\n\$ (policy ask [^\n]*)\n(.*?)```", text, re.S)
    assert match is not None, "docs/partial.md has no ```text block starting '$ policy ask'"
    return match[1], match[2]


class _Terminal:
    """A command on a pseudo-terminal: what it printed so far, with typing."""

    def __init__(self, argv: list[str]) -> None:
        self.master, slave = pty.openpty()
        env = {**os.environ, "TERM": "dumb", "COLUMNS": "100"}
        env.pop("POLICY_DEBUG", None)
        self.process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave,
                                        cwd=ROOT, env=env, close_fds=True)
        os.close(slave)
        self.seen = b""

    def read_until(self, ending: bytes) -> None:
        deadline = time.monotonic() + PTY_PATIENCE
        while not self.seen.endswith(ending):
            assert time.monotonic() < deadline, f"no {ending!r} after:\n{self.text()}"
            ready, _, _ = select.select([self.master], [], [], 1.0)
            if ready:
                self.seen += os.read(self.master, 65536)

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def finish(self) -> int:
        deadline = time.monotonic() + PTY_PATIENCE
        while True:
            assert time.monotonic() < deadline, f"did not end:\n{self.text()}"
            ready, _, _ = select.select([self.master], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(self.master, 65536)
                except OSError:  # the other side closed: Linux reports EIO
                    chunk = b""
                if not chunk:
                    break
                self.seen += chunk
        os.close(self.master)
        return self.process.wait(timeout=PTY_PATIENCE)

    def text(self) -> str:
        return self.seen.decode("utf-8").replace("\r\n", "\n")


def test_the_documented_interview_under_a_pseudo_terminal() -> None:
    command, transcript = _doc_transcript()
    terminal = _Terminal([sys.executable, "-m", "policy_engine", *command.split()[1:]])
    answers: dict[str, str] = {}
    for line in transcript.split("\n"):
        prompt = PROMPT.match(line)
        if prompt:
            terminal.read_until(f"{prompt[1]}> ".encode())
            terminal.type(prompt[2])  # the terminal echoes it, as the transcript shows
            if prompt[2] != "q":
                answers[prompt[1]] = prompt[2]
    code = terminal.finish()
    shown = terminal.text()
    assert shown.startswith(transcript), shown
    assert code == 0, shown
    # What follows the transcript: the decision and its explanation, as the library gives it.
    policy = Policy.load(ALIEXPRESS)
    known = dict(load_yaml((ROOT / START).read_text(), START).data["facts"])
    known.update({fact: int(value) for fact, value in answers.items()})
    residual = policy.residual(known, irrelevant=False)
    assert residual.decided and residual.decision is not None
    assert render_text([Report(residual.decision)]) in shown
    assert f"  decision: {residual.decision.decision}\n" in shown.split("expect:")[-1]


def _script(run: Run, *args: str, answers: list[str]) -> tuple[int, str]:
    from click.testing import CliRunner

    from policy_engine.cli import cli

    result = CliRunner().invoke(cli, ["ask", *args], input="".join(a + "\n" for a in answers))
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_answers_are_checked_as_a_scenario_file_value_and_asked_again(run: Run) -> None:
    code, shown = _script(run, ALIEXPRESS, "--facts", START,
                          answers=["twenty", "-1", "50"])
    assert "expected a whole number at least 0, got 'twenty'" in shown
    assert shown.count("days_since_sent> ") == 3
    decided = Policy.load(ALIEXPRESS).residual(
        {"request": "goods_not_received", "paid": True, "dispute_state": "none",
         "days_since_sent": 50})
    assert decided.decision is not None
    assert f"decision: {decided.decision.decision}" in shown
    assert code == 0


def test_a_fact_that_cannot_be_left_out_is_asked_again(run: Run) -> None:
    # Every other fact skipped, so that the first question is the required `request`.
    others = [f"--skip={info.name}" for info in Policy.load(ALIEXPRESS).checked.facts
              if info.name != "request"]
    code, shown = _script(run, ALIEXPRESS, *others, answers=["-"])
    assert "'request' cannot be left out" in shown
    assert code == 1  # the answers ran out before a decision
    assert "The interview stopped before a decision" in shown


def test_unknown_answers_are_not_asked_again_and_the_next_best_is(run: Run) -> None:
    code, shown = _script(run, ALIEXPRESS, "--facts", START, answers=["?", "q"])
    first, second = re.findall(r"Question \d: (\w+)", shown)
    policy = Policy.load(ALIEXPRESS)
    start = {"request": "goods_not_received", "paid": True, "dispute_state": "none"}
    assert first == policy.residual(start).next_question.fact  # type: ignore[union-attr]
    assert second == policy.residual(  # type: ignore[union-attr]
        start, exclude=[first]).next_question.fact
    assert code == 1


def test_the_saved_answers_are_a_scenario_that_meets_its_expect(run: Run,
                                                                tmp_path: Path) -> None:
    saved = tmp_path / "case.yaml"
    code, shown = _script(run, ALIEXPRESS, "--facts", START, "--save", str(saved),
                          answers=["20", "17", "q"])
    assert code == 0 and f"wrote {saved}" in shown
    text = saved.read_text(encoding="utf-8")
    assert NOT_ASKED in text
    assert load_yaml(text, "case.yaml").data["policy"] == os.path.relpath(
        ROOT / ALIEXPRESS, tmp_path)
    result = run_scenario(str(saved))
    assert result.expectation is not None and result.met, result.mismatches
    # and the file is never written over
    code, shown = _script(run, ALIEXPRESS, "--save", str(saved), answers=[])
    assert code == 2 and "error[E702]" in shown and "Question" not in shown


def test_a_refusal_ends_the_interview_with_status_5(run: Run, tmp_path: Path) -> None:
    start = tmp_path / "start.yaml"
    start.write_text(f"policy: {ROOT / ALIEXPRESS}\nfacts:\n  request: goods_problem\n",
                     encoding="utf-8")
    policy = Policy.load(ALIEXPRESS)
    # a goods problem with the goods not received: every completion is refused
    refused = policy.residual({"request": "goods_problem", "goods_received": False})
    assert refused.refused and refused.decision is not None
    others = [f"--skip={info.name}" for info in policy.checked.facts
              if info.name not in ("request", "goods_received")]
    code, shown = _script(run, ALIEXPRESS, "--facts", str(start), *others, answers=["no"])
    assert "Question 1: goods_received" in shown and "goods_received> no" in shown
    assert code == 5, shown
    assert render_text([Report(refused.decision)]).split("\n")[2] in shown


def test_bad_options_are_usage_errors(run: Run) -> None:
    assert run("ask", ALIEXPRESS, "--skip", "nope").exit_code == 3
    assert run("ask", ALIEXPRESS, "--analysis-budget", "-1").exit_code == 3
    result = run("ask", "policies/nope.policy")
    assert result.exit_code == 2 and "error[" in result.output


def test_an_invalid_starting_fact_is_reported_with_its_position(run: Run,
                                                                 tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"policy: {ROOT / ALIEXPRESS}\nfacts:\n  request: lost\n", encoding="utf-8")
    result = run("ask", ALIEXPRESS, "--facts", str(bad))
    assert result.exit_code == 2
    assert "$.facts.request" in result.output and "error[E304]" in result.output


def test_when_only_skipped_facts_matter_the_interview_stops_and_says_so(run: Run) -> None:
    # days_without_tracking is the one fact left that decides; the agent does not know it,
    # nor any fact asked after it (those whose values the constraints may refuse)
    code, shown = _script(run, ALIEXPRESS, "--facts", START, answers=["20", "?", "no", *["?"] * 12])
    asked = re.findall(r"Question \d+: (\w+)", shown)
    known = {"request": "goods_not_received", "paid": True, "dispute_state": "none",
             "days_since_sent": 20, "delivery_deadline_near": False}
    residual = Policy.load(ALIEXPRESS).residual(
        known, exclude=[fact for fact in asked if fact not in known])
    assert not residual.decided and residual.next_question is None
    assert "days_without_tracking" in residual.ranking and residual.ranking in shown
    assert code == 1
