"""Expand: the explanation of a compiled first-match decision, made from its compact record.

The generated walk (`_trace`, see `evaluate.first_match`) records, for each rule it tried, its
first false conjunct, and the derived values it computed (`runtime.Record`). This module turns
that record into the objects of `trace` in one pass. What does not depend on the facts (each
rule's texts, each conjunct's text and position, the rules not reached, the facts and checks
of a finite domain) is made once per policy (`Parts`); per decision only the values read and
the objects holding them are made.

Nothing the walk evaluated is evaluated again. What it never evaluated is, by generated code:
the conjuncts of near misses (`CompiledPolicy.near`), derived values no tried rule read (their
`_pJ`), and the condition of a rule the decider is an exception to (`CompiledPolicy.condition`).
A part that needs more (a table lookup keyed by an expression, a derived value that cannot be
computed) is left to `Trace`, which works it out when read, as for the interpreter.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, CheckedRule
from policy_engine.check.types import Value, format_value
from policy_engine.evaluate.errors import (
    UNKNOWN,
    CalendarProblem,
    DivisionByZero,
    MissingFact,
    NoRow,
    OutOfRange,
)
from policy_engine.evaluate.resolution import environment, in_effect
from policy_engine.evaluate.runtime import Evaluation, Record
from policy_engine.explain.fact_traces import domain_size, fact_table, fact_traces
from policy_engine.explain.trace import (
    CLOSEST,
    CheckTrace,
    DerivedTrace,
    Expanded,
    FactTrace,
    LookupTrace,
    NearMiss,
    RuleTrace,
    Trace,
    _check,
    _is_ordered,
    _names_read,
    _rule_trace,
    _Scope,
    quick_check,
    quick_derived,
    quick_fact,
    quick_lookup,
    quick_near_miss,
    quick_rule,
)

#: A conjunct, or the first conjuncts of a rule, whose facts have more value combinations than
#: this has its checks made per decision instead of kept (see `_Conjunct.kept`, `Parts.kept`).
KEPT_MAX = 1024
#: At most this many rule traces and checks are kept per policy, whatever it decides on.
KEPT_ROOM = 1 << 16
_ABSENT = object()
_new = object.__new__

# Every trace object is a slotted record made by its quick constructor (`trace.quick_rule`...:
# plain stores, which CPython specialises, instead of a frozen `__init__`'s `object.__setattr__`
# per field), and the trace itself an `Expanded`, whose parts are slots: renderers read all of
# them on CPython's fastest attribute path. None is made or read through a `__dict__`.


class _Conjunct:
    """What does not change between decisions in a conjunct's `CheckTrace`.

    Args:
        names: the facts and derived values it reads, in order.
        subject: for an ordered comparison read best with the value in place
            (`days_since_sent = 50 > 45`), the name compared, the text before the value and
            the text after it; None: the display is the text.
        keys: for each table lookup whose key is a fact or derived value, that name and the
            table; None: a lookup keyed by another expression (the trace works it out).
        kept: checks already made, by (result, values): only when every name is a fact with a
            finite domain of at most `KEPT_MAX` combinations, so it stays small.
        plain: it reads facts only (no derived value, no table): its values are read from the
            facts directly (`_Expansion.check`).
    """

    __slots__ = ("fields", "names", "subject", "keys", "kept", "conjunct", "plain")

    def __init__(self, policy: CheckedPolicy, conjunct: c.Conjunct, finite: dict[str, int],
                 facts: frozenset[str]) -> None:
        line, column = policy.source.line_col(conjunct.span.start)
        self.conjunct = conjunct
        self.names = conjunct.facts
        self.fields = (conjunct.grouped, line, column)
        self.subject = _subject(policy, conjunct.expr, conjunct.grouped)
        self.keys = _lookup_keys(policy, conjunct.expr)
        combinations = 1
        for name in self.names:
            combinations *= finite.get(name, KEPT_MAX + 1)
        self.kept: dict[tuple[object, ...], CheckTrace] | None = (
            {} if combinations <= KEPT_MAX and self.keys == () else None)
        self.plain = self.keys == () and facts.issuperset(self.names)


def _subject(policy: CheckedPolicy, expr: c.CExpr, text: str) -> tuple[str, str, str] | None:
    """As `trace._shown`: where the value of the compared name is written in."""
    if (isinstance(expr, c.Compare) and expr.op in ("<", "<=", ">", ">=", "==", "!=")
            and isinstance(expr.left, c.FactRef) and _is_ordered(expr)):
        subject = policy.source.snippet(expr.left.span)
        if text.startswith(subject):
            return expr.left.name, f"{subject} = ", " " + text[len(subject):].lstrip()
    return None


def _lookup_keys(policy: CheckedPolicy, expr: c.CExpr) -> tuple[tuple[str, Any], ...] | None:
    found: list[tuple[str, Any]] = []
    for node in c.walk(expr):
        if isinstance(node, c.Lookup):
            if not isinstance(node.key, c.FactRef):
                return None
            found.append((node.key.name, policy.table(node.table)))
    return tuple(found)


class Parts:
    """What the explanation of a policy's compiled decisions shares, made once per policy."""

    def __init__(self, policy: CheckedPolicy, compiled: Any) -> None:
        self.policy = policy
        self.compiled = compiled
        units = policy.units()
        self.units = units
        finite: dict[str, int] = {}
        for info in policy.facts:
            size = domain_size(info.type)
            if size is not None:
                finite[info.name] = size
        for define in policy.defines:  # derived values are read as the walk computed them
            size = domain_size(define.type)
            if size is not None:
                finite[define.name] = size
        self.finite = finite
        given = frozenset(info.name for info in policy.facts)
        self.conjuncts = {u.index: tuple(_Conjunct(policy, j, finite, given)
                                         for j in u.conjuncts) for u in units}
        #: For each unit, and each count of its first conjuncts, the facts they read when
        #: their traces can be kept (`kept`); None when they cannot.
        self.prefixes: dict[int, tuple[tuple[str, ...] | None, ...]] = {
            u.index: _prefixes(self.conjuncts[u.index], finite) for u in units}
        #: Rule traces already made, by unit, status (or the failing conjunct) and the values
        #: read: the same values always give the same trace, so it is made once.
        facts_only = frozenset(info.name for info in policy.facts)
        self.readers = {index: tuple(
            None if names is None or not facts_only.issuperset(names) else _reader(names)
            for names in prefixes) for index, prefixes in self.prefixes.items()}
        self.kept: dict[tuple[object, ...], RuleTrace] = {}
        #: The same, for the common cases, without a key to build: for each unit, the traces
        #: of the rule failing at conjunct `count - 1` (by `count`), and of it deciding, by the
        #: values its reader gives (None: not kept this way).
        self.failing: dict[int, tuple[dict[object, RuleTrace] | None, ...]] = {
            index: tuple(None if reader is None else {} for reader in readers)
            for index, readers in self.readers.items()}
        self.deciding: dict[int, dict[object, RuleTrace] | None] = {
            index: None if readers[-1] is None else {} for index, readers in self.readers.items()}
        self.room = KEPT_ROOM
        self.where = {rule.index: position for position, rule in enumerate(policy.rules)}
        #: The rules in first-match order, each with its index, its place in file order,
        #: whether it has effective dates, and for each conjunct it may fail at, the reader
        #: of the values read up to it and the traces kept by them (both None: not kept so).
        self.order = tuple((r.index, self.where[r.index], r.effective is not None,
                            tuple(zip(self.readers[r.index][1:], self.failing[r.index][1:],
                                      strict=True)))
                           for r in policy.first_match_order)
        #: How many rules first match tries before each rule (all of them before the default).
        self.tried = {r.index: rank for rank, r in enumerate(policy.first_match_order)}
        #: For each unit that can decide: itself, how many rules are tried before it, whether
        #: it is a rule (not the default), and its traces kept by the values its reader gives.
        self.deciders = {u.index: (u, self.tried.get(u.index, len(self.order)),
                                   u.kind == "rule", self.deciding[u.index],
                                   self.readers[u.index][-1],
                                   (True,) * len(u.conjuncts) if self.prefixes[u.index][-1]
                                   is None else None) for u in units}
        #: For each unit and count of its first conjuncts, the most of them (fewer) whose
        #: checks are kept together by their reader's values (0: none), and those kept.
        self.heads = {index: tuple(max([n for n in range(1, count) if readers[n] is not None],
                                       default=0) for count in range(len(readers)))
                      for index, readers in self.readers.items()}
        self.kept_heads: dict[int, dict[tuple[object, ...], tuple[CheckTrace, ...]]] = {
            index: {} for index in self.readers}
        self.not_reached: dict[int, RuleTrace] = {}
        self.not_in_effect: dict[int, RuleTrace] = {}
        for unit in units:
            self.not_reached[unit.index] = _rule_trace(unit, "not reached", ())
            self.not_in_effect[unit.index] = _rule_trace(unit, "not in effect", ())
        self.unreached = tuple(self.not_reached[rule.index] for rule in policy.rules)
        self.otherwise = (_rule_trace(policy.otherwise, "decided", ())
                          if policy.otherwise is not None else None)
        self.dated = policy.as_of is not None and any(u.effective for u in units)
        self.defines = {d.name: j for j, d in enumerate(policy.defines)}
        self.define_parts: dict[str, tuple[Any, ...]] = {}
        for d in policy.defines:
            names = tuple(dict.fromkeys(n.name for n in c.walk(d.expr)
                                        if isinstance(n, c.FactRef)))
            keys = _lookup_keys(policy, d.expr)
            combinations = finite.get(d.name, KEPT_MAX + 1)
            for name in names:
                combinations *= finite.get(name, KEPT_MAX + 1)
            for name, _ in keys or ():
                combinations *= finite.get(name, KEPT_MAX + 1)
            self.define_parts[d.name] = (d, _subject(policy, d.expr, d.text), keys, names,
                                         combinations <= KEPT_MAX)
        self.kept_derived: dict[tuple[object, ...], DerivedTrace] = {}
        self.overrides = {rule.index: tuple(r for r in policy.rules
                                            if r.index in policy.overridden_by[rule.index])
                          for rule in policy.rules}
        self.facts_kept: dict[tuple[str, Value, str], FactTrace] = {}
        #: The derived values read, with those they are computed from: for each unit, by its
        #: first conjuncts (for each count), and by its outputs.
        closure = _define_closure(policy)
        self.reads = {u.index: _read_by_prefix(u, closure) for u in units}
        self.output_reads = {u.index: _closed((n for _, e in u.outputs
                                               for n in _names_read(e, closure)), closure)
                             for u in units}
        self.near: Callable[[Mapping[str, Value]], tuple[tuple[bool | None, ...], ...]] | None \
            = None  # the generated near-miss function, compiled when first needed
        #: The near misses chosen (`_nearest`), by every rule's conjuncts' results (and day).
        self.nearest: dict[object, tuple[tuple[CheckedRule, tuple[bool | None, ...], int, int],
                                         ...]] = {}
        self.kept_near: dict[tuple[object, ...], NearMiss] = {}  # as `kept`, for near misses
        #: The facts, when all are given, read at once (`fact_traces.fact_traces`): each
        #: looked up in its table from value to trace, or made for a value it does not hold.
        self.fact_set = frozenset(info.name for info in policy.facts)
        self.fact_traces = fact_traces(policy, tuple(fact_table(info, KEPT_MAX)
                                                     for info in policy.facts))
        self.missing = {info.name: FactTrace(info.name, None, "missing") for info in policy.facts}
        self.derive = [compiled.namespace[f"_p{j}"] for j in range(len(policy.defines))]


