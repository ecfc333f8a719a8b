"""Differences: the analysis stage's exact reasoning about comparisons between two facts.

A comparison of two number or date facts, each plus a constant (`withdrawal_date <= deadline`,
`returned_on > delivered_on + 14 days`), is an opaque dimension of the space (see `symbolic`):
a yes/no of its own, free of the facts' cells, so a region may pair `deadline <
withdrawal_date` with `withdrawal_date < deadline`. Such comparisons are *difference
constraints* (x - y <= c, x - y < c), and a conjunction of them with the facts' cells is
decided exactly by a shortest-path closure (a difference-bound matrix, as in timed-automata
zones). This module uses it to find the combinations of cells no fact set has (`impossible`),
and to give values that satisfy a cube's comparisons (`solve`), from which witnesses are built.
"""

from __future__ import annotations

import datetime
import itertools
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from policy_engine.analysis.regions import (
    FIRST_DAY,
    LAST_DAY,
    Cell,
    Cube,
    Number,
    Region,
    Space,
    cell_runs,
    sample,
)
from policy_engine.analysis.symbolic import Registry, Relation

#: How many combinations of a cube's number ranges `solve` tries before it gives up.
MAX_BRANCHES = 256

#: How many steps of the search for impossible combinations one group of related facts may
#: take; past it, what was found is kept (the rest stays in the regions, as before).
MAX_NODES = 20_000

#: The date witnesses start from when nothing else decides (as `witnesses` does).
_ANCHOR = datetime.date(2025, 1, 1).toordinal()

#: A bound `x - y < c` (strict) or `x - y <= c`, as (c, strict); None: no bound.
Bound = tuple[Fraction, bool] | None


@dataclass(frozen=True)
class Variable:
    """A number or date fact that some relation compares.

    Args:
        position: its dimension in the space.
        integral: whole numbers and dates (bounds are tightened to integers).
        low, high: what its type allows (the calendar, a declared minimum or maximum).
        optional: it may be missing, and a relation that reads it then does not apply.
    """

    name: str
    position: int
    integral: bool
    low: Number | None
    high: Number | None
    optional: bool
    date: bool


@dataclass(frozen=True)
class Verdict:
    """What the relations say about a cube.

    Args:
        possible: False when no fact set satisfies the cube's comparisons and cells.
        values: when possible, a value for every variable the cube constrains (a missing
            fact has none), satisfying every comparison.
        exact: every dimension the cube constrains is modelled exactly (facts, and opaque
            conditions that are relations): then `possible` means some fact set lies in it.
    """

    possible: bool
    values: dict[str, Number]
    exact: bool


