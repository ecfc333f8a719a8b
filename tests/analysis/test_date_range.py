"""Date arithmetic at the ends of the calendar: the analysis stops where evaluation stops.

A date moved by a number of days can fall before 0001-01-01 or after 9999-12-31, where
evaluation refuses with E408. The analysis must find the same facts, as an error outcome,
and never raise: these policies once made `policy lint` exit with an internal error.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine import Policy
from policy_engine.analysis.lint import lint
from policy_engine.analysis.partition import Outcome, analyse, predicted
from policy_engine.analysis.witnesses import WitnessFinder, observe
from policy_engine.cli import cli

HEAD = "policy calendar\nfact d: date\ndecision ok\ndecision other\n"


def _text(condition: str) -> str:
    return f'{HEAD}rule r when {condition} then ok because "r"\notherwise other because "else"\n'


def _policy(condition: str) -> Policy:
    return Policy.from_text(_text(condition), "calendar.policy")


def _predicted(policy: Policy, day: datetime.date) -> Outcome | None:
    model, = analyse([policy.checked])
    return predicted(model, {"d": day})


@pytest.mark.parametrize("condition", ["d < 9999-12-31 + 1 day", "d - 3000000 days < 2020-01-01",
                                       "d > 0001-01-01 - 1 day", "d + 30 days > 2024-01-01",
                                       "(d + 5000 days) - 5000 days > 2024-01-01"])
def test_lint_on_dates_out_of_the_calendar_exits_normally(tmp_path: Path,
                                                          condition: str) -> None:
    path = tmp_path / "calendar.policy"
    path.write_text(_text(condition), encoding="utf-8")
    for command in ("lint", "check"):
        result = CliRunner().invoke(cli, [command, str(path)])
        assert result.exit_code in (0, 1), result.output  # never 4, an internal error
        assert "internal error" not in result.output


def test_a_constant_out_of_the_calendar_stops_every_evaluation() -> None:
    policy = _policy("d < 9999-12-31 + 1 day")
    assert _predicted(policy, datetime.date(2024, 1, 1)) == Outcome("error", "E401", "r")
    codes = {f.code: f for f in lint(policy.checked).findings}
    assert "can never apply" in codes["W101"].diagnostic.message
    stops = codes["W106"]
    assert stops.diagnostic.message == ("rule 'r' can stop without a decision: a value it "
                                        "computes can be out of the engine's range (E408)")
    assert stops.witness is not None and stops.witness.expect == {"error": "E408"}
    assert observe(policy.checked, stops.witness.facts).name == "E408"


def test_a_date_shifted_back_stops_exactly_where_evaluation_stops() -> None:
    policy = _policy("d - 3000000 days < 2020-01-01")
    first_fine = datetime.date.min + datetime.timedelta(days=3_000_000)
    assert first_fine == datetime.date(8214, 9, 22)
    for day, expected in ((datetime.date(2024, 1, 1), Outcome("error", "E401", "r")),
                          (first_fine - datetime.timedelta(days=1), Outcome("error", "E401", "r")),
                          (first_fine, Outcome("decision", "ok", "r")),
                          (datetime.date.max, Outcome("decision", "ok", "r"))):
        assert _predicted(policy, day) == expected, day
        seen = observe(policy.checked, {"d": day.isoformat()})
        assert (seen.kind, seen.rule) == (expected.kind, expected.rule), (day, seen)
    stops, = [f for f in lint(policy.checked).findings if f.code == "W106"]
    assert "note: when d < 8214-09-22" in stops.diagnostic.render()


def test_a_date_shifted_forward_stops_only_at_the_end_of_the_calendar() -> None:
    policy = _policy("d + 30 days > 2024-01-01")
    last_fine = datetime.date.max - datetime.timedelta(days=30)
    assert _predicted(policy, last_fine) == Outcome("decision", "ok", "r")
    assert _predicted(policy, last_fine + datetime.timedelta(days=1)) == Outcome(
        "error", "E401", "r")
    assert _predicted(policy, datetime.date(2023, 12, 1)) == Outcome("decision", "other",
                                                                     "otherwise")
    ensured = Policy.from_text(_text("d + 30 days > 2024-01-01").replace(
        "decision ok", "ensure d < 9000-01-01\ndecision ok"), "ensured.policy")
    assert "W106" not in [f.code for f in lint(ensured.checked).findings]


def test_an_intermediate_date_out_of_the_calendar_stops_too() -> None:
    policy = _policy("(d + 5000 days) - 5000 days > 2024-01-01")
    near_end = datetime.date.max - datetime.timedelta(days=100)
    assert _predicted(policy, near_end) == Outcome("error", "E401", "r")
    assert observe(policy.checked, {"d": near_end.isoformat()}).name == "E408"


def test_constant_dates_and_durations_are_computed_as_evaluation_computes_them() -> None:
    # a date minus a date is a number of days; a duration plus a duration adds up
    always = _policy("2020-03-01 - 2020-01-01 == 60 days and 45 days + 1 day == 46 days")
    assert "W101" not in [f.code for f in lint(always.checked).findings]
    assert _predicted(always, datetime.date(2024, 1, 1)) == Outcome("decision", "ok", "r")
    never = _policy("45 days + 1 day == 45 days")
    assert "W101" in [f.code for f in lint(never.checked).findings]
    relative = _policy("d - 2020-01-01 > 30 days")
    assert {f.code for f in lint(relative.checked).findings} <= {"N107", "N111"}


def test_witness_candidates_near_the_ends_of_the_calendar_stay_in_it() -> None:
    for condition in ("d < 0001-01-04 and days_between(d, 2020-01-01) > 3",
                      "d > 9999-12-29 and days_between(2020-01-01, d) > 3"):
        model, = analyse([_policy(condition).checked])
        finder = WitnessFinder([model])
        dimension = model.space.dimensions[model.space.index[("fact", "d")]]
        values = finder._values(dimension, dimension.full, "d", many=True)
        days = [datetime.date.fromisoformat(v) for v in values if isinstance(v, str)]
        assert any(day.year in (1, 9999) for day in days)  # the cells near the end are tried