def _define_closure(policy: CheckedPolicy) -> dict[str, frozenset[str]]:
    """For each derived value, itself and every derived value it is computed from."""
    defines = {d.name: d for d in policy.defines}
    closure: dict[str, frozenset[str]] = {}
    for name in defines:
        found: set[str] = set()
        wanted = [name]
        while wanted:
            current = wanted.pop()
            if current not in found:
                found.add(current)
                wanted.extend(_names_read(defines[current].expr, defines))
        closure[name] = frozenset(found)
    return closure


def _closed(names: Iterable[str], closure: dict[str, frozenset[str]]) -> frozenset[str]:
    found: set[str] = set()
    for name in names:
        if name in closure:
            found |= closure[name]
    return frozenset(found)


def _read_by_prefix(unit: CheckedRule, closure: dict[str, frozenset[str]]
                    ) -> tuple[frozenset[str], ...]:
    found = [frozenset[str]()]
    for conjunct in unit.conjuncts:
        found.append(found[-1] | _closed(conjunct.facts, closure))
    return tuple(found)


def _prefixes(conjuncts: tuple[_Conjunct, ...], finite: dict[str, int]
              ) -> tuple[tuple[str, ...] | None, ...]:
    found: list[tuple[str, ...] | None] = []
    names: tuple[str, ...] = ()
    combinations = 1
    for count in range(len(conjuncts) + 1):
        if count:
            part = conjuncts[count - 1]
            fresh = tuple(n for n in part.names if n not in names)
            names += fresh
            for name in fresh:
                combinations *= finite.get(name, KEPT_MAX + 1)
            if part.keys != ():
                combinations = KEPT_MAX + 1
        found.append(names if combinations <= KEPT_MAX else None)
    return tuple(found)


