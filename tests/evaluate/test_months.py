"""Calendar months: month and year durations move a date on the calendar, with the end-of-month
rule, and are written, shown and refused the same way by every part of the engine.

The rule (docs/language.md, "Months and years"): a date plus N months is the same day of the
month N months later; when that month is too short for the day, it is the month's last day.
The evaluation cases are in tests/cases/semantics/months.yaml; here are the rule itself for
every date, how month durations read, print and format, and what the checker refuses.
"""

from __future__ import annotations

import calendar
import datetime
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.check.types import CalendarMonths, format_value, to_json_value
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.source import Source
from policy_engine.evaluate.arithmetic import shift_months
from policy_engine.evaluate.errors import OutOfRange
from policy_engine.language import nodes as n
from policy_engine.language.formatter import format_policy
from policy_engine.language.parser import fast_parse
from policy_engine.language.reference_parser import parse_policy as reference_parse
from policy_engine.policy import Policy
from tests.helpers.examples import examples

DAYS = st.dates(datetime.date(1, 1, 1), datetime.date(9999, 12, 31))


@settings(max_examples=examples(500), deadline=None)
@given(day=DAYS, months=st.integers(-130_000, 130_000))
def test_a_month_shift_keeps_the_day_or_takes_the_last_day_of_the_month(
        day: datetime.date, months: int) -> None:
    index = day.year * 12 + day.month - 1 + months
    year, month = index // 12, index % 12 + 1
    if not 1 <= year <= 9999:
        with pytest.raises(OutOfRange):
            shift_months(day, months)
        return
    shifted = shift_months(day, months)
    assert (shifted.year, shifted.month) == (year, month)
    assert shifted.day == min(day.day, calendar.monthrange(year, month)[1])


@settings(max_examples=examples(300), deadline=None)
@given(day=DAYS, first=st.integers(-2400, 2400), second=st.integers(-2400, 2400))
def test_shifts_add_up_for_days_every_month_has(day: datetime.date, first: int,
                                                second: int) -> None:
    # Up to the 28th no day is cut short, so two shifts are one; after it they may not be.
    day = day.replace(day=min(day.day, 28))
    try:
        once = shift_months(day, first + second)
        twice = shift_months(shift_months(day, first), second)
    except OutOfRange:
        return
    assert once == twice


@pytest.mark.parametrize(("day", "months", "expected"), [
    ("2024-01-31", 1, "2024-02-29"), ("2023-01-31", 1, "2023-02-28"),
    ("2024-02-29", 12, "2025-02-28"), ("2024-03-31", -1, "2024-02-29"),
    ("2024-02-29", -1, "2024-01-29"), ("2024-01-31", 2, "2024-03-31"),
    ("2024-05-31", 1, "2024-06-30"), ("2023-12-31", 2, "2024-02-29"),
    ("2000-02-29", 1200, "2100-02-28"), ("9999-11-30", 1, "9999-12-30"),
    ("0001-02-28", -1, "0001-01-28"),
])
def test_the_end_of_month_rule(day: str, months: int, expected: str) -> None:
    assert shift_months(datetime.date.fromisoformat(day), months).isoformat() == expected


@pytest.mark.parametrize(("day", "months"), [("9999-12-31", 1), ("0001-01-31", -1),
                                             ("5000-06-15", 119_988)])
def test_a_month_shift_off_the_calendar_is_out_of_range(day: str, months: int) -> None:
    with pytest.raises(OutOfRange) as caught:
        shift_months(datetime.date.fromisoformat(day), months)
    assert caught.value.what == ("a date after 9999-12-31" if months > 0
                                 else "a date before 0001-01-01")


def test_month_durations_print_and_convert_to_json() -> None:
    assert [format_value(CalendarMonths(k)) for k in (1, -1, 0, 12, 18)] == [
        "1 month", "-1 month", "0 months", "12 months", "18 months"]
    assert to_json_value(CalendarMonths(18)) == "P18M"
    assert CalendarMonths(12) == CalendarMonths(12) and CalendarMonths(11) < CalendarMonths(12)


# ---------------------------------------------------------------- reading and writing them

HEAD = "policy p\nfact d: date\nfact e: date\ndecision ok\n"


