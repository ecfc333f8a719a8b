"""Messages that used to point the wrong way (issue 14) now name the fix; pinned here.

Syntax errors are always worded by the reference parser (the hand-written one hands it every
text it cannot read), so each case also checks that the fast parser declines the text.
"""

from __future__ import annotations

import pytest

from policy_engine import DiagnosticError, Policy
from policy_engine.language.parser import fast_parse

_HEAD = """policy p
fact ordered_on: date
fact price: amount at least 0
fact kind: one of standard, custom_made
decision ok
decision no
"""


def _first_problem(text: str) -> tuple[str, str | None]:
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(text, "p.policy")
    first = caught.value.diagnostics[0]
    return first.code, first.help


@pytest.mark.parametrize(("condition", "code", "help"), [
    ('ordered_on >= "2024-01-01"', "E203",
     'drop the quotes: 2024-01-01 is a date, but "2024-01-01" in quotes is text'),
    ('price < "10.50"', "E203",
     'drop the quotes: 10.50 is a number, but "10.50" in quotes is text'),
    ('ordered_on == "2024-01-01"', "E201",
     'drop the quotes: 2024-01-01 is a date, but "2024-01-01" in quotes is text'),
    # Text that does not read as a date or number keeps the general help.
    ('ordered_on >= "soon"', "E203", "use 'is' or '==' to compare values that have no order"),
    ("ordered_on >= 01.03.2024", "E002",
     "write dates as YYYY-MM-DD: if 01.03.2024 is 1 March 2024, write 2024-03-01"),
    ("ordered_on >= 2024.03.01", "E002",
     "write dates as YYYY-MM-DD: if 2024.03.01 is 1 March 2024, write 2024-03-01"),
    ("ordered_on >= 31.13.2024", "E002", "write dates as YYYY-MM-DD, for example 2024-03-01"),
    ("ordered_on >= 01/03/2024", "E209",
     "write dates as YYYY-MM-DD, for example 2024-03-01: 01/03/2024 reads as a division"),
])
def test_condition_gets_a_help_that_names_the_fix(condition: str, code: str,
                                                  help: str) -> None:
    text = _HEAD + f'rule r when {condition} then ok because "x"\notherwise no because "y"\n'
    assert _first_problem(text) == (code, help)
    if code[:2] == "E0":
        assert fast_parse(text) is None  # the fast parser leaves syntax errors to Lark


_DASHED = "names join their words with '_', not '-': write {} ('-' is always a minus)"


@pytest.mark.parametrize(("policy", "code", "joined"), [
    (_HEAD.replace("custom_made", "custom-made") + "otherwise no", "E001", "custom_made"),
    (_HEAD + 'rule r when kind is custom-made then ok because "x"\notherwise no', "E001",
     "custom_made"),
    (_HEAD.replace("fact price", "fact unit-price") + "otherwise no", "E001", "unit_price"),
    # Where a minus can stand, the two halves are unknown names.
    (_HEAD + 'rule r when price > base-fee then ok because "x"\notherwise no', "E101",
     "base_fee"),
])
def test_a_dashed_name_gets_the_underscore_hint(policy: str, code: str, joined: str) -> None:
    assert _first_problem(policy + ' because "y"\n') == (code, _DASHED.format(joined))


def test_a_real_subtraction_keeps_its_help() -> None:
    text = _HEAD + 'rule r when price > price - fee then ok because "x"\notherwise no because "y"\n'
    code, help = _first_problem(text)
    assert code == "E101" and help is not None and "'_'" not in help


@pytest.mark.parametrize("condition", ["ordered_on + 12 months < 2025-01-01",
                                       "ordered_on + 1 year < 2025-01-01",
                                       "ordered_on < 2025-01-01 - 2 years"])
def test_month_and_year_durations_parse_on_both_parsers(condition: str) -> None:
    # They used to stop at "unexpected 'months'" with a list of top-level keywords.
    text = _HEAD + f'rule r when {condition} then ok because "x"\notherwise no because "y"\n'
    assert fast_parse(text) is not None
    Policy.from_text(text, "p.policy")


@pytest.mark.parametrize(("written", "unit"), [("12 monts", "months"), ("1 yr", "year"),
                                               ("3 dys", "days"), ("2 weks", "weeks")])
def test_a_misspelled_unit_gets_did_you_mean(written: str, unit: str) -> None:
    text = (_HEAD + f'rule r when ordered_on + {written} < 2025-01-01 then ok because "x"\n'
            'otherwise no because "y"\n')
    assert _first_problem(text) == (
        "E001", f"did you mean '{unit}'? a duration is a whole number and a unit: days, weeks, "
                "months or years")
    assert fast_parse(text) is None
