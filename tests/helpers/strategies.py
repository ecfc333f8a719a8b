"""Hypothesis strategies: fact sets drawn from a policy's own declarations, and random policies.

Fact sets are biased towards the constants the rules compare with, so boundaries are hit;
random policies are well-typed by construction. The differential tests (interpreter against
compiled code) and the analysis oracle (partition against evaluation) draw from these.
"""

from __future__ import annotations

import datetime
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, FactInfo
from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EnumType,
    ListType,
    TextType,
    Type,
    WholeType,
)
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.policy import Policy
from policy_engine.scenarios.scenario_file import load_scenario
from tests.helpers.evaluation import typed_facts


@dataclass(frozen=True)
class Constants:
    """Literal values a policy's expressions use; boundary cases live next to them."""

    numbers: tuple[Decimal, ...]
    dates: tuple[datetime.date, ...]
    texts: tuple[str, ...]


def _expressions(policy: CheckedPolicy) -> Iterator[object]:
    for rule in policy.units():
        for conjunct in rule.conjuncts:
            yield conjunct.expr
        for _, expr in rule.outputs:
            yield expr
    for define in policy.defines:
        yield define.expr
    for ensure in policy.ensures:
        yield ensure.condition
        yield ensure.when
    for require in policy.requires:
        yield require.when


def _walk(expr: object) -> Iterator[object]:
    if expr is None:
        return
    yield expr
    for name in getattr(expr, "__slots__", ()):
        if name in ("type", "span"):
            continue
        child = getattr(expr, name)
        for item in child if isinstance(child, tuple) else (child,):
            if hasattr(item, "span") and hasattr(item, "type"):
                yield from _walk(item)


def constants_of(policy: CheckedPolicy) -> Constants:
    numbers: set[Decimal] = set()
    dates: set[datetime.date] = set()
    texts: set[str] = set()
    for expr in _expressions(policy):
        for node in _walk(expr):
            if not isinstance(node, c.Const):
                continue
            values = node.value if isinstance(node.value, tuple) else (node.value,)
            for value in values:
                if isinstance(value, bool):
                    continue
                if isinstance(value, (int, Decimal)):
                    numbers.add(Decimal(value))
                elif isinstance(value, datetime.date):
                    dates.add(value)
                elif isinstance(value, str):
                    texts.add(value)
    return Constants(tuple(sorted(numbers)), tuple(sorted(dates)), tuple(sorted(texts)))


