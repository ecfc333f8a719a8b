"""Questions: the analysis stage's ranking of the next question in partial evaluation.

The outcomes still possible are laid out as disjoint cubes, each with its outcome. Asking a
fact splits them by its answers: the answers that lead to different cubes are taken as
equally likely (an answer is a value, or a set of values that lead to the same cubes). A
question's score is the number of questions expected until one outcome is left, when every
later question is chosen the same way: one, plus the average over its answers of the best
score after it. The search looks as many questions ahead as a fixed allowance of work lets it
(counted in steps, never in seconds, so the ranking is the same on every machine) and says
whether it saw every path to the end. Ties go to the question that leaves fewer outcomes on
average, then to the fact declared first.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from policy_engine.analysis.influence import FactDimensions
from policy_engine.analysis.regions import Region, Space

#: Cubes of the outcome regions used at most.
MAX_ROWS = 4096
#: Splits of a set of cubes by a question's answers that one ranking may compute.
MAX_SPLITS = 10_000
#: Answers (value combinations) of one question examined at most.
MAX_ANSWERS = 256


@dataclass(frozen=True)
class Ranked:
    """A question's score: `expected` questions (it included), `left` outcomes on average."""

    fact: str
    expected: float
    left: float


@dataclass(frozen=True)
class Ranking:
    """Questions best first, and how far the search looked: `depth` questions ahead,
    `complete` when every path reached one outcome (or could not be split further)."""

    ranked: tuple[Ranked, ...]
    depth: int
    complete: bool

    def describe(self) -> str:
        reach = ("every path to the end" if self.complete
                 else f"{self.depth} question{'s' if self.depth != 1 else ''} ahead")
        return ("fewest expected further questions (each answer that leads elsewhere equally "
                f"likely, later questions chosen the same way, looking {reach}; ties: fewer "
                "outcomes left, then the fact declared first)")


class _OutOfWork(Exception):
    """The search of one depth spent its allowance."""


class _Search:
    def __init__(self, space: Space, outcomes: Sequence[Region],
                 dims: Mapping[str, FactDimensions]) -> None:
        rows: list[tuple[tuple[int, ...], int]] = []
        for index, region in enumerate(outcomes):
            for cube in itertools.islice(region.cubes(), MAX_ROWS - len(rows)):
                rows.append((cube, index))
        self.all_rows = (1 << len(rows)) - 1
        self.by_outcome = [0] * len(outcomes)
        full = space.top
        #: For each position some cube constrains, and each of its cells: the rows whose
        #: cube has that cell (bit r for row r).
        self.cell_rows: dict[int, list[int]] = {}
        for r, (cube, index) in enumerate(rows):
            bit = 1 << r
            self.by_outcome[index] |= bit
            for p, mask in enumerate(cube):
                if mask != full[p]:
                    self.cell_rows.setdefault(p, [0] * len(space.dimensions[p].cells))
        for r, (cube, _) in enumerate(rows):
            bit = 1 << r
            for p, cells in self.cell_rows.items():
                mask = cube[p]
                for cell in range(len(cells)):
                    if mask >> cell & 1:
                        cells[cell] |= bit
        relevant = set(self.cell_rows)
        self.facts = [name for name, d in dims.items()
                      if any(p in relevant for p in d.levels)]
        self.own = {name: [p for p in dims[name].own if p in relevant] for name in self.facts}
        readers: dict[int, set[str]] = {}
        for name, d in dims.items():
            for p in d.linked:
                readers.setdefault(p, set()).add(name)
        self.linked = {name: [(p, frozenset(readers[p])) for p in dims[name].linked
                              if p in relevant] for name in self.facts}
        self.splits = 0
        self.limit = MAX_SPLITS
        self.cut = False
        self.memo: dict[tuple[int, frozenset[str], int], float] = {}
        self._left: dict[int, int] = {}

    def left(self, rows: int) -> int:
        found = self._left.get(rows)
        if found is None:
            found = self._left[rows] = sum(1 for mask in self.by_outcome if mask & rows)
        return found

    def answers(self, fact: str, rows: int, answered: frozenset[str]) -> list[int]:
        """The sets of rows each answer to `fact` leaves (distinct, non-empty)."""
        self.splits += 1
        if self.splits > self.limit:
            raise _OutOfWork
        known = answered | {fact}
        positions = self.own[fact] + [p for p, readers in self.linked[fact]
                                      if readers <= known]
        choices = [[self.cell_rows[p][cell] for cell in range(len(self.cell_rows[p]))
                    if self.cell_rows[p][cell] & rows] for p in positions]
        found: dict[int, None] = {}
        for combination in itertools.islice(itertools.product(*choices), MAX_ANSWERS):
            left = rows
            for cell_rows in combination:
                left &= cell_rows
            if left:
                found[left] = None
        return list(found) or [rows]

    def expected(self, rows: int, answered: frozenset[str], depth: int) -> float:
        if self.left(rows) <= 1:
            return 0.0
        if depth == 0:
            self.cut = True
            return 1.0  # at least one more question
        key = (rows, answered, depth)
        found = self.memo.get(key)
        if found is not None:
            return found
        best: float | None = None
        for fact in self.facts:
            if fact in answered:
                continue
            groups = self.answers(fact, rows, answered)
            if groups == [rows]:
                continue
            score = 1 + sum(self.expected(g, answered | {fact}, depth - 1)
                            for g in groups) / len(groups)
            if best is None or score < best:
                best = score
        result = 0.0 if best is None else best  # nothing can narrow it further
        self.memo[key] = result
        return result

    def score(self, fact: str, depth: int) -> Ranked:
        if fact not in self.own:
            return Ranked(fact, 1 + self.expected(self.all_rows, frozenset(), depth), 0.0)
        groups = self.answers(fact, self.all_rows, frozenset())
        after = [self.expected(g, frozenset({fact}), depth - 1) for g in groups]
        return Ranked(fact, 1 + sum(after) / len(after),
                      sum(self.left(g) for g in groups) / len(groups))


def rank(space: Space, outcomes: Sequence[Region], dims: Mapping[str, FactDimensions],
         candidates: Sequence[str], order: Sequence[str]) -> Ranking:
    """Ranks `candidates` (facts not given) as next questions; see the module docstring.

    Args:
        outcomes: the regions of the outcomes still possible (allowed completions).
        dims: the dimensions of every fact not given that the caller could still be asked.
        order: the facts in declaration order, for ties.
    """
    search = _Search(space, outcomes, dims)
    # One question ahead takes one split per candidate: always within the allowance.
    best: list[Ranked] = []
    depth = 0
    complete = False
    for trying in range(1, len(search.facts) + 2):
        search.cut = False
        search.memo.clear()
        try:
            scores = [search.score(fact, trying) for fact in candidates]
        except _OutOfWork:
            break
        best, depth = scores, trying
        if not search.cut:
            complete = True
            break
    position = {name: index for index, name in enumerate(order)}
    best.sort(key=lambda r: (round(r.expected, 9), round(r.left, 9), position.get(r.fact, 0)))
    return Ranking(tuple(best), depth, complete)
