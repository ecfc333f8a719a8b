"""The engine's range: values beyond it are refused (E408) alike by both evaluators.

Dates run from 0001-01-01 to 9999-12-31, durations reach 999,999,999 days either way, whole
numbers have at most 4,300 digits, and amounts lie between 10^-4,300 and 10^4,300 in size (or
are 0). A calculation that leaves the range refuses to decide, naming the rule that needed it
and what went out of range, on the interpreter, the compiled code and the compiled hot-loop
function; the trace never fails on a value out of range that evaluation did not need. Public
holidays of years the `holidays` package does not cover refuse with E407.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping

import pytest

from policy_engine.evaluate.errors import EvaluationError
from policy_engine.explain.render import Report, render_markdown, render_text
from policy_engine.policy import Engine, Policy
from tests.helpers.evaluation import evaluation, typed_facts

ENGINES: list[Engine] = ["interpreted", "compiled"]

HEAD = """policy range
fact d: date
fact n: whole number
fact a: amount
decision yes
decision no
output k: whole number
output x: amount
output due: date
"""


@functools.cache
def policy_of(body: str) -> Policy:
    return Policy.from_text(HEAD + body, "t.policy")


def facts_of(**given: object) -> dict[str, object]:
    return {"d": "2024-01-31", "n": 1, "a": "1", **given}


def refused(body: str, facts: Mapping[str, object]) -> tuple[str, str, str | None]:
    """The refusal, the same on every way of deciding: (code, message, help)."""
    policy = policy_of(body)
    typed = typed_facts(policy, facts)
    found = set()
    for engine in ENGINES:
        with pytest.raises(EvaluationError) as caught:
            evaluation(policy, typed, engine)
        error = caught.value
        found.add((error.code, error.message, error.help))
        decision = policy.evaluate(facts, engine=engine)
        assert [(d.code, d.message, d.help) for d in decision.refusal] == [
            (error.code, error.message, error.help)]
    for hot in (policy.decider(), policy.decider(validated=True)):
        bare = hot(facts if hot is policy.decider() else typed)
        found.add(tuple((d.code, d.message, d.help) for d in bare.refusal)[0])
    assert len(found) == 1, found
    return found.pop()


def decided(body: str, facts: Mapping[str, object]) -> dict[str, object]:
    """The decision's JSON form, the same on both evaluators (trace included)."""
    policy = policy_of(body)
    shown = [policy.evaluate(facts, engine=engine).to_json() for engine in ENGINES]
    assert shown[0] == shown[1]
    assert not shown[0].get("refusal"), shown[0]
    json.dumps(shown[0])
    return shown[0]


RULE = 'rule r when {} then yes because "r"\notherwise no\n'


# ---------------------------------------------------------------- dates and durations


@pytest.mark.parametrize(("condition", "facts", "what", "help"), [
    ("d + 1 day > 2020-01-01", {"d": "9999-12-31"}, "a date after 9999-12-31",
     "the engine's dates run from 0001-01-01 to 9999-12-31; check the facts for a date or a "
     "number of days that is far off"),
    ("d - 1 day < 2020-01-01", {"d": "0001-01-01"}, "a date before 0001-01-01", None),
    ("1 week + d > 2020-01-01", {"d": "9999-12-30"}, "a date after 9999-12-31", None),
    ("d - n * 1 day < 2020-01-01", {"n": -(3 * 10**6)}, "a date after 9999-12-31", None),
    ("d + n * 1 day > 2020-01-01", {"n": 10**12}, "a duration of more than 999,999,999 days",
     "a duration is at most 999,999,999 days either way; check the facts for a value that is "
     "far too large"),
    ("d + 1 day * n > 2020-01-01", {"n": -(10**12)},
     "a duration of more than 999,999,999 days back", None),
    ("d + n * 1 day > 2020-01-01", {"n": 10**4000},
     "a duration of more than 999,999,999 days", None),
    ("(d - 0001-01-01) * n + 1 day > 1 day", {"n": 3000},
     "a duration of more than 999,999,999 days", None),
    ("(0001-01-01 - d) * n - 1 day < 1 day", {"n": 3000},
     "a duration of more than 999,999,999 days back", None),
])
def test_dates_and_durations_out_of_range(condition: str, facts: dict[str, object], what: str,
                                          help: str | None) -> None:
    code, message, shown_help = refused(RULE.format(condition), facts_of(**facts))
    assert (code, message) == ("E408", f"rule 'r' (t.policy:10) computes {what}, out of the "
                                       "engine's range")
    if help is not None:
        assert shown_help == help