def _reader(names: tuple[str, ...]) -> Callable[[Mapping[str, Value]], object]:
    """Reads the values of these facts (raises KeyError when one is left out)."""
    if not names:
        return lambda facts: ()
    return operator.itemgetter(*names)


def parts(compiled: Any) -> Parts:
    """The policy's shared parts, made on its first explained decision."""
    made = compiled.explained
    if made is None:
        made = compiled.explained = Parts(compiled.policy, compiled)
    assert isinstance(made, Parts)
    return made


class _Expansion:
    """One decision's explanation being made (`expand`)."""

    __slots__ = ("parts", "scope", "facts", "record", "advised", "near_units")

    def __init__(self, shared: Parts, record: Record) -> None:
        self.parts = shared
        self.scope: _Scope | None = None  # as `Trace` works parts out, made when first needed
        self.facts = record.facts
        self.record = record.failed  # the walk's record; derived values computed here join it
        self.advised = record.advisories
        self.near_units: list[CheckedRule] = []  # the rules of the near misses, in order

    def get(self, name: str) -> Value | None:
        """A fact's or derived value's value, as the trace shows it (None: missing)."""
        facts = self.facts
        if name in facts:
            return facts[name]
        j = self.parts.defines.get(name)
        if j is None:
            return None
        record = self.record
        value = record.get(-1 - j, _ABSENT)
        if value is _ABSENT:
            try:
                value = self.parts.derive[j](facts)
            except UNKNOWN:
                value = None
            record[-1 - j] = value
        return value  # type: ignore[no-any-return]

    def check(self, part: _Conjunct, result: bool | None) -> CheckTrace:
        """A conjunct's check (one whose lookup is keyed by an expression: as `Trace` makes
        it, evaluating the key)."""
        values: tuple[tuple[str, Value | None], ...]
        if part.plain:  # facts only: read directly (a fact left out reads as None, by `get`)
            facts = self.facts
            try:
                values = tuple([(name, facts[name]) for name in part.names])
            except KeyError:
                values = self.read(part.names)
            subject = part.subject
            if part.kept is None:
                text, line, column = part.fields
                value = None if subject is None else facts.get(subject[0])
                return quick_check(text, line, column, result, values,
                                   text if value is None or subject is None
                                   else f"{subject[1]}{format_value(value)}{subject[2]}", ())
        else:
            values = self.read(part.names)
        kept = part.kept
        if kept is not None:
            found = kept.get((result, values))
            if found is not None:
                return found
        keys = part.keys
        if keys is None:
            if self.scope is None:
                self.scope = _Scope(self.parts.policy, self.facts)
            return _check(self.scope, part.conjunct, result)
        text, line, column = part.fields
        made = quick_check(text, line, column, result, values, self.shown(part.subject, text),
                           self.lookups(keys) if keys else ())
        if kept is not None and self.parts.room > 0:
            self.parts.room -= 1
            kept[(result, values)] = made
        return made

    def read(self, names: tuple[str, ...]) -> tuple[tuple[str, Value | None], ...]:
        get = self.get
        return tuple([(name, get(name)) for name in names])

    def shown(self, subject: tuple[str, str, str] | None, text: str) -> str:
        if subject is None:
            return text
        value = self.get(subject[0])
        return text if value is None else f"{subject[1]}{format_value(value)}{subject[2]}"

    def lookups(self, keys: tuple[tuple[str, Any], ...]) -> tuple[LookupTrace, ...]:
        as_of = self.as_of()
        found: list[LookupTrace] = []
        for name, table in keys:
            key = self.get(name)
            row = table.find(key, as_of) if isinstance(key, str) else None
            found.append(quick_lookup(table.name, key, row.label() if row else None,
                                      row.value if row else None))
        return tuple(found)

    def as_of(self) -> Any:
        policy = self.parts.policy
        return self.facts.get(policy.as_of) if self.parts.dated and policy.as_of else None

    def rule(self, unit: CheckedRule, status: str, results: tuple[bool | None, ...],
             by: str | None = None) -> RuleTrace:
        """A unit's trace, with the checks of its first conjuncts, one per result."""
        index = unit.index
        shared = self.parts
        conjuncts = shared.conjuncts[index]
        count = min(len(results), len(conjuncts))
        # The checks of its longest first conjuncts whose values can be kept (the rule's
        # trace itself cannot be, say for an amount read last): kept together.
        start = shared.heads[index][count]
        checks: tuple[CheckTrace, ...] = ()
        if start:
            reader = shared.readers[index][start]
            assert reader is not None
            try:
                values = reader(self.facts)
            except KeyError:  # a fact left out: each check made below
                start = 0
            else:
                key = (results[:start], values)
                table = shared.kept_heads[index]
                found = table.get(key)
                if found is None:
                    found = self.checks(conjuncts[:start], results[:start])
                    if shared.room > 0:
                        shared.room -= 1
                        table[key] = found
                checks = found
        if count - start == 1:  # one more (an amount compared last, say): no list to build
            checks += (self.check(conjuncts[start], results[start]),)
        else:
            checks += self.checks(conjuncts[start:count], results[start:count])
        like = shared.not_reached[index]  # what does not change from status to status
        return quick_rule(like.id, like.title, like.line, status, like.decision, like.reason,
                          like.citation, checks, like.kind, like.by if by is None else by,
                          like.overrides, like.effective, like.adds)

    def checks(self, conjuncts: Sequence[_Conjunct], results: Sequence[bool | None]
               ) -> tuple[CheckTrace, ...]:
        check = self.check
        return tuple([check(part, result) for part, result in zip(conjuncts, results,
                                                                  strict=True)])

    def values(self, index: int, count: int) -> object:
        """The values a unit's first `count` conjuncts read, when their traces can be kept
        (`Parts.prefixes`); `_ABSENT` when not."""
        names = self.parts.prefixes[index][count]
        if names is None:
            return _ABSENT
        get = self.get
        return tuple([get(name) for name in names])

    def kept(self, key: tuple[object, ...], unit: CheckedRule, status: str,
             results: tuple[bool | None, ...], by: str | None = None) -> RuleTrace:
        """The trace kept under `key`, made and kept when there is none yet."""
        found = self.parts.kept.get(key)
        if found is None:
            found = self.rule(unit, status, results, by)
            shared = self.parts
            if shared.room > 0:
                shared.room -= 1
                shared.kept[key] = found
        return found

    def fast(self, table: dict[object, RuleTrace] | None, index: int, count: int, unit: CheckedRule,
             status: str, results: tuple[bool | None, ...]) -> RuleTrace | None:
        """The trace kept in `table` (`Parts.failing`, `Parts.deciding`) under the values of
        the unit's first `count` conjuncts, made and kept when there is none yet; None when
        it is not kept there (then `kept` keeps it)."""
        if table is None:
            return None
        reader = self.parts.readers[index][count]
        assert reader is not None
        try:
            values = reader(self.facts)
        except KeyError:  # a fact left out: kept in `Parts.kept`
            return None
        found = table.get(values)
        if found is None:
            found = self.rule(unit, status, results)
            shared = self.parts
            if shared.room > 0:
                shared.room -= 1
                table[values] = found
        return found

    def failed_at(self, unit: CheckedRule, position: int) -> RuleTrace:
        results = (True,) * position + (False,)
        index = unit.index
        found = self.fast(self.parts.failing[index][position + 1], index, position + 1, unit,
                          "did not apply", results)
        if found is not None:
            return found
        values = self.values(index, position + 1)
        if values is _ABSENT:
            return self.rule(unit, "did not apply", results)
        return self.kept((index, position, values), unit, "did not apply", results)

    def held(self, unit: CheckedRule, status: str, by: str | None = None) -> RuleTrace:
        count = len(unit.conjuncts)
        if status == "decided":
            found = self.fast(self.parts.deciding[unit.index], unit.index, count, unit, status,
                              (True,) * count)
            if found is not None:
                return found
        values = self.values(unit.index, count)
        if values is _ABSENT:
            return self.rule(unit, status, (True,) * count, by)
        return self.kept((unit.index, status, by, values), unit, status, (True,) * count, by)

    def near_miss(self, unit: CheckedRule, results: tuple[bool | None, ...], held: int,
                  total: int) -> NearMiss:
        """A near miss: kept, as rule traces are, when the values it reads can be."""
        values: object = _ABSENT
        reader = self.parts.readers[unit.index][-1]
        if reader is not None:
            try:
                values = reader(self.facts)
            except KeyError:  # a fact left out: read one by one
                pass
        if values is _ABSENT:
            values = self.values(unit.index, len(unit.conjuncts))
        if values is _ABSENT:
            return quick_near_miss(self.rule(unit, "did not apply", results), held, total)
        shared = self.parts
        key = (unit.index, results, values)
        found = shared.kept_near.get(key)
        if found is None:
            found = quick_near_miss(self.rule(unit, "did not apply", results), held, total)
            if shared.room > 0:
                shared.room -= 1
                shared.kept_near[key] = found
        return found


