"""Tests for facts.validation: the derived JSON Schema, fact validation, coercion and messages."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from policy_engine.check.checked import FactInfo
from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EmptyListType,
    EnumType,
    ListType,
    TextType,
    Type,
    Value,
    WholeType,
    to_json_value,
)
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.source import Span
from policy_engine.facts.conversion import convert_value
from policy_engine.facts.schema import fact_schema
from policy_engine.facts.validation import FactValidator
from policy_engine.scenarios.yaml_data import load_yaml
from tests.helpers.examples import examples


def fact(
    name: str,
    t: Type,
    *,
    optional: bool = False,
    default: Value | None = None,
    description: str | None = None,
) -> FactInfo:
    return FactInfo(name, t, optional=optional, default=default, description=description,
                    span=Span(0, 0))


FACTS = (
    fact("paid", BoolType(), description="whether the order was paid"),
    fact("days_since_sent", WholeType(minimum=0)),
    fact("total", AmountType(minimum=Decimal("0"), maximum=Decimal("1000.50"))),
    fact("method", EnumType(("card", "paypal", "transfer"))),
    fact("sent", DateType()),
    fact("note", TextType(), optional=True),
    fact("problems", ListType(EnumType(("late", "damaged"))), optional=True, default=()),
    fact("items", WholeType(minimum=1, maximum=99), optional=True, default=1),
)

VALID = {
    "paid": True,
    "days_since_sent": 3,
    "total": Decimal("10.50"),
    "method": "card",
    "sent": "2024-02-29",
}

VALIDATOR = FactValidator(FACTS, title="refund")


def check(text: str, validator: FactValidator = VALIDATOR) -> tuple[Diagnostic, ...]:
    """Validates the `facts:` mapping of a YAML text and returns the diagnostics."""
    document = load_yaml(text, "s.yaml")
    assert isinstance(document.data, dict)
    with pytest.raises(DiagnosticError) as caught:
        validator.validate(document.data["facts"], file="s.yaml", locate=document.locate)
    return caught.value.diagnostics


def scenario(**changes: str) -> str:
    """A valid facts YAML text with some lines replaced, added or (with '') removed."""
    lines = {
        "paid": "yes",
        "days_since_sent": "3",
        "total": "10.50",
        "method": "card",
        "sent": "2024-02-29",
    }
    lines.update(changes)
    body = "".join(f"  {name}: {value}\n" for name, value in lines.items() if value != "")
    return "facts:\n" + body


# ---------------------------------------------------------------- schema


def test_schema() -> None:
    assert fact_schema(FACTS, title="refund") == {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "refund",
        "type": "object",
        "properties": {
            "paid": {"type": "boolean", "description": "whether the order was paid"},
            "days_since_sent": {"type": "integer", "minimum": 0},
            "total": {
                "type": ["number", "string"],
                "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
                "minimum": 0,
                "maximum": 1000.5,
            },
            "method": {"type": "string", "enum": ["card", "paypal", "transfer"]},
            "sent": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            "note": {"type": "string"},
            "problems": {
                "type": "array",
                "items": {"type": "string", "enum": ["late", "damaged"]},
                "default": [],
            },
            "items": {"type": "integer", "minimum": 1, "maximum": 99, "default": 1},
        },
        "required": ["paid", "days_since_sent", "total", "method", "sent"],
        "additionalProperties": False,
    }


def test_schema_is_valid_json_and_deterministic() -> None:
    schema = fact_schema(FACTS)
    Draft202012Validator.check_schema(schema)
    assert "title" not in schema
    assert json.dumps(schema) == json.dumps(fact_schema(FACTS))
    assert list(schema["properties"]) == [info.name for info in FACTS]


def test_schema_defaults_are_json() -> None:
    facts = [
        fact("fee", AmountType(), optional=True, default=Decimal("2.50")),
        fact("since", DateType(), optional=True, default=datetime.date(2024, 1, 31)),
        fact("express", BoolType(), optional=True, default=False),
    ]
    properties = fact_schema(facts)["properties"]
    assert properties["fee"]["default"] == "2.50"
    assert properties["since"]["default"] == "2024-01-31"
    assert properties["express"]["default"] is False
    assert fact_schema(facts)["required"] == []


def test_validator_exposes_its_schema() -> None:
    assert VALIDATOR.schema == fact_schema(FACTS, title="refund")
    # No fact may be null, so the published schema allows null nowhere.
    assert "null" not in json.dumps(VALIDATOR.schema)


@pytest.mark.parametrize(("written", "fact", "line", "column", "help"), [
    ("null", "note", 7, 9, "leave the fact out to say it is not given"),
    ("~", "note", 7, 9, "leave the fact out to say it is not given"),
    ("# blank", "note", 7, 8, "leave the fact out to say it is not given"),
    ("# blank", "items", 7, 9, "leave the fact out to say it is not given; it then takes its "
                        "default, 1"),
    ("null", "paid", 2, 9, "'paid' is required: give it a value (yes/no); leave a fact out "
                           "only to say it is not given"),
])
def test_null_for_any_fact_is_refused_with_its_path(written: str, fact: str, line: int,
                                                    column: int, help: str) -> None:
    # A blank value (`note:`) is null in YAML too: it never quietly means "not given".
    document = load_yaml(scenario(**{fact: written}), "s.yaml")
    assert isinstance(document.data, dict)
    with pytest.raises(DiagnosticError) as caught:
        VALIDATOR.validate(document.data["facts"], file="s.yaml", locate=document.locate)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.path, diagnostic.line, diagnostic.column) == (
        "E314", f"$.facts.{fact}", line, column)
    assert diagnostic.message == f"'{fact}' is null: a fact has a value, or is left out"
    assert diagnostic.help == help


# ---------------------------------------------------------------- valid fact sets


def test_valid_facts_are_typed_and_defaults_filled() -> None:
    document = load_yaml(scenario(), "s.yaml")
    assert isinstance(document.data, dict)
    values = VALIDATOR.validate(document.data["facts"], file="s.yaml", locate=document.locate)
    assert values == {
        "paid": True,
        "days_since_sent": 3,
        "total": Decimal("10.50"),
        "method": "card",
        "sent": datetime.date(2024, 2, 29),
        "problems": (),
        "items": 1,
    }
    assert "note" not in values  # optional, no default, not given
    assert list(values) == ["paid", "days_since_sent", "total", "method", "sent", "problems",
                            "items"]


def test_lists_become_tuples() -> None:
    values = VALIDATOR.validate({**VALID, "problems": ["late", "damaged"]}, file="x")
    assert values["problems"] == ("late", "damaged")


def test_given_values_override_defaults() -> None:
    values = VALIDATOR.validate({**VALID, "items": 4, "note": "fragile"}, file="x")
    assert (values["items"], values["note"]) == (4, "fragile")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (10, Decimal("10")),
        (Decimal("0.1"), Decimal("0.1")),
        ("0.10", Decimal("0.10")),
        ("1000.50", Decimal("1000.50")),
        ("0", Decimal("0")),
    ],
)
def test_amount_forms(raw: object, expected: Decimal) -> None:
    value = VALIDATOR.validate({**VALID, "total": raw}, file="x")["total"]
    assert value == expected and isinstance(value, Decimal)
    assert str(value) == str(expected)


def test_python_callers_may_pass_dates_and_tuples() -> None:
    values = VALIDATOR.validate(
        {**VALID, "sent": datetime.date(2024, 1, 2), "problems": ("late",)}, file="x"
    )
    assert values["sent"] == datetime.date(2024, 1, 2)
    assert values["problems"] == ("late",)


# ---------------------------------------------------------------- problems


@pytest.mark.parametrize(
    ("changes", "code", "path", "line", "message", "help"),
    [
        pytest.param(
            {"metod": "card"}, "E305", "$.facts.metod", 7, "unknown fact 'metod'",
            "did you mean 'method'?",
            id="unknown-fact-did-you-mean",
        ),
        pytest.param(
            {"paid": "1"}, "E304", "$.facts.paid", 2, "expected yes/no, got 1", None,
            id="int-for-bool",
        ),
        pytest.param(
            {"days_since_sent": "yes"}, "E304", "$.facts.days_since_sent", 3,
            "expected a whole number at least 0, got yes", None,
            id="bool-for-whole",
        ),
        pytest.param(
            {"days_since_sent": "-3"}, "E304", "$.facts.days_since_sent", 3,
            "expected a whole number at least 0, got -3", None,
            id="whole-below-minimum",
        ),
        pytest.param(
            {"days_since_sent": "2.5"}, "E304", "$.facts.days_since_sent", 3,
            "expected a whole number at least 0, got 2.5", None,
            id="decimal-for-whole",
        ),
        pytest.param(
            {"days_since_sent": "three"}, "E304", "$.facts.days_since_sent", 3,
            "expected a whole number at least 0, got 'three'", None,
            id="text-for-whole",
        ),
        pytest.param(
            {"total": "yes"}, "E304", "$.facts.total", 4,
            "expected an amount from 0 to 1000.50, got yes", None,
            id="bool-for-amount",
        ),
        pytest.param(
            {"total": "1000.51"}, "E304", "$.facts.total", 4,
            "expected an amount from 0 to 1000.50, got 1000.51", None,
            id="amount-above-maximum",
        ),
        pytest.param(
            {"total": "'1000.51'"}, "E304", "$.facts.total", 4,
            "expected an amount from 0 to 1000.50, got '1000.51'", None,
            id="amount-string-above-maximum",
        ),
        pytest.param(
            {"total": "'-0.01'"}, "E304", "$.facts.total", 4,
            "expected an amount from 0 to 1000.50, got '-0.01'", None,
            id="amount-string-below-minimum",
        ),
        pytest.param(
            {"total": "12,50"}, "E304", "$.facts.total", 4,
            "expected an amount from 0 to 1000.50, got '12,50'",
            "write the amount as digits with an optional decimal point, like 12.50",
            id="amount-with-comma",
        ),
        pytest.param(
            {"method": "cash"}, "E304", "$.facts.method", 5,
            "expected one of card, paypal, transfer, got 'cash'", None,
            id="bad-enum",
        ),
        pytest.param(
            {"method": "paypall"}, "E304", "$.facts.method", 5,
            "expected one of card, paypal, transfer, got 'paypall'", "did you mean 'paypal'?",
            id="bad-enum-did-you-mean",
        ),
        pytest.param(
            {"method": "1"}, "E304", "$.facts.method", 5,
            "expected one of card, paypal, transfer, got 1",
            "YAML reads this as a number or yes/no; put the value in quotes",
            id="number-for-enum",
        ),
        pytest.param(
            {"sent": "2024-13-01"}, "E304", "$.facts.sent", 6,
            "expected a date YYYY-MM-DD, got '2024-13-01'", "there is no such day in the calendar",
            id="month-13",
        ),
        pytest.param(
            {"sent": "2023-02-29"}, "E304", "$.facts.sent", 6,
            "expected a date YYYY-MM-DD, got '2023-02-29'", "there is no such day in the calendar",
            id="not-a-leap-year",
        ),
        pytest.param(
            {"sent": "2024-2-1"}, "E304", "$.facts.sent", 6,
            "expected a date YYYY-MM-DD, got '2024-2-1'", None,
            id="short-date",
        ),
        pytest.param(
            {"sent": "'01/02/2024'"}, "E304", "$.facts.sent", 6,
            "expected a date YYYY-MM-DD, got '01/02/2024'",
            "write the date as YYYY-MM-DD, for example 2024-03-01 for 1 March 2024",
            id="slash-date",
        ),
        pytest.param(
            {"note": "12"}, "E304", "$.facts.note", 7, "expected text, got 12",
            "YAML reads this as a number or yes/no; put the value in quotes",
            id="number-for-text",
        ),
        pytest.param(
            {"paid": "~"}, "E314", "$.facts.paid", 2,
            "'paid' is null: a fact has a value, or is left out",
            "'paid' is required: give it a value (yes/no); leave a fact out only to say it "
            "is not given",
            id="null-required",
        ),
        pytest.param(
            {"problems": "late"}, "E304", "$.facts.problems", 7,
            "expected a list, each item one of late, damaged, got 'late'", None,
            id="scalar-for-list",
        ),
        pytest.param(
            {"problems": "[late, lost]"}, "E304", "$.facts.problems[1]", 7,
            "expected one of late, damaged, got 'lost'", None,
            id="bad-list-item",
        ),
        pytest.param(
            {"problems": "[late, null]"}, "E304", "$.facts.problems[1]", 7,
            "expected one of late, damaged, got null", "lists cannot hold null; remove the item",
            id="null-list-item",
        ),
        pytest.param(
            {"items": "100"}, "E304", "$.facts.items", 7,
            "expected a whole number from 1 to 99, got 100", None,
            id="whole-above-maximum",
        ),
    ],
)
def test_problem(
    changes: dict[str, str], code: str, path: str, line: int, message: str, help: str | None
) -> None:
    (diagnostic,) = check(scenario(**changes))
    assert (diagnostic.code, diagnostic.path, diagnostic.message) == (code, path, message)
    assert (diagnostic.file, diagnostic.line) == ("s.yaml", line)
    assert diagnostic.help == help


def test_required_fact_missing() -> None:
    (diagnostic,) = check(scenario(paid=""))
    assert diagnostic.code == "E306"
    assert diagnostic.message == "required fact 'paid' is missing"
    assert diagnostic.path == "$.facts.paid"
    assert diagnostic.help == "expected yes/no"
    assert (diagnostic.line, diagnostic.column) == (2, 3)  # where the facts mapping starts


def test_misspelt_fact_is_unknown_and_the_real_one_missing() -> None:
    diagnostics = check(scenario(days_since_sent="", day_since_sent="3"))
    assert [(d.code, d.path, d.line, d.message, d.help) for d in diagnostics] == [
        ("E305", "$.facts.day_since_sent", 6, "unknown fact 'day_since_sent'",
         "did you mean 'days_since_sent'?"),
        ("E306", "$.facts.days_since_sent", 2, "required fact 'days_since_sent' is missing",
         "expected a whole number at least 0"),
    ]


def test_unknown_fact_without_close_match_lists_declared_facts() -> None:
    (diagnostic,) = check(scenario(colour="red"))
    assert diagnostic.message == "unknown fact 'colour'"
    assert diagnostic.help == (
        "declared facts: paid, days_since_sent, total, method, sent, note, problems, items"
    )


def test_unknown_fact_when_none_are_declared() -> None:
    (diagnostic,) = check("facts:\n  paid: yes\n", FactValidator([]))
    assert diagnostic.help == "the policy declares no facts"


def test_all_problems_are_reported_sorted_by_path() -> None:
    diagnostics = check(
        scenario(paid="1", days_since_sent="", method="cash", sent="2024-02-30", extra="1")
    )
    assert [(d.code, d.path) for d in diagnostics] == [
        ("E306", "$.facts.days_since_sent"),
        ("E305", "$.facts.extra"),
        ("E304", "$.facts.method"),
        ("E304", "$.facts.paid"),
        ("E304", "$.facts.sent"),
    ]


def test_list_items_sort_numerically() -> None:
    items = ", ".join(["late"] * 10 + ["x", "late", "y"])
    diagnostics = check(scenario(problems=f"[{items}]"))
    assert [d.path for d in diagnostics] == ["$.facts.problems[10]", "$.facts.problems[12]"]


@pytest.mark.parametrize(
    ("data", "kind"), [([1, 2], "a list"), ("paid", "text"), (None, "null"), (3, "a number")]
)
def test_facts_must_be_a_mapping(data: object, kind: str) -> None:
    with pytest.raises(DiagnosticError) as caught:
        VALIDATOR.validate(data, file="s.yaml", locate=lambda path: (4, 2))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E304"
    assert diagnostic.message == f"facts must be a mapping of fact names to values, got {kind}"
    assert (diagnostic.path, diagnostic.line, diagnostic.column) == ("$.facts", 4, 2)


def test_prefix_changes_the_path() -> None:
    with pytest.raises(DiagnosticError) as caught:
        VALIDATOR.validate({**VALID, "paid": 1}, file="x.json", prefix=())
    assert caught.value.diagnostics[0].path == "$.paid"
    assert caught.value.diagnostics[0].line is None


@pytest.mark.parametrize(
    ("name", "raw", "message", "help"),
    [
        pytest.param(
            "total", 0.1,
            "expected an amount from 0 to 1000.50, got the floating-point number 0.1; "
            "use a decimal string or an exact number",
            "a float is inexact: 0.1 is really "
            "0.1000000000000000055511151231257827021181583404541015625",
            id="float-amount",
        ),
        pytest.param(
            "total", 2.5,
            "expected an amount from 0 to 1000.50, got the floating-point number 2.5; "
            "use a decimal string or an exact number",
            None,
            id="exact-float-amount",
        ),
        pytest.param(
            "days_since_sent", 3.0,
            "expected a whole number at least 0, got the floating-point number 3.0",
            "write a whole number without a decimal point",
            id="float-whole",
        ),
        pytest.param(
            "days_since_sent", True, "expected a whole number at least 0, got yes", None,
            id="true-is-not-one",
        ),
        pytest.param(
            "total", False, "expected an amount from 0 to 1000.50, got no", None,
            id="false-is-not-zero",
        ),
        pytest.param(
            "total", Decimal("NaN"), "expected an amount from 0 to 1000.50, got 'NaN'",
            "write the amount as digits with an optional decimal point, like 12.50",
            id="decimal-nan",
        ),
    ],
)
def test_python_values_rejected(name: str, raw: object, message: str, help: str | None) -> None:
    with pytest.raises(DiagnosticError) as caught:
        VALIDATOR.validate({**VALID, name: raw}, file="x")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.message, diagnostic.help) == ("E304", message, help)


def test_float_list_item_is_reported_at_its_index() -> None:
    validator = FactValidator([fact("fees", ListType(AmountType()))])
    with pytest.raises(DiagnosticError) as caught:
        validator.validate({"fees": [Decimal(1), 1.5]}, file="x")
    assert caught.value.diagnostics[0].path == "$.facts.fees[1]"


def test_rendered_unknown_fact() -> None:
    (diagnostic,) = check(scenario(day_since_sent="4"))
    assert diagnostic.render() == (
        "error[E305]: s.yaml:7:19: $.facts.day_since_sent: unknown fact 'day_since_sent'\n"
        "help: did you mean 'days_since_sent'?"
    )


# ---------------------------------------------------------------- convert_value


@pytest.mark.parametrize(
    ("t", "raw", "expected"),
    [
        (BoolType(), False, False),
        (WholeType(), -4, -4),
        (AmountType(), 3, Decimal(3)),
        (AmountType(), "-1.25", Decimal("-1.25")),
        (TextType(), "hi", "hi"),
        (DateType(), "2024-02-29", datetime.date(2024, 2, 29)),
        (DateType(), datetime.date(2024, 3, 1), datetime.date(2024, 3, 1)),
        (EnumType(("a", "b")), "b", "b"),
        (ListType(WholeType()), [1, 2], (1, 2)),
        (ListType(ListType(TextType())), [["a"], []], (("a",), ())),
        (EmptyListType(), [], ()),
    ],
)
def test_convert_value(t: Type, raw: object, expected: Value) -> None:
    value = convert_value(t, raw)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    ("t", "raw", "message"),
    [
        (BoolType(), "yes", "expected yes/no, got 'yes'"),
        (WholeType(maximum=5), 6, "expected a whole number at most 5, got 6"),
        (AmountType(minimum=Decimal("0.5")), "0.49", "expected an amount at least 0.5, got '0.49'"),
        (AmountType(), 0.5, "expected an amount, got the floating-point number 0.5; "
                            "use a decimal string or an exact number"),
        (TextType(), None, "expected text, got null"),
        (DateType(), datetime.datetime(2024, 1, 1), "expected a date YYYY-MM-DD, got datetime"),
        (EnumType(("a", "b")), "c", "expected one of a, b, got 'c'"),
        (ListType(WholeType()), [1, "x"], "expected a whole number, got 'x'"),
        (ListType(WholeType()), {"a": 1}, "expected a list, each item a whole number, "
                                          "got a mapping"),
        (EmptyListType(), [1], "expected an empty list, got a list of 1"),
        (BoolType(), "x" * 100, "expected yes/no, got '" + "x" * 37 + "...'"),
    ],
)
def test_convert_value_errors(t: Type, raw: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        convert_value(t, raw)
    assert str(caught.value) == message


_TYPED_VALUES: list[tuple[Type, st.SearchStrategy[Value]]] = [
    (BoolType(), st.booleans()),
    (WholeType(), st.integers()),
    # amounts are money: at most 28 significant digits (validation.AMOUNT_DIGITS)
    (AmountType(), st.decimals(min_value=-(10**20), max_value=10**20, allow_nan=False,
                               allow_infinity=False, places=3)),
    (TextType(), st.text()),
    (DateType(), st.dates()),
    (EnumType(("x", "y")), st.sampled_from(["x", "y"])),
    (ListType(DateType()), st.lists(st.dates()).map(tuple)),
]


@settings(max_examples=examples(200), deadline=None, database=None)
@given(st.sampled_from(range(len(_TYPED_VALUES))).flatmap(
    lambda index: st.tuples(st.just(_TYPED_VALUES[index][0]), _TYPED_VALUES[index][1])
))
def test_json_form_converts_back(case: tuple[Type, Value]) -> None:
    t, value = case
    assert convert_value(t, to_json_value(value)) == value
