"""Symbolic diff: the analysis stage that compares two policies over the whole fact space.

Both policies are partitioned in one shared space (`analysis.analyse`); every pair of regions
whose outcomes differ is a change. Changes are grouped by (old outcome, new outcome),
described as readable conditions, and confirmed by a witness evaluated on both policies, so
the result does not depend on which scenarios happen to exist.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from policy_engine.analysis import incomplete
from policy_engine.analysis.budget import Budget, OverBudget
from policy_engine.analysis.describe import cover, describe_parts
from policy_engine.analysis.partition import (
    MAX_REGIONS,
    Model,
    Outcome,
    analyse,
    diagnostic,
    refused,
)
from policy_engine.analysis.regions import Region, simplify
from policy_engine.analysis.witnesses import Witness, observe, witness_for, write_witnesses
from policy_engine.check.checked import CheckedPolicy
from policy_engine.core.diagnostics import Diagnostic


@dataclass(frozen=True)
class Change:
    """Facts whose outcome differs between the old and the new policy.

    Args:
        regions: the facts, as readable conditions (each one region).
        witness: a fact set in the first region on which both policies behave as stated;
            None when the analysis could not confirm the change (`approximate`).
    """

    old: Outcome
    new: Outcome
    regions: tuple[str, ...]
    witness: Witness | None
    common: str | None = None  # conditions every region shares, stated once

    @property
    def approximate(self) -> bool:
        return self.witness is None

    def headline(self) -> str:
        return f"{self.old.describe()} -> {self.new.describe()}"


@dataclass
class SymbolicDiff:
    """The changes between two policies, and what the analysis could not finish (W112).

    When `incomplete` is not empty, changes may be missing: no change found does not mean
    that the two policies decide alike.
    """

    changes: list[Change]
    incomplete: list[Diagnostic] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)


def symbolic_diff(old: CheckedPolicy, new: CheckedPolicy,
                  budget: Budget | None = None) -> list[Change]:
    """The regions of the fact space where the two policies decide differently (see
    `compare` for what the analysis could not finish within its budget)."""
    return compare(old, new, budget).changes


def compare(old: CheckedPolicy, new: CheckedPolicy, budget: Budget | None = None) -> SymbolicDiff:
    """The regions of the fact space where the two policies decide differently.

    Args:
        budget: the work the analysis may do (the default `Budget()` when None). Each change
            is an item of it: one over its share is listed without regions or witness.
    """
    budget = budget if budget is not None else Budget()
    result = SymbolicDiff([], budget=budget)
    with budget.active():
        models = analyse([old, new], budget)
        for model in models:
            result.incomplete += incomplete.unknown(model, budget)
            if model.stopped is not None:
                result.incomplete.append(incomplete.stopped(model.policy, model.stopped,
                                                            budget))
        if any(model.stopped is not None for model in models):
            return result
        try:
            groups = _groups(*models)
            # Facts both versions refuse before any rule never reach a decision in either,
            # so a description may include them: that keeps it to the conditions that matter.
            dont_care = refused(models[0]) & refused(models[1])
        except OverBudget:
            result.incomplete.append(_stopped(new, "comparing the two versions", budget))
            return result
        changes = []
        for (old_outcome, new_outcome), area in groups.items():
            exhausted = budget.exhausted is not None
            mark = models[0].space.node_count
            try:
                with budget.item():
                    changes.append(_change(models, old_outcome, new_outcome, area, dont_care))
                    continue
            except OverBudget as over:
                models[0].space.rollback(mark)
                if not over.whole:
                    result.incomplete.append(incomplete.search_over(
                        new, f"the facts of the change {old_outcome.describe()} -> "
                             f"{new_outcome.describe()}", None, budget))
                elif not exhausted:  # said once, for this change and every one after it
                    result.incomplete.append(_stopped(new, "describing the changes", budget))
            # The change exists (its region is not empty) but is not described.
            changes.append(Change(old_outcome, new_outcome, (), None))
    result.changes = sorted(changes, key=lambda ch: (ch.approximate, ch.old.describe(),
                                                     ch.new.describe()))
    return result


def _groups(before: Model, after: Model) -> dict[tuple[Outcome, Outcome], Region]:
    """The facts of each (old outcome, new outcome) pair that differ."""
    groups: dict[tuple[Outcome, Outcome], Region] = {}
    for a in before.pieces:
        for b in after.pieces:
            if a.outcome.same_result(b.outcome):
                continue
            overlap = a.region & b.region
            if not overlap:
                continue
            key = (_plain(a.outcome), _plain(b.outcome))
            groups[key] = groups[key] | overlap if key in groups else overlap
    return groups


def _stopped(policy: CheckedPolicy, doing: str, budget: Budget) -> Diagnostic:
    return diagnostic(
        policy, incomplete.CODE, f"analysis incomplete: the policy is over "
                                 f"{incomplete.whole(budget)} while {doing}",
        notes=["changes may be missing, and those listed without regions are not described"],
        help=incomplete.raise_limit(budget))


def _plain(outcome: Outcome) -> Outcome:
    """Outcomes compare by decision (or refusal, or error), not by the rule that gave them."""
    return Outcome(outcome.kind, outcome.name, None)


def _change(models: list[Model], old: Outcome, new: Outcome, area: Region,
            dont_care: Region) -> Change:
    space = models[0].space
    wide = cover(space, area, area | dont_care)
    parts = describe_parts(space, area, area | dont_care)
    shared = [p for p in parts[0] if all(p in other for other in parts[1:])] \
        if len(parts) > 1 else []
    texts = tuple(dict.fromkeys(" and ".join(q for q in p if q not in shared) or "any facts"
                                for p in parts))
    if len(texts) > MAX_REGIONS:
        texts = texts[:MAX_REGIONS] + (f"... and {len(texts) - MAX_REGIONS} more regions",)
    cubes = [cube for w in wide for cube in simplify(space.cube(w) & area, 4)]
    expected = [None if o.kind == "error" else o for o in (old, new)]
    witness, _ = witness_for(
        models, cubes, "change", f"{old.describe()} -> {new.describe()}", expected,
        extra=lambda raw: _both_errors(models, raw, old, new))
    return Change(old, new, texts, witness, " and ".join(shared) if shared else None)


def _both_errors(models: list[Model], raw: dict[str, object], old: Outcome,
                 new: Outcome) -> bool:
    for model, outcome in zip(models, (old, new), strict=True):
        if outcome.kind == "error" and observe(model.policy, raw).kind != "error":
            return False
    return True


def render_changes(changes: list[Change], old_name: str, new_name: str, *,
                   markdown: bool = False, incomplete: Sequence[Diagnostic] = ()) -> str:
    """The changes as text (or Markdown): one block per change, its regions, its witness.

    Args:
        incomplete: the W112 findings of the comparison: they are named at the end (in full
            in Markdown, for a pull request; text leaves them to the diagnostics), and no
            change found is then not said to mean that the versions decide alike.
    """
    notes = ([f"- **analysis incomplete** (`{_where(d)}`): "
              f"{d.message.removeprefix('analysis incomplete: ')}" for d in incomplete]
             if markdown else
             ["warning: the analysis is incomplete (W112): changes may be missing"]
             if incomplete else [])
    if not changes:
        if not notes:
            return f"{old_name} and {new_name} decide alike on every fact set\n"
        headline = "no change found, but the analysis is incomplete"
        return "\n".join([f"## Symbolic diff `{old_name}` -> `{new_name}`: {headline}"
                          if markdown else f"{old_name} -> {new_name}: {headline}", *(
                              [""] if markdown else []), *notes]) + "\n"
    count = f"{len(changes)} change" + ("s" if len(changes) != 1 else "")
    lines = [f"## Symbolic diff `{old_name}` -> `{new_name}`: {count}" if markdown
             else f"symbolic diff {old_name} -> {new_name}: {count}"]
    for change in changes:
        lines.append("")
        marker = " (approximate: no witness confirms it)" if change.approximate else ""
        lines.append(f"### {change.headline()}{marker}" if markdown
                     else f"{change.headline()}{marker}")
        if markdown:
            lines.append("")
        if change.common:
            lines.append(f"- for facts where `{change.common}`:" if markdown
                         else f"  for facts where {change.common}:")
        for text in change.regions:
            lines.append(f"- when `{text}`" if markdown else f"  when {text}")
        if change.witness is not None:
            facts = ", ".join(f"{k}: {json.dumps(v)}" for k, v in change.witness.facts.items())
            lines.append(f"- witness: `{{{facts}}}`" if markdown
                         else f"  witness: {{{facts}}}")
    if notes:
        lines.extend(["", *notes])
    return "\n".join(lines) + "\n"


def _where(diagnostic_: Diagnostic) -> str:
    file, line, _ = diagnostic_.location()
    return f"{file}:{line}" if line else str(file)


def changes_json(changes: list[Change]) -> list[dict[str, object]]:
    return [{
        "old": change.old.describe(),
        "new": change.new.describe(),
        "where": change.common,
        "regions": list(change.regions),
        "approximate": change.approximate,
        "witness": ({"facts": change.witness.facts} if change.witness else None),
    } for change in changes]


def write_change_witnesses(changes: list[Change], directory: str,
                           policy_path: str | None) -> list[str]:
    """Saves each confirmed change's witness as a scenario of the NEW policy."""
    return write_witnesses([(f"{ch.old.name}-to-{ch.new.name}", ch.witness) for ch in changes],
                           directory, policy_path)