def _within(value: Decimal, low: Decimal | int | None, high: Decimal | int | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def value_strategy(t: Type, constants: Constants) -> st.SearchStrategy[Any]:
    """Raw (JSON-like) values of type `t`, as a scenario file would give them."""
    if isinstance(t, BoolType):
        return st.booleans()
    if isinstance(t, WholeType):
        low = t.minimum if t.minimum is not None else -50
        high = t.maximum if t.maximum is not None else max(low, 0) + 400
        near = sorted({int(n) + d for n in constants.numbers for d in (-1, 0, 1)
                       if n == n.to_integral_value() and _within(Decimal(int(n) + d), t.minimum,
                                                                 t.maximum)})
        plain = st.integers(low, high)
        return st.one_of(plain, st.sampled_from(near)) if near else plain
    if isinstance(t, AmountType):
        low_a = t.minimum if t.minimum is not None else Decimal(-500)
        high_a = t.maximum if t.maximum is not None else max(low_a, Decimal(0)) + 1000
        plain_a = st.decimals(low_a, high_a, places=2, allow_nan=False, allow_infinity=False)
        near_a = sorted({n + d for n in constants.numbers
                         for d in (Decimal("-0.01"), Decimal(0), Decimal("0.01"))
                         if _within(n + d, t.minimum, t.maximum)})
        numbers = st.one_of(plain_a, st.sampled_from(near_a)) if near_a else plain_a
        return numbers.map(lambda d: format(d, "f"))
    if isinstance(t, TextType):
        return st.one_of(st.sampled_from(constants.texts or ("",)),
                         st.text(alphabet="abc _\"\\é", max_size=6))
    if isinstance(t, DateType):
        near_d = [d + datetime.timedelta(days=k) for d in constants.dates for k in (-1, 0, 1)]
        plain_d = st.dates(datetime.date(2018, 1, 1), datetime.date(2027, 12, 31))
        dates = st.one_of(plain_d, st.sampled_from(near_d)) if near_d else plain_d
        return dates.map(lambda d: d.isoformat())
    if isinstance(t, EnumType):
        return st.sampled_from(t.values)
    if isinstance(t, ListType):
        return st.lists(value_strategy(t.element, constants), max_size=4)
    raise AssertionError(f"no fact strategy for {t!r}; teach test_differential the new type")


def fact_sets(facts: tuple[FactInfo, ...], constants: Constants,
              seeds: tuple[dict[str, Any], ...] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """Fact sets: fully random, or a shipped scenario's facts with some values changed.

    Policies with many input constraints refuse most random fact sets; starting from real
    scenarios keeps most examples deciding while still reaching odd corners.
    """
    values = {info.name: value_strategy(info.type, constants) for info in facts}
    actions = st.sampled_from(["change", "drop"] + ["keep"] * 20)

    @st.composite
    def draw_facts(draw: st.DrawFn) -> dict[str, Any]:
        seed = draw(st.sampled_from(seeds)) if seeds and draw(st.integers(0, 3)) else None
        chosen: dict[str, Any] = {}
        for info in facts:
            if seed is not None:
                action = draw(actions)
                if action == "keep" and info.name in seed:
                    chosen[info.name] = seed[info.name]
                    continue
                if action != "change" and not info.required:
                    continue
            elif not info.required and draw(st.booleans()):
                continue  # optional, or has a default: sometimes left out
            chosen[info.name] = draw(values[info.name])
        return chosen

    return draw_facts()


def scenario_facts(path: Path) -> tuple[dict[str, Any], ...]:
    """The raw facts of every shipped scenario that names this policy and whose facts are valid."""
    policy = Policy.load(str(path))
    found = []
    for scenario_path in sorted(path.parent.glob("**/*.yaml")) + sorted(
            (path.parent / "scenarios").glob("**/*.yaml")):
        try:
            scenario = load_scenario(str(scenario_path))
        except DiagnosticError:
            continue
        if scenario.policy and Path(scenario.policy).resolve() == path.resolve():
            try:
                typed_facts(policy, scenario.facts)
            except DiagnosticError:
                continue  # a scenario about invalid input
            found.append(scenario.facts)
    unique = {json.dumps(facts, sort_keys=True, default=str): facts for facts in found}
    return tuple(unique.values())


RANDOM_HEAD = """policy random
{resolve}
fact n: whole number from -20 to 20
fact m: whole number from -20 to 20
fact o: optional whole number from -5 to 5
fact a: amount from -10 to 10
fact b: optional amount from -10 to 10
fact s: one of red, green, blue
fact l: list of one of red, green, blue
fact t: text
fact d: date
fact flag: yes/no
fact z: whole number from 0 to 3 default 0
define dv = n - z
decision d0
decision d1
decision d2
output x: amount
output k: whole number
"""


class _Writer:
    """Writes random well-typed expressions over RANDOM_HEAD's facts.

    Plain `random`, seeded by hypothesis, is an order of magnitude faster than recursive
    strategies (which matters at hundreds of policies per run); hypothesis cannot shrink the
    text, but a failure shows the whole policy. Every compound is parenthesised, so the text
    never depends on precedence.
    """

    COLOURS = ("red", "green", "blue")

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def whole(self, depth: int = 2) -> str:
        roll = self.rng.random()
        if depth <= 0 or roll < 0.45:
            if self.rng.random() < 0.5:
                return self.pick("n", "m", "z", "n", "m", "o")  # o is optional: rarer
            value = self.rng.randint(-5, 25)
            return f"({value})" if value < 0 else str(value)
        if roll < 0.8:
            op = self.pick("+", "-", "*")
            return f"({self.whole(depth - 1)} {op} {self.whole(depth - 1)})"
        if roll < 0.85:
            return f"(-{self.whole(depth - 1)})"
        if roll < 0.9:
            return self.pick(f"min({self.whole(depth - 1)}, {self.whole(depth - 1)})",
                             f"max({self.whole(depth - 1)}, {self.whole(depth - 1)})",
                             f"abs({self.whole(depth - 1)})", "count(l)", "dv",
                             "days_between(d, 2022-06-01)")
        return (f"(if {self.condition(depth - 1)} then {self.whole(depth - 1)} "
                f"else {self.whole(depth - 1)})")

    def amount(self, depth: int = 2) -> str:
        roll = self.rng.random()
        if depth <= 0 or roll < 0.4:
            if self.rng.random() < 0.6:
                return self.pick("a", "a", "b", "0.1", "0.2", "0.3", "2.5", "0", "10")
            return self.whole(1)
        if roll < 0.8:
            op = self.pick("+", "-", "*")
            return f"({self.amount(depth - 1)} {op} {self.amount(depth - 1)})"
        mode = self.pick("round", "round_up", "round_down")
        places = self.rng.randint(0, 3)
        return f"{mode}({self.amount(depth - 1)} / {self.amount(depth - 1)}, {places})"

    def colours(self) -> str:
        return ", ".join(self.rng.choice(self.COLOURS) for _ in range(self.rng.randint(0, 3)))

    def atom(self) -> str:
        kind = self.rng.randrange(10)
        if kind == 0:
            return f"{self.amount()} {self.pick('==', '!=', '<', '<=', '>', '>=')} {self.amount()}"
        if kind == 1:
            return f"{self.whole()} {self.pick('==', '!=', '<', '<=', '>', '>=')} {self.whole()}"
        if kind == 2:
            return f"{self.whole()} between {self.whole()} and {self.whole()}"
        if kind == 3:
            return f"{self.amount()} between {self.amount()} and {self.amount()}"
        if kind == 4:
            return f"s {self.pick('is', 'is not', '==', '!=')} {self.pick(*self.COLOURS)}"
        if kind == 5:
            return f"s {self.pick('in', 'not in')} [{self.colours()}]"
        if kind == 6:
            items = ", ".join(str(self.rng.randint(-3, 6)) for _ in range(self.rng.randint(0, 3)))
            return f"{self.whole()} {self.pick('in', 'not in')} [{items}]"
        if kind == 7:
            return self.pick(f"l contains {self.pick(*self.COLOURS)}", f"l == [{self.colours()}]",
                             "l != []")
        return self.pick('t == "x"', 't != ""', '[t, "y"] contains "x"', 't in ["x", "y"]',
                         "d > 2022-06-01", "d between 2020-01-01 and 2024-12-31", "flag",
                         "d + 30 days > 2022-06-01", "d - 2 weeks <= 2021-01-01",
                         "d + 1 month > 2022-06-01", "d - 1 year <= 2021-02-28",
                         "(d + 1 month) + 1 month >= d + 2 months",
                         f"d + ({self.whole(1)} * 1 month) < 2023-01-31",
                         "(d - 6 months) - 1 day < 2022-02-28", "12 months == 1 year",
                         "not flag", "flag is no", "o is present", "o is missing",
                         "b is present", "b is missing", "yes", "no")

    def condition(self, depth: int = 2) -> str:
        roll = self.rng.random()
        if depth <= 0 or roll < 0.5:
            return self.atom()
        if roll < 0.85:
            op = self.pick("and", "or")
            return f"({self.condition(depth - 1)} {op} {self.condition(depth - 1)})"
        return f"not ({self.condition(depth - 1)})"


@st.composite
def random_policies(draw: st.DrawFn) -> str:
    """Small random policies over RANDOM_HEAD's facts, as text; well-typed by construction.

    Besides the operators, they use built-in functions, `if ... then ... else`, a derived value,
    date arithmetic and exceptions (`overrides`), so those go through both evaluators too.
    """
    write = _Writer(random.Random(draw(st.integers(0, 2**64))))
    lines = [RANDOM_HEAD.format(resolve=write.pick("", "resolve first match", "resolve unique",
                                                   "resolve agreeing"))]
    for index in range(write.rng.randint(1, 4)):
        condition = " and ".join(write.condition() for _ in range(write.rng.randint(1, 3)))
        overrides = f" overrides r{write.rng.randrange(index)}" if index and \
            write.rng.random() < 0.2 else ""
        assignments = []
        if write.rng.random() < 0.5:
            assignments.append(f"x = {write.amount()}")
        if write.rng.random() < 0.5:
            assignments.append(f"k = {write.whole()}")
        outputs = f" with {', '.join(assignments)}" if assignments else ""
        decision = write.pick("d0", "d1", "d2")
        lines.append(f"rule r{index}{overrides} when {condition} then {decision}{outputs} "
                     f'because "r{index}"')
    if write.rng.random() < 0.5:
        lines.append(f"otherwise d0 with k = {write.whole()}")
    return "\n".join(lines) + "\n"


INDEXED_HEAD = RANDOM_HEAD.format(resolve="resolve first match") + """as of d
output adv: list of one of tip1, tip2, tip3
"""


@st.composite
def indexed_policies(draw: st.DrawFn) -> str:
    """First-match policies of 9 to 24 rules, most of them starting with a test of the
    enumeration `s` (or of `flag`), so the fast path dispatches them with an index; the others,
    interleaved, start with any condition. Some rules are exceptions (`overrides`) or have
    effective dates, advisories add to a list, and the policy ends with an `otherwise`, an
    `otherwise refuse`, or nothing."""
    write = _Writer(random.Random(draw(st.integers(0, 2**64))))
    rng = write.rng
    lines = [INDEXED_HEAD]
    for index in range(rng.randint(9, 24)):
        roll = rng.random()
        if roll < 0.7:
            colours = ", ".join(sorted(set(rng.sample(write.COLOURS, rng.randint(1, 2)))))
            first = write.pick(f"s is {write.pick(*write.COLOURS)}",
                               f"s == {write.pick(*write.COLOURS)}", f"s in [{colours}]")
        elif roll < 0.8:
            first = write.pick("flag", "not flag", "flag is yes", "flag is no")
        else:
            first = write.condition()
        condition = " and ".join([first] + [write.condition()
                                            for _ in range(rng.randint(0, 2))])
        overrides = f" overrides r{rng.randrange(index)}" if index and rng.random() < 0.15 \
            else ""
        effective = write.pick(" effective from 2022-01-01", " effective until 2021-06-30",
                               " effective from 2020-01-01 until 2023-12-31") \
            if rng.random() < 0.1 else ""
        assignments = []
        if rng.random() < 0.3:
            assignments.append(f"x = {write.amount()}")
        if rng.random() < 0.3:
            assignments.append(write.pick(f"k = {write.whole()}", "k = 3"))
        if rng.random() < 0.2:
            assignments.append("adv = [tip1]")
        outputs = f" with {', '.join(assignments)}" if assignments else ""
        lines.append(f"rule r{index}{overrides}{effective} when {condition} then "
                     f'{write.pick("d0", "d1", "d2")}{outputs} because "r{index}"')
    for index in range(rng.randint(0, 2)):
        effective = " effective from 2022-01-01" if rng.random() < 0.3 else ""
        lines.append(f"advise a{index}{effective} when {write.condition()} then add "
                     f'{write.pick("tip1", "tip2", "tip3")} to adv because "a{index}"')
    ending = rng.random()
    if ending < 0.6:
        lines.append(write.pick("otherwise d0", f"otherwise d1 with k = {write.whole()}"))
    elif ending < 0.8:
        lines.append('otherwise refuse because "nothing applies"')
    return "\n".join(lines) + "\n"