def expand(policy: CheckedPolicy, facts: Mapping[str, Value], given: frozenset[str] | None,
           evaluation: Evaluation) -> Trace:
    """The trace of a compiled first-match decision, made from its record in one pass.

    Gives what `Trace` works out for the same decision; a part it cannot make from the record
    (see the module's docstring) is left for `Trace` to work out when read.
    """
    record = evaluation.record
    assert record is not None
    shared = record.compiled.explained
    if shared is None:
        shared = parts(record.compiled)
    made: _Expansion | None = None  # made only when a part is not kept (the uncommon case)
    index = evaluation.index
    decider, rank, ruled, table, read_decider, made_anew = shared.deciders[index]
    today = record.today
    failed = record.failed
    base: Sequence[RuleTrace] = shared.unreached
    if shared.dated:
        base = [(shared.not_reached if in_effect(rule, today) else shared.not_in_effect
                 )[rule.index] for rule in policy.rules]
    rules = list(base)
    order = shared.order
    for at, where, dated, kept in order[:rank]:
        if dated and not in_effect(shared.units[at], today):
            rules[where] = shared.not_in_effect[at]
            continue
        position = failed.get(at, 0)
        reader, failing = kept[position]
        if failing is not None:
            # The common case, inline: a trace kept for these values (`_Expansion.failed_at`).
            try:
                found = failing.get(reader(facts))
            except KeyError:  # a fact left out
                found = None
            if found is not None:
                rules[where] = found
                continue
        if made is None:
            made = _Expansion(shared, record)
        rules[where] = made.failed_at(shared.units[at], position)
    deciding = shared.otherwise
    if ruled:
        if shared.overrides[index]:
            if made is None:
                made = _Expansion(shared, record)
            _overridden(made, decider, rules, base, today)
        # The common case, inline: the decider's trace kept for the values it read.
        deciding = None
        if table is not None:
            try:
                deciding = table.get(read_decider(facts))
            except KeyError:  # a fact left out
                pass
        if deciding is None:
            if made is None:
                made = _Expansion(shared, record)
            # Made per decision when it reads a value without a finite domain (`held`).
            deciding = made.held(decider, "decided") if made_anew is None \
                else made.rule(decider, "decided", made_anew)
        rules[shared.where[index]] = deciding
    if not ruled or record.advisories or policy.defines:  # `otherwise` decided: near misses
        if made is None:
            made = _Expansion(shared, record)
    made_rules = tuple(rules)
    advisories = _advisories(made, record) if made is not None and record.advisories else ()
    as_of = today if shared.dated else None
    by_default = evaluation.rule == "otherwise"
    made_facts: tuple[FactTrace, ...] | None = None
    if given is None or shared.fact_set <= given:
        # Every fact given (the usual case): each fact's trace looked up in its table, or made
        # for its value (an amount, a date, text), by one generated function.
        try:
            made_facts = shared.fact_traces(facts)
        except KeyError:  # a fact left out
            pass
    if made_facts is None:
        made_facts = _facts(shared, facts, facts if given is None else given)
    closest = _closest(made, today) if made is not None and not ruled else ()
    derived: tuple[DerivedTrace, ...] | None = None
    if not policy.defines:
        derived = ()
    elif made is not None and advisories is not None:
        derived = _derived(made, made_rules, advisories, closest, decider)
    if advisories is not None and derived is not None:  # every part made: the usual case
        return Expanded.made(policy, facts, given, evaluation, made_rules, deciding,
                             advisories, as_of, by_default, made_facts, closest, derived)
    # A part not made from the record: `Trace` works it out when read. Set as
    # `Trace.__init__` sets them, then every part it would work out, the others left out.
    trace: Trace = _new(Trace)
    fields = {"policy": policy, "_values": facts, "_given": given, "_evaluation": evaluation,
              "refusal": (), "rules": made_rules, "decided_by": deciding, "as_of": as_of,
              "by_default": by_default, "constraints": (), "facts": made_facts,
              "closest": closest}
    if advisories is not None:
        fields["advisories"] = advisories
    if derived is not None:
        fields["derived"] = derived
    trace.__dict__ = fields  # the dict itself, not a copy of it
    return trace


