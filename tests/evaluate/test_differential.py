"""Differential tests: the interpreter (the reference) and the compiled evaluator always agree.

For every shipped policy, hypothesis draws fact sets from the policy's own declarations (types,
bounds, enumeration values, optional facts sometimes left out, amounts as decimal strings),
biased towards the constants the rules compare with. For random small policies built as text,
the same comparison runs on random facts. Agreement means the same `Evaluation`, or the same
refusal, and a byte-identical JSON trace.
"""

from __future__ import annotations

import datetime
import json
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.evaluate.compiler import build_module
from policy_engine.evaluate.errors import EvaluationError
from policy_engine.evaluate.first_match import Dispatch
from policy_engine.policy import Engine, Policy
from tests.helpers.evaluation import evaluation, typed_facts
from tests.helpers.examples import examples
from tests.helpers.paths import POLICY_FILES, ROOT
from tests.helpers.strategies import (
    RANDOM_HEAD,
    Constants,
    constants_of,
    fact_sets,
    indexed_policies,
    random_policies,
    scenario_facts,
)

SETTINGS = settings(max_examples=examples(200), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------- comparing the evaluators


def result(policy: Policy, facts: dict[str, Any], engine: Engine) -> tuple[object, ...]:
    """Everything an evaluator's answer decides: the evaluation and the rendered JSON trace.

    For the compiled engine, the hot-loop function (`Policy.decider`, for first match the
    generated fast path) must agree with the evaluation too.
    """
    try:
        found = evaluation(policy, facts, engine)
    except EvaluationError as error:
        refusal = ("refused", error.code, error.message, error.rules, error.fact, error.help,
                   error.label)
        if engine == "compiled":
            bare = policy.decider(validated=True)(facts)
            assert bare.refused and [(d.code, d.message, d.label) for d in bare.refusal] == [
                (error.code, error.message, error.label)]
        return refusal
    decision = policy.evaluate(facts, engine=engine)
    bare = (decision if engine == "interpreted" else policy.decider(validated=True)(facts))
    return ("decided", found, (bare.decision, bare.rule, dict(bare.outputs)),
            json.dumps(decision.to_json(), indent=2, ensure_ascii=False))


def assert_engines_agree(policy: Policy, raw: dict[str, Any]) -> None:
    try:
        facts = typed_facts(policy, raw)
    except DiagnosticError as error:
        # Only the policy's own input constraints may refuse a well-typed fact set.
        assert {d.code for d in error.diagnostics} <= {"E308", "E309"}, error
        return
    interpreted = result(policy, facts, "interpreted")
    compiled = result(policy, facts, "compiled")
    assert compiled == interpreted


# ---------------------------------------------------------------- shipped policies

_LOADED: dict[Path, Policy] = {}


def shipped(path: Path) -> Policy:
    if path not in _LOADED:
        _LOADED[path] = Policy.load(str(path))
    return _LOADED[path]


def test_there_are_shipped_policies() -> None:
    assert len(POLICY_FILES) >= 2


@pytest.mark.parametrize("path", POLICY_FILES,
                         ids=[str(p.relative_to(ROOT)) for p in POLICY_FILES])
def test_engines_agree_on_shipped_policy(path: Path) -> None:
    policy = shipped(path)
    strategy = fact_sets(policy.checked.facts, constants_of(policy.checked),
                         scenario_facts(path))

    @SETTINGS
    @given(raw=strategy)
    def check(raw: dict[str, Any]) -> None:
        assert_engines_agree(policy, raw)

    check()


@pytest.mark.parametrize("path", POLICY_FILES,
                         ids=[str(p.relative_to(ROOT)) for p in POLICY_FILES])
def test_fact_strategy_mostly_makes_facts_that_decide(path: Path) -> None:
    # The generator must produce fact sets the validator accepts and the policy decides on, or
    # the differential test would only ever compare refusals.
    policy = shipped(path)
    strategy = fact_sets(policy.checked.facts, constants_of(policy.checked),
                         scenario_facts(path))
    outcomes: list[str] = []

    # A fixed seed: this measures the generator, and a random draw of 60 fell below the bar
    # now and then (9 of 60 decided for the AliExpress policy in one CI run).
    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow])
    @given(raw=strategy)
    def check(raw: dict[str, Any]) -> None:
        try:
            facts = typed_facts(policy, raw)
        except DiagnosticError as error:
            assert {d.code for d in error.diagnostics} <= {"E308", "E309"}, error
            outcomes.append("invalid")
            return
        try:
            evaluation(policy, facts, "interpreted")
            outcomes.append("decided")
        except EvaluationError:
            outcomes.append("refused")

    check()
    assert outcomes.count("decided") >= len(outcomes) // 5, outcomes


# ---------------------------------------------------------------- random policies






RANDOM_DECLARED = Policy.from_text(
    RANDOM_HEAD.format(resolve="") + 'rule r when flag then d0 because "r"', "random.policy")
