"""The symbolic diff without noise: exact changes first, impossible ones dropped and counted.

The cases in tests/cases/symbolic_diff/ are pairs of policies (`old.policy`, `new.policy`) with
the scenarios that existed beside them and an `expect.yaml` naming every change the diff must
list, how each is confirmed, and how many changes over contradictory conditions it drops. Every
witness is evaluated on both versions here, so a change confirmed by anything but the facts
fails.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine import Policy
from policy_engine.analysis import differences
from policy_engine.analysis.budget import Budget
from policy_engine.analysis.partition import Outcome, analyse, locate
from policy_engine.analysis.symbolic_diff import Change, compare, render_changes
from policy_engine.analysis.witnesses import observe
from policy_engine.cli import cli
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.facts.validation import FactStage
from policy_engine.scenarios.existing import read_scenarios
from tests.analysis.generated import pairs
from tests.helpers.examples import examples
from tests.helpers.json_output import parsed
from tests.helpers.strategies import constants_of, fact_sets, random_policies, scenario_facts

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "tests" / "cases" / "symbolic_diff"
WITHDRAWAL = CASES / "withdrawal_deadline"


def _case_ids() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir())


def _load(case: str) -> tuple[Policy, Policy, dict[str, Any]]:
    folder = CASES / case
    expected: dict[str, Any] = yaml.safe_load((folder / "expect.yaml").read_text())
    return (Policy.load(str(folder / "old.policy")), Policy.load(str(folder / "new.policy")),
            expected)


def _confirmed_by_evaluation(old: Policy, new: Policy, change: Change) -> None:
    """Both versions give the change's outcomes on its witness (the analysis names every stop
    of evaluation, a missing fact or a date off the calendar, as one kind of error)."""
    assert change.witness is not None
    for policy, wanted in ((old, change.old), (new, change.new)):
        seen = observe(policy.checked, change.witness.facts)
        assert (seen.kind == "error" if wanted.kind == "error"
                else seen.same_result(wanted)), (change.headline(), seen)


@pytest.mark.parametrize("case", _case_ids())
def test_every_change_listed_is_real_and_the_impossible_ones_are_counted(case: str) -> None:
    old, new, expected = _load(case)
    scenarios, unreadable = read_scenarios([str(CASES / case / "scenarios")])
    assert unreadable == []
    result = compare(old.checked, new.checked, scenarios=scenarios)
    assert result.incomplete == []
    listed = [{"change": c.headline(), "status": c.status,
               **({"scenario": Path(c.source).name} if c.source else {})}
              for c in result.changes]
    assert listed == expected["changes"]
    assert len(result.impossible) == expected["impossible"]
    for change in result.changes:
        if change.status == "confirmed":
            _confirmed_by_evaluation(old, new, change)


@pytest.mark.parametrize("case", _case_ids())
def test_without_scenarios_the_search_confirms_the_same_changes(case: str) -> None:
    old, new, expected = _load(case)
    result = compare(old.checked, new.checked)
    assert [(c.headline(), c.status) for c in result.changes] == [
        (item["change"], item["status"]) for item in expected["changes"]]
    assert all(c.source is None for c in result.changes)
    for change in result.changes:
        if change.status == "confirmed":
            _confirmed_by_evaluation(old, new, change)


def test_no_region_listed_contradicts_itself() -> None:
    """The noise the issue reported: `deadline < withdrawal_date and withdrawal_date <
    deadline` named as a region where the decision changes."""
    old, new, _ = _load("withdrawal_deadline")
    result = compare(old.checked, new.checked)
    for change in result.changes:
        for text in (change.common or "", *change.regions):
            assert not ("deadline < withdrawal_date" in text
                        and "withdrawal_date < deadline" in text
                        and "not (withdrawal_date < deadline)" not in text), text


# ---------------------------------------------------------------- command line


def test_the_command_lists_exact_changes_and_counts_the_dropped_ones() -> None:
    result = CliRunner().invoke(cli, ["diff", "--symbolic", str(WITHDRAWAL / "old.policy"),
                                      str(WITHDRAWAL / "new.policy")])
    assert result.exit_code == 0, result.output
    assert "approximate" not in result.output
    assert "5 changes" in result.output.splitlines()[0]
    assert "witness: scenario " in result.output  # the scenarios folder beside NEW
    assert ("7 changes over contradictory conditions dropped" in result.output)


def test_the_json_has_an_envelope_and_validates_against_its_schema() -> None:
    result = CliRunner().invoke(cli, ["diff", "--symbolic", "--format", "json",
                                      str(WITHDRAWAL / "old.policy"),
                                      str(WITHDRAWAL / "new.policy")])
    assert result.exit_code == 0, result.output
    data = parsed(result.output, "symbolic-diff")
    assert (data["format"], data["format_version"]) == ("policy-engine/symbolic-diff", 1)
    assert data["summary"]["changes"] == 5 and data["summary"]["impossible"] == 7
    by_change = {f"{c['old']} -> {c['new']}": c for c in data["changes"]}
    last_day = by_change["refund_after_return -> withdrawal_late"]
    assert last_day["status"] == "confirmed"
    assert last_day["witness"]["scenario"].endswith("on_the_last_day.yaml")


# ---------------------------------------------------------------- soundness


def _impossible_of(models: list[Any]) -> Any:
    return differences.of(models[0].space, models[0].translator.registry).impossible()


def _typed(policy: Policy, raw: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return dict(FactStage(policy.checked.facts).validate(raw, file="<facts>"))
    except DiagnosticError:
        return None


@pytest.mark.parametrize("case", _case_ids())
def test_no_fact_set_lies_in_an_impossible_region(case: str) -> None:
    old, new, _ = _load(case)
    models = analyse([old.checked, new.checked])
    impossible = _impossible_of(models)
    assert impossible  # each case has contradictory combinations
    strategy = fact_sets(old.checked.facts, constants_of(old.checked),
                         scenario_facts(CASES / case / "old.policy"))

    @given(raw=strategy)
    @settings(max_examples=examples(200), deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    def check(raw: dict[str, Any]) -> None:
        typed = _typed(old, raw)
        if typed is not None:
            point = locate(models[0], typed)
            assert not models[0].space.within(point, impossible.node), raw

    check()


@given(texts=st.tuples(random_policies(), random_policies()), data=st.data())
@settings(max_examples=examples(20), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
def test_every_change_the_facts_show_is_listed_on_random_policies(
        texts: tuple[str, str], data: st.DataObject) -> None:
    """Random policies compare facts with facts (`n + 5 < m`, `a <= b`): dropping what is
    impossible must never drop a change that some fact set shows, and no fact set lies in the
    impossible region."""
    try:
        old, new = (Policy.from_text(text, f"{name}.policy")
                    for text, name in zip(texts, ("old", "new"), strict=True))
    except DiagnosticError:
        return
    result = compare(old.checked, new.checked, Budget(300_000))  # a small one: kept quick
    if result.incomplete:
        return
    models = analyse([old.checked, new.checked])
    impossible = _impossible_of(models)
    strategy = fact_sets(old.checked.facts, constants_of(old.checked), ())
    for _ in range(8):
        raw = data.draw(strategy)
        typed = _typed(old, raw)
        if typed is None:
            continue
        assert not models[0].space.within(locate(models[0], typed), impossible.node), raw
        seen = observe(old.checked, raw), observe(new.checked, raw)
        if seen[0].same_result(seen[1]) or "crash" in (seen[0].kind, seen[1].kind) or (
                seen[0].kind == seen[1].kind == "error"):
            continue
        assert any(_same(seen[0], c.old) and _same(seen[1], c.new) for c in result.changes), (
            raw, seen, [c.headline() for c in result.changes])


def _same(seen: Outcome, listed: Outcome) -> bool:
    return seen.kind == "error" if listed.kind == "error" else seen.same_result(listed)


# ---------------------------------------------------------------- what is shown


def test_a_change_no_witness_confirms_is_shown_only_when_shown_possible(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a witness, a change whose conditions the relations decide exactly is
    `satisfiable` and shown, marked; the impossible ones stay dropped."""
    from policy_engine.analysis import symbolic_diff

    monkeypatch.setattr(symbolic_diff, "witness_for", lambda *args, **kwargs: (None, -1))
    old, new, expected = _load("partial_refund_amounts")
    result = compare(old.checked, new.checked)
    assert [c.status for c in result.changes] == ["satisfiable"] * len(expected["changes"])
    text = render_changes(result.changes, "old.policy", "new.policy",
                          impossible=result.impossible)
    assert text.count("(approximate: no witness found, but the declared facts and checks "
                      "allow it)") == len(expected["changes"])
    assert "1 change over contradictory conditions dropped: refund_requested -> review" in text