@pytest.mark.parametrize(("written", "months", "text"), [
    ("1 month", 1, "1 month"), ("12 months", 12, "12 months"), ("1 year", 12, "1 year"),
    ("2 years", 24, "2 years"), ("1 months", 1, "1 month"), ("3 year", 36, "3 years"),
    ("0 months", 0, "0 months"), ("9999 years", 119_988, "9999 years"),
])
def test_both_parsers_read_a_month_duration_alike(written: str, months: int,
                                                  text: str) -> None:
    policy = HEAD + f'rule r when d + {written} <= e then ok because "r"\n'
    fast = fast_parse(policy)
    reference = reference_parse(Source("p.policy", policy))
    assert fast == reference
    rule = reference.items[-1]
    assert isinstance(rule, n.Rule) and isinstance(rule.condition, n.Binary)
    assert isinstance(rule.condition.left, n.Binary)
    duration = rule.condition.left.right
    assert duration == n.Months(months, text)
    # The formatter writes the canonical text, which reads back to the same tree.
    formatted = format_policy(policy)
    assert f"d + {text} <= e" in formatted
    assert reference_parse(Source("p.policy", formatted)) == reference


@pytest.mark.parametrize(("condition", "code", "message"), [
    ("d + 10000 years > e", "E005",
     "a duration in months is at most 119,988 months (9,999 years)"),
    ("d + 119989 months > e", "E005",
     "a duration in months is at most 119,988 months (9,999 years)"),
    ("d + 1.5 years > e", "E005", "a duration is a whole number of years, not 1.5"),
    ("e - d > 1 month", "E201",
     "cannot compare a duration with a duration in months using '>'"),
    ("e - d == 1 month", "E201",
     "cannot compare a duration with a duration in months using '=='"),
    ("d + (1 month + 1 day) > e", "E203",
     "'+' cannot combine a duration in months and a duration"),
    ("1 year > 12", "E201",
     "cannot compare a duration in months with a whole number using '>'"),
    ("d - e > 1 month - 1 day", "E203",
     "'-' cannot combine a duration in months and a duration"),
    ("1 month * 1 month > 1 month", "E203",
     "'*' cannot combine a duration in months and a duration in months"),
    ("1 month / 2 > 1 month", "E203",
     "'/' cannot combine a duration in months and a whole number"),
    ("e - 1 month - d > 1 day", "", ""),
    ("min(1 month, 1 year) < max(2 years, 1 month) and 1 year between 1 month and 2 years",
     "", ""),
])
def test_the_checker_types_month_durations(condition: str, code: str, message: str) -> None:
    text = HEAD + f'rule r when {condition} then ok because "r"\n'
    if not code:
        Policy.from_text(text, "p.policy")
        return
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(text, "p.policy")
    found = [(d.code, d.message) for d in caught.value.diagnostics]
    assert (code, message) in found, found


@pytest.mark.parametrize(("condition", "help"), [
    ("e - d > 1 month", "compare the dates instead: e > d + 1 month"),
    ("e - d <= 2 years", "compare the dates instead: e <= d + 2 years"),
    ("1 year < e - d", "compare the dates instead: e > d + 1 year"),
    ("e - d >= 1 year + 1 month", "compare the dates instead: e >= d + (1 year + 1 month)"),
    ("(e - d) * 2 > 1 month", "so days and months do not mix; add each to a date and compare "
                              "dates, for example: ordered_on + 1 month + 10 days < as_of_date"),
])
def test_days_compared_with_months_say_why_and_what_to_write(condition: str, help: str) -> None:
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(HEAD + f'rule r when {condition} then ok because "r"\n', "p.policy")
    found = caught.value.diagnostics[0].help
    assert found is not None and found.startswith("a month has no fixed number of days")
    assert found.endswith(help)


@pytest.mark.parametrize("engine", ["interpreted", "compiled"])
def test_a_derived_month_duration_is_shown_in_the_trace(engine: str) -> None:
    policy = Policy.from_text(
        HEAD + "define window = 1 year + 6 months\n"
        'rule r when d + window >= e then ok because "r"\n', "p.policy")
    facts = {"d": "2024-01-31", "e": "2025-07-31"}
    decision = policy.evaluate(facts, engine=engine)  # type: ignore[arg-type]
    assert decision.decision == "ok"
    # In JSON as ISO 8601 (P18M); the layout of the trace around it is the renderers' business.
    assert '"P18M"' in json.dumps(decision.to_json())