def _overridden(made: _Expansion, decider: CheckedRule, rules: list[RuleTrace],
                base: Sequence[RuleTrace], today: Any) -> None:
    """First match: whether the rules the decider is an exception to would have matched, as
    `resolution.first_match_outcomes` says (`rules`: what is known, `base`: before that)."""
    compiled = made.parts.compiled
    env: Mapping[str, Value] | None = None
    where = made.parts.where
    for rule in made.parts.overrides[decider.index]:
        if rules[where[rule.index]] is not base[where[rule.index]] \
                or not in_effect(rule, today):
            continue
        if env is None:
            env = environment(made.parts.policy, compiled, made.facts)
        try:
            position = compiled.condition(rule.index, env)
        except (MissingFact, DivisionByZero, NoRow, CalendarProblem, OutOfRange):
            continue  # it stays 'not reached': first match never needed it
        rules[where[rule.index]] = (made.held(rule, "overridden", decider.id) if position < 0
                                    else made.failed_at(rule, position))


def _advisories(made: _Expansion, record: Record) -> tuple[RuleTrace, ...] | None:
    found: list[RuleTrace] = []
    units = made.parts.units
    for outcome in record.advisories:
        unit = units[outcome.index]
        if outcome.status == "added":
            found.append(made.held(unit, "added"))
        elif outcome.status == "did not apply" and outcome.failed_at is not None:
            found.append(made.failed_at(unit, outcome.failed_at))
        elif outcome.status == "not in effect":
            found.append(made.parts.not_in_effect[unit.index])
        else:
            return None  # only a refusal has others: not explained from a record
    return tuple(found)


