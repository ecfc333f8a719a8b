"""Influence: the analysis stage's account of which unknown facts change an outcome, and how.

Over the partition of the completions of some known facts (`specialise`), a fact *matters*
when learning it narrows the outcomes: some of its values allow outcomes that others do not
(the values are grouped by the outcomes they allow, projecting every region onto the fact's
own dimensions), or, where constraints tie facts together, when changing it alone changes an
outcome for some completion (a witness pair). A derived term or condition that the analysis
keeps free (arithmetic between unknown facts) counts as part of every fact it is computed
from, so "does not matter" is exact; "matters" is then shown by evaluated completions.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from policy_engine.analysis.partition import Model, cell_has
from policy_engine.analysis.regions import Cube, Region, Space, union
from policy_engine.check.types import Value

#: Value combinations of one fact examined at most (a list of ten enumeration values).
MAX_COMBINATIONS = 1024


@dataclass(frozen=True)
class FactDimensions:
    """Where one unknown fact lives in the space.

    Args:
        own: its own dimensions: the fact's, or a list's members and presence.
        linked: derived terms, free conditions and unanalysed rules computed from it.
    """

    fact: str
    own: tuple[int, ...]
    linked: tuple[int, ...]

    @property
    def levels(self) -> frozenset[int]:
        return frozenset(self.own + self.linked)


def fact_dimensions(model: Model, unknown: Sequence[str]) -> dict[str, FactDimensions]:
    """The dimensions of each unknown fact (a fact with none is read by no condition left)."""
    registry = model.translator.registry
    own: dict[str, list[int]] = {name: [] for name in unknown}
    linked: dict[str, list[int]] = {name: [] for name in unknown}
    for position, dimension in enumerate(model.space.dimensions):
        kind = dimension.key[0]
        if kind in ("fact", "member", "present"):
            name = str(dimension.key[1])
            if name in own:
                own[name].append(position)
            continue
        if kind == "derived":
            reads: Sequence[str] = registry.derived[dimension.key][2]
        elif kind == "opaque":
            reads = registry.opaque[dimension.key][1]
        else:  # an outcome left open over the budget: it may depend on any fact
            reads = unknown
        for name in reads:
            if name in linked:
                linked[name].append(position)
    return {name: FactDimensions(name, tuple(own[name]), tuple(linked[name]))
            for name in unknown if own[name] or linked[name]}


@dataclass(frozen=True)
class Group:
    """Values of a fact (a region over its own dimensions) with the outcomes they allow.

    Args:
        region: the values, as a region that constrains only the fact's own dimensions.
        outcomes: the indexes of the outcome regions these values reach.
        refused: when they reach none: the refusals (labels) that take all of them.
    """

    region: Region
    outcomes: frozenset[int]
    refused: tuple[str, ...]


def value_groups(space: Space, dims: FactDimensions, outcomes: Sequence[Region],
                 refusals: Sequence[tuple[str, Region]],
                 violations: Sequence[tuple[str, Region]] = ()) -> list[Group]:
    """A fact's values grouped by the outcomes they allow, in the order of its cells.

    Args:
        refusals: the regions refused by constraints (each by its first broken one).
        violations: where each constraint is broken, whatever the others do: values that
            no completion passes are said to be refused by the constraints that every
            completion with them breaks, when there are any.
    """
    if not dims.own:
        return []
    if len(dims.own) == 1:  # one dimension: read each region's cells of it directly
        level = dims.own[0]

        def project(region: Region) -> int:
            return _cells_region(space, level, space.reachable(region.node, level))
    else:
        others = frozenset(range(len(space.dimensions))) - frozenset(dims.own)

        def project(region: Region) -> int:
            return space.exists(region.node, others)
    reach = [project(region) for region in outcomes]
    refused = [(label, project(region)) for label, region in refusals]
    cells = [range(len(space.dimensions[position].cells)) for position in dims.own]
    found: dict[tuple[frozenset[int], tuple[str, ...]], list[Cube]] = {}
    for combination in itertools.islice(itertools.product(*cells), MAX_COMBINATIONS):
        cube = list(space.top)
        for position, cell in zip(dims.own, combination, strict=True):
            cube[position] = 1 << cell
        point = tuple(cube)
        allowed = frozenset(i for i, node in enumerate(reach) if space.within(point, node))
        labels: tuple[str, ...] = ()
        if not allowed:
            labels = tuple(dict.fromkeys(label for label, node in refused
                                         if space.within(point, node)))
            if not labels:
                continue  # values no completion has (a known fact rules them out)
            every = tuple(dict.fromkeys(label for label, region in violations
                                        if space.within(point, region.node)))
            labels = every or labels
        found.setdefault((allowed, labels), []).append(point)
    return [Group(union(*(space.cube(cube) for cube in cubes)), allowed, labels)
            for (allowed, labels), cubes in found.items()]


def holds_value(space: Space, dims: FactDimensions, value: Value | None, group: Group) -> bool:
    """Whether a value of the fact (None: left out) is one of a group's values."""
    cube = list(space.top)
    for position in dims.own:
        dimension = space.dimensions[position]
        kind = dimension.key[0]
        if kind == "member":
            cube[position] = 2 if isinstance(value, tuple) and dimension.key[2] in value else 1
            continue
        if kind == "present":
            cube[position] = 1 if value is None else 2
            continue
        mask = 0
        for cell_position, cell in enumerate(dimension.cells):
            if cell.kind == "missing":
                hit = value is None
            elif cell.kind == "other":
                hit = value is not None and not any(
                    c.kind == "value" and c.value == value for c in dimension.cells)
            else:
                hit = value is not None and cell_has(dimension, cell, value)
            if hit:
                mask |= 1 << cell_position
        cube[position] = mask
    return all(cube) and space.within(tuple(cube), group.region.node)


def _cells_region(space: Space, level: int, cells: int) -> int:
    """The node of the region where the dimension at `level` takes one of `cells`."""
    return space.restrict(space.dimensions[level].key, cells).node


def splits(groups: Sequence[Group]) -> bool:
    """Whether learning the fact narrows the outcomes: its allowed values do not all allow
    the same ones."""
    return len({group.outcomes for group in groups if group.outcomes}) > 1


def changes_alone(space: Space, dims: FactDimensions, outcomes: Sequence[Region],
                  ) -> tuple[int, Region] | None:
    """Where changing the fact alone (its own and linked dimensions) changes the outcome:
    the index of an outcome and the region of the other facts from which both it and an
    earlier outcome are reachable; None when nowhere."""
    levels = dims.levels
    seen = 0
    for index, region in enumerate(outcomes):
        here = space.exists(region.node, levels)
        both = space.apply("and", seen, here)
        if both:
            return index, Region(space, both)
        seen = space.apply("or", seen, here)
    return None
