"""The trace of a compiled first-match decision, made from the walk's record (`explain.expand`),
is the interpreter's trace: every part, as data, on random facts of every shipped policy, the
benchmarks' reference policy and random small policies.

The JSON rendering is compared by `tests/evaluate/test_differential.py`; this compares the
objects themselves (including what the JSON leaves out), and the record-made trace against
the one `Trace` works out from the same compiled evaluation.
"""

from __future__ import annotations

import ast
import gc
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.evaluate.codegen import ExpressionWriter
from policy_engine.evaluate.compiler import build_part
from policy_engine.explain import expand
from policy_engine.explain.trace import Trace
from policy_engine.policy import Policy
from tests.evaluate.test_differential import RANDOM_FACTS
from tests.helpers.evaluation import typed_facts
from tests.helpers.examples import examples
from tests.helpers.paths import POLICY_FILES, ROOT
from tests.helpers.strategies import (
    constants_of,
    fact_sets,
    indexed_policies,
    random_policies,
    scenario_facts,
)

SETTINGS = settings(max_examples=examples(150), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
REFERENCE = ROOT / "benchmarks" / "reference.policy"
POLICIES = [*POLICY_FILES, REFERENCE]


def parts(trace: Trace) -> dict[str, object]:
    """Every public part of a trace, read as `benchmarks/run.py`'s `read_trace` reads it."""
    return {"rules": trace.rules, "advisories": trace.advisories, "closest": trace.closest,
            "decided_by": trace.decided_by, "derived": trace.derived,
            "explanations": tuple(d.explanation for d in trace.derived),
            "constraints": trace.constraints, "facts": trace.facts, "as_of": trace.as_of,
            "by_default": trace.by_default, "refused": trace.refused}


def assert_same_trace(policy: Policy, raw: dict[str, Any]) -> bool:
    """Compares the traces; returns whether the record made the compiled one."""
    try:
        facts = typed_facts(policy, raw)
    except DiagnosticError:
        return False
    interpreted = policy.evaluate(facts, engine="interpreted")
    compiled = policy.evaluate(facts, engine="compiled")
    assert interpreted.trace is not None and compiled.trace is not None
    evaluation = compiled._evaluation
    from_record = evaluation is not None and evaluation.record is not None
    # Twice: the second time from the traces kept per policy.
    for _ in range(2):
        again = policy.evaluate(facts, engine="compiled")
        assert again.trace is not None
        assert parts(again.trace) == parts(interpreted.trace)
    if from_record:
        assert evaluation is not None
        worked_out = Trace(policy.checked, compiled.facts or {}, frozenset(facts), evaluation)
        assert parts(worked_out) == parts(interpreted.trace)
    return from_record


_LOADED: dict[Path, Policy] = {}


def shipped(path: Path) -> Policy:
    if path not in _LOADED:
        _LOADED[path] = Policy.load(str(path))
    return _LOADED[path]


@pytest.mark.parametrize("path", POLICIES, ids=[str(p.relative_to(ROOT)) for p in POLICIES])
def test_record_trace_is_the_interpreters(path: Path) -> None:
    policy = shipped(path)
    strategy = fact_sets(policy.checked.facts, constants_of(policy.checked),
                         scenario_facts(path))
    made = []

    @SETTINGS
    @given(raw=strategy)
    def check(raw: dict[str, Any]) -> None:
        made.append(assert_same_trace(policy, raw))

    check()
    if policy.checked.strategy == "first match":
        assert any(made), "no decision was explained from the record"


@SETTINGS
@given(text=random_policies(), data=st.data())
def test_record_trace_is_the_interpreters_on_random_policies(text: str,
                                                             data: st.DataObject) -> None:
    policy = Policy.from_text(text, "random.policy")  # well-typed by construction
    for _ in range(3):
        assert_same_trace(policy, data.draw(RANDOM_FACTS))


@SETTINGS
@given(text=indexed_policies(), data=st.data())
def test_record_trace_is_the_interpreters_on_indexed_policies(text: str,
                                                              data: st.DataObject) -> None:
    policy = Policy.from_text(text, "indexed.policy")
    for _ in range(3):
        assert_same_trace(policy, data.draw(RANDOM_FACTS))


def test_kept_traces_are_bounded() -> None:
    # Traces are shared between decisions only within a fixed room per policy.
    policy = Policy.load(str(REFERENCE))
    decision = policy.evaluate({"status": "sent", "paid": True, "received": False,
                                "days_since_ship": 3, "days_without_tracking": 2,
                                "problem": "none", "evidence_count": 0,
                                "dispute_state": "none", "off_platform_offer": False,
                                "amount": "10.00", "requested_refund": "5.00"},
                               engine="compiled")
    assert decision.trace is not None and decision.decision == "wait"
    compiled = policy._compiled_policy()
    shared = expand.parts(compiled)
    assert 0 < kept_count(shared) == expand.KEPT_ROOM - shared.room <= expand.KEPT_ROOM


def kept_count(shared: expand.Parts) -> int:
    """Everything the policy's parts keep between decisions, each counted against its room."""
    tables = [shared.kept, shared.kept_near, shared.nearest, shared.kept_derived,
              shared.facts_kept, *shared.kept_heads.values(),
              *(table for table in shared.deciding.values() if table is not None),
              *(table for tables in shared.failing.values() for table in tables
                if table is not None),
              *(part.kept for parts in shared.conjuncts.values() for part in parts
                if part.kept is not None)]
    return sum(len(table) for table in tables)


def test_nothing_is_kept_when_the_room_is_used_up() -> None:
    # With no room left, every trace is made for its decision, and is still the interpreter's.
    policy = Policy.from_text(REFERENCE.read_text(encoding="utf-8"), "reference.policy")
    shared = expand.parts(policy._compiled_policy())
    shared.room = 0
    cases = [{"status": status, "paid": True, "received": received, "days_since_ship": days,
              "days_without_tracking": days // 2, "problem": problem, "evidence_count": 1,
              "dispute_state": "none", "off_platform_offer": False, "amount": "10.00",
              "requested_refund": refund}
             for status in ("sent", "delivered") for received in (False, True)
             for days in (3, 50) for problem in ("none", "damaged") for refund in ("5", "10")]
    for raw in cases:
        assert_same_trace(policy, raw)
    assert kept_count(shared) == 0 and shared.room == 0


@pytest.mark.skipif(sys.implementation.name != "cpython" or sys.version_info < (3, 11),
                    reason="the shared attribute layout of CPython 3.11+")
def test_trace_objects_keep_the_shared_layout() -> None:
    # Every trace object's attributes are set one by one, as `__init__` sets them, so CPython
    # keeps them in the class's shared layout (no dict of their own): renderers read those on
    # a fast path, and a mix of the two kinds makes every read miss it. An object with a dict
    # of its own shows it among its referents.
    policy = Policy.load(str(REFERENCE))
    seen = 0
    for raw in ({"status": "sent", "paid": True, "received": False, "days_since_ship": 3,
                 "days_without_tracking": 2, "problem": "none", "evidence_count": 0,
                 "dispute_state": "none", "off_platform_offer": False, "amount": "10.00",
                 "requested_refund": "5.00"},
                {"status": "delivered", "paid": True, "received": True, "days_since_ship": 3,
                 "days_without_tracking": 2, "problem": "damaged", "evidence_count": 2,
                 "dispute_state": "none", "off_platform_offer": False, "amount": "10.00",
                 "requested_refund": "5.00"},
                {"status": "delivered", "paid": True, "received": True, "days_since_ship": 3,
                 "days_without_tracking": 2, "problem": "damaged", "evidence_count": 0,
                 "dispute_state": "open", "off_platform_offer": False, "amount": "10.00",
                 "requested_refund": "9.00"}):
        for _ in range(2):  # made, then shared
            trace = policy.evaluate(raw, engine="compiled").trace
            assert trace is not None
            rules = (*trace.rules, *trace.advisories, *(miss.rule for miss in trace.closest))
            objects: list[object] = [*rules, *trace.closest, *trace.facts,
                                     *(check for rule in rules for check in rule.checks)]
            for made in objects:
                seen += 1
                assert not any(isinstance(referent, dict)
                               for referent in gc.get_referents(made)), made
    assert seen > 100


@pytest.mark.parametrize("path", POLICIES, ids=[str(p.relative_to(ROOT)) for p in POLICIES])
def test_near_miss_functions_use_only_harmless_node_kinds(path: Path) -> None:
    # The near-miss part is not in `policy compile`'s module: check it as that module is.
    from tests.evaluate.test_compiler import ALLOWED_NODES

    policy = shipped(path)
    gen = ExpressionWriter({}, policy.checked)
    module = ast.Module(body=build_part(gen, "decide") + build_part(gen, "near"),
                        type_ignores=[])
    kinds = {type(node) for node in ast.walk(module)}
    assert kinds <= ALLOWED_NODES, sorted(k.__name__ for k in kinds - ALLOWED_NODES)


def test_quick_constructors_make_the_records() -> None:
    # `expand` makes its trace objects with the quick constructors: each must give exactly the
    # object the record's own `__init__` gives (class, equality, hash, repr, frozen).
    import dataclasses

    from policy_engine.explain import trace as t

    examples: dict[type, tuple[object, ...]] = {
        t.LookupTrace: ("fees", "EU", "EU (line 3)", Decimal("2.50")),
        t.CheckTrace: ("x > 1", 4, 7, True, (("x", 2),), "x = 2 > 1", ()),
        t.RuleTrace: ("r1", None, 3, "decided", "deny", "because", None, (), "rule", None,
                      (), None, ()),
        t.FactTrace: ("amount", Decimal("10.00"), "given"),
        t.DerivedTrace: ("late", "days > 3", True, (), "days = 5 > 3", (), None),
    }
    examples[t.NearMiss] = (t.RuleTrace(*examples[t.RuleTrace]), 2, 3)  # type: ignore[arg-type]
    assert set(examples) == set(t.QUICK)
    for record, arguments in examples.items():
        quick = t.QUICK[record]
        assert quick.__slots__ == record.__slots__  # type: ignore[attr-defined]
        made, expected = quick(*arguments), record(*arguments)
        assert type(made) is record
        assert made == expected and hash(made) == hash(expected)
        assert repr(made) == repr(expected)
        assert dataclasses.astuple(made) == dataclasses.astuple(expected)
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.__setattr__(dataclasses.fields(made)[0].name, None)


def test_an_expanded_trace_has_every_part_in_slots() -> None:
    policy = Policy.load(str(REFERENCE))
    trace = policy.evaluate({"status": "sent", "paid": True, "received": False,
                             "days_since_ship": 3, "days_without_tracking": 2,
                             "problem": "none", "evidence_count": 0, "dispute_state": "none",
                             "off_platform_offer": False, "amount": "10.00",
                             "requested_refund": "5.00"}, engine="compiled").trace
    from policy_engine.explain.trace import Expanded

    assert isinstance(trace, Expanded)
    assert parts(trace) == parts(policy.evaluate(dict(trace._values)).trace)
    # No dict of its own among its referents (the facts it was made from are one).
    assert [referent for referent in gc.get_referents(trace)
            if isinstance(referent, dict)] == [trace._values]


def test_near_misses_of_a_large_policy_are_the_interpreters(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Beyond `NEAR_INLINE` conjuncts, `_near` calls a function per rule instead of evaluating
    # every conjunct inline: the same near misses either way.
    from policy_engine.evaluate import first_match

    monkeypatch.setattr(first_match, "NEAR_INLINE", 0)
    policy = Policy.from_text(REFERENCE.read_text(encoding="utf-8"), "reference.policy")
    defaulted = 0
    for days in (3, 20, 44):
        for status in ("delivered", "completed"):
            raw = {"status": status, "paid": True, "received": False, "days_since_ship": days,
                   "days_without_tracking": 2, "problem": "damaged", "evidence_count": 1,
                   "dispute_state": "open", "off_platform_offer": False, "amount": "10.00",
                   "requested_refund": "5.00"}
            assert assert_same_trace(policy, raw)
            trace = policy.evaluate(raw, engine="compiled").trace
            assert trace is not None and trace.by_default and trace.closest
            defaulted += 1
    namespace = policy._compiled_policy()._namespace
    assert "_n0" in namespace and defaulted == 6