def test_a_change_nothing_confirms_or_shows_possible_is_named_on_one_line() -> None:
    """A rule left open (over its budget) in both versions: the changes it may make are
    neither confirmed nor shown possible, so they are named, not listed."""
    old = Policy.from_text(pairs(20), "old.policy").checked
    new = Policy.from_text(pairs(20).replace("(x0_19 and y0_19)", "(x0_19 and not y0_19)"),
                           "new.policy").checked
    result = compare(old, new)
    assert result.changes and {c.status for c in result.changes} == {"unconfirmed"}
    text = render_changes(result.changes, "old.policy", "new.policy",
                          incomplete=result.incomplete)
    assert text.startswith("old.policy -> new.policy: no change found, but the analysis is "
                           "incomplete")
    assert f"{len(result.changes)} more change" in text and "small -> big" in text
    assert "when " not in text  # their conditions are in the JSON only


def test_the_scenarios_option_chooses_the_witnesses(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copy(WITHDRAWAL / "scenarios" / "on_the_last_day.yaml", folder / "last.yaml")
    (folder / "last.yaml").write_text((folder / "last.yaml").read_text().replace(
        "../old.policy", str(WITHDRAWAL / "old.policy")))
    result = CliRunner().invoke(cli, [
        "--allow-outside", "diff", "--symbolic", "--format", "json", "--scenarios", str(folder),
        str(WITHDRAWAL / "old.policy"), str(WITHDRAWAL / "new.policy")])
    assert result.exit_code == 0, result.output
    data = parsed(result.stdout, "symbolic-diff")
    assert data["summary"]["scenarios"] == 1
    assert [c["witness"]["scenario"] for c in data["changes"] if c["witness"]["scenario"]] == [
        str(folder / "last.yaml")]


def test_an_unreadable_scenario_is_an_error_never_skipped(tmp_path: Path) -> None:
    for name in ("old.policy", "new.policy"):
        shutil.copy(WITHDRAWAL / name, tmp_path / name)
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "broken.yaml").write_text("facts: [unclosed\n")
    result = CliRunner().invoke(cli, ["--allow-outside", "diff", "--symbolic",
                                      str(tmp_path / "old.policy"),
                                      str(tmp_path / "new.policy")])
    assert result.exit_code == 2, result.output
    assert "broken.yaml" in result.output
    missing = CliRunner().invoke(cli, ["diff", "--symbolic", "--scenarios", "no/such/folder",
                                       str(WITHDRAWAL / "old.policy"),
                                       str(WITHDRAWAL / "new.policy")])
    assert missing.exit_code == 2 and "no/such/folder" in missing.output, missing.output


@pytest.mark.parametrize("steps", [2_000, 20_000, 60_000])
def test_a_small_budget_stops_the_comparison_with_w112_never_an_exception(steps: int) -> None:
    """Taking the impossible combinations out of a change is part of the change's item: over
    the budget there, the change is listed undescribed and W112 says so."""
    old, new, _ = _load("withdrawal_deadline")
    result = compare(old.checked, new.checked, Budget(steps))
    assert result.incomplete and {d.code for d in result.incomplete} == {"W112"}
    assert all(change.status != "confirmed" or change.witness is not None
               for change in result.changes)
