"""Describe: regions of the fact space in the policy language's own words, short and readable."""

from __future__ import annotations

import datetime
from fractions import Fraction

from policy_engine.analysis.partition import MAX_REGIONS
from policy_engine.analysis.regions import (
    Cell,
    Cube,
    Dimension,
    Region,
    Space,
    cell_runs,
    number_value,
    union,
)


def describe_cube(space: Space, cube: Cube, nonempty: frozenset[str] = frozenset()) -> str:
    """A cube as a readable condition in the policy language's own words."""
    parts = cube_parts(space, cube, nonempty)
    return " and ".join(parts) if parts else "any facts"


def cube_parts(space: Space, cube: Cube, nonempty: frozenset[str] = frozenset()) -> list[str]:
    """A cube as the list of conditions that together describe it.

    Args:
        nonempty: list facts that must hold at least one value (their member dimensions are
            left full in the cube).
    """
    parts: list[str] = []
    members: dict[str, list[tuple[str, bool]]] = {}
    shown_nonempty = set()
    for dimension, mask in zip(space.dimensions, cube, strict=True):
        if dimension.kind == "member" and dimension.key[1] in nonempty:
            if dimension.key[1] not in shown_nonempty:
                shown_nonempty.add(dimension.key[1])
                parts.append(f"{dimension.key[1]} != []")
            continue
        if mask == dimension.full:
            continue
        if dimension.kind == "member":
            members.setdefault(str(dimension.key[1]), []).append(
                (str(dimension.key[2]), mask == 2))
            continue
        parts.append(_describe_dimension(dimension, mask))
    for fact, tests in members.items():
        total = sum(1 for d in space.dimensions if d.kind == "member" and d.key[1] == fact)
        if len(tests) == total and not any(has for _, has in tests):
            parts.append(f"{fact} == []")
            continue
        for value, has in tests:
            parts.append(f"{fact} contains {value}" if has else f"not {fact} contains {value}")
    return parts


def _describe_dimension(dimension: Dimension, mask: int) -> str:
    name = dimension.text
    cells = [cell for position, cell in enumerate(dimension.cells) if mask >> position & 1]
    missing = any(cell.kind == "missing" for cell in cells)
    values = [cell for cell in cells if cell.kind != "missing"]
    if dimension.kind == "opaque":
        return name if values[0].value else f"not ({name})"
    if dimension.kind == "unknown":
        return _describe_unknown(dimension, {str(cell.value) for cell in values})
    if dimension.kind == "present":
        return f"{name} is {'missing' if missing else 'present'}"
    if not values:
        return f"{name} is missing"
    all_values = [cell for cell in dimension.cells if cell.kind != "missing"]
    if len(values) == len(all_values):
        text = f"{name} is present"
    elif dimension.kind == "bool":
        text = name if values[0].value else f"not {name}"
    elif dimension.kind in ("enum", "text"):
        text = _describe_choices(name, dimension, values, all_values)
    else:
        text = _describe_numbers(name, dimension, mask)
    return f"({name} is missing or {text})" if missing else text


#: How the cells of an outcome left open read (see `unknown.RULE_CELLS`), and the pairs of
#: cells that read as one.
_OUTCOME_WORDS = {"rule": {"false": "does not apply", "true": "applies and does not stop",
                           "error": "stops on its condition",
                           "broken": "applies and stops on its outputs"},
                  "constraint": {"false": "does not refuse", "true": "refuses"}}
_OUTCOME_PAIRS = {frozenset({"true", "broken"}): "applies", frozenset({"error", "broken"}): "stops"}


def _describe_unknown(dimension: Dimension, values: set[str]) -> str:
    """An outcome the analysis left open (over its budget), such as `rule 'r' applies`."""
    words = _OUTCOME_WORDS[str(dimension.key[2])]
    pair = _OUTCOME_PAIRS.get(frozenset(values))
    if pair is not None:
        return f"{dimension.text} {pair}"
    left_out = {value for value in words if value not in values}
    if len(left_out) < len(values) or frozenset(left_out) in _OUTCOME_PAIRS:
        return f"not ({_describe_unknown(dimension, left_out)})"  # shorter: what it is not
    phrases = [f"{dimension.text} {words[value]}" for value in words if value in values]
    return phrases[0] if len(phrases) == 1 else "(" + " or ".join(phrases) + ")"


def _describe_choices(name: str, dimension: Dimension, values: list[Cell],
                      all_values: list[Cell]) -> str:
    shown = [_literal(dimension, cell) for cell in values]
    left_out = [cell for cell in all_values if cell not in values]
    excluded = [_literal(dimension, cell) for cell in left_out]
    other_left_out = any(cell.kind == "other" for cell in left_out)
    if len(shown) == 1 and values[0].kind != "other":
        return f"{name} is {shown[0]}"
    if len(excluded) == 1 and not other_left_out:
        return f"{name} is not {excluded[0]}"
    if not other_left_out and (len(excluded) < len(shown)
                               or any(cell.kind == "other" for cell in values)):
        return f"{name} not in [{', '.join(excluded)}]"
    named = [text for text, cell in zip(shown, values, strict=True) if cell.kind != "other"]
    return f"{name} in [{', '.join(named)}]"


