"""SQL indexing: where a first-match scan stops, and each unit's value, without flat CASEs.

A flat CASE of 10,000 branches takes DuckDB seconds to plan and to run (each WHEN is tried in
turn over every batch of rows) and runs Spark's driver out of memory. Two shapes replace it:

- **The scan** (`first_hit`): a stretch of rules whose first conjuncts test one enumeration or
  yes/no fact (`category is c1`) is dispatched on that fact's value first, as the compiled
  fast path does (`evaluate.first_match.plan`, reused here): the branch for a value holds only
  the rules that can match it, in policy order. A rule left out of a value's branch has a
  false first conjunct for it, so it never stops the scan there. Only facts that can never be
  missing are indexed, so a missing fact still stops the scan at the first rule that reads it.
  The values are found by a balanced search (`key < 'c500'`, then equality among a few), and
  the stretches and the rules between them are tried in turn with COALESCE, so no part of the
  query is written twice.
- **A unit's value** (`by_unit`: its decision, rule name, outputs, faults, messages) is found
  by a balanced search on the unit's number, a few comparisons per row however many rules.

The trail (`trail`: each tried unit's first conjunct that is not true, for explanations)
follows the scan's shape: per row it lists `index:at` only for the units whose first conjunct
held (or could not be computed); every unit it leaves out was false at its first conjunct.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from policy_engine.check.checked import CheckedRule
from policy_engine.check.types import Value
from policy_engine.evaluate.first_match import Index, plan
from policy_engine.sql import trees as t
from policy_engine.sql.expressions import Scope, constant
from policy_engine.sql.rules import Unit
from policy_engine.sql.trees import Sql

NONE = -1
#: A search ends in a CASE of at most this many equality tests.
LEAF = 8
#: The rows are sorted by an indexed fact with more values than this (`grouping`).
GROUPED = 4 * LEAF


def search(key: Sql, keyed: Sequence[tuple[Any, Sql, Sql]], default: Sql | None = None) -> Sql:
    """The body of the entry whose constant equals `key`, else `default` (NULL without one).

    Args:
        key: the value searched for.
        keyed: (sort key, the constant as SQL, body) for each entry, constants distinct and
            ordered in SQL as their sort keys are in Python (whole numbers; enumeration
            values, compared byte by byte in DuckDB and Spark alike).
        default: the value when no constant equals `key` (also when `key` is NULL).
    """
    ordered = sorted(keyed, key=lambda entry: entry[0])

    def node(low: int, high: int) -> Sql:
        if high - low <= LEAF:
            return t.case([(t.eq(key, constant_sql), body)
                           for _, constant_sql, body in ordered[low:high]], default)
        middle = (low + high) // 2
        # NULL is not less than anything: it goes right, finds no equal constant, and ends at
        # `default`, as a flat CASE would.
        return t.when(t.compare("<", key, ordered[middle][1]), node(low, middle),
                      node(middle, high))

    return node(0, len(ordered)) if ordered else (default if default is not None else t.null())


def by_unit(key: Sql, values: Sequence[tuple[int, Sql]]) -> Sql:
    """The value of the unit whose number is `key` (NULL for another number or NULL)."""
    return search(key, [(index, t.num(index), value) for index, value in values])


def grouping(scope: Scope, order: Sequence[CheckedRule]) -> Sql | None:
    """The fact to sort the rows by before the scan, when one indexed stretch has many
    values: a vectorised engine (DuckDB) runs each branch of a CASE once per batch of rows
    that reaches it, so rows of the same value side by side make a search of a thousand
    values cost about what a search of a few costs. None for a policy without such an index.
    """
    best: tuple[int, str] | None = None
    for step in plan(scope.policy, list(order)):
        if isinstance(step, Index) and _indexable(scope, step):
            values = len(step.buckets()[1])
            if values > GROUPED and (best is None or values > best[0]):
                best = (values, step.fact)
    return scope.fact(best[1]).sql if best is not None else None


def first_hit(scope: Scope, order: Sequence[CheckedRule], units: dict[int, Unit]) -> Sql:
    """The index of the first rule in `order`, in effect, at which the scan stops, or -1."""
    segments = _segments(scope, order, units, _stops)
    return t.coalesce([*segments, t.num(NONE)])


def trail(scope: Scope, order: Sequence[CheckedRule], units: dict[int, Unit]) -> Sql:
    """`index:at` for the units of `order` whose first conjunct was not false, joined by
    commas (see the module docstring)."""
    parts = _segments(scope, order, units, _entry, joined=True)
    return t.concat_ws(",", parts) if parts else t.lit("")


def _segments(scope: Scope, order: Sequence[CheckedRule], units: dict[int, Unit],
              piece: Any, *, joined: bool = False) -> list[Sql]:
    """The scan in stretches: each indexed stretch one search, the rules between them one
    CASE (or, for the trail, their entries)."""
    found: list[Sql] = []
    loose: list[Unit] = []

    def close() -> None:
        if loose:
            found.extend(_tried(list(loose), piece, joined))
            loose.clear()

    for step in plan(scope.policy, list(order)):
        if isinstance(step, Index) and _indexable(scope, step):
            close()
            found.append(_indexed(scope, step, units, piece, joined))
        elif isinstance(step, Index):
            loose.extend(units[rule.index] for rule in step.rules)
        else:
            loose.append(units[step.index])
    close()
    return found


def _tried(group: list[Unit], piece: Any, joined: bool,
           chosen: frozenset[int] = frozenset()) -> list[Sql]:
    """Units tried one after the other: the first that stops (a CASE), or their entries.
    The first conjunct of a unit in `chosen` is known to hold (the index chose it by it)."""
    if joined:
        return [piece(unit, unit.rule.index in chosen) for unit in group
                if unit.rule.conjuncts]
    return [t.case([piece(unit, unit.rule.index in chosen) for unit in group])]


def _stops(unit: Unit, chosen: bool = False) -> tuple[Sql, Sql]:
    known = unit.known_first() if chosen else None
    hit = known[0] if known is not None else unit.hit
    stops = hit if unit.in_effect is None else t.and_([unit.in_effect, hit])
    return stops, t.num(unit.rule.index)


def _entry(unit: Unit, chosen: bool = False) -> Sql:
    """`index:at`, NULL when the unit was false at its first conjunct (at 0)."""
    known = unit.known_first() if chosen else None
    at = known[1] if known is not None else unit.at
    return t.concat([t.lit(f"{unit.rule.index}:"),
                     t.func("NULLIF", t.cast(at, "VARCHAR"), t.lit("0"))])


def entries(units: Sequence[Unit]) -> list[Sql]:
    """The trail's entries of units tried one by one (all rules under `resolve unique`,
    the advisories)."""
    return _tried(list(units), _entry, True)


def _indexable(scope: Scope, index: Index) -> bool:
    info = scope.facts.get(index.fact)
    return info is not None and (not info.optional or info.default is not None)


def _indexed(scope: Scope, index: Index, units: dict[int, Unit], piece: Any,
             joined: bool) -> Sql:
    untested, buckets = index.buckets()
    key = scope.fact(index.fact).sql
    info = scope.facts[index.fact]

    chosen = frozenset(index.keys)

    def body(rules: Sequence[CheckedRule]) -> Sql | None:
        tried = _tried([units[rule.index] for rule in rules], piece, joined, chosen)
        if not tried:
            return None
        # NULL rather than '' when no entry is left, so the trail has no empty entries.
        return t.func("NULLIF", t.concat_ws(",", tried), t.lit("")) if joined else tried[0]

    keyed: list[tuple[Any, Sql, Sql]] = []
    for value, rules in buckets.items():
        inner = body(rules)
        if inner is not None:
            keyed.append((_sortable(value), constant(value, info.type, None).sql, inner))
    default = body(untested) if untested else None
    return search(key, keyed, default)


def _sortable(value: Value) -> tuple[int, str]:
    """An enumeration value or yes/no as a sort key: strings in code point order (byte order
    of UTF-8, as DuckDB and Spark compare strings), false before true."""
    if isinstance(value, bool):
        return (int(value), "")
    return (0, str(value))