class Differences:
    """The relations of one space, and the reasoning over them."""

    def __init__(self, space: Space, registry: Registry) -> None:
        self.space = space
        self.relations: dict[int, Relation] = {}
        self.variables: dict[str, Variable] = {}
        for key, relation in registry.relations.items():
            position = space.index.get(key)
            if position is None:
                continue
            found = [self._variable(space, registry, name)
                     for name in (relation.left, relation.right)]
            if all(v is not None for v in found):
                self.relations[position] = relation
                for variable in found:
                    assert variable is not None
                    self.variables[variable.name] = variable
        self._impossible: Region | None = None

    @staticmethod
    def _variable(space: Space, registry: Registry, name: str) -> Variable | None:
        position = space.index.get(("fact", name))
        if position is None:
            return None
        dimension = space.dimensions[position]
        if dimension.kind not in ("whole", "amount", "date"):
            return None
        low, high = registry.bounds.get(name, (None, None))
        if dimension.kind == "date":
            low, high = FIRST_DAY, LAST_DAY
        return Variable(name, position, dimension.kind != "amount", low, high,
                        any(cell.kind == "missing" for cell in dimension.cells),
                        dimension.kind == "date")

    # ------------------------------------------------------------ one cube
    def solve(self, cube: Cube) -> Verdict:
        """Whether some fact set satisfies the cube's comparisons and cells, with values."""
        exact = self._exact(cube)
        constrained = [(position, relation) for position, relation in self.relations.items()
                       if cube[position] in (1, 2)]
        if not constrained:
            return Verdict(True, {}, exact)
        names = sorted({n for _, r in constrained for n in (r.left, r.right)})
        # whole numbers compared with amounts are decided as fractions: what is impossible
        # stays impossible, but values found may not be whole
        exact = exact and len({self.variables[name].integral for name in names}) == 1
        choices = [self._choices(self.variables[name], cube) for name in names]
        tried = 0
        for combination in itertools.product(*choices):
            tried += 1
            if tried > MAX_BRANCHES:
                return Verdict(True, {}, False)  # not decided: as if possible, not exact
            self.space.budget.charge(len(names) ** 2)
            chosen = dict(zip(names, combination, strict=True))
            present = {name for name, cells in chosen.items() if cells is not None}
            relations = [(r if cube[p] == 2 else _negated(r)) for p, r in constrained
                         if r.left in present and r.right in present]
            found = self._satisfy(chosen, relations)
            if found is not None:
                return Verdict(True, found, exact)
        return Verdict(False, {}, exact)

    def _exact(self, cube: Cube) -> bool:
        for position, (dimension, mask) in enumerate(zip(self.space.dimensions, cube,
                                                         strict=True)):
            if mask == dimension.full:
                continue
            kind = dimension.key[0]
            if kind in ("derived", "unknown") or (kind == "opaque"
                                                 and position not in self.relations):
                return False
        return True

    def _choices(self, variable: Variable, cube: Cube) -> list[list[Cell] | None]:
        """The ways a variable can lie in its cells: missing (None), or one run of adjacent
        cells (an interval)."""
        dimension = self.space.dimensions[variable.position]
        mask = cube[variable.position]
        missing = any(mask >> position & 1 and cell.kind == "missing"
                      for position, cell in enumerate(dimension.cells))
        return [*cell_runs(dimension, mask), *([None] if missing else [])]

    def _satisfy(self, chosen: dict[str, list[Cell] | None],
                 relations: Sequence[Relation]) -> dict[str, Number] | None:
        """Values for the present variables within their runs that satisfy every relation
        (a `!=` is tried as `<`, then as `>`), or None."""
        names = [name for name, cells in chosen.items() if cells is not None]
        alternatives = [_edges(r) for r in relations]
        for picked in itertools.product(*alternatives):
            zone = _Zone(names, [self.variables[n].integral for n in names])
            for name in names:
                variable, cells = self.variables[name], chosen[name]
                assert cells is not None
                zone.bound(name, *_run_bounds(cells, variable))
            for left, right, bound in itertools.chain.from_iterable(picked):
                zone.constrain(left, right, bound)
            if not zone.close():
                continue
            preferred = {name: _preferred(chosen[name], self.variables[name])
                         for name in names}
            values = zone.values(preferred)
            if values is not None:
                return values
        return None

    def equalities(self, parts: list[str]) -> list[str]:
        """A description's conditions with `not (a < b)` and `not (b < a)` said as `a == b`
        (the two comparisons of a pair of relations that leave only equality)."""
        texts = {self.space.dimensions[position].text for position in self.relations}
        out = list(parts)
        for text in sorted(texts):
            left, less, right = text.partition(" < ")
            reverse = f"{right} < {left}"
            if not less or reverse not in texts:
                continue
            mine, theirs = f"not ({text})", f"not ({reverse})"
            if mine in out and theirs in out:
                out[out.index(mine)] = f"{right} == {left}"
                out.remove(theirs)
        return out

    # ------------------------------------------------------------ the whole space
    def impossible(self) -> Region:
        """The fact sets that no values have: combinations of comparisons (and of the
        compared facts' cells) that contradict each other. Worked out once per space."""
        if self._impossible is None:
            found = self.space.nothing()
            for group in self._groups():
                found = found | self._search(group)
            self._impossible = found
        return self._impossible

    def _groups(self) -> list[list[int]]:
        """The relations' dimensions, grouped by the facts they share (each group is
        searched on its own, so unrelated comparisons do not multiply)."""
        groups: list[tuple[set[str], list[int]]] = []
        for position, relation in sorted(self.relations.items()):
            names = {relation.left, relation.right}
            joined = [g for g in groups if g[0] & names]
            merged: tuple[set[str], list[int]] = (names, [position])
            for group in joined:
                merged[0].update(group[0])
                merged[1].extend(group[1])
                groups.remove(group)
            groups.append(merged)
        return [sorted(positions) for _, positions in groups]

    def _search(self, positions: list[int]) -> Region:
        """Depth first over the group's comparisons, then its facts' cells: every partial
        choice that no values satisfy is a cube of the impossible region (and not refined)."""
        names = sorted({n for p in positions
                        for n in (self.relations[p].left, self.relations[p].right)})
        order = [*positions, *(self.variables[n].position for n in names)]
        space = self.space
        found: list[Cube] = []
        nodes = 0

        def visit(depth: int, cube: list[int]) -> None:
            nonlocal nodes
            nodes += 1
            if nodes > MAX_NODES:
                raise _Enough
            space.budget.charge(1 + len(order))
            if not self._partial(cube, order[:depth]):
                found.append(tuple(cube))
                return
            if depth == len(order):
                return
            position = order[depth]
            for cell in range(len(space.dimensions[position].cells)):
                cube[position] = 1 << cell
                visit(depth + 1, cube)
            cube[position] = space.top[position]

        try:
            visit(0, list(space.top))
        except _Enough:
            pass  # what was found is impossible; the rest stays in the regions
        result = space.nothing()
        for cube in found:
            result = result | space.cube(cube)
        return result

    def _partial(self, cube: list[int], assigned: list[int]) -> bool:
        """Whether a partial choice may have values: a relation applies once its facts are
        surely present (required, or given a cell that is not `missing`)."""
        fixed = set(assigned)
        chosen: dict[str, list[Cell] | None] = {}
        for name, variable in self.variables.items():
            dimension = self.space.dimensions[variable.position]
            if variable.position in fixed:
                cell = dimension.cells[cube[variable.position].bit_length() - 1]
                chosen[name] = None if cell.kind == "missing" else [cell]
            elif not variable.optional:
                chosen[name] = [c for c in dimension.cells if c.kind != "missing"]
        relations = [(r if cube[p] == 2 else _negated(r)) for p, r in self.relations.items()
                     if p in fixed and chosen.get(r.left) is not None
                     and chosen.get(r.right) is not None]
        if not relations:
            return True
        names = {n for r in relations for n in (r.left, r.right)}
        return self._satisfy({n: chosen[n] for n in sorted(names)}, relations) is not None