RANDOM_FACTS = fact_sets(RANDOM_DECLARED.checked.facts,
                         Constants((Decimal(0), Decimal(1), Decimal(5)),
                                   (datetime.date(2022, 6, 1), datetime.date(2022, 1, 31),
                                    datetime.date(2020, 2, 29)), ("x", "")))


@settings(max_examples=examples(100), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=random_policies(), data=st.data())
def test_engines_agree_on_random_policies(text: str, data: st.DataObject) -> None:
    policy = Policy.from_text(text, "random.policy")  # well-typed by construction
    for _ in range(3):
        assert_engines_agree(policy, data.draw(RANDOM_FACTS))


def test_random_policy_generator_makes_policies_that_check() -> None:
    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(text=random_policies())
    def check(text: str) -> None:
        assert Policy.from_text(text, "random.policy").checked.rules

    check()


# ---------------------------------------------------------------- indexed first match





@settings(max_examples=examples(100), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=indexed_policies(), data=st.data())
def test_engines_agree_on_indexed_policies(text: str, data: st.DataObject) -> None:
    policy = Policy.from_text(text, "indexed.policy")  # well-typed by construction
    for _ in range(4):
        assert_engines_agree(policy, data.draw(RANDOM_FACTS))


def test_indexed_policy_generator_makes_policies_with_indexes() -> None:
    indexed: list[bool] = []

    @settings(max_examples=40, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(text=indexed_policies())
    def check(text: str) -> None:
        _, pool = build_module(Policy.from_text(text, "indexed.policy").checked)
        indexed.append(any(isinstance(value, Dispatch) for value in pool.values()))

    check()
    assert indexed.count(True) >= len(indexed) // 2, indexed


# ---------------------------------------------------------------- the edges of the engine's range

EDGE_HEAD = """policy edges
{resolve}
fact n: whole number
fact m: whole number
fact a: amount
fact b: amount
fact d: date
fact e: date
fact flag: yes/no
define nn = n * m
define aa = a * b
define later = d + n * 1 day
decision d0
decision d1
decision d2
output x: amount
output k: whole number
output due: date
"""

#: Whole numbers, amounts and dates at the edges of the range and far inside it, so that
#: arithmetic on them leaves the range often (E408) but not always.
_EDGE_WHOLES = (0, 1, -1, 2, 7, -30, 400, 10**6, -(10**9), 10**12, 10**1100, 10**2150,
                -(10**2150), 10**4299, 10**4299 - 1, -(10**4299) - 7, 10**4300 - 1)
_EDGE_AMOUNTS = ("0", "1", "-2.5", "0.1", "9" * 28, "-" + "9" * 28, "1" + "0" * 27,
                 "0." + "0" * 27 + "1", "-0." + "0" * 20 + "3", "12.50")
_EDGE_DATES = ("0001-01-01", "0001-01-02", "9999-12-31", "9999-12-30", "2024-01-31",
               "1970-01-01", "5000-06-15", "2024-02-29", "2023-03-31", "9999-11-30",
               "0001-12-31")


class _EdgeWriter:
    """Expressions over EDGE_HEAD's facts that multiply, square and shift dates: values
    leave the engine's range now and then, in every kind of value and in derived values."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def condition(self, depth: int = 1) -> str:
        roll = self.rng.random()
        if depth <= 0 or roll < 0.6:
            return self.atom()
        if roll < 0.9:
            return (f"({self.condition(depth - 1)} {self.pick('and', 'or')} "
                    f"{self.condition(depth - 1)})")
        return f"not ({self.condition(depth - 1)})"

    def whole(self, depth: int = 2) -> str:
        roll = self.rng.random()
        if depth <= 0 or roll < 0.35:
            return self.pick("n", "m", "nn", "n", "2", "(-3)", "1000000", "9" * 40,
                             "days_between(d, e)")
        if roll < 0.8:
            return (f"({self.whole(depth - 1)} {self.pick('+', '-', '*', '*')} "
                    f"{self.whole(depth - 1)})")
        if roll < 0.9:
            return self.pick(f"min({self.whole(depth - 1)}, {self.whole(depth - 1)})",
                             f"abs({self.whole(depth - 1)})", f"(-{self.whole(depth - 1)})")
        return (f"(if {self.condition(depth - 1)} then {self.whole(depth - 1)} "
                f"else {self.whole(depth - 1)})")

    def amount(self, depth: int = 2) -> str:
        roll = self.rng.random()
        if depth <= 0 or roll < 0.35:
            return self.pick("a", "b", "aa", "aa", "0.5", "1" + "0" * 30 + ".5", "0.000001")
        if roll < 0.6:
            return f"({self.amount(depth - 1)} * {self.amount(depth - 1)})"
        if roll < 0.8:
            op = self.pick("+", "-", "*")
            return f"({self.amount(depth - 1)} {op} {self.whole(depth - 1)})"
        mode = self.pick("round", "round_up", "round_down")
        return (f"{mode}({self.amount(depth - 1)} / {self.amount(depth - 1)}, "
                f"{self.rng.randint(0, 3)})")

    def duration(self, depth: int = 1) -> str:
        return self.pick("(d - e)", "(e - d)", f"({self.whole(depth)} * 1 day)",
                         "999999999 days", "(2 weeks + (d - e))", f"(1 day * {self.whole(depth)})",
                         "((d - e) - 999999999 days)")

    def months(self, depth: int = 1) -> str:
        """Calendar months: around the end of a month, a year, the calendar, and the range."""
        return self.pick("1 month", "1 year", "13 months", "9999 years", "119988 months",
                         f"({self.whole(depth)} * 1 month)", f"(2 years * {self.whole(depth)})",
                         "(1 year - 13 months)", "(119988 months + 1 month)")

    def date(self) -> str:
        return self.pick("d", "e", "later", f"(d + {self.duration()})", f"(e - {self.duration()})",
                         f"({self.duration()} + e)", f"(d + {self.months()})",
                         f"(e - {self.months()})", f"({self.months()} + e)")

    def atom(self) -> str:
        kind = self.rng.randrange(6)
        compare = self.pick("==", "!=", "<", "<=", ">", ">=")
        if kind == 0:
            return f"{self.whole()} {compare} {self.whole()}"
        if kind == 1:
            return f"{self.amount()} {compare} {self.amount()}"
        if kind == 2:
            return f"{self.date()} {compare} {self.date()}"
        if kind == 3:
            return self.pick(f"{self.duration()} {compare} {self.duration()}",
                             f"{self.months()} {compare} {self.months()}")
        if kind == 4:
            return f"{self.amount()} between {self.whole()} and {self.amount()}"
        return self.pick("flag", "not flag", "later > d")


@st.composite
def edge_policies(draw: st.DrawFn) -> str:
    write = _EdgeWriter(random.Random(draw(st.integers(0, 2**64))))
    lines = [EDGE_HEAD.format(resolve=write.pick("", "resolve first match", "resolve unique",
                                                 "resolve agreeing"))]
    for index in range(write.rng.randint(1, 4)):
        condition = " and ".join(write.condition(1) for _ in range(write.rng.randint(1, 2)))
        outputs = [f"x = {write.amount()}", f"k = {write.whole()}", f"due = {write.date()}"]
        chosen = [o for o in outputs if write.rng.random() < 0.4]
        with_clause = f" with {', '.join(chosen)}" if chosen else ""
        lines.append(f"rule r{index} when {condition} then {write.pick('d0', 'd1', 'd2')}"
                     f'{with_clause} because "r{index}"')
    if write.rng.random() < 0.7:
        lines.append(f"otherwise d0 with k = {write.whole()}")
    return "\n".join(lines) + "\n"


EDGE_FACTS = st.fixed_dictionaries({
    "n": st.one_of(st.sampled_from(_EDGE_WHOLES), st.integers(-50, 50)),
    "m": st.one_of(st.sampled_from(_EDGE_WHOLES), st.integers(-50, 50)),
    "a": st.sampled_from(_EDGE_AMOUNTS), "b": st.sampled_from(_EDGE_AMOUNTS),
    "d": st.sampled_from(_EDGE_DATES), "e": st.sampled_from(_EDGE_DATES),
    "flag": st.booleans()})


@settings(max_examples=examples(100), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=edge_policies(), data=st.data())
def test_engines_agree_at_the_edges_of_the_range(text: str, data: st.DataObject) -> None:
    policy = Policy.from_text(text, "edges.policy")  # well-typed by construction
    for _ in range(3):
        assert_engines_agree(policy, data.draw(EDGE_FACTS))


def test_edge_policies_often_leave_the_range_and_often_decide() -> None:
    # Both outcomes must be common, or the test above would compare only one of them.
    outcomes: list[str] = []

    @settings(max_examples=60, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(text=edge_policies(), data=st.data())
    def check(text: str, data: st.DataObject) -> None:
        policy = Policy.from_text(text, "edges.policy")
        facts = typed_facts(policy, data.draw(EDGE_FACTS))
        try:
            evaluation(policy, facts, "interpreted")
            outcomes.append("decided")
        except EvaluationError as error:
            outcomes.append(error.code)

    check()
    assert outcomes.count("E408") >= len(outcomes) // 6, outcomes
    assert outcomes.count("decided") >= len(outcomes) // 6, outcomes


def test_engines_agree_on_a_rule_with_many_conjuncts() -> None:
    # The traced walk asks such a rule's own function instead of nesting an `elif` per part.
    conjuncts = " and ".join(f"n != {i}" for i in range(-10, 30))
    policy = Policy.from_text(
        RANDOM_HEAD.format(resolve="resolve first match")
        + f'rule long when {conjuncts} then d1 because "long"\n'
        + 'rule after when s is red then d2 because "after"\notherwise d0\n', "long.policy")
    for n in (-20, -10, 0, 5, 20):
        for colour in ("red", "blue"):
            assert_engines_agree(policy, {"n": n, "m": 0, "a": "1", "s": colour, "l": [],
                                          "t": "", "d": "2022-01-01", "flag": False})