def _facts(shared: Parts, facts: Mapping[str, Value], given: Any) -> tuple[FactTrace, ...]:
    """The facts' traces one by one (some fact left out, or not given but defaulted)."""
    made: list[FactTrace] = []
    kept = shared.facts_kept
    finite = shared.finite
    missing = shared.missing
    for info in shared.policy.facts:
        name = info.name
        value = facts.get(name)
        if value is None:  # not given, or given as null: the rules saw no value either way
            made.append(missing[name])
            continue
        origin = "given" if name in given else "default"
        if name in finite:
            key = (name, value, origin)
            found = kept.get(key)
            if found is None:
                found = quick_fact(name, value, origin)
                if shared.room > 0:
                    shared.room -= 1
                    kept[key] = found
            made.append(found)
        else:
            made.append(quick_fact(name, value, origin))
    return tuple(made)


def _closest(made: _Expansion, today: Any) -> tuple[NearMiss, ...]:
    """The default decided: the rules that came closest to applying, each conjunct evaluated
    on its own by the generated near-miss functions (as `trace._closest`)."""
    shared = made.parts
    if shared.near is None:
        shared.near = shared.compiled.near()
    facts = made.facts
    results = shared.near(facts)
    key = (results, today) if shared.dated else results
    chosen = shared.nearest.get(key)
    if chosen is None:
        # Which rules come closest depends only on each conjunct's result (and on the day,
        # for rules with effective dates): worked out once per pattern of results.
        chosen = _nearest(shared.policy, results, today)
        if shared.room > 0:
            shared.room -= 1
            shared.nearest[key] = chosen
    made.near_units.extend([rule for rule, _, _, _ in chosen])
    near_miss = made.near_miss
    return tuple([near_miss(rule, tried, held, total) for rule, tried, held, total in chosen])