def _literal(dimension: Dimension, cell: Cell) -> str:
    if dimension.kind == "text":
        return '"' + str(cell.value).replace('"', '\\"') + '"'
    return str(cell.value)


def _describe_numbers(name: str, dimension: Dimension, mask: int) -> str:
    runs = cell_runs(dimension, mask)
    present = [cell for cell in dimension.cells if cell.kind != "missing"]
    texts = [_describe_run(name, dimension, run, present) for run in runs]
    return texts[0] if len(texts) == 1 else "(" + " or ".join(texts) + ")"


def _describe_run(name: str, dimension: Dimension, run: list[Cell], all_cells: list[Cell]) -> str:
    whole = dimension.kind != "amount"
    first, last = run[0], run[-1]
    bounded_below = first is not all_cells[0]
    bounded_above = last is not all_cells[-1]

    def show(number: object) -> str:
        value = number_value(dimension.kind, number)  # type: ignore[arg-type]
        return value.isoformat() if isinstance(value, datetime.date) else str(value)

    def low_end() -> tuple[str, object]:
        if first.kind == "value":
            return "<=", first.value
        if whole:
            return "<=", _int_after(first.low)
        return "<", first.low

    def high_end() -> tuple[str, object]:
        if last.kind == "value":
            return "<=", last.value
        if whole:
            return "<=", _int_before(last.high)
        return "<", last.high

    if bounded_below and bounded_above:
        (low_op, low), (high_op, high) = low_end(), high_end()
        if low == high:
            return f"{name} == {show(low)}"
        return f"{show(low)} {low_op} {name} {high_op} {show(high)}"
    if bounded_below:
        if first.kind == "range":
            return f"{name} > {show(first.low)}"
        return f"{name} >= {show(first.value)}"
    if bounded_above:
        if last.kind == "range":
            return f"{name} < {show(last.high)}"
        return f"{name} <= {show(last.value)}"
    return f"{name} is present"


def _int_after(low: object) -> int:
    return int(Fraction(low).__floor__()) + 1  # type: ignore[call-overload]


def _int_before(high: object) -> int:
    return int(Fraction(high).__ceil__()) - 1  # type: ignore[call-overload]


def describe(space: Space, area: Region, target: Region | None = None,
             limit: int = MAX_REGIONS) -> list[str]:
    """A region as readable conditions, simplest first, at most `limit` of them."""
    parts = describe_parts(space, area, target)
    texts = list(dict.fromkeys(" and ".join(p) if p else "any facts" for p in parts))
    if len(texts) > limit:
        return texts[:limit] + [f"... and {len(texts) - limit} more regions"]
    return texts


def describe_parts(space: Space, area: Region, target: Region | None = None, *,
                   empty: Region | None = None) -> list[list[str]]:
    """A region as lists of conditions, one list per region, simplest first.

    Cubes that differ only in which values a list holds are merged into `LIST != []` when
    together they cover every non-empty list.

    Args:
        empty: combinations that hold no fact set (see `cover`).
    """
    items: list[tuple[Cube, frozenset[str]]] = [(cube, frozenset())
                                                for cube in cover(space, area, target,
                                                                  empty=empty)]
    lists = sorted({str(d.key[1]) for d in space.dimensions if d.kind == "member"})
    for name in lists:
        positions = [i for i, d in enumerate(space.dimensions)
                     if d.kind == "member" and d.key[1] == name]
        groups: dict[tuple[Cube, frozenset[str]], list[Cube]] = {}
        for cube, nonempty in items:
            key = tuple(space.top[i] if i in positions else m for i, m in enumerate(cube))
            groups.setdefault((key, nonempty), []).append(cube)
        merged: list[tuple[Cube, frozenset[str]]] = []
        for (key, nonempty), cubes in groups.items():
            together = union(*(space.cube(cube) for cube in cubes))
            no_items = tuple(1 if i in positions else m for i, m in enumerate(key))
            if len(cubes) > 1 and together == space.cube(key) - space.cube(no_items):
                merged.append((key, nonempty | {name}))
            else:
                merged.extend((cube, nonempty) for cube in cubes)
        items = merged
    items.sort(key=lambda item: sum(1 for d, m in zip(space.dimensions, item[0], strict=True)
                                    if m != d.full) + len(item[1]))
    return [cube_parts(space, cube, nonempty) for cube, nonempty in items]


