"""The quick validators (the compiled one and the interpreted quick converters) against the full
fact stage.

The compiled validator and `FactStage.quick` may only say "valid, here are the typed values"
or "not sure"; the full stage (JSON Schema, conversion, `require` and `ensure`) decides and
words every problem. Hypothesis draws raw fact sets from each policy's declarations, with
wrong types, yes/no for numbers, floats, text for dates, unknown keys, nulls, out-of-range
numbers and bad list items, and checks that both quick validators accept only what the full
stage accepts, with the same typed values (value types and decimal exponents included); the
compiled one accepts exactly that, and doubts everything else.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from policy_engine.facts.compiled_validator import (
    compile_validator,
    generated_validator_source,
    typed_equal,
)
from policy_engine.facts.constraints import check_constraints
from policy_engine.facts.validation import FactStage
from policy_engine.policy import Policy
from tests.helpers.examples import examples

ROOT = Path(__file__).resolve().parents[2]
POLICY_FILES = sorted((ROOT / "policies").glob("**/*.policy")) + [
    ROOT / "benchmarks" / "reference.policy"]
SETTINGS = settings(max_examples=examples(100), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: A policy with every kind of fact, bound, default, and `require` / `ensure` shape.
EVERY_KIND = """
policy every_kind
resolve first match

fact flag: yes/no
fact count: whole number from -2 to 7
fact big: optional whole number at least 10
fact price: amount from 0.5 to 100.25
fact loose: optional amount
fact ratio: amount at most 0 default 0
fact note: optional text
fact label: text default "x"
fact kind: one of a, b, c
fact maybe_kind: optional one of a, b, c
fact day: optional date
fact last_day: date default 2024-02-29
fact tags: list of one of a, b, c default []
fact days: optional list of date
fact notes: list of text default []
fact counts: optional list of one of x, y

decision yes
decision no

define twice = count * 2
define late = day is present and day > last_day

require big when kind is a
require note, day when flag and maybe_kind is present because "both"
ensure price <= 50 when kind is b or loose is present because "cap"
ensure twice < 12 because "derived"
ensure not late when counts is present because "late"
ensure day between 2020-01-01 and 2030-12-31 when day is present because "range"
ensure days_between(last_day, 2025-01-01) > 0 because "calls"
ensure tags contains a when maybe_kind is a because "lists"
ensure b in tags or kind is not b because "in"