class _Enough(Exception):
    """The search of one group went past `MAX_NODES`."""


_CACHE: weakref.WeakKeyDictionary[Space, Differences] = weakref.WeakKeyDictionary()


def of(space: Space, registry: Registry) -> Differences:
    """The relations of a space (worked out once per space)."""
    found = _CACHE.get(space)
    if found is None:
        found = _CACHE[space] = Differences(space, registry)
    return found


def _negated(relation: Relation) -> Relation:
    negation = {"<": ">=", "<=": ">", "==": "!=", "!=": "==", ">": "<=", ">=": "<"}
    return Relation(relation.left, relation.left_offset, negation[relation.op],
                    relation.right, relation.right_offset)


def _edges(relation: Relation) -> list[list[tuple[str, str, tuple[Fraction, bool]]]]:
    """A relation as alternatives, each a list of constraints `left - right <= c` (or `< c`).

    `x + a OP y + b` is `x - y OP b - a`.
    """
    x, y = relation.left, relation.right
    c = relation.right_offset - relation.left_offset
    op = relation.op
    if op == "<":
        return [[(x, y, (c, True))]]
    if op == "<=":
        return [[(x, y, (c, False))]]
    if op == ">":
        return [[(y, x, (-c, True))]]
    if op == ">=":
        return [[(y, x, (-c, False))]]
    if op == "==":
        return [[(x, y, (c, False)), (y, x, (-c, False))]]
    return [[(x, y, (c, True))], [(y, x, (-c, True))]]  # !=: below or above


def _run_bounds(cells: list[Cell], variable: Variable) -> tuple[Bound, Bound]:
    """The interval of a run of adjacent cells, within what the type allows, as
    (x >= low: (-low, strict) on 0 - x, x <= high: (high, strict) on x - 0)."""
    first, last = cells[0], cells[-1]
    low: Bound = None
    high: Bound = None
    if first.kind == "value":
        low = (-Fraction(first.value), False)  # type: ignore[call-overload]
    elif first.low is not None:
        low = (-Fraction(first.low), True)
    if last.kind == "value":
        high = (Fraction(last.value), False)  # type: ignore[call-overload]
    elif last.high is not None:
        high = (Fraction(last.high), True)
    if variable.low is not None:
        low = _tighter(low, (-Fraction(variable.low), False))
    if variable.high is not None:
        high = _tighter(high, (Fraction(variable.high), False))
    return low, high