#: Dimensions whose cells are ordered, so adjacent cells read as one range.
_ORDERED = frozenset({"whole", "amount", "date"})


def _next_to(dimension: Dimension, mask: int, cell: int) -> bool:
    """Whether a cell is beside a chosen value or range of a number or date (not `missing`)."""
    return any(0 <= near < len(dimension.cells) and mask >> near & 1
               and dimension.cells[near].kind != "missing" and dimension.cells[cell].kind
               != "missing" for near in (cell - 1, cell + 1))


def expand(space: Space, cube: Cube, target: Region, area: Region | None = None, *,
           touching: Region | None = None) -> Cube:
    """Widens a cube inside `target`, dimension by dimension, so it reads shorter.

    Whole dimensions are freed inside `target`; single cells are added only inside `area`
    (the region itself, without the facts that do not matter), so no description mentions
    a value just because it does not matter. With `touching`, a cell of a number or date next
    to a chosen one is added where its slice lies in `target` and holds some of `touching`
    (the region itself): a range that matters somewhere is widened to the next one (`< X`
    and `== X` read as `<= X`) even when the dimensions freed before make part of its slice
    not matter.
    """
    current = list(cube)
    # Free the dimensions the policy mentions least first: they are the details.
    order = sorted(range(len(space.dimensions)), key=lambda i: (
        space.weight.get(space.dimensions[i].key, 0), -i))
    for position in order:
        dimension = space.dimensions[position]
        if current[position] == dimension.full:
            continue
        trial = current.copy()
        trial[position] = dimension.full
        if space.within(tuple(trial), target.node):
            current = trial
    inner = (target if area is None else area).node

    def fits(position: int, cell: int) -> bool:
        # A cube lies in a region exactly when each of its one-cell slices does.
        trial = current.copy()
        trial[position] = 1 << cell
        dimension = space.dimensions[position]
        if touching is not None and dimension.kind in _ORDERED and _next_to(
                dimension, current[position], cell):
            return space.within(tuple(trial), target.node) and bool(
                space.cube(tuple(trial)) & touching)
        return space.within(tuple(trial), inner)

    for position, dimension in enumerate(space.dimensions):
        count = len(dimension.cells)
        if current[position] == dimension.full:
            continue
        if count <= 16:
            for cell in range(count):
                if not current[position] >> cell & 1 and fits(position, cell):
                    current[position] |= 1 << cell
            continue
        # Many cells (a number compared with many constants): widen each interval at its ends.
        for cell in range(count):
            if current[position] >> cell & 1:
                continue
            left = cell > 0 and current[position] >> (cell - 1) & 1
            right = cell + 1 < count and current[position] >> (cell + 1) & 1
            if (left or right) and fits(position, cell):
                current[position] |= 1 << cell
        for cell in range(count - 1, -1, -1):
            if not current[position] >> cell & 1 and cell + 1 < count \
                    and current[position] >> (cell + 1) & 1 and fits(position, cell):
                current[position] |= 1 << cell
    return tuple(current)


def cover(space: Space, area: Region, target: Region | None = None,
          limit: int = 4 * MAX_REGIONS, *, empty: Region | None = None) -> list[Cube]:
    """A short description of `area`: cubes widened inside `target` until they cover it.

    Args:
        empty: combinations of cells that hold no fact set (`differences.impossible`): a
            cube may take them in, and a cell whose slice holds some of `area` and else only
            what does not matter (`expand`'s `touching`), so `deadline < 2025-01-01` and
            `deadline == 2025-01-01` read as one `deadline <= 2025-01-01`.
    """
    target = area if target is None else target
    # A space has one region of empty combinations: a negative limit marks the covers made
    # with it.
    key = (area.node, target.node, limit if empty is None else -limit)
    if key in space.covers:
        return space.covers[key]
    wide: list[Cube] = []
    left = area
    while left and len(wide) < limit:
        cube = next(left.cubes())
        widened = (expand(space, cube, target, area) if empty is None
                   else expand(space, cube, target | empty, area | empty, touching=area))
        wide.append(widened)
        left = left - space.cube(widened)
    if empty is not None and not left:
        wide = _without_redundant(space, area, wide)
    wide.sort(key=lambda cube: sum(1 for d, m in zip(space.dimensions, cube, strict=True)
                                   if m != d.full))
    space.covers[key] = wide
    return wide


def _without_redundant(space: Space, area: Region, cubes: list[Cube]) -> list[Cube]:
    """The cubes without those whose part of `area` the others cover (a cube taken early
    may be inside one widened later), the last taken tried first."""
    kept = list(cubes)
    for cube in reversed(cubes):
        others = [space.cube(other) for other in kept if other is not cube]
        if others and not (area & space.cube(cube)) - union(*others):
            kept = [other for other in kept if other is not cube]
    return kept
