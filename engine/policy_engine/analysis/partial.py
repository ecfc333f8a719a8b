"""Partial evaluation: the analysis stage's answer to "what do we still need to know?".

The policy is specialised on the known facts (`specialise`), so its partition covers exactly
the completions of the facts not given, and the outcome of each region is read off it:

- the completions that a constraint (`require`, `ensure`) refuses are not completions that
  count; if every completion is refused, the answer is that refusal;
- if the completions that count all get one outcome, the answer is **decided**, shown by one
  completion evaluated on the reference interpreter (the explanation, with the values it
  assumed for the facts that did not matter);
- otherwise it is **undecided**: each outcome still possible is shown by a completion, each
  fact that still matters by a witness pair (`influence`), and the next question is ranked
  by `questions`.

Regions are exact over enumerations, yes/no, lists of enumerations and comparisons of a fact
with constants (the known facts' values among them); arithmetic between facts not given is
kept free, which over-approximates. So "decided", "does not matter" and "this value never
leads there" are never wrong, and whatever is claimed to exist is shown by an evaluated
example or reported as unconfirmed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from policy_engine.analysis import questions
from policy_engine.analysis.budget import Budget, OverBudget
from policy_engine.analysis.completions import Completions, allowed, with_value
from policy_engine.analysis.describe import describe
from policy_engine.analysis.formulas import and_, not_, or_
from policy_engine.analysis.influence import (
    FactDimensions,
    Group,
    changes_alone,
    fact_dimensions,
    holds_value,
    splits,
    value_groups,
)
from policy_engine.analysis.partition import Model, Outcome
from policy_engine.analysis.regions import Region, union
from policy_engine.analysis.residual import (
    Candidate,
    Influence,
    OpenOutput,
    PossibleOutcome,
    Question,
    Residual,
    ValueGroup,
    WitnessPair,
)
from policy_engine.analysis.specialise import specialise
from policy_engine.analysis.witnesses import LEFT_OUT, matches
from policy_engine.check.checked import CheckedPolicy
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.explain.decision import Decision
from policy_engine.facts.conversion import convert_value, plain
from policy_engine.facts.known import KnownFacts
from policy_engine.facts.wording import expected

#: Decides a whole raw fact set, with its explanation (`Policy.evaluate`).
Evaluate = Callable[[Mapping[str, Any]], Decision]

#: How many of the best questions a residual lists.
SHOWN_CANDIDATES = 5

#: Completions a search for two that differ in one fact alone starts from, at most.
MAX_PAIR_TRIES = 8


def residual(policy: CheckedPolicy, known: KnownFacts, evaluate: Evaluate, *,
             budget: Budget | None = None, exclude: frozenset[str] = frozenset(),
             irrelevant: bool = True) -> Residual:
    """What the policy answers on `known`, and what is still needed; see the module docstring.

    Args:
        evaluate: decides a whole fact set, to explain a decided answer.
        budget: the work the analysis may do (`Budget()` when None).
        exclude: facts not to suggest as the next question (the caller cannot find them out).
        irrelevant: also work out which facts given do not matter (one more analysis each).

    Raises:
        DiagnosticError: E701, the analysis needs more than its budget.
    """
    budget = budget if budget is not None else Budget()
    try:
        with budget.active():
            model = specialise(policy, known, budget)
            if model.stopped is not None:
                raise OverBudget(True, "the partition was not finished")
            return _Partial(model, known, evaluate, exclude).run(irrelevant)
    except OverBudget:
        raise DiagnosticError([over_budget(policy, budget)]) from None


def over_budget(policy: CheckedPolicy, budget: Budget) -> Diagnostic:
    return Diagnostic(
        "E701", f"partial evaluation of policy '{policy.name}' needs more than "
                f"{budget.describe_limit()}", file=policy.source.name,
        help="give more of the facts, or a larger budget: policy ask --analysis-budget STEPS, "
             "Policy.residual(..., analysis_budget=STEPS) (0: no limit)")


class OutcomeRegions:
    """A specialised model's completions split by outcome: those that count, by the outcome
    evaluation gives them, and those a constraint refuses, by its label."""

    def __init__(self, model: Model) -> None:
        self.model = model
        space = model.space
        refusals: list[tuple[str, Region]] = []
        pieces: list[tuple[Outcome, Region]] = []
        for piece in model.pieces:
            if piece.outcome.kind == "invalid":
                refusals.append(("invalid facts", piece.region))
            elif piece.outcome.rule == "constraint":
                refusals.append((piece.outcome.name, piece.region))
            else:
                pieces.append((piece.outcome, piece.region))
        pieces = self._stops(model, pieces)
        merged: dict[Outcome, Region] = {}
        for outcome, area in pieces:
            if area:
                merged[outcome] = merged[outcome] | area if outcome in merged else area
        self.outcomes = list(merged)
        self.regions = [merged[outcome] for outcome in self.outcomes]
        self.refusals = refusals
        self.everything = union(space.nothing(), *self.regions)
        #: Where each constraint is broken, whatever the others do (the pieces name only
        #: the first broken one), to say which refuses every completion of some values.
        self.violations = [(outcome.name, model.formula_region(violated))
                           for violated, outcome in model.constraint_steps]

    @staticmethod
    def _stops(model: Model, pieces: list[tuple[Outcome, Region]],
               ) -> list[tuple[Outcome, Region]]:
        """Where evaluation stops besides the rules the partition models: a policy whose
        rules have dates needs its as-of fact before any rule, and an advisory that stops
        refuses a decision."""
        policy, translator = model.policy, model.translator
        if policy.as_of is not None and any(u.effective for u in policy.units()):
            stop = model.formula_region(not_(translator.present(policy.as_of)))
            if stop:
                hit = union(model.space.nothing(), *(area & stop for _, area in pieces))
                pieces = [(outcome, area - stop) for outcome, area in pieces]
                pieces.append((Outcome("error", "E401"), hit))
        for advisory in policy.advisories:
            condition = model.conditions[advisory.index]
            stop = model.formula_region(and_(
                model.effective[advisory.index],
                or_(condition.error, and_(condition.true,
                                          model.output_errors[advisory.index]))))
            if not stop:
                continue
            stopped: list[tuple[Outcome, Region]] = []
            for outcome, area in pieces:
                hit = area & stop if outcome.kind == "decision" else model.space.nothing()
                stopped.append((outcome, area - hit))
                if hit:
                    stopped.append((Outcome("error", "E401", advisory.id), hit))
            pieces = stopped
        return pieces


def _possible(outcome: Outcome, example: Mapping[str, Any] | None) -> PossibleOutcome:
    if outcome.kind == "decision":
        return PossibleOutcome("decision", outcome.name, outcome.rule, example=example)
    if outcome.kind == "error":
        return PossibleOutcome("refusal", refusal=outcome.name, refused_by="evaluation",
                               stopped_in=outcome.rule, example=example)
    by = "constraint" if outcome.rule == "constraint" or outcome.kind == "invalid" else "policy"
    return PossibleOutcome("refusal", refusal=outcome.name, refused_by=by, example=example)


class _Partial:
    def __init__(self, model: Model, known: KnownFacts, evaluate: Evaluate,
                 exclude: frozenset[str]) -> None:
        self.model = model
        self.policy = model.policy
        self.space = model.space
        self.known = known
        self.evaluate = evaluate
        self.exclude = exclude
        self.completions = Completions(model, known)
        self.split = OutcomeRegions(model)
        self.facts = {info.name: info for info in reversed(self.policy.facts)}
        self.order = [info.name for info in self.policy.facts]
        #: Completions found so far, by the index of their outcome.
        self.examples: list[list[dict[str, Any]]] = []

    # ------------------------------------------------------------ the answer
    def run(self, irrelevant: bool) -> Residual:
        split = self.split
        given_irrelevant = self._given_irrelevant() if irrelevant else ()
        if not split.outcomes:
            return self._refused_by_constraints(given_irrelevant)
        if len(split.outcomes) == 1:
            example = self.completions.find(split.regions[0], split.outcomes[0])
            if example is not None:
                return self._decided(example, given_irrelevant)
        return self._undecided(given_irrelevant)

    def _assumed(self, example: Mapping[str, Any]) -> dict[str, Any]:
        return {name: value for name, value in example.items() if name not in self.known.raw}

    def _refused_by_constraints(self, given_irrelevant: tuple[str, ...]) -> Residual:
        """No completion passes the constraints: the answer is their refusal, shown by a
        completion that breaks only the constraints every completion breaks, when there is
        one (not also a `require` of a fact the example happened to leave out)."""
        everything = self.space.everything()
        avoidable = [region for _, region in self.split.violations if region != everything]
        plain = everything - union(self.space.nothing(), *avoidable)
        example = next(self.completions.candidates(plain), None) if plain else None
        if example is None:
            example = next(self.completions.candidates(everything), None)
        if example is None:  # the known facts are all there is
            example = dict(self.known.raw)
        decision = self.evaluate(example)
        seen = self.completions.outcome(example)
        return Residual(self.policy, self.known, "decided", decision, self._assumed(example),
                        (_possible(seen, example),), did_not_matter=self.known.unknown,
                        given_irrelevant=given_irrelevant)

    def _decided(self, example: dict[str, Any], given_irrelevant: tuple[str, ...]) -> Residual:
        outcome = self.split.outcomes[0]
        open_outputs = self._open_outputs(outcome, self.split.regions[0])
        question = None
        asked = [f for o in open_outputs for f in o.facts if f not in self.exclude]
        if asked:
            first = min(asked, key=self.order.index)
            question = self._question(first, "outputs", None)
        return Residual(
            self.policy, self.known, "decided", self.evaluate(example), self._assumed(example),
            (_possible(outcome, example),), did_not_matter=self.known.unknown,
            given_irrelevant=given_irrelevant, open_outputs=tuple(open_outputs),
            next_question=question,
            ranking="the first fact, in declaration order, that an open output still needs"
            if question else "")

    def _open_outputs(self, outcome: Outcome, area: Region) -> list[OpenOutput]:
        """Outputs of the deciding rule and advisories' items that facts not given change."""
        if outcome.kind != "decision":
            return []
        policy, translator = self.policy, self.model.translator
        unknown = set(self.known.unknown)
        found: list[OpenOutput] = []
        rule = next(u for u in policy.units() if u.id == outcome.rule and u.kind != "advisory")
        for name, expr in rule.outputs:
            reads = [f for f in translator.reads(expr) if f in unknown]
            if reads:
                found.append(OpenOutput(name, tuple(reads)))
        for advisory in policy.advisories:
            applies = self.model.formula_region(and_(self.model.effective[advisory.index],
                                                     self.model.conditions[advisory.index].true))
            hit = area & applies
            if hit and hit != area:
                found.append(OpenOutput(advisory.decision, self._deciding(
                    [hit, area - hit]), advisory.id))
        return found

    def _deciding(self, parts: Sequence[Region]) -> tuple[str, ...]:
        """The facts not given that decide between regions (whether an advisory applies)."""
        dims = fact_dimensions(self.model, self.known.unknown)
        return tuple(name for name, d in dims.items()
                     if splits(value_groups(self.space, d, parts, []))
                     or changes_alone(self.space, d, parts))

    def _undecided(self, given_irrelevant: tuple[str, ...]) -> Residual:
        split = self.split
        examples = [self.completions.find(area, outcome)
                    for outcome, area in zip(split.outcomes, split.regions, strict=True)]
        self.examples = [[example] if example is not None else [] for example in examples]
        possible = tuple(_possible(outcome, example)
                         for outcome, example in zip(split.outcomes, examples, strict=True))
        dims = fact_dimensions(self.model, self.known.unknown)
        matters: list[Influence] = []
        may_matter: list[Influence] = []
        did_not_matter: list[str] = []
        for fact in self.known.unknown:
            influence = self._influence(dims[fact]) if fact in dims else None
            if influence is None:
                did_not_matter.append(fact)
            else:
                (matters if influence.confirmed else may_matter).append(influence)
        question, candidates, ranking = self._next_question(dims, matters, may_matter)
        unsure = may_matter or any(not o.confirmed for o in possible) or any(
            group.unconfirmed for influence in matters for group in influence.values)
        return Residual(
            self.policy, self.known, "undecided", outcomes=possible, matters=tuple(matters),
            may_matter=tuple(may_matter), did_not_matter=tuple(did_not_matter),
            given_irrelevant=given_irrelevant, next_question=question,
            candidates=candidates, ranking=ranking,
            approximate=self._approximate() if unsure else ())

    # ------------------------------------------------------------ facts that matter
    def _influence(self, dims: FactDimensions) -> Influence | None:
        split = self.split
        groups = value_groups(self.space, dims, split.regions, split.refusals,
                              split.violations)
        alone = None if splits(groups) else changes_alone(self.space, dims, split.regions)
        if not splits(groups) and alone is None:
            return None
        shown: list[ValueGroup] = []
        found: list[dict[int, dict[str, Any]]] = []
        for group in groups:
            examples: dict[int, dict[str, Any]] = {}
            for index in sorted(group.outcomes):
                example = self._example(dims, group, index)
                if example is not None:
                    examples[index] = example
            found.append(examples)
            shown.append(ValueGroup(
                tuple(describe(self.space, group.region)), tuple(sorted(examples)),
                tuple(sorted(group.outcomes - set(examples))), group.refused))
        pair = self._pair(dims.fact, groups, found)
        if pair is None or not pair.only_this_fact:  # look for two that differ in it alone
            if alone is None:
                alone = changes_alone(self.space, dims, split.regions)
            strong = self._pair_alone(dims.fact, *alone) if alone is not None else None
            pair = strong or pair
        info = self.facts[dims.fact]
        return Influence(dims.fact, info.description, expected(info.type), tuple(shown), pair)

    def _example(self, dims: FactDimensions, group: Group, index: int) -> dict[str, Any] | None:
        """A completion with outcome `index` whose value of the fact is in `group`: one found
        before when there is one; else one found before moved to a value of the group, when
        that keeps its outcome; else one searched for in the region."""
        info = self.facts[dims.fact]
        known = self.examples[index]
        for example in known:
            raw = example.get(dims.fact)
            value = (convert_value(info.type, plain(raw)) if raw is not None
                     else info.default)
            if holds_value(self.space, dims, value, group):
                return example
        for value in self.completions.values(dims.fact, group.region)[:2]:
            for example in known[:2]:
                moved = with_value(example, dims.fact, value)
                if self._index(self.completions.outcome(moved)) == index:
                    known.append(moved)
                    return moved
        searched = self.completions.find(self.split.regions[index] & group.region,
                                         self.split.outcomes[index])
        if searched is not None:
            known.append(searched)
        return searched

    def _index(self, seen: Outcome) -> int | None:
        """The possible outcome an evaluated completion got."""
        if not allowed(seen):
            return None
        return next((i for i, outcome in enumerate(self.split.outcomes)
                     if matches(seen, outcome) and allowed(outcome)), None)

    def _moved(self, fact: str, example: Mapping[str, Any], index: int,
               values: Sequence[Any]) -> WitnessPair | None:
        """A completion that differs from `example` (outcome `index`) in `fact` alone, taking
        one of `values`, and gets another allowed outcome."""
        for value in values:
            changed = with_value(example, fact, value)
            if changed == example:
                continue
            moved = self._index(self.completions.outcome(changed))
            if moved is not None and moved != index:
                return WitnessPair(example, index, changed, moved, True)
        return None

    def _pair(self, fact: str, groups: Sequence[Group],
              found: Sequence[Mapping[int, dict[str, Any]]]) -> WitnessPair | None:
        """Two evaluated completions whose values of `fact` lead to different outcomes: if
        possible, differing in `fact` alone; otherwise one shows an outcome that the other's
        value of `fact` never reaches (as the regions show, exactly)."""
        weak: WitnessPair | None = None
        for first in range(len(groups)):
            for second in range(len(groups)):
                for index, example in found[first].items():
                    if index in groups[second].outcomes or not found[second]:
                        continue
                    values = [other.get(fact, LEFT_OUT) for other in found[second].values()]
                    strong = self._moved(fact, example, index, values)
                    if strong is not None:
                        return strong
                    if weak is None:
                        other_index, other = next(iter(found[second].items()))
                        weak = WitnessPair(example, index, other, other_index, False)
        return weak

    def _pair_alone(self, fact: str, index: int, where: Region) -> WitnessPair | None:
        """Two completions that differ in `fact` alone and get different outcomes, from
        `where`: the other facts' values from which outcome `index` and another are both
        reachable by changing `fact` (None when none is found). Completions of either
        outcome are moved to the other's values of `fact`."""
        split = self.split
        mine = self._completions(split.regions[index] & where, lambda i: i == index)
        theirs = self._completions((split.everything - split.regions[index]) & where,
                                   lambda i: i != index)
        samples = self.completions.values(fact, where, many=True)
        for starts, ends in ((mine, theirs), (theirs, mine)):
            values = [other.get(fact, LEFT_OUT) for other, _ in ends] + samples
            values = list({repr(v): v for v in values}.values())
            for example, outcome in starts:
                pair = self._moved(fact, example, outcome, values)
                if pair is not None:
                    return pair
        return None

    def _completions(self, region: Region, wanted: Callable[[int], bool],
                     ) -> list[tuple[dict[str, Any], int]]:
        """A few allowed completions in a region whose outcome (by index) is `wanted`."""
        found: list[tuple[dict[str, Any], int]] = []
        for candidate in self.completions.candidates(region):
            index = self._index(self.completions.outcome(candidate))
            if index is not None and wanted(index):
                found.append((candidate, index))
                if len(found) >= MAX_PAIR_TRIES:
                    break
        return found

    # ------------------------------------------------------------ questions
    def _question(self, fact: str, purpose: str, influence: Influence | None) -> Question:
        info = self.facts[fact]
        return Question(fact, info.description, expected(info.type), not info.required,
                        purpose, influence)

    def _next_question(self, dims: Mapping[str, FactDimensions], matters: list[Influence],
                       may_matter: list[Influence],
                       ) -> tuple[Question | None, tuple[Candidate, ...], str]:
        askable = {name: d for name, d in dims.items() if name not in self.exclude}
        candidates = ([i.fact for i in matters if i.fact in askable]
                      or [i.fact for i in may_matter if i.fact in askable])
        if not candidates and (matters or may_matter):
            # Only excluded facts change the outcome; another fact is still worth asking if
            # some of its values are refused (the answer is then that refusal).
            candidates = [name for name, d in askable.items() if self._refuses(d)]
            if not candidates:
                excluded = ", ".join(i.fact for i in matters + may_matter)
                return None, (), ("nothing to ask: every fact that still matters is excluded "
                                  f"({excluded})")
        candidates = candidates or list(askable)
        influences = {i.fact: i for i in matters + may_matter}
        if not candidates:
            rest = [name for name in self.known.unknown if name not in self.exclude]
            if not rest:
                return None, (), ""
            # Nothing the analysis sees narrows the outcomes any more; a fact not given may
            # still, through what it over-approximates: ask the first.
            return (self._question(rest[0], "decide", None), (),
                    "the first fact not given, in declaration order: no fact narrows the "
                    "outcomes on its own as far as the analysis can tell")
        ranking = questions.rank(self.space, self.split.regions, askable, candidates,
                                 self.order)
        best = ranking.ranked[0].fact
        shown = tuple(Candidate(r.fact, r.expected, r.left)
                      for r in ranking.ranked[:SHOWN_CANDIDATES])
        return (self._question(best, "decide", influences.get(best)), shown,
                ranking.describe())

    def _refuses(self, dims: FactDimensions) -> bool:
        """Whether some values of the fact are refused by the constraints whatever else."""
        split = self.split
        return any(group.refused for group in value_groups(
            self.space, dims, split.regions, split.refusals, split.violations))

    # ------------------------------------------------------------ what else to say
    def _approximate(self) -> tuple[str, ...]:
        """The free terms and conditions the outcome regions depend on: why some claim has
        no example (said only when one has none)."""
        registry = self.model.translator.registry
        notes: list[str] = []
        for position, dimension in enumerate(self.space.dimensions):
            kind = dimension.key[0]
            if kind not in ("derived", "opaque", "unknown"):
                continue
            levels = frozenset({position})
            if all(self.space.exists(area.node, levels) == area.node
                   for area in self.split.regions):
                continue
            if kind == "unknown":
                notes.append(f"the outcome of {dimension.text} (over the analysis budget) is "
                             "left free")
                continue
            reads = (registry.derived[dimension.key][2] if kind == "derived"
                     else registry.opaque[dimension.key][1])
            shown = ", ".join(f for f in reads if f in self.known.unknown)
            notes.append(f"'{dimension.text}' is treated as free of the facts it is computed "
                         f"from ({shown}); what depends on it is shown by evaluated examples")
        return tuple(notes)

    def _given_irrelevant(self) -> tuple[str, ...]:
        """The facts given whose value does not change the outcome (each checked by
        specialising the policy without it)."""
        found: list[str] = []
        for fact in self.known.given:
            rest = KnownFacts(
                {k: v for k, v in self.known.values.items() if k != fact},
                self.known.absent - {fact},
                {k: v for k, v in self.known.raw.items() if k != fact},
                tuple(name for name in self.order
                      if name == fact or name in self.known.unknown))
            model = specialise(self.policy, rest, self.space.budget)
            if model.stopped is not None:
                continue  # over the budget: say nothing rather than guess
            split = OutcomeRegions(model)
            dims = fact_dimensions(model, (fact,)).get(fact)
            if dims is None or not (
                    splits(value_groups(model.space, dims, split.regions, split.refusals))
                    or changes_alone(model.space, dims, split.regions)):
                found.append(fact)
        return tuple(found)
