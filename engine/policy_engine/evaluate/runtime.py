"""Runtime: the values an evaluation works on: the facts with derived values computed on first use,
table lookups, working days, and the results (`Evaluation`, `Verdict`, `RuleOutcome`).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from policy_engine.check.checked import TableInfo
from policy_engine.check.types import Value
from policy_engine.core.calendars import CalendarError, working_days
from policy_engine.core.records import record
from policy_engine.evaluate.errors import CalendarProblem, MissingFact, NoRow

Facts = Mapping[str, Value]
Outputs = tuple[tuple[str, Value], ...]


def lookup(table: TableInfo, key: str, facts: Facts, as_of_fact: str | None) -> Value:
    """The value of the table row for `key` in effect on the as-of date."""
    as_of: datetime.date | None = None
    if table.dated and as_of_fact is not None:
        if as_of_fact not in facts:
            raise MissingFact(as_of_fact)
        day = facts[as_of_fact]
        assert isinstance(day, datetime.date)
        as_of = day
    row = table.find(key, as_of)
    if row is None:
        raise NoRow(table.name, key, as_of)
    return row.value


def count_working_days(start: datetime.date, end: datetime.date,
                       excluding: tuple[datetime.date, ...] | None, calendar: str | None) -> int:
    try:
        return working_days(start, end, excluding or (), calendar)
    except CalendarError as error:
        raise CalendarProblem(str(error)) from None


class Env(dict[str, Value]):
    """The facts of one evaluation; derived values are computed on first use and kept."""

    __slots__ = ("_derive", "_names")

    def __init__(self, facts: Facts, derive: Callable[[str, Env], Value],
                 names: frozenset[str]) -> None:
        super().__init__(facts)
        self._derive = derive
        self._names = names

    def __missing__(self, key: str) -> Value:
        if key in self._names:
            try:
                value = self._derive(key, self)
            except MissingFact as missing:
                # Name the derived value that read the fact (the innermost, when one derived
                # value reads another): the rule that reads it does not show the fact.
                if missing.define is None:
                    missing.define = key
                raise
            self[key] = value
            return value
        raise KeyError(key)


@record(slots=True)
class RuleOutcome:
    """What happened to one rule or advisory.

    Args:
        status: 'decided', 'agreed' (matched and agreed with the decider), 'overridden'
            (matched, but an exception that also matched took precedence), 'did not apply',
            'not reached' (first match: an earlier rule decided), 'not in effect' (its
            effective dates exclude the as-of date), and for advisories 'added'. When the
            policy refused (`resolution.attempt`): 'matched' (it matched, and conflicts or
            disagrees with another), 'stopped' (its condition or outputs could not be
            computed) and 'not tried' (evaluation stopped before it).
        failed_at: for 'did not apply', the index of the first false conjunct.
        by: for 'overridden', the id of the exception that took precedence.
    """

    rule: str
    status: str
    failed_at: int | None = None
    index: int = -1
    by: str | None = None


class Verdict(NamedTuple):
    """A bare decision: what the compiled fast path returns (see `fastpath`).

    Results of rules whose outputs are constants are built once per policy and returned as they
    are, so a decision allocates nothing; use `Policy.decide` for the rules' outcomes. (A named
    tuple, because it is immutable and the quickest such object to make.)
    """

    decision: str
    rule: str  # a rule id, or "otherwise"
    outputs: Outputs
    index: int = -1  # type: ignore[assignment]  # the deciding unit; hides tuple.index


class Record(NamedTuple):
    """The compact record a compiled first-match decision leaves for its explanation.

    The generated walk (`_trace`) fills `failed`; the explanation (`explain.expand`) turns the
    record into trace objects in one pass, without evaluating anything the walk evaluated.

    Args:
        compiled: the compiled policy that decided (`CompiledPolicy`): its generated near-miss
            functions and the explanation's per-policy parts (`explained`).
        facts: the validated facts.
        today: the as-of day, when some rule has effective dates.
        failed: for each rule tried before the decider, its first false conjunct; under the
            key `-1 - j`, the value of derived value `j` as the walk computed it.
        advisories: each advisory's outcome.
        index: the deciding unit.
    """

    compiled: Any
    facts: Facts
    today: datetime.date | None
    failed: dict[int, Any]
    advisories: tuple[RuleOutcome, ...]
    index: int  # type: ignore[assignment]  # the deciding unit; hides tuple.index


Later = Callable[[Any], tuple[tuple[RuleOutcome, ...], tuple[RuleOutcome, ...]]]


class Evaluation:
    """The result of evaluation: the decision, its rule and outputs, and each rule's fate.

    `outcomes` (one per rule, in file order) and `advisories` may be computed only when first
    read (`Evaluation.later`), since only a trace needs them.
    """

    __slots__ = ("decision", "rule", "outputs", "index", "_outcomes", "_advisories", "_later",
                 "_argument", "record")

    def __init__(self, decision: str, rule: str, outputs: Outputs,
                 outcomes: tuple[RuleOutcome, ...], advisories: tuple[RuleOutcome, ...] = (),
                 index: int = -1) -> None:
        self.decision = decision
        self.rule = rule  # a rule id, or "otherwise"
        self.outputs = outputs
        self.index = index  # the deciding unit
        self._outcomes = outcomes
        self._advisories = advisories
        self._later: Later | None = None
        self._argument: object = None
        #: The compact record of the compiled first-match walk (`Record`), when it made this.
        self.record: Record | None = None

    @classmethod
    def later(cls, decision: str, rule: str, outputs: Outputs, index: int, compute: Later,
              argument: object, record: Record | None = None) -> Evaluation:
        """An evaluation whose outcomes and advisories `compute(argument)` works out when they
        are first read."""
        evaluation = object.__new__(cls)
        evaluation.record = record
        evaluation.decision = decision
        evaluation.rule = rule
        evaluation.outputs = outputs
        evaluation.index = index
        evaluation._later = compute
        evaluation._argument = argument
        return evaluation

    def _settle(self) -> None:
        if self._later is not None:
            self._outcomes, self._advisories = self._later(self._argument)
            self._later = self._argument = None

    @property
    def outcomes(self) -> tuple[RuleOutcome, ...]:
        self._settle()
        return self._outcomes

    @property
    def advisories(self) -> tuple[RuleOutcome, ...]:
        self._settle()
        return self._advisories

    def _key(self) -> tuple[object, ...]:
        return (self.decision, self.rule, self.outputs, self.outcomes, self.advisories,
                self.index)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evaluation):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (f"Evaluation(decision={self.decision!r}, rule={self.rule!r}, "
                f"outputs={self.outputs!r}, outcomes={self.outcomes!r}, "
                f"advisories={self.advisories!r}, index={self.index!r})")
