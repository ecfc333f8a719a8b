"""Symbolic diff: the analysis stage that compares two policies over the whole fact space.

Both policies are partitioned in one shared space (`analysis.analyse`); every pair of regions
whose outcomes differ is a change. Changes are grouped by (old outcome, new outcome), and the
combinations no fact set has (`deadline < withdrawal_date and withdrawal_date < deadline`,
see `differences`) are taken out first: a change left with nothing is dropped and counted.
Each change is then described as readable conditions and confirmed by a witness evaluated on
both policies: an existing scenario when one shows it, else facts the analysis finds. A change
no witness confirms is *satisfiable* when the declared facts, bounds and checks are shown to
allow it, else *unconfirmed*.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_engine.analysis import differences, incomplete
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
from policy_engine.analysis.witnesses import (
    Witness,
    evaluation_cost,
    expectation,
    observe,
    witness_for,
    write_witnesses,
)
from policy_engine.check.checked import CheckedPolicy
from policy_engine.core.diagnostics import Diagnostic


@dataclass(frozen=True)
class Change:
    """Facts whose outcome differs between the old and the new policy.

    Args:
        regions: the facts, as readable conditions (each one region).
        witness: a fact set on which both policies behave as stated; None when nothing
            confirmed the change (`approximate`).
        source: the scenario file the witness comes from, when an existing one showed it.
        satisfiable: without a witness, whether the declared facts, their bounds and the
            policy's checks are shown to allow the change's conditions.
    """

    old: Outcome
    new: Outcome
    regions: tuple[str, ...]
    witness: Witness | None
    common: str | None = None  # conditions every region shares, stated once
    source: str | None = None
    satisfiable: bool = False

    @property
    def approximate(self) -> bool:
        return self.witness is None

    @property
    def status(self) -> str:
        """`confirmed` (a witness), `satisfiable` (no witness, but shown to be possible) or
        `unconfirmed` (neither: the analysis could not tell)."""
        if self.witness is not None:
            return "confirmed"
        return "satisfiable" if self.satisfiable else "unconfirmed"

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
    #: The changes whose every fact set is impossible (comparisons that contradict each
    #: other), dropped from `changes`: (old outcome, new outcome).
    impossible: list[tuple[Outcome, Outcome]] = field(default_factory=list)
    #: How many scenarios were decided by both versions as witnesses.
    scenarios: int = 0


def symbolic_diff(old: CheckedPolicy, new: CheckedPolicy,
                  budget: Budget | None = None) -> list[Change]:
    """The regions of the fact space where the two policies decide differently (see
    `compare` for what the analysis could not finish within its budget)."""
    return compare(old, new, budget).changes


#: A scenario as a candidate witness: its file (as shown) and its raw facts.
Scenario = tuple[str, Mapping[str, Any]]


def compare(old: CheckedPolicy, new: CheckedPolicy, budget: Budget | None = None,
            scenarios: Sequence[Scenario] = ()) -> SymbolicDiff:
    """The regions of the fact space where the two policies decide differently.

    Args:
        budget: the work the analysis may do (the default `Budget()` when None). Each change
            is an item of it: one over its share is listed without regions or witness.
        scenarios: existing fact sets, tried first as witnesses: one that the two versions
            decide as a change does confirms it (the first in the order given).
    """
    budget = budget if budget is not None else Budget()
    result = SymbolicDiff([], budget=budget, scenarios=len(scenarios))
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
            # So may the combinations no fact set has (taken out of each change below).
            impossible = differences.of(models[0].space,
                                        models[0].translator.registry).impossible()
            dont_care = refused(models[0]) & refused(models[1])
            shown = _decided(models, scenarios)
        except OverBudget:
            result.incomplete.append(_stopped(new, "comparing the two versions", budget))
            return result
        changes = []
        for (old_outcome, new_outcome), whole in groups.items():
            exhausted = budget.exhausted is not None
            mark = models[0].space.node_count
            try:
                with budget.item():
                    area = whole - impossible
                    if not area:
                        result.impossible.append((old_outcome, new_outcome))
                        continue
                    # described with the impossible combinations only where it had some:
                    # elsewhere as before, and as cheaply
                    empty = impossible if area != whole else None
                    changes.append(_change(models, old_outcome, new_outcome, area,
                                           dont_care | empty if empty else dont_care, empty,
                                           shown.pop((old_outcome, new_outcome), None)))
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
        # A scenario that changes where the analysis found no change: the analysis was
        # incomplete, but the scenario is a fact.
        for (old_outcome, new_outcome), (path, witness) in shown.items():
            changes.append(Change(old_outcome, new_outcome, (), witness, source=path))
    result.changes = sorted(changes, key=lambda ch: (_STATUS_ORDER[ch.status],
                                                     ch.old.describe(), ch.new.describe()))
    result.impossible.sort(key=lambda pair: (pair[0].describe(), pair[1].describe()))
    return result


_STATUS_ORDER = {"confirmed": 0, "satisfiable": 1, "unconfirmed": 2}


def _decided(models: list[Model], scenarios: Sequence[Scenario],
             ) -> dict[tuple[Outcome, Outcome], tuple[str, Witness]]:
    """The first scenario of each change the existing scenarios show, as its witness."""
    found: dict[tuple[Outcome, Outcome], tuple[str, Witness]] = {}
    budget = models[0].space.budget
    cost = sum(evaluation_cost(model.policy) for model in models)
    for path, facts in scenarios:
        budget.charge(cost)
        before, after = (observe(model.policy, facts) for model in models)
        if before.same_result(after) or "crash" in (before.kind, after.kind):
            continue
        key = (_plain(before), _plain(after))
        if key not in found:
            found[key] = (path, Witness(path, f"{before.describe()} -> {after.describe()}",
                                        dict(facts), expectation(after)))
    return found


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
            dont_care: Region, impossible: Region | None,
            shown: tuple[str, Witness] | None = None) -> Change:
    space = models[0].space
    wide = cover(space, area, area | dont_care, empty=impossible)
    relations = differences.of(space, models[0].translator.registry)
    parts = [relations.equalities(part)
             for part in describe_parts(space, area, area | dont_care, empty=impossible)]
    shared = [p for p in parts[0] if all(p in other for other in parts[1:])] \
        if len(parts) > 1 else []
    texts = tuple(dict.fromkeys(" and ".join(q for q in p if q not in shared) or "any facts"
                                for p in parts))
    if len(texts) > MAX_REGIONS:
        texts = texts[:MAX_REGIONS] + (f"... and {len(texts) - MAX_REGIONS} more regions",)
    common = " and ".join(shared) if shared else None
    if shown is not None:  # an existing scenario: no search needed
        return Change(old, new, texts, shown[1], common, source=shown[0])
    cubes = [cube for w in wide for cube in simplify(space.cube(w) & area, 4)]
    expected = [None if o.kind == "error" else o for o in (old, new)]
    witness, _ = witness_for(
        models, cubes, "change", f"{old.describe()} -> {new.describe()}", expected,
        extra=lambda raw: _both_errors(models, raw, old, new), relations_first=True)
    satisfiable = False
    if witness is None:
        satisfiable = any(verdict.possible and verdict.exact
                          for verdict in map(relations.solve, cubes))
    return Change(old, new, texts, witness, common, satisfiable=satisfiable)


def _both_errors(models: list[Model], raw: dict[str, object], old: Outcome,
                 new: Outcome) -> bool:
    for model, outcome in zip(models, (old, new), strict=True):
        if outcome.kind == "error" and observe(model.policy, raw).kind != "error":
            return False
    return True


def render_changes(changes: list[Change], old_name: str, new_name: str, *,
                   markdown: bool = False, incomplete: Sequence[Diagnostic] = (),
                   impossible: Sequence[tuple[Outcome, Outcome]] = ()) -> str:
    """The changes as text (or Markdown): one block per change, its regions, its witness.

    Confirmed changes come first, then those shown to be possible without a witness (marked
    so); changes that nothing confirms or shows possible are named on one line at the end,
    and so is the count of changes dropped because their conditions contradict each other.

    Args:
        incomplete: the W112 findings of the comparison: they are named at the end (in full
            in Markdown, for a pull request; text leaves them to the diagnostics), and no
            change found is then not said to mean that the versions decide alike.
        impossible: the changes dropped as impossible (`SymbolicDiff.impossible`).
    """
    notes = ([f"- **analysis incomplete** (`{_where(d)}`): "
              f"{d.message.removeprefix('analysis incomplete: ')}" for d in incomplete]
             if markdown else
             ["warning: the analysis is incomplete (W112): changes may be missing"]
             if incomplete else [])
    shown = [change for change in changes if change.status != "unconfirmed"]
    unconfirmed = [change for change in changes if change.status == "unconfirmed"]
    notes = _left_out(unconfirmed, impossible, markdown) + notes
    if not shown:
        if not unconfirmed and not incomplete:
            return "\n".join([f"{old_name} and {new_name} decide alike on every fact set",
                              *notes]) + "\n"
        headline = ("no change found, but the analysis is incomplete" if incomplete
                    else "no change confirmed")
        return "\n".join([f"## Symbolic diff `{old_name}` -> `{new_name}`: {headline}"
                          if markdown else f"{old_name} -> {new_name}: {headline}", *(
                              [""] if markdown else []), *notes]) + "\n"
    lines = [f"## Symbolic diff `{old_name}` -> `{new_name}`: {_count(len(shown), 'change')}"
             if markdown else f"symbolic diff {old_name} -> {new_name}: "
                              f"{_count(len(shown), 'change')}"]
    for change in shown:
        lines.append("")
        marker = (" (approximate: no witness found, but the declared facts and checks allow "
                  "it)" if change.approximate else "")
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
            origin = (f"scenario `{change.source}`: " if markdown else
                      f"scenario {change.source}: ") if change.source else ""
            lines.append(f"- witness: {origin}`{{{facts}}}`" if markdown
                         else f"  witness: {origin}{{{facts}}}")
    if notes:
        lines.extend(["", *notes])
    return "\n".join(lines) + "\n"


def _left_out(unconfirmed: Sequence[Change], impossible: Sequence[tuple[Outcome, Outcome]],
              markdown: bool) -> list[str]:
    """One line each for what the listing leaves out, so that nothing is dropped silently."""
    lines = []
    if unconfirmed:
        names = "; ".join(change.headline() for change in unconfirmed)
        lines.append(f"{_count(len(unconfirmed), 'more change')} that no witness confirms and "
                     f"the analysis can neither show possible nor rule out (--format json "
                     f"lists the conditions): {names}")
    if impossible:
        names = "; ".join(f"{old.describe()} -> {new.describe()}" for old, new in impossible)
        lines.append(f"{_count(len(impossible), 'change')} over contradictory conditions "
                     f"dropped: {names}")
    return [f"- {line}" for line in lines] if markdown else lines


def _count(number: int, what: str) -> str:
    return f"{number} {what}" + ("s" if number != 1 else "")


def _where(diagnostic_: Diagnostic) -> str:
    file, line, _ = diagnostic_.location()
    return f"{file}:{line}" if line else str(file)


#: The JSON of `policy diff --symbolic` (schema in policy_engine/schemas/): bump the version on
#: any incompatible change.
FORMAT = "policy-engine/symbolic-diff"
FORMAT_VERSION = 1


def diff_json(result: SymbolicDiff, old_name: str, new_name: str) -> dict[str, object]:
    """The whole comparison as JSON: every change with its status, what was dropped, and what
    the analysis could not finish."""
    statuses = [change.status for change in result.changes]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "old": old_name,
        "new": new_name,
        "complete": not result.incomplete,
        "summary": {"changes": len(result.changes),
                    **{status: statuses.count(status) for status in _STATUS_ORDER},
                    "impossible": len(result.impossible),
                    "scenarios": result.scenarios},
        "changes": changes_json(result.changes),
        "impossible": [{"old": old.describe(), "new": new.describe()}
                       for old, new in result.impossible],
        "incomplete": [diagnostic_.to_json() for diagnostic_ in result.incomplete],
    }


def changes_json(changes: list[Change]) -> list[dict[str, object]]:
    return [{
        "old": change.old.describe(),
        "new": change.new.describe(),
        "status": change.status,
        "where": change.common,
        "regions": list(change.regions),
        "approximate": change.approximate,
        "witness": ({"facts": change.witness.facts, "scenario": change.source}
                    if change.witness else None),
    } for change in changes]


def write_change_witnesses(changes: list[Change], directory: str,
                           policy_path: str | None) -> list[str]:
    """Saves each confirmed change's witness as a scenario of the NEW policy."""
    return write_witnesses([(f"{ch.old.name}-to-{ch.new.name}", ch.witness) for ch in changes],
                           directory, policy_path)