def _preferred(cells: list[Cell] | None, variable: Variable) -> Fraction:
    """The value a witness would show for the variable if nothing else decided."""
    assert cells is not None
    anchor: Number = _ANCHOR if variable.date else 0
    for cell in cells:
        if cell.kind == "value" and cell.value == anchor:
            return Fraction(anchor)
        if cell.kind == "range" and (cell.low is None or cell.low < anchor) and (
                cell.high is None or anchor < cell.high):
            return Fraction(anchor)
    return Fraction(sample(cells[0], whole=variable.integral))


def _tighter(a: Bound, b: Bound) -> Bound:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b, key=_order)


def _order(bound: tuple[Fraction, bool]) -> tuple[Fraction, int]:
    return bound[0], 0 if bound[1] else 1  # `< c` is tighter than `<= c`


class _Zone:
    """A difference-bound matrix over the variables and a zero: entry [i][j] bounds
    x_i - x_j. Integral variables have their bounds tightened to whole numbers."""

    def __init__(self, names: list[str], integral: list[bool]) -> None:
        self.names = names
        self.index = {name: i + 1 for i, name in enumerate(names)}
        self.integral = [True, *integral]  # the zero is integral
        size = len(names) + 1
        self.m: list[list[Bound]] = [[(Fraction(0), False) if i == j else None
                                      for j in range(size)] for i in range(size)]

    def _put(self, i: int, j: int, bound: Bound) -> None:
        if bound is None:
            return
        if self.integral[i] and self.integral[j]:
            value, strict = bound
            whole = value.__floor__()
            bound = (Fraction(whole - 1 if strict and whole == value else whole), False)
        self.m[i][j] = _tighter(self.m[i][j], bound)

    def bound(self, name: str, low: Bound, high: Bound) -> None:
        i = self.index[name]
        self._put(0, i, low)   # 0 - x <= -low
        self._put(i, 0, high)  # x - 0 <= high

    def constrain(self, left: str, right: str, bound: tuple[Fraction, bool]) -> None:
        self._put(self.index[left], self.index[right], bound)

    def close(self) -> bool:
        """Floyd-Warshall; False when a cycle is negative (no values exist)."""
        m, size = self.m, len(self.m)
        for k in range(size):
            for i in range(size):
                through = m[i][k]
                if through is None:
                    continue
                for j in range(size):
                    onward, current = m[k][j], m[i][j]
                    if onward is None:
                        continue
                    total = _plus(through, onward)
                    if current is None or _order(total) < _order(current):
                        m[i][j] = total
        return all(_order(m[i][i] or _ZERO) >= (Fraction(0), 1) for i in range(size))
        return True

    def values(self, preferred: dict[str, Fraction]) -> dict[str, Number] | None:
        """Values in the zone, each as near its preferred value as the others allow."""
        out: dict[str, Number] = {}
        for name in self.names:
            i = self.index[name]
            low, high = self.m[0][i], self.m[i][0]
            value = preferred[name]
            if self.integral[i]:  # bounds reached through an amount may be fractions
                if low is not None:
                    least = (-low[0]).__ceil__()
                    value = max(value, Fraction(least + 1 if low[1] and least == -low[0]
                                                else least))
                if high is not None:
                    most = high[0].__floor__()
                    value = min(value, Fraction(most - 1 if high[1] and most == high[0]
                                                else most))
            else:
                if low is not None and (value < -low[0] or value == -low[0] and low[1]):
                    value = -low[0] + (_step(low, high) if low[1] else 0)
                if high is not None and (value > high[0] or value == high[0] and high[1]):
                    value = high[0] - (_step(high, low) if high[1] else 0)
            self.m[0][i] = (-value, False)
            self.m[i][0] = (value, False)
            if not self.close():
                return None
            out[name] = int(value) if self.integral[i] else value
        return out


def _plus(a: tuple[Fraction, bool], b: tuple[Fraction, bool]) -> tuple[Fraction, bool]:
    return a[0] + b[0], a[1] or b[1]


_ZERO = (Fraction(0), False)


def _step(near: Bound, far: Bound) -> Fraction:
    """How far inside a strict end of an amount's interval a value is taken: half its width,
    or 1 when it is open on the other side."""
    assert near is not None
    if far is None:
        return Fraction(1)
    return abs(near[0] + far[0]) / 2