rule r1 when flag then yes because "x"
otherwise no because "y"
"""

_NOT_SURE = object()

_JUNK: list[Any] = [
    None, True, False, 0, 1, -1, 3, 11, 10**30, -(10**28), 1.5, 2.0, -0.0, float("nan"),
    Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"), Decimal("-0"), Decimal("1E+40"),
    Decimal("1E-40"), Decimal("0E-50"), Decimal("1.0000000000000000000000000001"),
    Decimal("12.50"), Decimal("100.25"), Decimal("100.2500001"), Decimal("0.5"), Decimal("5E+1"),
    "", "a", "b", "d", "A", "yes", "no", "1", "-1", "12.50", "12.5.0", " 12", "12 ", "12\n",
    "1e5", "+1", ".5", "5.", "-", "-.5", "-5.", "1-2", "--1", ".", "1..2", "1_0",
    "\u0661\u0662", "0" * 40, "1" * 29, "0." + "0" * 27 + "1",
    "9" * 28, "2024-02-29", "2023-02-29", "2024-2-9", "2024-02-29T00:00", "\uff12024-01-01",
    [], [1], ["a"], ["a", "z"], ("a", "b"), [None], [["a"]], {}, {"a": 1},
    datetime.date(2024, 2, 29), datetime.date(2019, 1, 1), datetime.datetime(2024, 1, 1),
    datetime.timedelta(days=1),
    # The edges of the engine's range (at most 4,300 digits), and numbers far beyond it: an
    # exponent that would expand into a billion digits, or into more digits than any machine
    # holds (so expanding it fails at once instead of filling the memory).
    10**4300 - 1, -(10**4300) + 1, 10**4300, -(10**4300), 10**5000, float("inf"), 1e308,
    Decimal("1E+999999999"), Decimal("-1E+999999999"), Decimal("1E-999999999"),
    Decimal("1E+999999999999999999"), Decimal("4.2E+4300"),
]


def _good(t: Type) -> st.SearchStrategy[Any]:
    """Values of the type, within its bounds, in every accepted form, edges included."""
    if isinstance(t, BoolType):
        return st.booleans()
    if isinstance(t, WholeType):
        low = -50 if t.minimum is None else t.minimum
        high = 50 if t.maximum is None else t.maximum
        return st.one_of(st.integers(low, high), st.sampled_from([low, high]))
    if isinstance(t, AmountType):
        low = Decimal(-1000) if t.minimum is None else t.minimum
        high = Decimal(1000) if t.maximum is None else t.maximum
        number = st.one_of(st.decimals(low, high, places=2), st.decimals(low, high, places=0),
                           st.decimals(low, high, allow_nan=False, allow_infinity=False),
                           st.sampled_from([low, high]))
        return st.one_of(number, number.map(lambda d: format(d, "f")),
                         number.filter(lambda d: d == d.to_integral_value()).map(int))
    if isinstance(t, TextType):
        return st.text(max_size=5)
    if isinstance(t, DateType):
        day = st.dates(datetime.date(2000, 1, 1), datetime.date(2040, 12, 31))
        return st.one_of(day, day.map(datetime.date.isoformat))
    if isinstance(t, EnumType):
        return st.sampled_from(t.values)
    if isinstance(t, ListType):
        item = _good(t.element)
        return st.one_of(st.lists(item, max_size=4), st.lists(item, max_size=3).map(tuple))
    return st.none()


def _bad(t: Type) -> st.SearchStrategy[Any]:
    """Values just outside the type: past a bound, of another kind, or a bad list item."""
    options: list[st.SearchStrategy[Any]] = [st.sampled_from(_JUNK)]
    if isinstance(t, (WholeType, AmountType)):
        edges = [bound + step for bound, step in ((t.minimum, -1), (t.maximum, 1))
                 if bound is not None]
        if isinstance(t, AmountType):
            edges += [bound + step for bound, step in
                      ((t.minimum, Decimal("-0.01")), (t.maximum, Decimal("0.01")))
                      if bound is not None]
        if edges:
            options.append(st.sampled_from(edges))
            options.append(st.sampled_from(edges).map(str))
    if isinstance(t, EnumType):
        options.append(st.text(max_size=3))
    if isinstance(t, ListType):
        options.append(st.tuples(_good(t.element), _bad(t.element)).map(list))
    return st.one_of(options)


@st.composite
def _fact_sets(draw: st.DrawFn, policy: Policy) -> dict[Any, Any]:
    """Mostly valid fact sets, then none, one or two things wrong with them."""
    raw: dict[Any, Any] = {}
    facts = policy.checked.facts
    for info in facts:
        if not info.required and draw(st.integers(0, 2)) == 0:
            continue  # left out
        raw[info.name] = draw(_good(info.type))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        info = draw(st.sampled_from(facts))
        change = draw(st.integers(0, 4))
        if change == 0:
            raw.pop(info.name, None)
        elif change == 1:
            raw[info.name] = None
        elif change == 2:
            raw[draw(st.sampled_from(["unknown", info.name.upper(), 1, ""]))] = \
                draw(st.sampled_from(_JUNK))
        else:
            raw[info.name] = draw(_bad(info.type))
    return raw


_COMPILED: dict[int, Any] = {}


def _stage(policy: Policy) -> FactStage:
    return FactStage(policy.checked.facts, title=policy.checked.title)


def _full(policy: Policy, raw: object, *args: object) -> dict[str, Any]:
    """The full fact stage: JSON Schema, conversion, then `require` and `ensure`."""
    typed = _stage(policy).full.validate(raw, file="<facts>")
    problems = check_constraints(policy.checked, typed, file="<facts>", locate=None,
                                 prefix=("facts",))
    if problems:
        raise DiagnosticError(problems)
    return typed


def _compare(policy: Policy, raw: object) -> None:
    fast = _COMPILED.get(id(policy))
    if fast is None:
        fast = _COMPILED[id(policy)] = compile_validator(policy.checked,
                                                         lambda *args: _NOT_SURE)
    answer = fast(raw, "<facts>", None, ("facts",))
    stage = _stage(policy)
    quick = stage.quick(raw)
    try:
        converted = stage.full.validate(raw, file="<facts>")
    except DiagnosticError:
        assert quick is None, f"the quick converters accepted invalid facts: {raw!r}"
    else:
        assert quick is None or typed_equal(quick, converted), f"{raw!r}: {quick!r}"
    try:
        slow = _full(policy, raw)
    except DiagnosticError:
        assert answer is _NOT_SURE, f"accepted what the full stage rejects: {raw!r} -> {answer!r}"
        return
    assert answer is not _NOT_SURE, f"doubted valid facts: {raw!r}"
    assert isinstance(answer, dict)
    assert typed_equal(answer, slow), f"{raw!r}: fast {answer!r} != slow {slow!r}"


#: A policy whose decision `validating_decider` inlines, with pooled constants and an ensure.
INLINED = """
policy inlined
fact a: amount from 0 to 100
fact b: amount at least 0
fact d: date
fact k: one of x, y
fact n: whole number from 1 to 9
fact flag: yes/no
decision big
decision small
ensure b <= a
rule r1 when a > 12.5 and d < 2024-01-01 then big because "r1"
rule r2 when k is y and (a <= 0.25 or flag) and n > 3 then big because "r2"
otherwise small because "o"
"""


def _policies() -> list[tuple[str, Policy]]:
    found = [(str(path.relative_to(ROOT)), Policy.load(str(path), cache=False))
             for path in POLICY_FILES]
    return [*found, ("inlined", Policy.from_text(INLINED, "inlined.policy")),
            ("every_kind", Policy.from_text(EVERY_KIND, "every_kind.policy"))]


POLICIES = _policies()


@pytest.mark.parametrize(("name", "policy"), POLICIES, ids=[name for name, _ in POLICIES])
@SETTINGS
@given(data=st.data())
def test_compiled_validator_agrees_with_the_full_stage(name: str, policy: Policy,
                                                       data: st.DataObject) -> None:
    _compare(policy, data.draw(_fact_sets(policy)))


@pytest.mark.parametrize("raw", [None, [], "facts", 3, {"kind": "a"} | {1: 2}])
def test_what_is_not_a_mapping_of_facts_is_left_to_the_full_stage(raw: object) -> None:
    _compare(POLICIES[-1][1], raw)


def test_valid_facts_are_converted_without_the_full_stage() -> None:
    policy = Policy.from_text(EVERY_KIND, "every_kind.policy")
    fast = compile_validator(policy.checked, lambda *args: _NOT_SURE)
    raw = {"flag": False, "count": 3, "price": "12.50", "kind": "c", "tags": ("a",),
           "day": "2024-03-01", "days": ["2024-01-31", datetime.date(2024, 2, 1)],
           "notes": ["n"]}
    typed = fast(raw, "<facts>", None, ("facts",))
    assert typed == {
        "flag": False, "count": 3, "price": Decimal("12.50"), "ratio": 0, "label": "x",
        "kind": "c", "day": datetime.date(2024, 3, 1), "last_day": datetime.date(2024, 2, 29),
        "tags": ("a",), "days": (datetime.date(2024, 1, 31), datetime.date(2024, 2, 1)),
        "notes": ("n",)}
    assert typed_equal(typed, _full(policy, raw))
    assert list(typed) == [info.name for info in policy.checked.facts if info.name in typed]
    assert _stage(policy).quick(raw) is not None


@pytest.mark.parametrize("fact", ["maybe_kind", "flag", "ratio"])
def test_null_is_refused_by_every_engine_for_any_fact(fact: str) -> None:
    # An optional fact (maybe_kind), a required one (flag), one with a default (ratio).
    policy = Policy.from_text(EVERY_KIND, "every_kind.policy")
    raw: dict[str, object] = {"flag": False, "count": 3, "price": "12.50", "kind": "c",
                              "tags": ["a"], "day": "2024-03-01", "days": [], "notes": []}
    raw[fact] = None
    assert _stage(policy).quick(raw) is None
    assert compile_validator(policy.checked, lambda *args: _NOT_SURE)(
        raw, "<facts>", None, ("facts",)) is _NOT_SURE
    for engine in ("interpreted", "compiled"):
        with pytest.raises(DiagnosticError) as caught:
            policy.evaluate(raw, engine=engine)  # type: ignore[arg-type]
        (diagnostic,) = caught.value.diagnostics
        assert (diagnostic.code, diagnostic.path) == ("E314", f"$.facts.{fact}")


def test_problems_are_reported_by_the_full_stage_unchanged() -> None:
    policy = Policy.from_text(EVERY_KIND, "every_kind.policy")
    raw = {"flag": "yes", "count": 8, "price": 1.5, "kind": "d", "extra": 1}
    for engine in ("interpreted", "compiled"):
        with pytest.raises(DiagnosticError) as fast_error:
            policy.evaluate(raw, engine=engine)  # type: ignore[arg-type]
        with pytest.raises(DiagnosticError) as slow_error:
            _full(policy, raw)
        assert [d.to_json() for d in fast_error.value.diagnostics] == \
            [d.to_json() for d in slow_error.value.diagnostics]
        assert len(fast_error.value.diagnostics) == 5


def test_the_compiled_validator_gives_what_the_full_stage_gives() -> None:
    policy = Policy.load(str(ROOT / "benchmarks" / "reference.policy"), cache=False)
    compiled = compile_validator(policy.checked, lambda *args: _full(policy, *args))

    def validate(raw: object) -> dict[str, Any]:
        return compiled(raw, "<facts>", None, ("facts",))

    raw = {"status": "sent", "paid": True, "received": False, "days_since_ship": 3,
           "days_without_tracking": 2, "problem": "none", "evidence_count": 0,
           "dispute_state": "none", "off_platform_offer": False, "amount": "20.00",
           "requested_refund": "20.00"}
    assert validate(raw) == _full(policy, raw) == policy.evaluate(raw).facts
    with pytest.raises(DiagnosticError, match="requested_refund <= amount"):
        validate({**raw, "requested_refund": "20.01"})


def test_generated_code_holds_no_policy_text_outside_constants() -> None:
    # Fact names appear only as string constants; the code is built from ast nodes.
    source = generated_validator_source(POLICIES[-1][1].checked)
    assert "def validate_facts(raw, file='<facts>', locate=None, prefix=('facts',)):" in source
    assert "raw['flag']" in source


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity")])
def test_not_a_number_is_never_accepted_whatever_the_decimal_context(value: Decimal) -> None:
    import decimal

    policy = POLICIES[-1][1]
    raw = {"flag": False, "count": 3, "price": value, "kind": "c"}
    with decimal.localcontext() as context:
        context.traps[decimal.InvalidOperation] = False
        _compare(policy, raw)
        _compare(policy, {**raw, "price": Decimal(1), "loose": value})


_BASE = {"flag": False, "count": 3, "price": "12.50", "kind": "c", "loose": "-1.5",
         "note": "n", "tags": ["b"], "days": ["2024-01-31"], "counts": ["x"]}


@pytest.mark.parametrize("fact", sorted({*_BASE, "big", "ratio", "label", "maybe_kind", "day",
                                         "last_day", "notes"}))
def test_every_odd_value_in_every_fact(fact: str) -> None:
    policy = POLICIES[-1][1]
    assert _full(policy, _BASE)
    for value in _JUNK:
        _compare(policy, {**_BASE, fact: value})
        if isinstance(value, (str, Decimal, int)) and not isinstance(value, bool):
            _compare(policy, {**_BASE, fact: [value]})


# ---------------------------------------------------------------- validating and deciding at once


def _outcome(function: Any, raw: object) -> Any:
    """What deciding on `raw` gives: the decision, rule and outputs, or the error's text."""
    try:
        decision = function(raw)
    except DiagnosticError as error:
        return ("invalid", [d.to_json() for d in error.diagnostics])
    if decision.refused:
        return ("refused", [(d.code, d.message, d.label) for d in decision.refusal])
    return (decision.decision, decision.rule, dict(decision.outputs))