def _nearest(policy: CheckedPolicy, results: tuple[tuple[bool | None, ...], ...], today: Any
             ) -> tuple[tuple[CheckedRule, tuple[bool | None, ...], int, int], ...]:
    """The rules closest to applying, with their conjuncts' results, how many held and of
    how many, from every rule's results (by index), as `trace._closest` orders them."""
    misses: list[tuple[float, int, CheckedRule, tuple[bool | None, ...]]] = []
    for rule, tried in zip(policy.rules, results, strict=True):
        if not in_effect(rule, today):
            continue
        held = sum(1 for result in tried if result)
        total = len(tried)
        if total and held:
            misses.append((-held / total, rule.index, rule, tried))
    misses.sort(key=lambda item: (item[0], item[1]))
    return tuple((rule, tried, sum(1 for r in tried if r), len(tried))
                 for _, _, rule, tried in misses[:CLOSEST])


def _derived_names(made: _Expansion, rules: tuple[RuleTrace, ...],
                   advisories: tuple[RuleTrace, ...], closest: tuple[NearMiss, ...],
                   decider: CheckedRule) -> set[str]:
    """What `trace._derived_read` finds, from the per-policy sets of each unit: the derived
    values read by the conjuncts each trace shows, by the decider's outputs and by the outputs
    of the advisories that added, and the derived values those read."""
    shared = made.parts
    reads = shared.reads
    read: set[str] = set()
    for unit, rule in zip(shared.policy.rules, rules, strict=True):
        read |= reads[unit.index][len(rule.checks)]
    for outcome, rule in zip(made.advised, advisories, strict=True):
        read |= reads[outcome.index][len(rule.checks)]
        if rule.status == "added":
            read |= shared.output_reads[outcome.index]
    for unit, miss in zip(made.near_units, closest, strict=True):
        read |= reads[unit.index][len(miss.rule.checks)]
    return read | shared.output_reads[decider.index]


