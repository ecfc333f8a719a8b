"""Residual: the result of partial evaluation, "what do we still need to know?", and its JSON form.

`Policy.residual(known_facts)` returns a `Residual`: either the answer is **decided** (every
completion of the unknown facts that the declarations and constraints allow gets the same
decision, or every completion is refused), with the `Decision` and the unknown facts that did
not matter; or it is **undecided**, with the outcomes still possible, the facts that still
matter (for each, which of its values lead where), a suggested next question and how it was
ranked, and the facts given that do not matter. Every example fact set in it was evaluated by
the reference interpreter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import to_json_value
from policy_engine.explain.decision import Decision
from policy_engine.facts.known import KnownFacts

#: The JSON format of a residual; the version changes only with an incompatible change.
JSON_FORMAT = "policy-engine/residual"
JSON_VERSION = 1


@dataclass(frozen=True)
class PossibleOutcome:
    """A decision (by one rule) or a refusal that some completion of the known facts gets.

    Args:
        kind: 'decision' or 'refusal'.
        decision, rule: the decision and the rule that decides it (for a decision).
        refusal: the refusal's label or code (`NOT_COVERED`, `E401`...), for a refusal.
        refused_by: for a refusal, what refuses: 'constraint' (a `require` or `ensure`),
            'policy' (no rule applies: `otherwise refuse`, or no default) or 'evaluation'
            (it stops: a fact a rule needs is missing, rules conflict...).
        stopped_in: for a refusal by evaluation, the rule or advisory where it stops, when
            there is one (`a+b` for two rules that conflict).
        example: a completion that gets it, evaluated on the reference interpreter; None when
            the analysis found none (then `confirmed` is False: the outcome may be impossible).
    """

    kind: str
    decision: str | None = None
    rule: str | None = None
    refusal: str | None = None
    refused_by: str | None = None
    stopped_in: str | None = None
    example: Mapping[str, Any] | None = None

    @property
    def confirmed(self) -> bool:
        return self.example is not None

    def describe(self) -> str:
        """The outcome in a few words: `wait (rule R15_wait)` or `refused: NOT_COVERED`."""
        if self.kind == "decision":
            return f"{self.decision} (rule {self.rule})"
        where = f" in {self.stopped_in}" if self.stopped_in else ""
        return f"refused: {self.refusal}{where}"

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "decision": self.decision, "rule": self.rule,
                "refusal": self.refusal, "refused_by": self.refused_by,
                "stopped_in": self.stopped_in,
                "confirmed": self.confirmed, "example": _facts_json(self.example)}


@dataclass(frozen=True)
class ValueGroup:
    """Values of one fact that lead to the same outcomes.

    Args:
        when: the values, as conditions in the policy's words (`days_since_sent <= 45`).
        outcomes: the outcomes these values still allow (indexes into `Residual.outcomes`),
            each shown by an example.
        unconfirmed: outcomes the analysis thinks possible here but found no example of.
        refused: when no completion with these values is allowed, the labels (or codes) of
            the constraints that refuse them.
    """

    when: tuple[str, ...]
    outcomes: tuple[int, ...] = ()
    unconfirmed: tuple[int, ...] = ()
    refused: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"when": list(self.when), "outcomes": list(self.outcomes),
                "unconfirmed": list(self.unconfirmed), "refused": list(self.refused)}


@dataclass(frozen=True)
class WitnessPair:
    """Two completions, both evaluated, that show a fact changes the outcome.

    Args:
        first, second: the two fact sets (raw, as a scenario file gives them).
        first_outcome, second_outcome: their outcomes (indexes into `Residual.outcomes`).
        only_this_fact: the two differ in this fact alone. Otherwise the constraints tie it
            to others, and the analysis shows that no completion with the second fact set's
            value of it gets the first outcome.
    """

    first: Mapping[str, Any]
    first_outcome: int
    second: Mapping[str, Any]
    second_outcome: int
    only_this_fact: bool

    def to_json(self) -> dict[str, Any]:
        return {"first": _facts_json(self.first), "first_outcome": self.first_outcome,
                "second": _facts_json(self.second), "second_outcome": self.second_outcome,
                "only_this_fact": self.only_this_fact}


@dataclass(frozen=True)
class Influence:
    """A fact not given whose value still changes the outcome.

    Args:
        fact, title: the fact and its declared description.
        expected: the values it takes, as the declaration says (`yes/no`, `one of ...`).
        values: its values grouped by the outcomes they lead to.
        pair: two completions that show it (None when the analysis found none: then the
            fact is listed in `Residual.may_matter`, not in `matters`).
    """

    fact: str
    title: str | None
    expected: str
    values: tuple[ValueGroup, ...]
    pair: WitnessPair | None = None

    @property
    def confirmed(self) -> bool:
        return self.pair is not None

    def to_json(self) -> dict[str, Any]:
        return {"fact": self.fact, "title": self.title, "expected": self.expected,
                "values": [group.to_json() for group in self.values],
                "pair": self.pair.to_json() if self.pair else None}


@dataclass(frozen=True)
class Candidate:
    """A possible next question and its score.

    Args:
        expected_questions: the questions expected from here to a decided answer when this
            one is asked first (it included), by the ranking of `Residual.ranking`.
        outcomes_left: the outcomes its answers leave possible, on average.
    """

    fact: str
    expected_questions: float
    outcomes_left: float

    def to_json(self) -> dict[str, Any]:
        return {"fact": self.fact, "expected_questions": round(self.expected_questions, 3),
                "outcomes_left": round(self.outcomes_left, 3)}


@dataclass(frozen=True)
class Question:
    """The suggested next question.

    Args:
        purpose: 'decide' (the answer is not decided yet) or 'outputs' (it is, but an output
            or an advisory of the decision still depends on this fact).
        influence: what its values lead to, when it matters for the decision.
    """

    fact: str
    title: str | None
    expected: str
    optional: bool
    purpose: str
    influence: Influence | None = None

    def to_json(self) -> dict[str, Any]:
        return {"fact": self.fact, "title": self.title, "expected": self.expected,
                "optional": self.optional, "purpose": self.purpose}


@dataclass(frozen=True)
class OpenOutput:
    """An output of a decided answer, or an advisory's item, that still depends on facts not
    given (the decision itself does not)."""

    output: str
    facts: tuple[str, ...]
    advisory: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"output": self.output, "facts": list(self.facts), "advisory": self.advisory}


@dataclass(frozen=True)
class Residual:
    """What a policy answers on partial facts; see the module docstring.

    Args:
        status: 'decided' or 'undecided'.
        decision: for 'decided', the decision (or refusal) with its explanation, made by
            evaluating the known facts completed with `assumed`.
        assumed: for 'decided', the values the explanation fills in for facts not given;
            any allowed values give the same decision.
        outcomes: the outcomes still possible (for 'decided', the one outcome).
        matters: the facts not given that change the outcome, each shown by a witness pair.
        may_matter: facts the analysis thinks matter but could not show (see `approximate`).
        did_not_matter: the facts not given that do not change the outcome on their own.
        given_irrelevant: facts given whose value does not change the outcome.
        open_outputs: for 'decided', outputs and advisories that still depend on facts not
            given.
        next_question: the suggested next question (None when nothing is left to ask).
        candidates: the best questions, by `ranking`.
        ranking: how questions are ranked, in words.
        approximate: the conditions the analysis could not model exactly here.
    """

    policy: CheckedPolicy = field(compare=False, repr=False)
    known: KnownFacts
    status: str
    decision: Decision | None = field(default=None, compare=False)
    assumed: Mapping[str, Any] = field(default_factory=dict)
    outcomes: tuple[PossibleOutcome, ...] = ()
    matters: tuple[Influence, ...] = ()
    may_matter: tuple[Influence, ...] = ()
    did_not_matter: tuple[str, ...] = ()
    given_irrelevant: tuple[str, ...] = ()
    open_outputs: tuple[OpenOutput, ...] = ()
    next_question: Question | None = None
    candidates: tuple[Candidate, ...] = ()
    ranking: str = ""
    approximate: tuple[str, ...] = ()

    @property
    def decided(self) -> bool:
        return self.status == "decided"

    @property
    def refused(self) -> bool:
        """Whether the answer is decided and it is a refusal."""
        return self.decision is not None and self.decision.refused

    def influence(self, fact: str) -> Influence | None:
        """What a fact not given leads to, when it matters (or may)."""
        return next((i for i in self.matters + self.may_matter if i.fact == fact), None)

    def to_json(self) -> dict[str, Any]:
        """The documented JSON form (format `policy-engine/residual`, docs/partial.md)."""
        policy = self.policy
        return {
            "format": JSON_FORMAT,
            "format_version": JSON_VERSION,
            "policy": {"name": policy.name, "title": policy.title, "version": policy.version,
                       "file": policy.source.name},
            "status": self.status,
            "known": _facts_json(self.known.raw),
            "absent": sorted(self.known.absent),
            "decision": self.decision.to_json() if self.decision is not None else None,
            "assumed": _facts_json(self.assumed),
            "outcomes": [outcome.to_json() for outcome in self.outcomes],
            "matters": [influence.to_json() for influence in self.matters],
            "may_matter": [influence.to_json() for influence in self.may_matter],
            "did_not_matter": list(self.did_not_matter),
            "given_irrelevant": list(self.given_irrelevant),
            "open_outputs": [output.to_json() for output in self.open_outputs],
            "next_question": self.next_question.to_json() if self.next_question else None,
            "candidates": [candidate.to_json() for candidate in self.candidates],
            "ranking": self.ranking,
            "approximate": list(self.approximate),
        }


def _facts_json(facts: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Raw facts as JSON: amounts and dates (which YAML may have read as such) as text."""
    if facts is None:
        return None
    return {name: raw_json(value) for name, value in facts.items()}


def raw_json(value: object) -> object:
    """A raw fact value (as YAML or JSON gave it) as JSON: amounts and dates as text."""
    if isinstance(value, (list, tuple)):
        return [raw_json(item) for item in value]
    return to_json_value(value)
