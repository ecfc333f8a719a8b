"""Tests for scenarios.scenario_file: loading scenario files, their structure and diagnostics."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.check.checked import FactInfo
from policy_engine.check.types import BoolType, WholeType
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.source import Span
from policy_engine.facts.validation import FactValidator
from policy_engine.scenarios.scenario_file import (
    SCENARIO_SCHEMA,
    Expectation,
    load_scenario,
    plainly_valid,
)
from tests.helpers.examples import examples


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> str:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def problems(tmp_path: Path, text: str) -> tuple[Diagnostic, ...]:
    path = write(tmp_path, text)
    with pytest.raises(DiagnosticError) as caught:
        load_scenario(path)
    assert all(d.file == path for d in caught.value.diagnostics)
    return caught.value.diagnostics


FULL = """\
description: a late parcel is refunded
policy: ../policies/refund.policy
facts:
  paid: yes
  days_since_sent: 12
expect:
  decision: refund
  rule: late-parcel
  outputs:
    amount: 10.50
    note: sorry
"""


def test_full_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, FULL, "scenarios/late.yaml")
    scenario = load_scenario(path)
    assert scenario.path == path
    assert scenario.description == "a late parcel is refunded"
    assert scenario.policy == str(tmp_path / "policies" / "refund.policy")
    assert scenario.facts == {"paid": True, "days_since_sent": 12}
    assert scenario.expect == Expectation(
        decision="refund", rule="late-parcel", outputs={"amount": Decimal("10.50"), "note": "sorry"}
    )
    assert scenario.document.name == path
    assert scenario.document.locate(("facts", "days_since_sent")) == (5, 20)


def test_minimal_scenario(tmp_path: Path) -> None:
    scenario = load_scenario(write(tmp_path, "facts: {}\n"))
    assert (scenario.description, scenario.policy, scenario.expect) == (None, None, None)
    assert scenario.facts == {}


@pytest.mark.parametrize(
    ("expect", "expected"),
    [
        ("decision: refund", Expectation("refund", None, None)),
        ("rule: r1", Expectation(None, "r1", None)),
        ("outputs: {}", Expectation(None, None, {})),
    ],
)
def test_partial_expectations(tmp_path: Path, expect: str, expected: Expectation) -> None:
    scenario = load_scenario(write(tmp_path, f"facts: {{}}\nexpect:\n  {expect}\n"))
    assert scenario.expect == expected


@pytest.mark.parametrize(
    ("scenario_path", "policy", "expected"),
    [
        ("case.yaml", "refund.policy", "refund.policy"),
        ("scenarios/case.yaml", "../refund.policy", "refund.policy"),
        ("a/b/case.yaml", "./../p/./refund.policy", os.path.join("a", "p", "refund.policy")),
        ("case.yaml", "/abs/refund.policy", "/abs/refund.policy"),
    ],
)
def test_policy_path_is_relative_to_the_scenario(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario_path: str, policy: str,
    expected: str,
) -> None:
    write(tmp_path, f"policy: {policy}\nfacts: {{}}\n", scenario_path)
    monkeypatch.chdir(tmp_path)
    assert load_scenario(scenario_path).policy == expected
    absolute = load_scenario(str(tmp_path / scenario_path)).policy
    assert absolute == os.path.normpath(os.path.join(tmp_path, expected))


# ---------------------------------------------------------------- problems


@pytest.mark.parametrize(
    ("text", "path", "line", "message", "help"),
    [
        pytest.param(
            "facts: {}\nexpected:\n  decision: refund\n",
            "$.expected", 3, "unknown key 'expected'", "did you mean 'expect'?",
            id="unknown-key-did-you-mean",
        ),
        pytest.param(
            "facts: {}\nexpect:\n  decison: refund\n",
            "$.expect.decison", 3, "unknown key 'decison'", "did you mean 'decision'?",
            id="unknown-expect-key-did-you-mean",
        ),
        pytest.param(
            "facts: {}\nwhatever: 1\n",
            "$.whatever", 2, "unknown key 'whatever'",
            "allowed keys: description, policy, facts, expect",
            id="unknown-key-listed",
        ),
        pytest.param(
            "description: no facts here\n",
            "$.facts", 1, "missing 'facts': a scenario needs the facts to decide on", None,
            id="missing-facts",
        ),
        pytest.param(
            "facts:\n  - paid\n",
            "$.facts", 2, "'facts' must be a mapping of fact names to values, got a list", None,
            id="facts-is-a-list",
        ),
        pytest.param(
            "facts:\n",
            "$.facts", 1, "'facts' must be a mapping of fact names to values, got null",
            "give it a value or leave the key out",
            id="facts-is-null",
        ),
        pytest.param(
            "facts: {}\npolicy: 3\n",
            "$.policy", 2, "'policy' must be text (a file path), got a number",
            "YAML reads this as a number or yes/no; put the value in quotes",
            id="policy-is-a-number",
        ),
        pytest.param(
            "facts: {}\nexpect:\n  decision: no\n",
            "$.expect.decision", 3, "'decision' must be text (a decision name), got yes/no",
            "YAML reads this as a number or yes/no; put the value in quotes",
            id="decision-is-a-bool",
        ),
        pytest.param(
            "facts: {}\nexpect:\n  outputs: [1]\n",
            "$.expect.outputs", 3, "'outputs' must be a mapping of output names to values, "
            "got a list", None,
            id="outputs-is-a-list",
        ),
        pytest.param(
            "facts: {}\npolicy: ''\n",
            "$.policy", 2, "'policy' must not be empty", None,
            id="policy-is-empty",
        ),
        pytest.param(
            "facts: {}\nexpect: {}\n",
            "$.expect", 2,
            "'expect' needs at least one of 'decision', 'rule', 'outputs' or 'error'", None,
            id="empty-expect",
        ),
        pytest.param(
            "facts: {}\nexpect: refund\n",
            "$.expect", 2, "'expect' must be a mapping with 'decision', 'rule', 'outputs' or "
            "'error', got text", None,
            id="expect-is-text",
        ),
    ],
)
def test_problem(
    tmp_path: Path, text: str, path: str, line: int, message: str, help: str | None
) -> None:
    (diagnostic,) = problems(tmp_path, text)
    assert (diagnostic.code, diagnostic.path, diagnostic.line) == ("E303", path, line)
    assert (diagnostic.message, diagnostic.help) == (message, help)


def test_an_expectation_not_indented_under_expect_says_so(tmp_path: Path) -> None:
    # `expect:` with its lines at the top level: null, and keys the scenario does not know.
    decision, expect = problems(tmp_path, "facts: {}\nexpect:\ndecision: refund\n")
    assert (decision.path, decision.line) == ("$.decision", 3)
    assert decision.message == "'decision' belongs under 'expect:', but it is not indented under it"
    assert decision.help == ("indent the lines of the expectation under 'expect:', for example "
                             "by 2 spaces")
    assert (expect.path, expect.help) == ("$.expect",
                                          "indent the lines of the expectation under 'expect:'")
    (alone,) = problems(tmp_path, "facts: {}\nrule: R1\n")
    assert (alone.message, alone.help) == (
        "'rule' belongs under 'expect:'",
        "write 'expect:' on the line above and indent 'rule' under it")


@pytest.mark.parametrize(
    ("text", "kind"), [("- facts\n", "a list"), ("just text\n", "text"), ("~\n", "null")]
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str, kind: str) -> None:
    (diagnostic,) = problems(tmp_path, text)
    assert diagnostic.code == "E303"
    assert diagnostic.message == f"a scenario must be a mapping with 'facts', got {kind}"
    assert (diagnostic.path, diagnostic.line) == ("$", 1)


def test_all_problems_sorted_by_path(tmp_path: Path) -> None:
    diagnostics = problems(tmp_path, "expect: {}\nexpected: 1\ndescription: [x]\n")
    assert [d.path for d in diagnostics] == ["$.description", "$.expect", "$.expected",
                                             "$.facts"]


def test_rendered_unknown_key(tmp_path: Path) -> None:
    path = write(tmp_path, "facts: {}\nexpected:\n  decision: refund\n")
    with pytest.raises(DiagnosticError) as caught:
        load_scenario(path)
    assert caught.value.diagnostics[0].render() == (
        f"error[E303]: {path}:3:3: $.expected: unknown key 'expected'\n"
        "help: did you mean 'expect'?"
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "E303"),
        ("facts: {}\nfacts: {}\n", "E302"),
        ("facts: {a: !!binary aGk=}\n", "E302"),
        ("facts: {}\n---\nfacts: {}\n", "E302"),
    ],
)
def test_yaml_problems_come_through(tmp_path: Path, text: str, code: str) -> None:
    (diagnostic,) = problems(tmp_path, text)
    assert diagnostic.code == code


def test_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "absent.yaml")
    with pytest.raises(DiagnosticError) as caught:
        load_scenario(path)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.file) == ("E301", path)


def test_fact_problems_point_into_the_scenario_file(tmp_path: Path) -> None:
    path = write(tmp_path, "description: x\nfacts:\n  paid: yes\n  days: -1\n")
    scenario = load_scenario(path)
    validator = FactValidator([
        FactInfo("paid", BoolType(), optional=False, default=None, description=None,
                 span=Span(0, 0)),
        FactInfo("days", WholeType(minimum=0), optional=False, default=None, description=None,
                 span=Span(0, 0)),
    ])
    with pytest.raises(DiagnosticError) as caught:
        validator.validate(scenario.facts, file=scenario.path, locate=scenario.document.locate)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.file, diagnostic.line, diagnostic.column) == (path, 4, 9)
    assert diagnostic.path == "$.facts.days"
    assert diagnostic.message == "expected a whole number at least 0, got -1"


# ---------------------------------------------------------------- the quick structure check

_TEXTS = st.sampled_from(["", "refund", "E308", "x.policy"])
_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2, 2), _TEXTS,
                    st.just([]), st.just({}), st.just({"paid": True}))


def _mostly(valid: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """A value that is of the right kind three times in four."""
    return st.one_of(valid, valid, valid, _VALUES)


_NAME = st.sampled_from(["refund", "r1"])
def _sometimes_more(mapping: st.SearchStrategy[dict[str, object]]
                    ) -> st.SearchStrategy[dict[str, object]]:
    """A mapping that has an unknown key one time in four."""
    more = st.tuples(mapping, _VALUES).map(lambda pair: {**pair[0], "other": pair[1]})
    return st.one_of(mapping, mapping, mapping, more)


_EXPECT = _sometimes_more(st.fixed_dictionaries({}, optional={
    "decision": _mostly(_NAME), "rule": _mostly(_NAME), "error": _mostly(_TEXTS),
    "outputs": _mostly(st.just({"refund": "1.00"}))}))
#: Mostly well-formed scenarios, each key sometimes of the wrong kind, sometimes one too many.
_SCENARIOS = _sometimes_more(st.fixed_dictionaries(
    {"facts": _mostly(st.just({"paid": True}))},
    optional={"description": _mostly(_TEXTS), "policy": _mostly(_NAME),
              "expect": _mostly(_EXPECT)})) | _VALUES.filter(lambda v: isinstance(v, dict))


@settings(max_examples=examples(400), deadline=None, database=None)
@given(data=_SCENARIOS)
def test_the_quick_structure_check_agrees_with_the_schema(data: dict[str, object]) -> None:
    # Scenario files are checked against SCENARIO_SCHEMA only when the quick check is not
    # sure, so the quick check must accept exactly what the schema accepts.
    from jsonschema import Draft202012Validator

    valid = not list(Draft202012Validator(SCENARIO_SCHEMA).iter_errors(data))
    assert plainly_valid(data) == valid, data


@pytest.mark.parametrize("data", [
    {"facts": {}},
    {"facts": {"paid": True}, "description": "", "policy": "p.policy"},
    {"facts": {}, "expect": {"decision": "d"}},
    {"facts": {}, "expect": {"decision": "d", "rule": "r", "outputs": {}}},
    {"facts": {}, "expect": {"error": "E308"}},
    {"facts": {}, "expect": {"error": "E308", "rule": "r"}},
    {"facts": {}, "expect": {"outputs": {"x": 1}}},
], ids=str)
def test_well_formed_scenarios_are_plainly_valid(data: dict[str, object]) -> None:
    from jsonschema import Draft202012Validator

    assert not list(Draft202012Validator(SCENARIO_SCHEMA).iter_errors(data))
    assert plainly_valid(data)
