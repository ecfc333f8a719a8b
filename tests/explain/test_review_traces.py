"""Traces a reviewer can read: each refusal explained, no repetition, no double negatives.

Each test pins one complaint from a new author's trial of the review path: E402 named the two
rules but showed none of their conditions, a broken constraint showed no values, a derived
value's explanation was repeated in every line that read it (five times in the README's own
example), "did not apply: not in_time is false", derived values that no rule read were listed,
and the Markdown Values column repeated what the condition already showed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.explain.render import Report, render_markdown, render_text
from policy_engine.policy import Policy
from policy_engine.scenarios.runner import PolicyCache, run_scenario

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted((ROOT / "policies").glob("**/scenarios/**/*.yaml"))
_CACHE = PolicyCache()

DISCOUNTS = """policy discounts
fact member: yes/no
fact total: whole number at least 0
fact coupon: optional text
decision discount
output percent: whole number
define big = total >= 100
define unused = total * 2
ensure total < 100000 because "no order is that large"
rule members when member then discount with percent = 5 because "members"
rule big_orders when big and not coupon is present then discount with percent = 10
  because "big orders"
otherwise refuse
"""


def _text(policy: Policy, facts: dict[str, object]) -> str:
    return render_text([Report(policy.evaluate(facts))])


def test_conflicting_rules_show_both_conditions_with_values() -> None:
    policy = Policy.from_text(DISCOUNTS.replace("policy discounts",
                                                "policy discounts\nresolve unique"), "d.policy")
    shown = _text(policy, {"member": True, "total": 150})
    assert "refused:  E402" in shown
    assert "members (line 11): matched\n    holds  member   (member = yes)" in shown
    assert "big_orders (line 12): matched\n    holds  big   (big = yes)" in shown


def test_a_broken_constraint_shows_its_values() -> None:
    policy = Policy.from_text(DISCOUNTS, "d.policy")
    shown = _text(policy, {"member": False, "total": 100000})
    assert "broken constraints:\n  ensure total < 100000" in shown
    assert "(total = 100000)" in shown


def test_a_derived_value_is_explained_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the README's example
    result = run_scenario("policies/aliexpress/scenarios/never_arrived_after_50_days.yaml",
                          cache=_CACHE)
    shown = render_text([result.report()])
    assert shown.count("days_sent = 50 > 45") == 1
    assert shown.count("window_expired = yes") == 2  # where it is read, and its explanation


def test_derived_values_no_rule_read_are_left_out() -> None:
    policy = Policy.from_text(DISCOUNTS, "d.policy")
    shown = _text(policy, {"member": True, "total": 150})
    assert "unused" not in shown
    assert "big = yes" not in shown  # first match: big_orders was not reached


@pytest.mark.parametrize("scenario", SHIPPED, ids=[p.name for p in SHIPPED])
def test_no_shipped_explanation_says_is_false(scenario: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    try:
        result = run_scenario(str(scenario.relative_to(ROOT)), cache=_CACHE)
    except DiagnosticError:  # an invalid scenario has no explanation to phrase
        return
    shown = render_text([result.report()])
    assert not re.search(r"did not apply: .* is false", shown), shown
    assert "not reached: not " not in shown


def test_the_markdown_values_column_does_not_repeat_the_condition() -> None:
    policy = Policy.load(str(ROOT / "policies/examples/late_delivery.policy"))
    decision = policy.evaluate({"shipping": "express", "days_late": 0, "amount_paid": "59.00"})
    markdown = render_markdown([Report(decision)])
    assert "| ✅ | `days_late = 0 == 0` |  | 22 |" in markdown
