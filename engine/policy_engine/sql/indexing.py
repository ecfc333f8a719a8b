"""SQL indexing: where a first-match scan stops, as a CASE indexed by enumeration facts.

A flat CASE of 10,000 branches takes DuckDB seconds to plan and runs Spark's driver out of
memory. So a stretch of rules whose first conjuncts test one enumeration or yes/no fact
(`category is c1`) is dispatched on that fact's value first, as the compiled fast path does
(`evaluate.first_match.plan`, reused here): the branch for a value holds only the rules that
can match it, in policy order. A rule left out of a value's branch has a false first
conjunct for it, so it never stops the scan there. Only facts that can never be missing are
indexed, so a missing fact still stops the scan at the first rule that reads it.
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_engine.check.checked import CheckedRule
from policy_engine.evaluate.first_match import Index, plan
from policy_engine.sql import trees as t
from policy_engine.sql.expressions import Scope, constant
from policy_engine.sql.rules import Unit
from policy_engine.sql.trees import Sql

NONE = -1


def first_hit(scope: Scope, order: Sequence[CheckedRule], units: dict[int, Unit]) -> Sql:
    """The index of the first rule in `order`, in effect, at which the scan stops, or -1."""
    steps = plan(scope.policy, list(order))
    branches: list[tuple[Sql, Sql]] = []
    result: Sql = t.num(NONE)
    # Built from the end: each indexed stretch is a CASE whose default goes on with the rest.
    pending: list[tuple[Sql, Sql]] = []
    tail: list[Sql | None] = [None]

    def close() -> None:
        nonlocal result
        if pending:
            result = t.case(list(pending), result)
            pending.clear()

    for step in reversed(steps):
        if isinstance(step, Index) and _indexable(scope, step):
            close()
            result = _indexed(scope, step, units, result)
        elif isinstance(step, Index):
            for rule in reversed(step.rules):
                pending.insert(0, _branch(units[rule.index]))
        else:
            pending.insert(0, _branch(units[step.index]))
    close()
    del branches, tail
    return result


def _branch(unit: Unit) -> tuple[Sql, Sql]:
    stops = unit.hit if unit.in_effect is None else t.and_([unit.in_effect, unit.hit])
    return stops, t.num(unit.rule.index)


def _indexable(scope: Scope, index: Index) -> bool:
    info = scope.facts.get(index.fact)
    return info is not None and (not info.optional or info.default is not None)


def _indexed(scope: Scope, index: Index, units: dict[int, Unit], rest: Sql) -> Sql:
    untested, buckets = index.buckets()
    key = scope.fact(index.fact).sql
    info = scope.facts[index.fact]
    cases: list[tuple[Sql, Sql]] = []
    for value, rules in buckets.items():
        inner = t.case([_branch(units[rule.index]) for rule in rules], rest)
        cases.append((t.eq(key, constant(value, info.type, None).sql), inner))
    default = t.case([_branch(units[rule.index]) for rule in untested], rest) if untested \
        else rest
    return t.case(cases, default)
