"""`and` and `or` mixed without parentheses: the checker warns (W007), and the conjunct, and so
the trace, shows the condition as the engine groups it.

The cases of the warning's wording are in tests/cases/check_warning/W007_*; here are where it
fires and where it must not, the grouped text for every shape of nesting, and the trace.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_engine.explain.trace import Trace
from policy_engine.policy import Policy
from tests.helpers.paths import POLICY_FILES, ROOT

HEAD = """policy p
fact a: yes/no
fact b: yes/no
fact c: yes/no
fact d: yes/no
fact x: yes/no
decision ok
decision no
"""


def _policy(condition: str) -> Policy:
    return Policy.from_text(HEAD + f'rule r when {condition} then ok because "r"\n'
                            "otherwise no\n", "p.policy")


def _mixed(policy: Policy) -> list[str]:
    return [w.help or "" for w in policy.warnings if w.code == "W007"]


@pytest.mark.parametrize(("condition", "grouped", "warnings"), [
    ("a and b or c or d", "(a and b) or c or d", 1),
    ("a or b and c", "a or (b and c)", 1),
    ("a and b or c and d or x", "(a and b) or (c and d) or x", 1),
    ("(a and b or c) or d", "((a and b) or c) or d", 1),
    ("x or (d or a and b)", "x or (d or (a and b))", 1),
    # A conjunct is shown without the parentheses around it, as the trace always showed it.
    ("a and (b or c and d)", "a and b or (c and d)", 1),
    ("(a) and b or c", "((a) and b) or c", 1),
    ("not a and b or c", "(not a and b) or c", 1),
    ("(a and b) or c", "(a and b) or c", 0),
    ("a or (b and c)", "a or (b and c)", 0),
    ("((a and b)) or c", "((a and b)) or c", 0),
    ("a and (b or c)", "a and b or c", 0),
    ("a and b and c", "a and b and c", 0),
    ("a or b or c", "a or b or c", 0),
    ("(a or b) or c and d", "(a or b) or (c and d)", 1),
    ("( a  and\n  b ) or c", "( a and b ) or c", 0),
    ("a and # a comment with a ( in it\n  b or c", "(a and # a comment with a ( in it b) or c",
     1),
])
def test_an_and_inside_an_or_without_parentheses_warns_and_is_shown_grouped(
        condition: str, grouped: str, warnings: int) -> None:
    policy = _policy(condition)
    conjuncts = policy.checked.rules[0].conjuncts  # split at the top-level `and`s
    assert " and ".join(k.grouped for k in conjuncts) == grouped
    if not warnings:
        assert all(k.grouped == k.text for k in conjuncts)  # nothing to add: as written
    helps = _mixed(policy)
    assert len(helps) == warnings
    assert all("'and' binds more tightly than 'or', so this reads as: " in h for h in helps)


def test_the_help_line_shows_the_grouping_of_the_or_it_points_at() -> None:
    (help_line,) = _mixed(_policy("a or (b or c and d)"))
    assert help_line == ("'and' binds more tightly than 'or', so this reads as: "
                         "b or (c and d); write the parentheses ('policy fmt' adds them)")


def test_every_conjunct_of_a_rule_is_grouped_on_its_own() -> None:
    policy = _policy("x and (a and b or c) and d")
    texts = [(k.text, k.grouped) for k in policy.checked.rules[0].conjuncts]
    assert texts == [("x", "x"), ("a and b or c", "(a and b) or c"), ("d", "d")]


@pytest.mark.parametrize("where", [
    "define e = a and b or c\nrule r when e then ok because \"r\"\n",
    "ensure a and b or c\nrule r when d then ok because \"r\"\n",
    "output flag: yes/no\nrule r when d then ok with flag = (a and b or c) because \"r\"\n",
    "rule r when if a and b or c then d else x then ok because \"r\"\n",
])
def test_the_warning_fires_wherever_a_condition_is_written(where: str) -> None:
    policy = Policy.from_text(HEAD + where + "otherwise no\n", "p.policy")
    assert len(_mixed(policy)) == 1


@pytest.mark.parametrize("engine", ["interpreted", "compiled"])
def test_the_trace_shows_the_condition_as_the_engine_grouped_it(engine: str) -> None:
    # The rule does not apply although its first comparison (a) is true: the reader sees why.
    policy = _policy("a and b or c or d")
    facts = {"a": True, "b": False, "c": False, "d": False, "x": False}
    decision = policy.evaluate(facts, engine=engine)  # type: ignore[arg-type]
    assert decision.rule == "otherwise"
    trace = decision.trace
    assert isinstance(trace, Trace)
    (check,) = next(rule for rule in trace.rules if rule.id == "r").checks
    assert (check.text, check.display, check.result) == (
        "(a and b) or c or d", "(a and b) or c or d", False)


@pytest.mark.parametrize("path", POLICY_FILES, ids=[str(p.relative_to(ROOT)) for p in POLICY_FILES])
def test_shipped_policies_have_no_checker_warnings(path: Path) -> None:
    assert [w.render() for w in Policy.load(str(path)).warnings] == []
