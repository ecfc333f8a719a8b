"""Formulas: the analysis stage's true/false/error conditions over atoms, and their regions.

`symbolic` translates a policy's conditions into these formulas; `region` turns a formula
into a region of a `Space`. A formula is a DAG: translating `define`d values shares their
sub-formulas, so everything that walks one visits each shared part once and charges the
budget for it (a chain of `if` values can make the tree exponentially larger than the DAG).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from fractions import Fraction

from policy_engine.analysis.budget import charge_active
from policy_engine.analysis.regions import (
    Cell,
    Dimension,
    Region,
    Space,
    as_number,
    cell_holds,
    intersect,
    sample,
    union,
)

# ---------------------------------------------------------------- formulas


@dataclass(frozen=True)
class Atom:
    """A predicate on one dimension that is always true or false (never an error).

    `test` is ('cmp', op, constant), ('in', values), ('present',) or ('true',).
    """

    key: tuple[object, ...]
    test: tuple[object, ...]


@dataclass(frozen=True)
class Op:
    kind: str  # 'and' | 'or' | 'not'
    items: tuple[Formula, ...]


Formula = bool | Atom | Op


def and_(*items: Formula) -> Formula:
    return _join("and", False, items)


def or_(*items: Formula) -> Formula:
    return _join("or", True, items)


def _join(kind: str, decisive: bool, items: tuple[Formula, ...]) -> Formula:
    """`and` (`decisive` False) or `or` (`decisive` True) of formulas, flattened: a decisive
    constant decides, the other is left out, nested formulas of the same kind are merged."""
    flat: list[Formula] = []
    for item in items:
        if item is decisive:
            return decisive
        if item is (not decisive):
            continue
        if isinstance(item, Op) and item.kind == kind:
            flat.extend(item.items)
        else:
            flat.append(item)
    charge_active(1 + len(flat))
    if not flat:
        return not decisive
    return flat[0] if len(flat) == 1 else Op(kind, tuple(flat))


def not_(item: Formula) -> Formula:
    if isinstance(item, bool):
        return not item
    if isinstance(item, Op) and item.kind == "not":
        return item.items[0]
    return Op("not", (item,))


@dataclass(frozen=True)
class Three:
    """Where an expression is true, false, or stops with an error (the three never overlap)."""

    true: Formula
    false: Formula
    error: Formula

    def and_then(self, other: Three) -> Three:
        """`self and other`: `other` is evaluated only where `self` is true."""
        return Three(and_(self.true, other.true),
                     or_(self.false, and_(self.true, other.false)),
                     or_(self.error, and_(self.true, other.error)))

    def or_else(self, other: Three) -> Three:
        """`self or other`: `other` is evaluated only where `self` is false."""
        return Three(or_(self.true, and_(self.false, other.true)),
                     and_(self.false, other.false),
                     or_(self.error, and_(self.false, other.error)))


def compare_values(a: object, op: str, b: object) -> bool:
    """`a op b` for two constants (numbers and dates compared as numbers)."""
    x, y = as_number(a), as_number(b)
    if x is not None and y is not None:
        a, b = Fraction(x), Fraction(y)
    if op == "==":
        return a == b
    if op == "!=":
        return a != b
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])  # type: ignore[operator]


# ---------------------------------------------------------------- formulas to regions


def region(space: Space, formula: Formula, negate: bool = False) -> Region:
    """The region where a formula holds (or fails, with `negate`), in negation normal form."""
    return _region(space, formula, negate, {})


def _region(space: Space, formula: Formula, negate: bool,
            seen: dict[tuple[int, bool], Region]) -> Region:
    if isinstance(formula, bool):
        return space.everything() if formula != negate else space.nothing()
    if isinstance(formula, Atom):
        dimension = space.dimensions[space.index[formula.key]]
        mask = space.atom_masks.get(formula)
        if mask is None:
            mask = _number_mask(space, dimension, formula)
            if mask is None:
                mask = dimension.mask(lambda cell: _atom_holds(formula, cell))
            space.atom_masks[formula] = mask
        return space.restrict(formula.key, (dimension.full & ~mask) if negate else mask)
    if formula.kind == "not":
        return _region(space, formula.items[0], not negate, seen)
    # Shared parts of the DAG are turned into regions once (the formula outlives the call,
    # so the ids stay its parts').
    key = (id(formula), negate)
    found = seen.get(key)
    if found is not None:
        return found
    space.budget.charge(len(formula.items))
    parts = [_region(space, item, negate, seen) for item in formula.items]
    conjunctive = (formula.kind == "and") != negate
    result = parts[0]
    for part in parts[1:]:
        result = intersect(result, part) if conjunctive else union(result, part)
        if conjunctive and not result:
            break
    seen[key] = result
    return result


def _number_mask(space: Space, dimension: Dimension, atom: Atom) -> int | None:
    """The mask of a comparison with a number, against each cell's representative, fast."""
    if atom.test[0] != "cmp" or dimension.kind not in ("whole", "amount", "date") \
            or isinstance(atom.test[2], (bool, str)):
        return None
    samples = space.samples.get(dimension.key)
    if samples is None:
        # Cells are in increasing order (after the `missing` cell, if any), so a comparison
        # with a constant holds on one run of cells, found by bisection.
        samples = [Fraction(sample(cell, whole=False)) for cell in dimension.cells
                   if cell.kind != "missing"]
        space.samples[dimension.key] = samples
    offset = len(dimension.cells) - len(samples)
    k = Fraction(atom.test[2])  # type: ignore[call-overload]
    low, high = bisect.bisect_left(samples, k), bisect.bisect_right(samples, k)
    runs = {"<": (0, low), "<=": (0, high), ">": (high, len(samples)),
            ">=": (low, len(samples)), "==": (low, high)}
    op = str(atom.test[1])
    if op == "!=":
        every = ((1 << len(samples)) - 1) << offset
        return every & ~(((1 << high) - (1 << low)) << offset)
    start, end = runs[op]
    return ((1 << end) - (1 << start)) << offset


