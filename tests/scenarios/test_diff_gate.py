"""`policy diff` as a CI gate: it finds the scenarios the docs say it finds, never passes on
nothing, counts what it read, and its pull-request comment always fits on GitHub."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policy_engine.policy import Policy
from policy_engine.scenarios.diff import diff_policies
from policy_engine.scenarios.diff_report import MARKDOWN_LIMIT, render_diff_markdown
from tests.helpers.cli import Run, invoker
from tests.helpers.json_output import parsed
from tests.helpers.paths import aliexpress_copy

ROOT = Path(__file__).resolve().parents[2]
ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"
TUTORIAL = ROOT / "docs" / "tutorial.md"


@pytest.fixture
def run_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    return invoker(tmp_path, monkeypatch)


def _tutorial_folder(folder: Path) -> None:
    """The tutorial's files as its reader has them at step 8: the scenarios name window.policy."""
    text = TUTORIAL.read_text(encoding="utf-8")
    for match in re.finditer(r"```(\w+) file=(\S+)\n(.*?)```", text, re.S):
        path = folder / match.group(2)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(match.group(3), encoding="utf-8")
    (folder / "scenarios" / "typo.yaml").unlink()  # step 7 removes it


def test_the_tutorials_layout_finds_the_scenarios_of_the_old_version(
        run_in: Run, tmp_path: Path) -> None:
    _tutorial_folder(tmp_path)
    result = run_in("diff", "window.policy", "window_30.policy", "--format", "json")
    assert result.exit_code == 0, result.output
    data = parsed(result.stdout, "diff")
    assert data["summary"]["read"] == data["summary"]["compared"] == 4
    day_45 = next(c for c in data["changes"] if c["scenario"] == "scenarios/day_45.yaml")
    assert day_45["what"][:2] == ["decision", "rule"]
    first = day_45["first_difference"]
    assert (first["rule"], first["before"]["result"], first["after"]["result"]) == (
        "window_expired", False, True)
    assert data["old"]["version"] == "0.1" and data["new"]["version"] == "0.2"


def test_scenarios_of_another_policy_beside_new_are_skipped_and_listed(
        run_in: Run, tmp_path: Path) -> None:
    _tutorial_folder(tmp_path)
    (tmp_path / "scenarios" / "other.yaml").write_text(
        "policy: ../broken.policy\nfacts: {}\n", encoding="utf-8")
    result = run_in("diff", "window.policy", "window_30.policy")
    assert result.exit_code == 0
    assert "skipped: 1 scenarios that name another policy\n  scenarios/other.yaml" \
        in result.stdout


@pytest.mark.parametrize("broken", [
    ("bad.yaml", "facts: [\n"),                                    # unreadable YAML
    ("bad.yaml", "policy: ../window.policy\nfacts:\n  days_since_sent: soon\n"),  # bad facts
    ("rows.jsonl", '{"days_since_sent": 3}\n{"days_since_sent": 4}\n'),  # not a scenario
], ids=["yaml", "facts", "jsonl"])
def test_one_broken_scenario_fails_the_gate(run_in: Run, tmp_path: Path,
                                            broken: tuple[str, str]) -> None:
    _tutorial_folder(tmp_path)
    name, text = broken
    (tmp_path / "scenarios" / name).write_text(text, encoding="utf-8")
    paths = ["--scenarios", "scenarios", "--scenarios", f"scenarios/{name}"] \
        if name.endswith(".jsonl") else []
    result = run_in("diff", "window.policy", "window.policy", "--fail-on-change", *paths,
                    "--format", "json")
    assert result.exit_code == 2, result.output
    assert f"scenarios/{name}" in result.stderr
    data = parsed(result.stdout, "diff")
    assert [i["scenario"] for i in data["invalid"]] == [f"scenarios/{name}"]
    assert data["summary"]["changed"] == 0
    assert data["summary"]["compared"] == data["summary"]["read"] - 1


def test_a_scenario_that_expects_the_invalid_facts_is_compared(run_in: Run,
                                                                tmp_path: Path) -> None:
    _tutorial_folder(tmp_path)
    (tmp_path / "scenarios" / "bad.yaml").write_text(
        "policy: ../window.policy\nfacts:\n  days_since_sent: soon\nexpect:\n  error: E304\n",
        encoding="utf-8")
    result = run_in("diff", "window.policy", "window.policy", "--fail-on-change")
    assert result.exit_code == 0, result.output
    assert "5 scenarios read, 5 compared, 0 changed" in result.stdout


