"""Tests for the checker: name resolution, types and warnings, pinned as rendered diagnostics.

Each tests/cases/check_error/<name>.policy fails to check with exactly the diagnostics in
<name>.expected (message, help and the underlined snippet); each
tests/cases/check_warning/<name>.policy checks, and `Policy.warnings` renders as its .expected.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from policy_engine.core.diagnostics import MAX_SHOWN, DiagnosticError, Severity, render_all
from policy_engine.policy import Policy
from tests.helpers.cases import assert_expected, case_files, case_ids, errors_of, orphans, read_case

CHECK_ERROR = case_files("check_error")
CHECK_WARNING = case_files("check_warning")

CHECKER_CODES = {f"E10{i}" for i in range(1, 10)} | {"E110"} | {f"E20{i}" for i in range(1, 9)}
WARNING_CODES = {"W001", "W002", "W003", "W004", "W007"}

HEAD = """policy orders
fact paid: amount at least 0
fact status: one of open, closed, archived
fact items: whole number at least 0
decision approve
decision deny
"""


def check_errors(text: str) -> tuple[str, ...]:
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(text, "t.policy")
    return tuple(d.code for d in caught.value.diagnostics)


# ---------------------------------------------------------------- data-driven cases


@pytest.mark.parametrize("path", CHECK_ERROR, ids=case_ids(CHECK_ERROR))
def test_check_error_case(path: Path) -> None:
    assert_expected(path, errors_of(path))


@pytest.mark.parametrize("path", CHECK_ERROR, ids=case_ids(CHECK_ERROR))
def test_check_error_case_is_named_for_its_first_code(path: Path) -> None:
    diagnostics = errors_of(path)
    assert all(d.severity is Severity.ERROR for d in diagnostics)
    named = re.match(r"([EW]\d{3})_", path.stem)
    if named:
        assert diagnostics[0].code == named.group(1)


@pytest.mark.parametrize("path", CHECK_WARNING, ids=case_ids(CHECK_WARNING))
def test_check_warning_case(path: Path) -> None:
    policy = Policy.from_text(read_case(path), path.name)
    assert all(d.severity is Severity.WARNING for d in policy.warnings)
    named = re.match(r"(W\d{3})_", path.stem)
    if named:
        assert [d.code for d in policy.warnings] == [named.group(1)]
    assert_expected(path, policy.warnings)


def test_case_folders_have_no_orphaned_expectations() -> None:
    assert orphans("check_error") == []
    assert orphans("check_warning") == []


def test_every_checker_code_has_a_case() -> None:
    codes = {d.code for path in CHECK_ERROR for d in errors_of(path)}
    assert CHECKER_CODES <= codes


def test_every_warning_code_has_a_case() -> None:
    codes = {d.code for path in CHECK_WARNING
             for d in Policy.from_text(read_case(path), path.name).warnings}
    assert WARNING_CODES <= codes


def test_several_errors_are_collected_in_source_order() -> None:
    path = next(p for p in CHECK_ERROR if p.stem == "several_errors_at_once")
    diagnostics = errors_of(path)
    assert len(diagnostics) >= 8
    assert len({d.code for d in diagnostics}) >= 6
    starts = [d.span.start for d in diagnostics if d.span is not None]
    assert starts == sorted(starts)


# ---------------------------------------------------------------- did you mean


@pytest.mark.parametrize(
    ("body", "code", "help_text"),
    [
        ('rule r when itemz > 1 then approve because "r"', "E101", "did you mean 'items'?"),
        ('rule r when status is clsoed then approve because "r"', "E102",
         "did you mean 'closed'?"),
        ('rule r when items > 1 then aprove because "r"', "E103", "did you mean 'approve'?"),
        ('rule r when items > 1 then approve because "r"\notherwise dney', "E103",
         "did you mean 'deny'?"),
    ],
    ids=["fact", "enum value", "decision", "otherwise decision"],
)
def test_did_you_mean(body: str, code: str, help_text: str) -> None:
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(HEAD + body, "t.policy")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == code
    assert diagnostic.help == help_text


def test_far_off_name_lists_what_is_declared_instead() -> None:
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(HEAD + 'rule r when zzz > 1 then approve because "r"', "t.policy")
    assert caught.value.diagnostics[0].help == "declared facts: items, paid, status"


def test_amount_compared_with_an_enumeration_value_names_the_owning_fact() -> None:
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(HEAD + 'rule r when paid == closed then approve because "r"', "t.policy")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E101"
    assert diagnostic.message == "'closed' is not a fact; it is a value of 'status'"
    assert diagnostic.help == "compare the fact with it: status is closed"


# ---------------------------------------------------------------- collecting and capping


def test_errors_are_capped_with_a_summary_line() -> None:
    rules = "\n".join(f'rule r{i} when unknown_{i} > 1 then approve because "r"'
                      for i in range(MAX_SHOWN + 7))
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(HEAD + rules, "t.policy")
    diagnostics = caught.value.diagnostics
    assert len(diagnostics) == MAX_SHOWN + 7
    rendered = render_all(diagnostics)
    assert rendered.count("error[E101]") == MAX_SHOWN
    assert rendered.endswith("\n\n... and 7 more")
    assert str(caught.value) == rendered


def test_warnings_are_not_reported_alongside_errors() -> None:
    # 'items' is unused and there is no otherwise, but an error hides those echoes.
    codes = check_errors(HEAD + 'decision hold\nrule r when paid > x then approve because "r"')
    assert codes == ("E101",)


def test_duplicate_rule_ids_point_at_the_second_and_name_the_first_line() -> None:
    text = HEAD + ('rule same when items > 1 then approve because "a"\n'
                   'rule other when items > 2 then approve because "b"\n'
                   'rule same when items > 3 then deny because "c"\n')
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(text, "t.policy")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E106"
    assert diagnostic.location() == ("t.policy", 9, 6)
    assert diagnostic.help is not None and "line 7" in diagnostic.help


def test_diagnostic_json_form_has_positions_and_text() -> None:
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(HEAD + 'rule r when itemz > 1 then approve because "r"', "t.policy")
    data = caught.value.diagnostics[0].to_json()
    assert data["code"] == "E101"
    assert data["severity"] == "error"
    assert (data["file"], data["line"], data["column"]) == ("t.policy", 7, 13)
    assert (data["end_line"], data["end_column"]) == (7, 18)
    assert data["message"] == "unknown fact 'itemz'"
    assert data["help"] == "did you mean 'items'?"
    json.dumps(data)


def test_a_policy_with_warnings_still_evaluates() -> None:
    policy = Policy.from_text(HEAD + 'rule r when paid > 10 then approve because "r"', "t.policy")
    assert {d.code for d in policy.warnings} >= {"W001", "W003"}
    assert policy.evaluate({"paid": "11", "status": "open", "items": 1}).decision == "approve"


# ---------------------------------------------------------------- known problems


def test_enumeration_list_literal_may_stand_on_the_left() -> None:
    text = HEAD + ("fact picks: list of one of a, b\n"
                   'rule r when [a] == picks and items > 0 and paid > 0 and status is open '
                   'then approve because "r"\notherwise deny')
    policy = Policy.from_text(text, "t.policy")  # no diagnostic: the list is read as values
    assert policy.warnings == []
    compare = policy.checked.rules[0].conjuncts[0].expr
    assert (type(compare).__name__, compare.op) == ("Compare", "==")  # type: ignore[attr-defined]
    left, right = compare.left, compare.right  # type: ignore[attr-defined]
    assert [item.value for item in left.items] == ["a"]  # the enumeration value `a`
    assert left.type == right.type  # a list of the picks' enumeration
    base = {"items": 1, "paid": "1", "status": "open"}
    for engine in ("interpreted", "compiled"):
        assert policy.evaluate({**base, "picks": ["a"]}, engine=engine).decision == "approve"
        assert policy.evaluate({**base, "picks": ["b"]}, engine=engine).decision == "deny"
        assert policy.evaluate({**base, "picks": ["a", "b"]}, engine=engine).decision == "deny"


LIST_FACT = "policy p\nfact picks: list of one of a, b\ndecision d\n"


@pytest.mark.parametrize("condition", ["a", "picks is a"])
def test_value_of_a_list_fact_suggests_contains(condition: str) -> None:
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(LIST_FACT + f'rule r when {condition} then d because "r"\notherwise d',
                         "t.policy")
    help_text = caught.value.diagnostics[0].help or ""
    assert "picks contains a" in help_text
