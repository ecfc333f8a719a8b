"""The review path end to end (issue "Explanations where reviewers need them most").

Each test here reproduces one of the failures a new policy author met, from a real process or
the command line: refusals explained in every format, machine output always whole and valid
for its shipped schema, Markdown that a CommonMark renderer reads as the tables we meant,
snapshots that round-trip in a folder outside this repository, and a CLI that composes
(standard input, `--facts`, `--output`, `--quiet`, results on standard output).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from policy_engine.explain.render import Report, render_markdown
from policy_engine.policy import Policy
from tests.helpers.cli import Run, invoker
from tests.helpers.json_output import findings, parsed

ROOT = Path(__file__).resolve().parent.parent
ALIEXPRESS = ROOT / "policies" / "aliexpress"
NOT_COVERED = "policies/aliexpress/scenarios/cancel/completed_order_cancel_not_covered.yaml"
LATE_DELIVERY = ROOT / "policies" / "examples" / "late_delivery.policy"


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Run:  # from the repository root
    return invoker(ROOT, monkeypatch)


@pytest.fixture
def run_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:  # from a scratch folder
    return invoker(tmp_path, monkeypatch)


def _unexpected_refusal(folder: Path) -> str:
    """A copy of the not-covered AliExpress scenario without its `expect`: a refusal that
    nobody asked for, the case that used to print nothing on standard output."""
    text = (ROOT / NOT_COVERED).read_text(encoding="utf-8")
    text = text.split("\nexpect:")[0] + "\n"
    text = text.replace("policy: ../../refund.policy", f"policy: {ALIEXPRESS / 'refund.policy'}")
    (folder / "refused.yaml").write_text(text, encoding="utf-8")
    return "refused.yaml"


# ---------------------------------------------------------------- refusals explained


def test_a_refusal_explains_rules_closest_rules_and_facts_in_text(run: Run) -> None:
    result = run("eval", NOT_COVERED)
    assert result.exit_code == 0  # the scenario expects the refusal
    for part in ("refused:  NOT_COVERED (E404)", "\nrules:\n", "R8_unpaid_cancel (line",
                 "needs order_status is awaiting_payment (order_status = completed)",
                 "\nclosest rules:\n", "\nfacts:\n", "  order_status = completed"):
        assert part in result.stdout, part


@pytest.mark.parametrize("fmt", ["json", "jsonl", "markdown"])
def test_an_unexpected_refusal_is_in_every_format_with_exit_5(
        run_in: Run, tmp_path: Path, fmt: str) -> None:
    scenario = _unexpected_refusal(tmp_path)
    result = run_in("--allow-outside", "eval", scenario, "--format", fmt)
    assert result.exit_code == 5
    assert "refused: refused.yaml: NOT_COVERED (E404)" in result.stderr
    if fmt == "markdown":
        assert "refused: NOT_COVERED (E404)" in result.stdout
        assert "Closest rules" in result.stdout
        return
    lines = result.stdout.splitlines()
    data = parsed(result.stdout, "eval") if fmt == "json" else None
    refusal = data["results"][0] if data else parsed(lines[0], "result")
    assert refusal["decision"] is None
    assert [d["label"] for d in refusal["refused"]] == ["NOT_COVERED"]
    assert refusal["trace"]["closest"], "the closest rules explain a refusal"
    assert refusal["facts"]["order_status"] == {"value": "completed", "origin": "given"}
    if data:
        assert data["summary"]["refused_unexpectedly"] == 1


def test_a_missing_fact_refusal_names_the_condition_that_could_not_be_computed() -> None:
    policy = Policy.from_text(LATE_DELIVERY.read_text(encoding="utf-8").replace(
        'date": whole number', 'date": optional whole number'), "late.policy")
    refused = policy.evaluate({"shipping": "express", "amount_paid": "59.00"})
    assert refused.refused
    trace = refused.to_json()["trace"]
    stopped = [rule for rule in trace["rules"] if rule["status"] == "stopped"]
    assert stopped and stopped[0]["conditions"][-1]["result"] is None
    assert any(rule["status"] == "not tried" for rule in trace["rules"])


# ---------------------------------------------------------------- machine output whole


def test_json_is_one_object_whatever_the_outcomes(run_in: Run, tmp_path: Path) -> None:
    refused = _unexpected_refusal(tmp_path)
    (tmp_path / "broken.yaml").write_text("facts: [\n", encoding="utf-8")
    decided = str(ROOT / "policies/aliexpress/scenarios/never_arrived_after_50_days.yaml")
    result = run_in("--allow-outside", "eval", decided, refused, "broken.yaml",
                    "--format", "json")
    assert result.exit_code == 2  # an invalid scenario wins over the refusal
    data = parsed(result.stdout, "eval")
    assert [r["decision"] for r in data["results"]] == ["no_refund_window_expired", None]
    assert [i["scenario"] for i in data["invalid"]] == ["broken.yaml"]
    assert data["summary"] == {"scenarios": 3, "decided": 1, "refused": 1, "invalid": 1,
                               "refused_unexpectedly": 1, "expectations_not_met": 0}
    one = run_in("--allow-outside", "eval", decided, "--format", "json")
    assert isinstance(parsed(one.stdout, "eval")["results"], list)  # one scenario: same shape


def test_jsonl_gives_one_valid_line_per_scenario_in_order(run_in: Run, tmp_path: Path) -> None:
    refused = _unexpected_refusal(tmp_path)
    (tmp_path / "broken.yaml").write_text("facts: [\n", encoding="utf-8")
    result = run_in("--allow-outside", "eval", "broken.yaml", refused, "--format", "jsonl")
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    parsed(json.dumps(first), "invalid")
    parsed(json.dumps(second), "result")
    assert first["diagnostics"][0]["code"] == "E302"


def test_markdown_includes_invalid_scenarios(run_in: Run, tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("facts: [\n", encoding="utf-8")
    result = run_in("eval", "broken.yaml", "--format", "markdown")
    assert result.exit_code == 2
    assert "broken.yaml" in result.stdout and "E302" in result.stdout


def test_check_and_lint_json_validate_and_go_to_stdout(run: Run) -> None:
    check = run("check", "policies/examples/refund.policy", "--format", "json")
    assert check.exit_code == 0 and findings(check.stdout) == []
    lint = run("lint", "tests/cases/analysis/unused_fact/policy.policy", "--format", "json")
    assert lint.exit_code == 1
    assert [f["code"] for f in findings(lint.stdout, "lint")][:1] == ["W110"]


def test_test_json_has_counts_not_a_sentence(run: Run) -> None:
    result = run("test", "policies/examples/scenarios/delivery", "--format", "json")
    summary = parsed(result.stdout, "test")["summary"]
    assert summary["passed"] == 4 and summary["failed"] == summary["error"] == 0


def test_check_strict_fails_on_warnings(run: Run) -> None:
    warned = "tests/cases/analysis/unused_fact/policy.policy"
    assert run("check", warned).exit_code == 0
    strict = run("check", warned, "--strict")
    assert strict.exit_code == 1 and "W110" in strict.stdout


# ---------------------------------------------------------------- Markdown a renderer reads


def test_markdown_escapes_html_and_pipes_for_a_commonmark_renderer() -> None:
    policy = Policy.from_text(
        'policy notes\nfact note: text\nfact kind: one of a, b\ndecision ok\n'
        'rule r when note == "a|b" or kind is a then ok because "<i>pipes</i> | and tags"\n'
        'otherwise ok because "x"\n', "notes.policy")
    decision = policy.evaluate({"note": "<b>bold</b>|x", "kind": "b"})
    html = MarkdownIt("commonmark").enable("table").render(render_markdown([Report(decision)]))
    assert "<b>" not in html and "<i>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;|x" in html
    assert "a|b" in html  # the `|` inside a code span is the character, not &#124;
    for row in (line for line in html.splitlines() if line.startswith("<tr>")):
        assert row.count("<td>") in (0, 2, 3, 4)


# ---------------------------------------------------------------- snapshots outside this repo


def test_snapshots_round_trip_in_a_fresh_folder_outside_the_repository(
        run_in: Run, tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "late.policy").write_text(LATE_DELIVERY.read_text(encoding="utf-8"),
                                          encoding="utf-8")
    for source in sorted((ROOT / "policies/examples/scenarios/delivery").glob("*.yaml")):
        text = source.read_text(encoding="utf-8").replace("../../late_delivery.policy",
                                                          "../late.policy")
        (tmp_path / "scenarios" / source.name).write_text(text, encoding="utf-8")
    written = run_in("test", "scenarios", "--update")
    assert written.exit_code == 0, written.output
    snapshots = sorted((tmp_path / "scenarios" / "__snapshots__").glob("*.md"))
    assert len(snapshots) == 4
    assert run_in("test", "scenarios").exit_code == 0
    policy = tmp_path / "late.policy"
    policy.write_text(policy.read_text(encoding="utf-8").replace("days_late >= 1",
                                                                 "days_late >= 2"),
                      encoding="utf-8")
    changed = run_in("test", "scenarios", "--format", "json")
    assert changed.exit_code in (1, 5)
    statuses = {s["snapshot"]["status"] for s in parsed(changed.stdout, "test")["scenarios"]}
    assert statuses == {"same", "differs"}


# ---------------------------------------------------------------- a CLI that composes


def _policy_command() -> list[str]:
    return [sys.executable, "-m", "policy_engine"]


def test_a_scenario_piped_on_standard_input(tmp_path: Path) -> None:
    scenario = "facts:\n  shipping: express\n  days_late: 1\n  amount_paid: \"59.00\"\n"
    done = subprocess.run([*_policy_command(), "eval", "--policy", str(LATE_DELIVERY), "-"],
                          input=scenario, capture_output=True, text=True, cwd=tmp_path,
                          timeout=60, check=False, env={**os.environ, "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("scenario: <stdin>\n")
    assert "decision: refund_shipping" in done.stdout


def test_facts_piped_as_json_with_facts_option(tmp_path: Path) -> None:
    facts = json.dumps({"shipping": "express", "days_late": 1, "amount_paid": "59.00"})
    done = subprocess.run([*_policy_command(), "eval", "--policy", str(LATE_DELIVERY),
                           "--facts", "-", "--format", "json"], input=facts,
                          capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert parsed(done.stdout, "eval")["results"][0]["decision"] == "refund_shipping"


def test_bad_facts_on_standard_input_name_stdin_with_a_position(tmp_path: Path) -> None:
    done = subprocess.run([*_policy_command(), "eval", "--policy", str(LATE_DELIVERY),
                           "--facts", "-"], input='{"shipping": "rocket"}',
                          capture_output=True, text=True, cwd=tmp_path, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert "error[E304]: <stdin>:1:" in done.stderr and "Traceback" not in done.stderr


def test_check_and_fmt_read_standard_input(tmp_path: Path) -> None:
    text = LATE_DELIVERY.read_text(encoding="utf-8")
    check = subprocess.run([*_policy_command(), "check", "-", "--no-lint"], input=text,
                           capture_output=True, text=True, cwd=tmp_path, timeout=60,
                           check=False)
    assert check.returncode == 0, check.stderr
    fmt = subprocess.run([*_policy_command(), "fmt", "-"], input=text, capture_output=True,
                         text=True, cwd=tmp_path, timeout=60, check=False)
    assert fmt.returncode == 0, fmt.stderr
    assert Policy.from_text(fmt.stdout, "x.policy").checked.rules


def test_output_file_and_quiet(run_in: Run, tmp_path: Path) -> None:
    scenario = str(ROOT / "policies/aliexpress/scenarios/never_arrived_after_50_days.yaml")
    saved = run_in("--allow-outside", "eval", scenario, "-o", "out.json", "--format", "json")
    assert saved.exit_code == 0 and saved.stdout == ""
    parsed((tmp_path / "out.json").read_text(encoding="utf-8"), "eval")
    quiet = run_in("--allow-outside", "eval", _unexpected_refusal(tmp_path), "-q")
    assert quiet.exit_code == 5 and quiet.stdout == ""


# ---------------------------------------------------------------- onboarding


def test_policy_test_with_no_arguments_outside_a_repository_is_a_usage_error(
        run_in: Run) -> None:
    result = run_in("test")
    assert result.exit_code == 3
    assert "there is no folder 'policies' here" in result.stderr


def test_the_readme_cites_only_files_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    cited = set(re.findall(r"`((?:[\w.-]+/)+[\w.-]+\.(?:md|policy|txt|yaml|py))`", readme))
    assert cited
    assert sorted(path for path in cited if not (ROOT / path).exists()) == []