@pytest.mark.parametrize(("name", "policy"), POLICIES, ids=[name for name, _ in POLICIES])
@SETTINGS
@given(data=st.data())
def test_the_hot_loop_function_decides_as_evaluate_does(name: str, policy: Policy,
                                                        data: st.DataObject) -> None:
    raw = data.draw(_fact_sets(policy))
    expected = _outcome(lambda facts: policy.evaluate(facts, engine="interpreted"), raw)
    assert _outcome(policy.decider(), raw) == expected
    assert _outcome(lambda facts: policy.evaluate(facts, engine="compiled"), raw) == expected


def test_validating_decider_keeps_valid_facts_in_locals() -> None:
    # The reference policy's decision is inlined after the checks: no dict of facts is built
    # and the generated decision's results are read directly.
    policy = Policy.load(str(ROOT / "benchmarks" / "reference.policy"), cache=False)
    names = policy.decider().__code__.co_names
    assert "_y0" in names and "_decide_dict" not in names and "_slow_decide" in names
    # Optional facts may be absent: that policy's decision takes the dict of facts.
    every_kind = Policy.from_text(EVERY_KIND, "every_kind.policy")
    assert "_y0" not in every_kind.decider().__code__.co_names
    assert "_decide_dict" in every_kind.decider().__code__.co_names


def test_inlined_decision_keeps_the_constants_it_adds() -> None:
    # Writing the decision again for the validator adds pooled constants (amounts, dates) to
    # the compiled module's globals; the inlined code must see them.
    policy = Policy.from_text(INLINED, "inlined.policy")
    decide = policy.decider()
    assert "_y0" in decide.__code__.co_names
    same = {"b": 0, "n": 5, "flag": False}
    for raw, decision in [({"a": Decimal("12.51"), "d": "2023-12-31", "k": "x", **same}, "big"),
                          ({"a": "12.5", "d": "2023-12-31", "k": "x", **same}, "small"),
                          ({"a": 0, "d": datetime.date(2024, 1, 1), "k": "y", **same}, "big")]:
        assert decide(raw).decision == decision == policy.evaluate(raw).decision
