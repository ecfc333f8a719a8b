"""Partial evaluation is true of evaluation, for every shipped policy, on partial fact sets.

Hypothesis draws a fact set from the policy's declarations (often a shipped scenario's, with
values changed) and forgets some of its facts; `Policy.residual` then answers on what is left,
and the reference interpreter checks the answer on completions of the known facts drawn the
same way:

(a) a decided answer is what every completion allowed by the declarations and constraints
    gets, and its `Decision` is that outcome;
(b) each fact listed as mattering comes with a witness pair: both completions get the
    outcomes the residual says, they differ in that fact, and either in nothing else or the
    first outcome is never reached with the second one's value of the fact; an undecided
    answer lists every outcome a completion gets, and a fact listed as not mattering never
    changes an outcome alone;
(c) answering the suggested questions, one after the other, always ends in a decided answer
    (a decision or a refusal) with nothing left to ask.

Examples are drawn from a fixed seed (`derandomize=True`) so CI is repeatable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from policy_engine.analysis.completions import allowed
from policy_engine.analysis.partition import Outcome
from policy_engine.analysis.residual import PossibleOutcome, Residual
from policy_engine.analysis.witnesses import matches, observe
from policy_engine.check.checked import FactInfo
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.policy import Policy
from tests.helpers.examples import examples
from tests.helpers.paths import POLICY_FILES
from tests.helpers.strategies import (
    Constants,
    constants_of,
    fact_sets,
    scenario_facts,
    value_strategy,
)

IDS = [p.name + "-" + p.parent.name for p in POLICY_FILES]
def _settings(count: int) -> settings:
    return settings(max_examples=examples(count), deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
#: Completions each partial fact set is checked on.
COMPLETIONS = 12


def _outcome(possible: PossibleOutcome) -> Outcome:
    """A possible outcome as the analysis names it, to compare with what `observe` sees."""
    if possible.kind == "decision":
        return Outcome("decision", str(possible.decision), possible.rule)
    if possible.refused_by == "evaluation":
        return Outcome("error", str(possible.refusal), possible.stopped_in)
    rule = "constraint" if possible.refused_by == "constraint" else None
    return Outcome("refused", str(possible.refusal), rule)


def _same(seen: Outcome, possible: PossibleOutcome) -> bool:
    wanted = _outcome(possible)
    if wanted.kind == "error":  # a stop: the interpreter and the regions may name it apart
        return seen.kind == "error"
    if possible.refused_by == "constraint":  # any refusal by a constraint
        return seen.kind == "refused" and seen.rule == "constraint"
    return matches(seen, wanted) and allowed(seen)


def _partial_facts(policy: Policy, path: Path) -> st.SearchStrategy[dict[str, Any]]:
    facts = policy.checked.facts
    whole = fact_sets(facts, constants_of(policy.checked), scenario_facts(path))

    @st.composite
    def draw(draw_: st.DrawFn) -> dict[str, Any]:
        raw = draw_(whole)
        kept: dict[str, Any] = {}
        # Forget few facts or many: few forgotten often leaves a decided answer.
        forget = draw_(st.sampled_from([1, 3, 6]))
        for info in facts:
            choice = draw_(st.sampled_from(["keep"] * (9 - forget) + ["forget"] * forget
                                           + ["absent"]))
            if choice == "absent" and info.optional and info.default is None:
                kept[info.name] = None  # known to be left out
            elif choice == "keep" and info.name in raw:
                kept[info.name] = raw[info.name]
        return kept

    return draw()


def _completion(data: st.DataObject, facts: tuple[FactInfo, ...], constants: Constants,
                known: dict[str, Any], residual: Residual,
                fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """A whole fact set: the known facts, `fixed`, and drawn values for the rest (often those
    of one of the residual's own examples, so completions reach its interesting regions)."""
    seeds = [o.example for o in residual.outcomes if o.example is not None]
    seed = data.draw(st.sampled_from(seeds)) if seeds and data.draw(st.booleans()) else {}
    whole = {k: v for k, v in known.items() if v is not None}
    for info in facts:
        if info.name in known or (fixed and info.name in fixed):
            continue
        if info.name in seed and data.draw(st.integers(0, 3)):
            whole[info.name] = seed[info.name]
        elif info.required or data.draw(st.booleans()):
            whole[info.name] = data.draw(value_strategy(info.type, constants))
    whole.update({k: v for k, v in (fixed or {}).items() if v is not None})
    return whole


_POLICIES: dict[Path, Policy] = {}


def _policy(path: Path) -> Policy:
    if path not in _POLICIES:
        _POLICIES[path] = Policy.load(str(path))
    return _POLICIES[path]


def _residual(policy: Policy, known: dict[str, Any], irrelevant: bool = False) -> Residual:
    try:
        return policy.residual(known, irrelevant=irrelevant)
    except DiagnosticError:
        assume(False)  # the drawn values are not valid for the declarations
        raise


@pytest.mark.parametrize("path", POLICY_FILES, ids=IDS)
def test_residual_agrees_with_the_interpreter(path: Path) -> None:
    """(a) and (b): decided answers, possible outcomes, witness pairs, facts that do not
    matter, checked on completions evaluated by the interpreter."""
    policy = _policy(path)
    checked = policy.checked
    facts = checked.facts
    constants = constants_of(checked)

    @given(known=_partial_facts(policy, path), data=st.data())
    @_settings(40)
    def check(known: dict[str, Any], data: st.DataObject) -> None:
        residual = _residual(policy, known)
        for outcome in residual.outcomes:
            if outcome.example is not None:
                assert _same(observe(checked, outcome.example), outcome), outcome
                assert all(outcome.example.get(k) == v for k, v in known.items()
                           if v is not None)
        for influence in residual.matters:
            _check_pair(residual, influence.fact, data, facts, constants, known)
        for _ in range(COMPLETIONS):
            whole = _completion(data, facts, constants, known, residual)
            seen = observe(checked, whole)
            if residual.decided and residual.outcomes[0].refused_by == "constraint":
                assert not allowed(seen), (known, whole, seen)  # every completion refused
                continue
            if not allowed(seen):
                continue  # not a completion the declarations and constraints allow
            if residual.decided:
                assert _same(seen, residual.outcomes[0]), (known, whole, seen)
            else:
                assert any(_same(seen, o) for o in residual.outcomes), (known, whole, seen)
            for fact in data.draw(st.lists(st.sampled_from(residual.did_not_matter), max_size=2)
                                  if residual.did_not_matter else st.just([])):
                info = checked.fact(fact)
                changed = dict(whole)
                if not info.required and data.draw(st.booleans()):
                    changed.pop(fact, None)
                else:
                    changed[fact] = data.draw(value_strategy(info.type, constants))
                moved = observe(checked, changed)
                if allowed(moved):
                    assert matches(moved, seen) or seen.kind == moved.kind == "error", (
                        f"{fact} does not matter, but changing it alone changes "
                        f"{whole} -> {seen} into {changed} -> {moved}")
        if residual.decided:
            decision = residual.decision
            assert decision is not None
            wanted = residual.outcomes[0]
            if wanted.kind == "decision":
                assert (decision.decision, decision.rule) == (wanted.decision, wanted.rule)
            else:
                assert decision.refused

    check()


def _check_pair(residual: Residual, fact: str, data: st.DataObject,
                facts: tuple[FactInfo, ...], constants: Constants,
                known: dict[str, Any]) -> None:
    influence = residual.influence(fact)
    assert influence is not None and influence.pair is not None
    pair = influence.pair
    checked = residual.policy
    first, second = observe(checked, pair.first), observe(checked, pair.second)
    assert _same(first, residual.outcomes[pair.first_outcome]), (fact, pair, first)
    assert _same(second, residual.outcomes[pair.second_outcome]), (fact, pair, second)
    assert pair.first_outcome != pair.second_outcome
    assert pair.first.get(fact, "<left out>") != pair.second.get(fact, "<left out>")
    for whole in (pair.first, pair.second):
        assert all(whole.get(k) == v for k, v in known.items() if v is not None)
        assert all(k not in whole for k, v in known.items() if v is None)
    if pair.only_this_fact:
        rest = lambda d: {k: v for k, v in d.items() if k != fact}  # noqa: E731
        assert rest(pair.first) == rest(pair.second)
        return
    # The constraints tie the fact to others: with the second value of the fact, no
    # completion reaches the first outcome.
    fixed = {fact: pair.second.get(fact)}
    for _ in range(COMPLETIONS // 2):
        whole = _completion(data, facts, constants, known, residual, fixed)
        if fact not in pair.second:
            whole.pop(fact, None)
        seen = observe(checked, whole)
        if allowed(seen):
            assert not _same(seen, residual.outcomes[pair.first_outcome]), (fact, whole)


@pytest.mark.parametrize("path", POLICY_FILES, ids=IDS)
def test_facts_given_that_do_not_matter_do_not_change_the_outcome(path: Path) -> None:
    policy = _policy(path)
    checked = policy.checked
    constants = constants_of(checked)

    @given(known=_partial_facts(policy, path), data=st.data())
    @_settings(20)
    def check(known: dict[str, Any], data: st.DataObject) -> None:
        residual = _residual(policy, known, irrelevant=True)
        for fact in residual.given_irrelevant:
            info = checked.fact(fact)
            for _ in range(COMPLETIONS // 2):
                whole = _completion(data, checked.facts, constants, known, residual)
                seen = observe(checked, whole)
                changed = dict(whole)
                if not info.required and data.draw(st.booleans()):
                    changed.pop(fact, None)
                else:
                    changed[fact] = data.draw(value_strategy(info.type, constants))
                moved = observe(checked, changed)
                if allowed(seen) and allowed(moved):
                    assert matches(moved, seen) or seen.kind == moved.kind == "error", (
                        f"{fact} was given and said not to matter, but {whole} -> {seen} "
                        f"and {changed} -> {moved}")

    check()


@pytest.mark.parametrize("path", POLICY_FILES, ids=IDS)
def test_following_the_suggested_questions_ends_in_an_answer(path: Path) -> None:
    """(c): answer each suggested question with a value the declarations allow (or leave
    an optional fact out); the answers always end in a decided answer, within one question
    per fact."""
    policy = _policy(path)
    checked = policy.checked
    constants = constants_of(checked)

    @given(known=_partial_facts(policy, path), data=st.data())
    @_settings(24)
    def check(known: dict[str, Any], data: st.DataObject) -> None:
        residual = _residual(policy, known)
        answers = dict(known)
        for _ in range(len(checked.facts) + 1):
            question = residual.next_question
            if question is None:
                break
            assert question.fact not in answers
            info = checked.fact(question.fact)
            if question.optional and info.default is None and data.draw(
                    st.integers(0, 4)) == 0:
                answers[question.fact] = None
            else:
                answers[question.fact] = data.draw(value_strategy(info.type, constants))
            try:
                residual = policy.residual(answers, irrelevant=False)
            except DiagnosticError:
                answers.pop(question.fact)  # an invalid answer: the interview asks again
                answers[question.fact] = _plain(info)
                residual = policy.residual(answers, irrelevant=False)
        assert residual.decided, (answers, [o.describe() for o in residual.outcomes])
        assert residual.next_question is None
        decision = residual.decision
        assert decision is not None
        whole = {k: v for k, v in answers.items() if v is not None} | dict(residual.assumed)
        assert _same(observe(checked, whole), residual.outcomes[0])

    check()


def _plain(info: FactInfo) -> Any:
    """A value every declaration of this type accepts."""
    from policy_engine.analysis.witnesses import _plain_value

    return _plain_value(info.type)