def test_no_scenarios_is_a_usage_error(run_in: Run, tmp_path: Path) -> None:
    _tutorial_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    result = run_in("diff", "window.policy", "window_30.policy", "--scenarios", "empty")
    assert result.exit_code == 3
    assert "no scenario files" in result.stderr


def _thirty_days(folder: Path) -> Path:
    return aliexpress_copy(folder, ALIEXPRESS.read_text(encoding="utf-8").replace(
        "= days_sent > 45", "= days_sent > 30"), "refund_30.policy")


def test_the_45_to_30_day_comment_fits_and_names_every_changed_scenario(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    diff = diff_policies(Policy.load(str(ALIEXPRESS)), Policy.load(str(_thirty_days(tmp_path))),
                         ["policies/aliexpress/scenarios"])
    markdown = render_diff_markdown(diff)
    assert len(markdown) < MARKDOWN_LIMIT
    # six parcels sent 31 to 45 days ago lose their dispute; a Sent order cancelled on day 45
    # loses the advice to dispute
    assert len(diff.changes) == 7
    for change in diff.changes:
        assert f"`{change.scenario}`" in markdown
        assert f"<code>{change.scenario}</code>" in markdown  # its explanation fits too


def test_a_comment_that_would_not_fit_is_cut_visibly(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    diff = diff_policies(Policy.load(str(ALIEXPRESS)), Policy.load(str(_thirty_days(tmp_path))),
                         ["policies/aliexpress/scenarios"])
    for limit, cut in ((9_000, "more changed scenarios are"),
                       (3_500, "more changed scenarios: run `policy diff` locally")):
        markdown = render_diff_markdown(diff, limit=limit)
        assert len(markdown) <= limit
        assert cut in markdown or "more changed scenarios" in markdown


def test_thousands_of_changes_stay_under_the_limit(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    policy = ("policy p\nfact n: whole number from 0 to 100000\ndecision small\n"
              "decision big\nrule r when n > {} then big because \"{}\"\n"
              "otherwise small because \"otherwise\"\n")
    (tmp_path / "scenarios").mkdir()
    for n in range(1_500):
        (tmp_path / "scenarios" / f"s{n:04}.yaml").write_text(f"facts:\n  n: {n + 10}\n",
                                                             encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    old = Policy.from_text(policy.format(100_000, "never"), "old.policy")
    new = Policy.from_text(policy.format(0, "always " * 20), "new.policy")
    diff = diff_policies(old, new, ["scenarios"])
    assert len(diff.changes) == 1_500
    markdown = render_diff_markdown(diff)
    assert len(markdown) < MARKDOWN_LIMIT
    match = re.search(r"\*\*(\d+) more changed scenarios: run `policy diff` locally\.\*\*",
                      markdown)
    assert match is not None
    named = markdown.count("| `scenarios/s")
    assert named + int(match.group(1)) == 1_500


def test_title_version_reason_and_citation_changes_are_reported(
        run_in: Run, tmp_path: Path) -> None:
    _tutorial_folder(tmp_path)
    text = (tmp_path / "window.policy").read_text(encoding="utf-8")
    (tmp_path / "retitled.policy").write_text(
        text.replace('version "0.1"', 'version "0.1.1"')
            .replace('"Refunds for parcels that never arrived"', '"Refunds: lost parcels"')
            .replace('because "more than 15 days have passed, while parcel is not tracked"',
                     'because "tracking stopped for 15 days"'), encoding="utf-8")
    result = run_in("diff", "window.policy", "retitled.policy", "--scenarios", "scenarios",
                    "--format", "json")
    data = parsed(result.stdout, "diff")
    assert (data["old"]["title"], data["new"]["title"]) == (
        "Refunds for parcels that never arrived", "Refunds: lost parcels")
    assert data["new"]["version"] == "0.1.1"
    assert {c["scenario"]: c["what"] for c in data["changes"]} == {
        "scenarios/stalled.yaml": ["reason"]}
    text_output = run_in("diff", "window.policy", "retitled.policy", "--scenarios",
                         "scenarios").stdout
    assert "policy title: Refunds for parcels that never arrived -> Refunds: lost parcels" \
        in text_output