def _derived(made: _Expansion, rules: tuple[RuleTrace, ...], advisories: tuple[RuleTrace, ...],
             closest: tuple[NearMiss, ...], decider: CheckedRule
             ) -> tuple[DerivedTrace, ...] | None:
    """The derived values the explanation reads, with the values the walk computed."""
    read = _derived_names(made, rules, advisories, closest, decider)
    shared = made.parts
    found: list[DerivedTrace] = []
    get = made.get
    for define in shared.policy.defines:
        name = define.name
        if name not in read:
            continue
        _, subject, keys, names, finite = shared.define_parts[name]
        value = get(name)
        if value is None or keys is None:
            return None  # why it cannot be computed, or a lookup's key: the trace works it out
        key: tuple[object, ...] | None = None
        if finite:  # the same values read give the same trace: kept, as rule traces are
            key = (name, value, tuple([get(n) for n in names]), made.as_of() if keys else None)
            kept = shared.kept_derived.get(key)
            if kept is not None:
                found.append(kept)
                continue
        shown = made.shown(subject, define.text)
        values = () if shown != define.text else tuple((n, get(n)) for n in names)
        derived = quick_derived(name, define.text, value, made.lookups(keys), shown, values,
                                None)
        if key is not None and shared.room > 0:
            shared.room -= 1
            shared.kept_derived[key] = derived
        found.append(derived)
    return tuple(found)