def test_dates_at_the_edges_of_the_range_decide() -> None:
    body = RULE.format("d + n * 1 day == 9999-12-31 and d - 3652058 days == 0001-01-01")
    assert decided(body, facts_of(d="9999-12-31", n=0))["decision"] == "yes"
    longest = RULE.format("n * 1 day - 1 day == 999999998 days")
    assert decided(longest, facts_of(n=999_999_999))["decision"] == "yes"


# ---------------------------------------------------------------- whole numbers


def test_whole_numbers_growing_through_derived_values_are_refused() -> None:
    body = ("define n2 = n * n\ndefine n4 = n2 * n2\ndefine n8 = n4 * n4\n"
            + RULE.format("n8 > 0"))
    assert decided(body, facts_of(n=10**500))["decision"] == "yes"  # 4,001 digits
    code, message, help = refused(body, facts_of(n=10**540))
    assert (code, message, help) == (
        "E408", "rule 'r' (t.policy:13) computes a whole number of more than 4,300 digits, "
                "out of the engine's range",
        "whole numbers have at most 4,300 digits; check the facts for a value that is far too "
        "large")


@pytest.mark.parametrize("output", ["n * 10", "n + n * 9", "0 - n * 10 + 0", "n - (0 - n) * 9"])
def test_a_whole_number_output_has_at_most_4300_digits(output: str) -> None:
    body = f'rule r when yes then yes with k = {output} because "r"\n'
    shown = decided(body, facts_of(n=10**4299 - 1))  # the output has 4,300 digits: printable
    assert len(str(shown["outputs"]["k"]).lstrip("-")) == 4300
    assert refused(body, facts_of(n=10**4299))[0] == "E408"


# ---------------------------------------------------------------- amounts


def test_amounts_overflowing_through_derived_values_are_refused() -> None:
    squares = "".join(f"define a{i + 1} = a{i} * a{i}\n" for i in range(1, 9))
    body = "define a1 = a\n" + squares + RULE.format("a9 > 0")
    code, message, help = refused(body, facts_of(a="9" * 28))
    assert (code, message, help) == (
        "E408", "rule 'r' (t.policy:19) computes an amount of more than 4,300 digits before the "
                "decimal point, out of the engine's range",
        "amounts have at most 4,300 digits before the decimal point; check the facts for a "
        "value that is far too large")
    code, message, help = refused(body, facts_of(a="0." + "0" * 27 + "1"))
    assert message == ("rule 'r' (t.policy:19) computes an amount closer to zero than "
                       "10^-4,300, out of the engine's range")
    assert help == ("an amount other than 0 has a digit within 4,300 places of the decimal "
                    "point; check the facts for a value that is far too small")
    assert decided(body, facts_of(a="1.5"))["decision"] == "yes"


def test_rounding_an_exact_quotient_beyond_the_range_is_refused() -> None:
    # a * 99...9 keeps 28 digits (1E+4290); the quotient is exact, and rounded once.
    body = (f'rule r when yes then yes with x = round(a * {"9" * 4290} / 0.000001, 2) '
            'because "r"\n')
    assert refused(body, facts_of(a="1000000"))[0] == "E408"
    assert decided(body, facts_of(a="1"))["outputs"]["x"] == "1" + "0" * 4296 + ".00"


def test_an_amount_output_negated_to_the_edge() -> None:
    body = 'rule r when yes then yes with x = -(a * a) because "r"\n'
    assert decided(body, facts_of(a="-1.5"))["outputs"]["x"] == "-2.25"


# ---------------------------------------------------------------- where values are shown


