"""Completions: whole fact sets that complete known facts, checked on the reference interpreter.

Partial evaluation claims that some completion of the known facts exists with this outcome,
or with this value of a fact; each such claim is shown by a completion found inside its
region (by `witnesses.WitnessFinder`, with the known facts fixed) and evaluated by the
reference interpreter exactly as `policy eval` would. A claim without one is reported as
unconfirmed, never as fact.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from policy_engine.analysis.partition import Model, Outcome
from policy_engine.analysis.regions import Region
from policy_engine.analysis.witnesses import (
    LEFT_OUT,
    WitnessFinder,
    evaluation_cost,
    matches,
    observe,
)
from policy_engine.facts.known import KnownFacts

#: How many cubes of a region, and candidates of a cube, a search tries.
MAX_CUBES = 6
MAX_CANDIDATES = 8


def allowed(outcome: Outcome) -> bool:
    """Whether evaluation got past the fact stage and the constraints (a rule's outcome, the
    default's, or a refusal while deciding), so the fact set is a completion that counts."""
    return outcome.kind not in ("invalid", "crash") and outcome.rule != "constraint"


class Completions:
    """Finds and evaluates completions of known facts in the regions of a specialised model."""

    def __init__(self, model: Model, known: KnownFacts) -> None:
        self.model = model
        self.policy = model.policy
        self.known = known
        self.budget = model.space.budget
        self.finder = WitnessFinder([model], fixed=known.raw, left_out=known.absent)
        self._cost = evaluation_cost(self.policy)
        self._seen: dict[str, Outcome] = {}

    def outcome(self, raw: Mapping[str, Any]) -> Outcome:
        """The interpreter's outcome for a whole fact set (each one evaluated once)."""
        key = json.dumps(raw, sort_keys=True, default=str)
        found = self._seen.get(key)
        if found is None:
            self.budget.charge(self._cost)
            found = self._seen[key] = observe(self.policy, raw)
        return found

    def candidates(self, region: Region) -> Iterator[dict[str, Any]]:
        """Completions inside a region, the plainest first (a bounded number)."""
        for cube in itertools.islice(region.cubes(), MAX_CUBES):
            yield from itertools.islice(self.finder.candidates(cube), MAX_CANDIDATES)

    def find(self, region: Region, want: Outcome | None = None,
             accept: Callable[[dict[str, Any], Outcome], bool] | None = None,
             ) -> dict[str, Any] | None:
        """A completion in `region` that the interpreter gives `want` (a rule's outcome, so
        an allowed completion; None: any outcome) and that `accept` takes."""
        if not region:
            return None
        for candidate in self.candidates(region):
            seen = self.outcome(candidate)
            if want is not None and not (matches(seen, want)
                                         and allowed(seen) == allowed(want)):
                continue
            if accept is None or accept(candidate, seen):
                return candidate
        return None

    def values(self, fact: str, region: Region, many: bool = False) -> list[Any]:
        """A few raw values of `fact` inside a region (`LEFT_OUT`: leave it out), plainest
        first."""
        found: list[Any] = []
        for cube in itertools.islice(region.cubes(), 2):
            found.extend(self.finder.fact_values(fact, cube, many))
        return list({repr(value): value for value in found}.values())


def with_value(raw: Mapping[str, Any], fact: str, value: Any) -> dict[str, Any]:
    """A fact set with one fact changed (`LEFT_OUT`: left out)."""
    changed = {name: item for name, item in raw.items() if name != fact}
    if value is not LEFT_OUT:
        changed[fact] = value
    return changed
