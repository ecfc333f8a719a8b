"""Regions: the analysis stage's exact algebra over sets of fact sets.

Every fact the analysis reads is a *dimension* whose possible values are split into finitely
many *cells*, so that every condition in the policy is either wholly true or wholly false on
each cell: an enumeration has a cell per value, a number or date has a cell per constant it
is compared with and one per open interval between them, an optional fact has a `missing`
cell. A *cube* picks a set of cells in every dimension (a bitmask each); a *region* is a
union of cubes. Intersection, union and emptiness are then exact and need no solver.
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from policy_engine.analysis.budget import Budget

Number = int | Fraction

#: The first and last days a date can be (0001-01-01 and 9999-12-31), as ordinals.
FIRST_DAY = datetime.date.min.toordinal()
LAST_DAY = datetime.date.max.toordinal()

#: A cube: one bitmask of allowed cells per dimension.
Cube = tuple[int, ...]


@dataclass(frozen=True)
class Cell:
    """A set of values of one dimension on which every condition has one truth value.

    Args:
        kind: 'missing', 'value' (one enumeration value, yes/no, text, or number point),
            'range' (an open interval of numbers), 'other' (a text equal to no constant).
        value: the value of a 'value' cell.
        low: a range's lower end, excluded (None: unbounded or the declared minimum).
        high: a range's upper end, excluded.
    """

    kind: str
    value: object = None
    low: Number | None = None
    high: Number | None = None


@dataclass(frozen=True)
class Dimension:
    """One axis of the fact space.

    Args:
        key: what it stands for: ('fact', name), ('member', list fact, value),
            ('present', list fact) or ('opaque', expression key).
        kind: 'enum', 'bool', 'whole', 'amount', 'date', 'text', 'member', 'present',
            'opaque'.
        cells: the partition of its values.
        text: how conditions name it (a fact name, or a condition's source text).
    """

    key: tuple[object, ...]
    kind: str
    cells: tuple[Cell, ...]
    text: str

    @property
    def full(self) -> int:
        return (1 << len(self.cells)) - 1

    def mask(self, predicate: object) -> int:
        """The cells on which `predicate(cell)` holds, as a bitmask."""
        bits = 0
        for position, cell in enumerate(self.cells):
            if predicate(cell):  # type: ignore[operator]
                bits |= 1 << position
        return bits


class Space:
    """The dimensions of one analysis, and the decision diagrams that represent its regions.

    A region is a reduced, shared multi-valued decision diagram: a node tests one dimension
    and has one child per cell; node 0 is the empty region and node 1 the whole space. Equal
    regions are the same node, so emptiness is `node == 0` and every operation is memoised.

    Every node built and every node read is charged to `budget` (see `analysis.budget`), so
    a diagram that grows without end stops the item that grows it.
    """

    def __init__(self, dimensions: Sequence[Dimension], budget: Budget | None = None) -> None:
        self.dimensions = tuple(dimensions)
        self.index = {d.key: i for i, d in enumerate(self.dimensions)}
        self.top: Cube = tuple(d.full for d in self.dimensions)
        self.budget = budget if budget is not None else Budget(0)
        # The two leaves sit below every level, even of dimensions added later.
        self._nodes: list[tuple[int, tuple[int, ...]]] = [(_LEAF, ()), (_LEAF, ())]
        self._unique: dict[tuple[int, tuple[int, ...]], int] = {}
        self._memo: dict[tuple[str, int, int], int] = {}
        #: How often the policy's conditions test each dimension (for readable descriptions).
        self.weight: dict[tuple[object, ...], int] = {}
        #: Cells on which each atom of the translation holds, worked out once.
        self.atom_masks: dict[object, int] = {}
        self.samples: dict[tuple[object, ...], list[Fraction]] = {}
        self.covers: dict[tuple[int, int, int], list[Cube]] = {}
        self._groups: dict[int, tuple[tuple[int, int], ...]] = {}
        #: Memos of `exists` (by the levels freed) and `reachable` (by the level read).
        self._exists: dict[frozenset[int], dict[int, int]] = {}
        self._reachable: dict[int, dict[int, int]] = {}
        self._peak = 0

    @property
    def node_count(self) -> int:
        """How many diagram nodes the space holds (the two leaves included)."""
        return len(self._nodes)

    @property
    def peak_nodes(self) -> int:
        """The most nodes the space held at once (`rollback` forgets some)."""
        return max(self._peak, len(self._nodes))

    def rollback(self, mark: int) -> None:
        """Forgets the nodes built since `node_count` was `mark`, and every cache entry that
        names one: what an item over its budget built, so that its memory is given back.

        Nodes only point at older nodes, so the older ones stay whole; the caller drops the
        regions it made since `mark`.
        """
        if mark >= len(self._nodes):
            return
        self._peak = max(self._peak, len(self._nodes))
        for key in self._nodes[mark:]:
            del self._unique[key]
        del self._nodes[mark:]
        self._memo = {key: node for key, node in self._memo.items()
                      if node < mark and key[1] < mark and key[2] < mark}
        self._groups = {node: groups for node, groups in self._groups.items() if node < mark}
        self._exists.clear()
        self._reachable.clear()
        self.covers = {key: cubes for key, cubes in self.covers.items()
                       if key[0] < mark and key[1] < mark}

    def add_dimension(self, dimension: Dimension) -> None:
        """Adds a last dimension (existing regions leave it free); only before any cube of the
        space has been taken, since cubes have one mask per dimension."""
        self.index[dimension.key] = len(self.dimensions)
        self.dimensions += (dimension,)
        self.top += (dimension.full,)

    # ------------------------------------------------------------ regions
    def everything(self) -> Region:
        return Region(self, 1)

    def nothing(self) -> Region:
        return Region(self, 0)

    def restrict(self, key: tuple[object, ...], mask: int) -> Region:
        """The region where dimension `key` takes one of the cells in `mask`."""
        position = self.index[key]
        if mask == self.top[position]:
            return Region(self, 1)
        if mask == 0:
            return Region(self, 0)
        # The node `cube` would build, without walking every other dimension to find it.
        cells = len(self.dimensions[position].cells)
        return Region(self, self._make(position, tuple(
            1 if mask >> cell & 1 else 0 for cell in range(cells))))

    def cube(self, cube: Cube) -> Region:
        node = 1
        for level in range(len(self.dimensions) - 1, -1, -1):
            mask = cube[level]
            if mask == self.top[level]:
                continue
            if mask == 0:
                return Region(self, 0)
            node = self._make(level, tuple(node if mask >> cell & 1 else 0
                                           for cell in range(len(self.dimensions[level].cells))))
        return Region(self, node)

    # ------------------------------------------------------------ diagram operations
    def _make(self, level: int, children: tuple[int, ...]) -> int:
        budget = self.budget
        budget.spent += _NODE_STEPS + len(children)
        if budget.spent > budget.stop:
            budget.overrun()
        first = children[0]
        if all(child == first for child in children):
            return first
        key = (level, children)
        node = self._unique.get(key)
        if node is None:
            node = len(self._nodes)
            self._nodes.append(key)
            self._unique[key] = node
        return node

    def _children(self, node: int, level: int) -> tuple[int, ...]:
        node_level, children = self._nodes[node]
        if node_level == level:
            return children
        return (node,) * len(self.dimensions[level].cells)

    def apply(self, op: str, a: int, b: int) -> int:
        if op == "and":
            if a == 0 or b == 0:
                return 0
            if a == 1 or a == b:
                return b
            if b == 1:
                return a
        elif op == "or":
            if a == 1 or b == 1:
                return 1
            if a == 0 or a == b:
                return b
            if b == 0:
                return a
        else:  # "minus"
            if a == 0 or b == 1 or a == b:
                return 0
            if b == 0:
                return a
        if op != "minus" and a > b:
            a, b = b, a
        key = (op, a, b)
        found = self._memo.get(key)
        if found is not None:
            return found
        level = min(self._nodes[a][0], self._nodes[b][0])
        children = tuple(self.apply(op, x, y) for x, y in zip(
            self._children(a, level), self._children(b, level), strict=True))
        result = self._make(level, children)
        self._memo[key] = result
        return result

    def exists(self, node: int, levels: frozenset[int]) -> int:
        """The region with the dimensions at `levels` left free: every fact set that agrees
        with some fact set of `node` outside those dimensions (existential quantification).
        Partial evaluation asks with it whether changing one fact can change an outcome."""
        if not levels:
            return node
        memo = self._exists.setdefault(levels, {})

        def walk(current: int) -> int:
            if current <= 1:
                return current
            found = memo.get(current)
            if found is not None:
                return found
            level, children = self._nodes[current]
            if level in levels:
                result = 0
                for child, _ in self._grouped(current):
                    result = self.apply("or", result, walk(child))
                    if result == 1:
                        break
            else:
                result = self._make(level, tuple(walk(child) for child in children))
            memo[current] = result
            return result

        return walk(node)

    def reachable(self, node: int, level: int) -> int:
        """The cells of the dimension at `level` that some fact set of region `node` takes,
        as a bitmask: the region projected onto one dimension."""
        full = self.top[level]
        memo = self._reachable.setdefault(level, {0: 0, 1: full})

        def walk(current: int) -> int:
            found = memo.get(current)
            if found is not None:
                return found
            node_level = self._nodes[current][0]
            if node_level > level:  # the region does not test this dimension below here
                result = full
            elif node_level == level:
                result = 0
                for child, cells in self._grouped(current):
                    if child:
                        result |= cells
            else:
                result = 0
                for child, _ in self._grouped(current):
                    result |= walk(child)
                    if result == full:
                        break
            memo[current] = result
            return result

        return walk(node)

    def within(self, cube: Cube, node: int) -> bool:
        """Whether every fact set of `cube` lies in the region `node` (no diagram is built)."""
        seen: dict[int, bool] = {}
        budget = self.budget

        def inside(current: int) -> bool:
            budget.spent += 1  # a step per call: `all` below stops at the first miss
            if budget.spent > budget.stop:
                budget.overrun()
            if current <= 1:
                return current == 1
            known = seen.get(current)
            if known is not None:
                return known
            mask = cube[self._nodes[current][0]]
            result = all(inside(child) for child, cells in self._grouped(current)
                         if cells & mask)
            seen[current] = result
            return result

        return all(cube) and inside(node)

    def _grouped(self, node: int) -> tuple[tuple[int, int], ...]:
        """A node's distinct children, each with the bitmask of the cells that lead to it, in
        the order of their first cell. A node over a dimension of many cells (a number
        compared with many constants) has few distinct children: reading those is cheaper."""
        found = self._groups.get(node)
        if found is None:
            children = self._nodes[node][1]
            self.budget.charge(len(children))
            masks: dict[int, int] = {}
            for cell, child in enumerate(children):
                masks[child] = masks.get(child, 0) | 1 << cell
            found = self._groups[node] = tuple(masks.items())
        return found

    def cubes(self, node: int) -> Iterator[Cube]:
        """The region as disjoint cubes (one per path through the diagram)."""
        if node == 0:
            return
        path = list(self.top)

        def walk(current: int, level: int) -> Iterator[Cube]:
            if current == 1:
                yield tuple(path)
                return
            node_level = self._nodes[current][0]
            for child, mask in self._grouped(current):
                if child:
                    self.budget.charge(1)
                    path[node_level] = mask
                    yield from walk(child, node_level + 1)
            path[node_level] = self.top[node_level]

        yield from walk(node, 0)


#: The level of the two leaves: below every dimension.
_LEAF = 1 << 30

#: The steps a node costs besides one per cell: the operation that makes it looks it up,
#: builds its tuple and enters it in two tables, about as much work as four cells.
_NODE_STEPS = 4


class Region:
    """A set of fact sets in a `Space`; combine with `&`, `|` and `-`."""

    __slots__ = ("space", "node")

    def __init__(self, space: Space, node: int) -> None:
        self.space = space
        self.node = node

    def __bool__(self) -> bool:
        return self.node != 0

    def __and__(self, other: Region) -> Region:
        return Region(self.space, self.space.apply("and", self.node, other.node))

    def __or__(self, other: Region) -> Region:
        return Region(self.space, self.space.apply("or", self.node, other.node))

    def __sub__(self, other: Region) -> Region:
        return Region(self.space, self.space.apply("minus", self.node, other.node))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Region) and other.node == self.node

    def __hash__(self) -> int:
        return self.node

    def cubes(self) -> Iterator[Cube]:
        return self.space.cubes(self.node)


# ---------------------------------------------------------------- region algebra


def intersect(a: Region, b: Region) -> Region:
    return a & b


def union(*regions: Region) -> Region:
    result = regions[0]
    for other in regions[1:]:
        result = result | other
    return result


def subtract(a: Region, b: Region) -> Region:
    return a - b


def simplify(region: Region, limit: int = 64) -> list[Cube]:
    """Up to `limit` disjoint cubes of a region."""
    return list(itertools.islice(region.cubes(), limit))


# ---------------------------------------------------------------- building cells


def cell_runs(dimension: Dimension, mask: int) -> list[list[Cell]]:
    """The chosen cells of a number or date, as runs of adjacent cells (each an interval);
    a `missing` cell is in none."""
    runs: list[list[Cell]] = []
    previous = -2
    for position, cell in enumerate(dimension.cells):
        if not mask >> position & 1 or cell.kind == "missing":
            continue
        if position == previous + 1 and runs:
            runs[-1].append(cell)
        else:
            runs.append([cell])
        previous = position
    return runs


def number_cells(constants: Iterable[Number], *, whole: bool, minimum: Number | None,
                 maximum: Number | None) -> tuple[Cell, ...]:
    """Points at each constant and open intervals between them, within the declared bounds."""
    near: set[Number] = set()
    for k in constants:
        # A whole number compared with 0.3 changes truth between 0 and 1: mark both.
        near.update((k,) if not whole or _is_whole(k) else (_floor(k), _ceil(k)))
    points = sorted({k for k in near
                     if (minimum is None or k >= minimum) and (maximum is None or k <= maximum)})
    if minimum is not None and minimum not in points:
        points.insert(0, minimum)
    if maximum is not None and maximum not in points:
        points.append(maximum)
    cells: list[Cell] = []
    previous: Number | None = None
    if minimum is None:
        cells.append(Cell("range", None, None, points[0] if points else None))
    for point in points:
        if previous is not None and _interval_nonempty(previous, point, whole):
            cells.append(Cell("range", None, previous, point))
        cells.append(Cell("value", point))
        previous = point
    if maximum is None and points:
        cells.append(Cell("range", None, points[-1], None))
    return tuple(cells)


def _is_whole(k: Number) -> bool:
    return Fraction(k).denominator == 1


def _interval_nonempty(low: Number, high: Number, whole: bool) -> bool:
    if not whole:
        return high > low
    return _floor(low) + 1 <= _ceil(high) - 1


def _floor(k: Number) -> int:
    return int(Fraction(k).__floor__())


def _ceil(k: Number) -> int:
    return int(Fraction(k).__ceil__())


def cell_holds(cell: Cell, op: str, k: object) -> bool:
    """Whether `x op k` holds for every value x of a non-missing cell."""
    if cell.kind in ("value",):
        return _compare(cell.value, op, k)
    if cell.kind == "other":  # a text equal to no constant of the policy
        return op == "!="
    assert cell.kind == "range"
    # Inside an open interval (low, high) that contains no constant, a comparison with a
    # constant k has the same truth everywhere: test a representative.
    return _compare(sample(cell, whole=False), op, k)


def _compare(x: object, op: str, k: object) -> bool:
    if op == "==":
        return x == k
    if op == "!=":
        return x != k
    a, b = Fraction(x), Fraction(k)  # type: ignore[call-overload]
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


def sample(cell: Cell, *, whole: bool) -> Number:
    """A readable value inside a number cell: the point, or a round number in the range."""
    if cell.kind == "value":
        return cell.value  # type: ignore[return-value]
    low, high = cell.low, cell.high
    if low is None and high is None:
        return 0
    if low is None:
        assert high is not None
        return _ceil(high) - 1 if whole else _floor(high) - 1
    if high is None or whole:
        return _floor(low) + 1
    candidate: Number = _floor(low) + 1
    step = 1
    while not candidate < high:  # the roundest number inside a narrow interval
        step *= 10
        candidate = Fraction(_floor(low * step) + 1, step)
    return candidate


def samples(cell: Cell, *, whole: bool) -> list[Number]:
    """A few values inside a cell, for witness searches: the ends and the middle."""
    first = sample(cell, whole=whole)
    if cell.kind != "range":
        return [first]
    found = [first]
    low, high = cell.low, cell.high
    if low is not None and high is not None:
        values: list[Number] = [Fraction(low + high) / 2]
        if whole:
            values = [_ceil(high) - 1, (_floor(low) + 1 + _ceil(high) - 1) // 2]
        found.extend(values)
    elif low is not None:
        found.extend([_floor(low) + k for k in (2, 5, 10, 30, 100, 400)])
    elif high is not None:
        found.extend([_ceil(high) - k for k in (2, 5, 10, 30, 100)])
    return list(dict.fromkeys(found))


def number_value(kind: str, number: Number) -> object:
    """A cell's number as the value a fact of this kind takes."""
    if kind == "date":
        return datetime.date.fromordinal(int(number))
    if kind == "amount":
        fraction = Fraction(number)
        if fraction.denominator == 1:
            return Decimal(fraction.numerator)
        return Decimal(fraction.numerator) / Decimal(fraction.denominator)
    return int(number)


def as_number(value: object) -> Number | None:
    """A constant as a number on a dimension's axis (dates by ordinal), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime.date):
        return value.toordinal()
    if isinstance(value, (int, Fraction)):
        return value
    if isinstance(value, Decimal):
        return Fraction(value)
    return None