def test_the_trace_does_not_fail_on_a_value_out_of_range_that_was_not_needed() -> None:
    # `huge` is out of range, but no rule that was evaluated read it: the trace must not fail
    # on it, and leaves it out (it lists only the derived values evaluation read).
    body = ("define huge = d + n * 1 day\n"
            'rule never when no and huge > d then yes because "never"\n'
            'rule near when n < 5 and huge > d then yes because "near"\n'
            'otherwise no because "default"\n')
    shown = decided(body, facts_of(n=10**12))
    assert shown["decision"] == "no"
    policy = policy_of(body)
    for engine in ENGINES:
        decision = policy.evaluate(facts_of(n=10**12), engine=engine)
        assert "huge" not in render_text([Report(decision)])
        assert "huge" not in render_markdown([Report(decision)])


def test_a_constraint_out_of_range_does_not_apply() -> None:
    # Like a division by zero: the `ensure` cannot be worked out, so it does not refuse; the
    # rule that needs the same value then refuses with E408.
    body = ("ensure d + n * 1 day > 2000-01-01\n"
            + RULE.format("d + n * 1 day > 2000-01-01"))
    assert refused(body, facts_of(n=10**10))[0] == "E408"
    assert decided(body, facts_of(n=10))["decision"] == "yes"


def test_an_advisory_out_of_range_refuses() -> None:
    body = ("output tips: list of text\n"
            'advise far when d + n * 1 day > 2020-01-01 then add "soon" to tips because "a"\n'
            'rule r when yes then yes because "r"\n')
    assert refused(body, facts_of(n=10**10))[1] == (
        "advisory 'far' (t.policy:11) computes a duration of more than 999,999,999 days, out "
        "of the engine's range")


# ---------------------------------------------------------------- holiday calendars

CALENDAR = """policy calendar
fact start: date
fact finish: date
fact country: text default "DE"
decision counted
output days: whole number
rule count when yes then counted with days = working days from start to finish calendar country
  because "count"
"""


def calendar_outcome(facts: dict[str, object]) -> set[tuple[str | None, str | None]]:
    policy = Policy.from_text(CALENDAR, "cal.policy")
    found = set()
    for engine in ENGINES:
        decision = policy.evaluate(facts, engine=engine)
        found.add((decision.refusal[0].message if decision.refused else None,
                   None if decision.refused else str(decision.outputs["days"])))
    return found


def test_years_the_holiday_calendar_covers_count_holidays() -> None:
    # Eleven weekdays, two of them public holidays: Good Friday and Easter Monday.
    assert calendar_outcome({"start": "2100-03-20", "finish": "2100-04-05"}) == {(None, "9")}


@pytest.mark.parametrize(("facts", "message"), [
    ({"start": "2100-12-20", "finish": "2101-01-05"},
     "the holidays package knows the public holidays of 'DE' for 1991 to 2100 only, not for "
     "2101"),
    ({"start": "1985-06-01", "finish": "1992-01-05"},
     "the holidays package knows the public holidays of 'DE' for 1991 to 2100 only, not for "
     "1985 to 1990"),
    ({"start": "2040-01-01", "finish": "2040-03-01", "country": "IN"},
     "the holidays package knows only some public holidays of 'IN' for 2040 (it says: "
     "'Requested Holidays are available only from 2001 to 2035.')"),
])
def test_years_the_holiday_calendar_does_not_cover_refuse(facts: dict[str, object],
                                                           message: str) -> None:
    # Holidays there would silently count as working days; the package may also warn. No
    # warning escapes (pytest turns warnings into errors) and both evaluators refuse alike.
    assert calendar_outcome(facts) == {(f"rule 'count' (line 7): {message}", None)}


def test_the_day_after_the_start_is_the_first_year_counted() -> None:
    # From 1990-12-31 the count starts on 1991-01-01, a year the calendar covers; and a count
    # of no days needs no year at all.
    assert calendar_outcome({"start": "1990-12-31", "finish": "1991-01-02"}) == {(None, "1")}
    assert calendar_outcome({"start": "1500-01-01", "finish": "1500-01-01"}) == {(None, "0")}
    assert calendar_outcome({"start": "1500-01-01", "finish": "1500-01-01", "country": "XX"}) \
        == {("rule 'count' (line 7): unknown holiday calendar 'XX'", None)}
