"""The analysis' budget: counted in steps where the work happens, spread over rules, reported.

Policies that blow up (tests/analysis/generated.py) are analysed with small budgets, so each
test runs in a fraction of a second; the budget's counters, the W112 findings and the rest of
the findings are the evidence. A hang guard (SIGALRM) turns a runaway analysis into a failure
instead of a stuck suite; it asserts nothing about speed.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from policy_engine import Policy
from policy_engine.analysis import budget as budget_module
from policy_engine.analysis.budget import DEFAULT_STEPS, Budget, OverBudget
from policy_engine.analysis.lint import LintReport, lint
from policy_engine.analysis.partition import analyse, predicted
from policy_engine.analysis.regions import Space
from policy_engine.analysis.symbolic_diff import compare, render_changes
from policy_engine.analysis.witnesses import matches, observe
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.facts.validation import FactStage
from tests.analysis.generated import chained_defines, pairs, simple_rules
from tests.helpers.paths import POLICY_FILES

ROOT = Path(__file__).resolve().parents[2]
CASES = sorted((ROOT / "tests" / "cases" / "analysis").glob("*/policy.policy"))


@contextmanager
def hang_guard(seconds: int = 120) -> Iterator[None]:
    """Fails the test if the block runs for `seconds` (a generous guard, not a measure)."""
    def stop(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"the analysis ran for over {seconds} s: the budget did not stop it")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _lint(text: str, steps: int) -> LintReport:
    with hang_guard():
        return lint(Policy.from_text(text, "generated.policy").checked, Budget(steps))


def _codes(report: LintReport) -> list[str]:
    return [f.code for f in report.findings]


def _messages(report: LintReport, code: str) -> list[str]:
    return [f.diagnostic.message for f in report.findings if f.code == code]


# ---------------------------------------------------------------- the meter


def test_an_item_stops_at_its_share_and_the_budget_goes_on() -> None:
    budget = Budget(1000)
    assert budget.share == 100
    with pytest.raises(OverBudget) as over, budget.item():
        budget.charge(100)  # exactly the share is allowed
        budget.charge(1)
    assert not over.value.whole and budget.exhausted is None
    with budget.item():
        budget.charge(100)  # the next item has a share of its own
    assert budget.spent == 201 and budget.largest_item == 101


def test_the_whole_budget_stops_everything_after_it() -> None:
    budget = Budget(1000)
    budget.charge(1000)
    with pytest.raises(OverBudget) as over:
        budget.charge(1)
    assert over.value.whole and budget.exhausted == "steps"
    with pytest.raises(OverBudget), budget.item():
        budget.charge(0)  # nothing more can be done, however small


def test_zero_means_no_limit_and_negative_is_refused() -> None:
    budget = Budget(0)
    with budget.item():
        budget.charge(10**12)
    assert budget.exhausted is None
    with pytest.raises(ValueError):
        Budget(-1)
    assert Budget.from_options(None).steps == DEFAULT_STEPS
    assert Budget.from_options(7).steps == 7


def test_the_time_limit_is_a_backstop_read_from_the_clock(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    now = [100.0]
    monkeypatch.setattr("policy_engine.analysis.budget.time.monotonic", lambda: now[0])
    budget = Budget(0, seconds=5)
    budget.charge(budget_module.CLOCK_EVERY + 1)  # the clock is read: time is left
    assert budget.exhausted is None
    now[0] = 106.0
    with pytest.raises(OverBudget) as over:
        budget.charge(budget_module.CLOCK_EVERY + 1)
    assert over.value.whole and budget.exhausted == "time"


def test_rollback_gives_back_the_nodes_of_a_failed_item() -> None:
    policy = Policy.from_text(pairs(8), "pairs.policy").checked
    model, = analyse([policy], Budget(0))
    space: Space = model.space
    valid = list(model.valid.cubes())
    mark = space.node_count
    corner = space.restrict(("fact", "size"), 1)  # a region no step of the partition made
    extra = model.formula_region(model.conditions[0].true) - corner
    cubes = list(extra.cubes())
    assert space.node_count > mark and extra.node >= mark
    space.rollback(mark)
    assert space.node_count == mark and space.peak_nodes > mark
    # the older regions are whole, and the same work gives the same region again
    assert list(model.valid.cubes()) == valid
    again = model.formula_region(model.conditions[0].true) - space.restrict(("fact", "size"), 1)
    assert list(again.cubes()) == cubes


# ---------------------------------------------------------------- within the budget


@pytest.mark.parametrize("path", [*POLICY_FILES, *CASES],
                         ids=[f"{p.parent.name}/{p.name}" for p in [*POLICY_FILES, *CASES]])
def test_a_policy_that_fits_gets_the_same_findings_as_without_a_limit(path: Path) -> None:
    checked = Policy.load(str(path)).checked
    with hang_guard():
        limited, unlimited = lint(checked), lint(checked, Budget(0))
    assert limited.complete and limited.budget.spent <= DEFAULT_STEPS
    assert limited.budget.largest_item <= limited.budget.share
    shown = [(f.diagnostic.render(), f.witness) for f in limited.findings]
    assert shown == [(f.diagnostic.render(), f.witness) for f in unlimited.findings]


def test_a_rule_that_blows_up_does_not_starve_the_others() -> None:
    report = _lint(pairs(20), DEFAULT_STEPS)
    assert _messages(report, "W112") == [
        "analysis incomplete: rule 'pairs0' is over its share of the budget (500,000 steps)"]
    # the rules after it are still analysed: a shadowed rule is found, with its witness
    shadowed, = [f for f in report.findings if f.code == "W103"]
    assert "'large_again' never decides" in shadowed.diagnostic.message
    assert shadowed.witness is not None
    assert observe(report.policy, shadowed.witness.facts).rule == "large"
    # the gap is described with the rule left open, and confirmed by evaluation
    gap, = [f for f in report.findings if f.code == "N107"]
    assert "note: when size <= 50 and rule 'pairs0' does not apply" in gap.diagnostic.render()
    assert gap.witness is not None
    # work and memory stay within the budget: every node was paid for in steps
    assert report.budget.spent <= DEFAULT_STEPS
    assert report.budget.largest_item <= report.budget.share + 100
    assert report.nodes * 6 <= report.budget.spent


def test_declaring_each_fact_beside_its_pair_fits_in_the_budget() -> None:
    report = _lint(pairs(20, fixed_order=True), DEFAULT_STEPS)
    assert report.complete, _messages(report, "W112")
    assert "W103" in _codes(report)


def test_a_chain_of_derived_values_is_cut_at_the_value_its_rule_reads() -> None:
    small = _lint(chained_defines(7), DEFAULT_STEPS)  # the trial's 11 lines
    assert small.complete and small.budget.spent < DEFAULT_STEPS // 10
    deep = _lint(chained_defines(20), DEFAULT_STEPS)
    stopped, = [f.diagnostic for f in deep.findings if f.code == "W112"]
    assert stopped.message == ("analysis incomplete: derived value 'e20' is over its share of "
                               "the budget (500,000 steps)")
    assert stopped.location()[1] == 22  # the line of `define e20`
    assert stopped.notes[0].startswith("read by rule 'r' (line 24): its outcome is left open")
    assert deep.budget.spent <= deep.budget.share + 200


def test_a_derived_value_too_large_for_any_share_is_not_tried_again() -> None:
    rules = "\n".join(f'rule r{k} when e16 > {k} then ok because "{k}"' for k in range(5))
    text = chained_defines(16).replace('rule r when e16 > 10 then ok because "high"', rules)
    report = _lint(text, 2_000_000)
    stopped, = [f.diagnostic for f in report.findings if f.code == "W112"]
    assert "derived value 'e16' is over its share" in stopped.message
    assert stopped.notes[0].startswith("read by rule 'r0' (line 20), rule 'r1' (line 21), "
                                       "rule 'r2' (line 22), rule 'r3' (line 23), rule 'r4' "
                                       "(line 24): their outcome is left open")
    # the first rule spends its share on e16; the others fail at once, spending nothing
    assert report.budget.spent < 2 * report.budget.share


def test_when_the_whole_budget_runs_out_the_rules_left_are_named() -> None:
    report = _lint(simple_rules(400), 100_000)
    message, = _messages(report, "W112")
    assert message.startswith("analysis incomplete: the policy is over the analysis budget "
                              "(100,000 steps) at rule 'r")
    stopped, = [f.diagnostic for f in report.findings if f.code == "W112"]
    left = int(stopped.notes[0].split(" rule")[0].replace(",", ""))
    at = int(message.rsplit("'r", 1)[1].split("'")[0])
    assert 0 < at < 400 and left == 401 - at  # the rules from there on, and the default
    assert stopped.location()[1] == at + 11  # the line of the rule it stopped at
    assert _codes(report) == ["W112"]  # no gap, conflict or stop was looked for
    assert 100_000 < report.budget.spent <= 100_000 + 2_000


def test_when_the_budget_runs_out_while_checking_the_checks_done_are_kept() -> None:
    text = simple_rules(400).replace("rule r20 when", "rule r20 when amount < 0 and")
    report = _lint(text, 200_000)
    assert "W101" in _codes(report)  # rule r20 was checked before the budget ran out
    message, = _messages(report, "W112")
    assert message.startswith("analysis incomplete: the policy is over the analysis budget "
                              "(200,000 steps) while checking rule 'r")


def test_a_search_over_its_share_is_reported_where_its_finding_would_be() -> None:
    from benchmarks.generate import generate_policy

    report = _lint(generate_policy(100), 1_000_000)
    message, = _messages(report, "W112")
    assert message == ("analysis incomplete: the search for facts that no rule decides is "
                       "over its share of the budget (100,000 steps)")
    assert "N107" not in _codes(report)  # the finding it could not finish is left out


def test_checks_of_a_rule_over_their_share_are_reported_for_that_rule() -> None:
    # The rule's outcome fits, but asking whether its conditions contradict each other
    # translates them again, one prefix at a time.
    conjuncts = " and ".join(f"(x{i} or y{i})" for i in range(14))
    text = (pairs(1).replace('rule large when', f'rule wide when {conjuncts} and size > 90 '
                             'and size < 10 then big because "never"\nrule large when')
            .replace("fact size:", "\n".join(f"fact x{i}: yes/no\nfact y{i}: yes/no"
                                              for i in range(14)) + "\nfact size:"))
    report = _lint(text, 60_000)
    assert any("rule 'wide'" in m for m in _messages(report, "W112")), _messages(report, "W112")


def test_a_constraint_over_its_share_is_left_open() -> None:
    report = _lint(_ENSURED, 2_000_000)
    stopped, = [f.diagnostic for f in report.findings if f.code == "W112"]
    assert stopped.message == ("analysis incomplete: derived value 'e16' is over its share of "
                               "the budget (200,000 steps)")
    assert stopped.notes[0].startswith("read by the ensure of line 19: its outcome is left open")
    assert "W101" not in _codes(report)  # rule r is analysed, and can apply
    assert report.budget.spent <= 2_000_000


def test_a_constraint_over_its_share_on_its_own_is_named() -> None:
    conditions = " or ".join(f"(x0_{i} and y0_{i})" for i in range(20))
    text = pairs(20).replace("decision big", f"ensure {conditions} else NO_PAIR\ndecision big")
    report = _lint(text, DEFAULT_STEPS)
    assert _messages(report, "W112")[0] == (
        "analysis incomplete: the ensure of line 43 is over its share of the budget "
        "(500,000 steps)")


# ---------------------------------------------------------------- still sound


def _agrees(policy: Policy, model: Any, raw: dict[str, Any]) -> None:
    try:
        typed = FactStage(policy.checked.facts).validate(raw, file="<facts>")
    except DiagnosticError:
        return
    seen, guess = observe(policy.checked, raw), predicted(model, typed)
    assert guess is not None, raw
    assert matches(seen, guess) or seen.kind == guess.kind == "error", (raw, seen, guess)


_ENSURED = chained_defines(16).replace(
    "decision ok", "ensure e16 > 5 else TOO_LOW\ndecision ok").replace(
    'rule r when e16 > 10 then ok because "high"', 'rule r when e0 > 10 then ok because "high"')
_OPEN = [("aliexpress-300k", (ROOT / "policies/aliexpress/refund.policy").read_text(), 300_000),
         ("aliexpress-340k", (ROOT / "policies/aliexpress/refund.policy").read_text(), 340_000),
         ("pairs", pairs(14, rules=2), 100_000),
         ("ensure", _ENSURED, 2_000_000)]


@pytest.mark.parametrize(("text", "steps"), [(t, s) for _, t, s in _OPEN],
                         ids=[name for name, _, _ in _OPEN])
def test_a_partition_with_outcomes_left_open_still_agrees_with_evaluation(text: str,
                                                                           steps: int) -> None:
    """Every fact set lies in the piece of the outcome evaluation gives, even where a rule's
    or a constraint's outcome is a free dimension: each outcome's region still holds its
    facts."""
    policy = Policy.from_text(text, "open.policy")
    with hang_guard():
        model, = analyse([policy.checked], Budget(steps))
    assert (model.unknown_rules or model.unknown_constraints) and model.stopped is None
    model.space.budget = Budget(0)  # reading the partition point by point is the test's work
    rng = random.Random(steps)
    infos = policy.checked.facts
    for _ in range(300):
        raw: dict[str, Any] = {}
        for info in infos:
            choice = _value(info.type, rng)
            if choice is not None and (not info.optional or rng.random() < 0.8):
                raw[info.name] = choice
        _agrees(policy, model, raw)


def _value(t: Any, rng: random.Random) -> Any:
    from policy_engine.check.types import (
        AmountType,
        BoolType,
        DateType,
        EnumType,
        ListType,
        WholeType,
    )

    if isinstance(t, EnumType):
        return rng.choice(t.values)
    if isinstance(t, BoolType):
        return rng.random() < 0.5
    if isinstance(t, WholeType):
        return rng.choice([-30, -1, 0, 1, 3, 5, 7, 10, 11, 15, 16, 30, 31, 45, 46, 60, 90, 400])
    if isinstance(t, AmountType):
        return rng.choice(["0", "1", "10", "50.5", "100", "1000"])
    if isinstance(t, DateType):
        return rng.choice(["2019-12-31", "2020-01-01", "2024-06-30", "2025-01-01"])
    if isinstance(t, ListType) and isinstance(t.element, EnumType):
        return rng.sample(t.element.values, rng.randint(0, min(2, len(t.element.values))))
    return None


# ---------------------------------------------------------------- symbolic diff


def test_a_rule_left_open_in_both_versions_is_not_a_change() -> None:
    old = Policy.from_text(pairs(20), "old.policy").checked
    new = Policy.from_text(pairs(20).replace("size > 60", "size > 70"), "new.policy").checked
    with hang_guard():
        result = compare(old, new)
    assert result.changes == []  # large_again never decides, in either version
    assert [d.message for d in result.incomplete] == [
        "analysis incomplete: rule 'pairs0' is over its share of the budget (500,000 steps)"] * 2
    text = render_changes(result.changes, "old.policy", "new.policy",
                          incomplete=result.incomplete)
    assert text.startswith("old.policy -> new.policy: no change found, but the analysis is "
                           "incomplete")
    assert "decide alike" not in text


def test_rules_left_open_in_versions_that_differ_are_told_apart() -> None:
    old = Policy.from_text(pairs(20), "old.policy").checked
    new = Policy.from_text(pairs(20).replace("(x0_19 and y0_19)", "(x0_19 and not y0_19)"),
                           "new.policy").checked
    with hang_guard():
        result = compare(old, new)
    assert len(result.incomplete) == 2 and result.changes
    assert all(change.approximate for change in result.changes)  # no witness can tell
    small_to_big, = [ch for ch in result.changes if ch.headline() == "small -> big"]
    assert small_to_big.regions == ("size <= 50 and rule 'pairs0' (old) does not apply and "
                                    "rule 'pairs0' (new) applies and does not stop",)


def test_a_real_change_next_to_a_rule_left_open_is_found_with_a_witness() -> None:
    old = Policy.from_text(pairs(20), "old.policy").checked
    new = Policy.from_text(pairs(20).replace("size > 50", "size > 55"), "new.policy").checked
    with hang_guard():
        result = compare(old, new)
    change, = result.changes
    assert change.headline() == "big -> small" and change.witness is not None
    assert change.witness.facts["size"] in range(51, 56)
    assert observe(old, change.witness.facts).name == "big"
    assert observe(new, change.witness.facts).name == "small"


def test_a_diff_over_the_whole_budget_says_so() -> None:
    old = Policy.from_text(simple_rules(300), "old.policy").checked
    new = Policy.from_text(simple_rules(300).replace("amount > 37 ", "amount > 38 "),
                           "new.policy").checked
    with hang_guard():
        result = compare(old, new, Budget(100_000))
    assert result.incomplete and result.incomplete[-1].code == "W112"
    assert "the policy is over the analysis budget (100,000 steps)" in \
        result.incomplete[-1].message
    assert result.budget.spent <= 100_000 + 2_000


def test_a_large_table_is_read_once_not_once_per_value(monkeypatch: pytest.MonkeyPatch) -> None:
    """Work that the budget does not count must grow with the policy, not with its square:
    a table's rows are indexed once for its lookups, not searched again for each value."""
    from policy_engine.check.checked import TableInfo

    n = 400
    rows = "\n".join(f"  v{i} = {i}" for i in range(n))
    text = (f"policy big_table\nfact key: one of {', '.join(f'v{i}' for i in range(n))}\n"
            f"decision ok\ntable t by key: whole number\n{rows}\n  default = 0\nend\n"
            'rule r when t for key > 5 then ok because "x"\notherwise ok because "y"\n')
    policy = Policy.from_text(text, "table.policy").checked
    searched: list[str] = []
    find = TableInfo.find
    monkeypatch.setattr(TableInfo, "find", lambda self, key, as_of: searched.append(key) or
                        find(self, key, as_of))
    with hang_guard():
        report = lint(policy)
    assert len(searched) < 10  # only where witnesses are evaluated, never once per value
    assert [f.diagnostic.message for f in report.findings if f.code == "W108"] == [
        "the default row of table 't' never applies: every value has a row"]
    assert report.complete  # rule r's 400 cases fit in its share