def _atom_holds(atom: Atom, cell: Cell) -> bool:
    kind = atom.test[0]
    if cell.kind == "missing":
        return False
    if kind == "present":
        return True
    if kind == "true":
        return cell.value is True
    if kind == "in":
        return cell.kind == "value" and cell.value in atom.test[1]  # type: ignore[operator]
    _, op, constant = atom.test
    if isinstance(constant, (bool, str)):
        return cell.kind == "value" and compare_values(cell.value, str(op), constant) or (
            cell.kind == "other" and op == "!=")
    return cell_holds(cell, str(op), constant)


def count_atoms(roots: list[Formula], weight: dict[tuple[object, ...], int]) -> None:
    """Adds to `weight`, for each dimension, how often atoms on it occur in the formulas as
    trees (a part shared twice counts twice), while visiting each shared part once.

    The walk is not charged to the budget: it visits each part that building the formulas
    was charged for once.
    """
    # Parts in an order where every part comes after all the parts that contain it.
    order: list[Op] = []
    visited: set[int] = set()
    for root in roots:
        if not isinstance(root, Op) or id(root) in visited:
            continue
        visited.add(id(root))
        stack: list[tuple[Op, int]] = [(root, 0)]
        while stack:
            current, position = stack.pop()
            if position < len(current.items):
                stack.append((current, position + 1))
                child = current.items[position]
                if isinstance(child, Op) and id(child) not in visited:
                    visited.add(id(child))
                    stack.append((child, 0))
            else:
                order.append(current)
    times: dict[int, int] = {}
    for root in roots:
        if isinstance(root, Atom):
            weight[root.key] = weight.get(root.key, 0) + 1
        elif isinstance(root, Op):
            times[id(root)] = times.get(id(root), 0) + 1
    for current in reversed(order):
        count = times.get(id(current), 0)
        for child in current.items:
            if isinstance(child, Atom):
                weight[child.key] = weight.get(child.key, 0) + count
            elif isinstance(child, Op):
                times[id(child)] = times.get(id(child), 0) + count
