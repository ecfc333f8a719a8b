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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, CheckedRule, FactInfo
from policy_engine.check.types import BoolType, EnumType, Value, WholeType, format_value
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
from policy_engine.explain.trace import (
    CLOSEST,
    CheckTrace,
    DerivedTrace,
    FactTrace,
    LookupTrace,
    NearMiss,
    RuleTrace,
    Trace,
    _check,
    _derived_read,
    _is_ordered,
    _rule_trace,
)

#: A conjunct, or the first conjuncts of a rule, whose facts have more value combinations than
#: this has its checks made per decision instead of kept (see `_Conjunct.kept`, `Parts.kept`).
KEPT_MAX = 1024
#: At most this many rule traces and checks are kept per policy, whatever it decides on.
KEPT_ROOM = 1 << 16
_ABSENT = object()
_new = object.__new__


def _made(cls: type, fields: dict[str, Any]) -> Any:
    """An instance of a frozen dataclass with these fields, as its `__init__` would set them
    (which sets each through `object.__setattr__`, the cost that matters at this scale)."""
    made: Any = _new(cls)
    made.__dict__.update(fields)
    return made


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
    """

    __slots__ = ("fields", "names", "subject", "keys", "kept", "conjunct")

    def __init__(self, policy: CheckedPolicy, conjunct: c.Conjunct, finite: dict[str, int]
                 ) -> None:
        line, column = policy.source.line_col(conjunct.span.start)
        self.conjunct = conjunct
        self.names = conjunct.facts
        self.fields: dict[str, Any] = {"text": conjunct.grouped, "line": line,
                                       "column": column, "lookups": ()}
        self.subject = _subject(policy, conjunct.expr, conjunct.grouped)
        self.keys = _lookup_keys(policy, conjunct.expr)
        combinations = 1
        for name in self.names:
            combinations *= finite.get(name, KEPT_MAX + 1)
        self.kept: dict[tuple[object, ...], CheckTrace] | None = (
            {} if combinations <= KEPT_MAX and self.keys == () else None)


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
            if isinstance(info.type, EnumType):
                finite[info.name] = len(info.type.values) + 1
            elif isinstance(info.type, BoolType):
                finite[info.name] = 3
            elif isinstance(info.type, WholeType) and info.type.minimum is not None \
                    and info.type.maximum is not None:
                finite[info.name] = info.type.maximum - info.type.minimum + 2
        self.finite = finite
        self.conjuncts = {u.index: tuple(_Conjunct(policy, j, finite) for j in u.conjuncts)
                          for u in units}
        #: For each unit, and each count of its first conjuncts, the facts they read when
        #: their traces can be kept (`kept`); None when they cannot.
        self.prefixes: dict[int, tuple[tuple[str, ...] | None, ...]] = {
            u.index: _prefixes(self.conjuncts[u.index], finite) for u in units}
        #: Rule traces already made, by unit, status (or the failing conjunct) and the values
        #: read: the same values always give the same trace, so it is made once.
        self.readers = {index: tuple(None if names is None else _reader(names)
                                     for names in prefixes)
                        for index, prefixes in self.prefixes.items()}
        self.kept: dict[tuple[object, ...], RuleTrace] = {}
        self.room = KEPT_ROOM
        self.where = {rule.index: position for position, rule in enumerate(policy.rules)}
        self.order = tuple((r, r.index, r.effective is not None, self.readers[r.index],
                            self.where[r.index]) for r in policy.first_match_order)
        self.rule_fields: dict[int, dict[str, Any]] = {}
        self.not_reached: dict[int, RuleTrace] = {}
        self.not_in_effect: dict[int, RuleTrace] = {}
        for unit in units:
            shared = _rule_trace(unit, "not reached", ())
            self.rule_fields[unit.index] = dict(shared.__dict__)
            self.not_reached[unit.index] = shared
            self.not_in_effect[unit.index] = _rule_trace(unit, "not in effect", ())
        self.unreached = tuple(self.not_reached[rule.index] for rule in policy.rules)
        self.otherwise = (_rule_trace(policy.otherwise, "decided", ())
                          if policy.otherwise is not None else None)
        self.dated = policy.as_of is not None and any(u.effective for u in units)
        self.defines = {d.name: j for j, d in enumerate(policy.defines)}
        self.define_parts = {
            d.name: (d, _subject(policy, d.expr, d.text), _lookup_keys(policy, d.expr),
                     tuple(dict.fromkeys(n.name for n in c.walk(d.expr)
                                         if isinstance(n, c.FactRef))))
            for d in policy.defines}
        self.overrides = {rule.index: tuple(r for r in policy.rules
                                            if r.index in policy.overridden_by[rule.index])
                          for rule in policy.rules}
        self.facts_kept: dict[tuple[str, Value, str], FactTrace] = {}
        self.near: tuple[Callable[[Mapping[str, Value]], tuple[bool | None, ...]], ...] | None \
            = None  # the generated near-miss functions, compiled when first needed
        #: The facts given, read at once (`_facts`): for each, a table from its value to its
        #: trace: every value of a finite domain, and a missing value (None).
        names = tuple(info.name for info in policy.facts)
        self.fact_names = names
        self.fact_set = frozenset(names)
        self.fact_values: Callable[[Mapping[str, Value]], tuple[Value, ...]] = (
            operator.itemgetter(*names) if len(names) > 1
            else (lambda facts: tuple(facts[n] for n in names)))
        self.fact_tables = tuple(_fact_table(info) for info in policy.facts)
        self.open_facts = tuple(position for position, info in enumerate(policy.facts)
                                if len(self.fact_tables[position]) == 1)
        self.missing = {info.name: FactTrace(info.name, None, "missing") for info in policy.facts}
        self.derive = [compiled.namespace[f"_p{j}"] for j in range(len(policy.defines))]


def _fact_table(info: FactInfo) -> dict[Value | None, FactTrace]:
    table: dict[Value | None, FactTrace] = {None: FactTrace(info.name, None, "missing")}
    kind = info.type
    domain: tuple[Value, ...] = ()
    if isinstance(kind, EnumType):
        domain = kind.values
    elif isinstance(kind, BoolType):
        domain = (False, True)
    elif isinstance(kind, WholeType) and kind.minimum is not None \
            and kind.maximum is not None and kind.maximum - kind.minimum < KEPT_MAX:
        domain = tuple(range(kind.minimum, kind.maximum + 1))
    for value in domain:
        table[value] = FactTrace(info.name, value, "given")
    return table


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

    __slots__ = ("parts", "trace", "facts", "record")

    def __init__(self, shared: Parts, record: Record, trace: Trace) -> None:
        self.parts = shared
        self.trace = trace
        self.facts = record.facts
        self.record = record.failed  # the walk's record; derived values computed here join it

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
        get = self.get
        values = tuple([(name, get(name)) for name in part.names])
        kept = part.kept
        if kept is not None:
            found = kept.get((result, values))
            if found is not None:
                return found
        keys = part.keys
        if keys is None:
            return _check(self.trace._scope, part.conjunct, result)
        fields = dict(part.fields)
        fields["result"] = result
        fields["values"] = values
        fields["display"] = self.shown(part.subject, part.fields["text"])
        if keys:
            fields["lookups"] = self.lookups(keys)
        made: CheckTrace = _made(CheckTrace, fields)
        if kept is not None and self.parts.room > 0:
            self.parts.room -= 1
            kept[(result, values)] = made
        return made

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
            found.append(LookupTrace(table.name, key, row.label() if row else None,
                                     row.value if row else None))
        return tuple(found)

    def as_of(self) -> Any:
        policy = self.parts.policy
        return self.facts.get(policy.as_of) if self.parts.dated and policy.as_of else None

    def rule(self, unit: CheckedRule, status: str, results: tuple[bool | None, ...],
             by: str | None = None) -> RuleTrace:
        """A unit's trace, with the checks of its first conjuncts, one per result."""
        check = self.check
        checks = tuple([check(part, result) for part, result
                        in zip(self.parts.conjuncts[unit.index], results, strict=False)])
        fields = dict(self.parts.rule_fields[unit.index])
        fields["status"] = status
        fields["checks"] = checks
        if by is not None:
            fields["by"] = by
        made: RuleTrace = _made(RuleTrace, fields)
        return made

    def failed_at(self, unit: CheckedRule, position: int) -> RuleTrace:
        reader = self.parts.readers[unit.index][position + 1]
        try:
            values = None if reader is None else reader(self.facts)
        except KeyError:  # a fact left out: made each time (kept traces read given facts)
            reader = None
        if reader is None:
            return self.rule(unit, "did not apply", (True,) * position + (False,))
        key = (unit.index, position, values)
        found = self.parts.kept.get(key)
        if found is None:
            found = self.rule(unit, "did not apply", (True,) * position + (False,))
            self.keep(key, found)
        return found

    def held(self, unit: CheckedRule, status: str, by: str | None = None) -> RuleTrace:
        count = len(unit.conjuncts)
        reader = self.parts.readers[unit.index][count]
        try:
            values = None if reader is None else reader(self.facts)
        except KeyError:
            reader = None
        if reader is None:
            return self.rule(unit, status, (True,) * count, by)
        key = (unit.index, status, by, values)
        found = self.parts.kept.get(key)
        if found is None:
            found = self.rule(unit, status, (True,) * count, by)
            self.keep(key, found)
        return found

    def near_miss(self, unit: CheckedRule, results: tuple[bool | None, ...]) -> RuleTrace:
        reader = self.parts.readers[unit.index][len(unit.conjuncts)]
        try:
            values = None if reader is None else reader(self.facts)
        except KeyError:
            reader = None
        if reader is None:
            return self.rule(unit, "did not apply", results)
        key = (unit.index, results, values)
        found = self.parts.kept.get(key)
        if found is None:
            found = self.rule(unit, "did not apply", results)
            self.keep(key, found)
        return found

    def keep(self, key: tuple[object, ...], made: RuleTrace) -> None:
        shared = self.parts
        if shared.room > 0:
            shared.room -= 1
            shared.kept[key] = made


def expand(policy: CheckedPolicy, facts: Mapping[str, Value], given: frozenset[str] | None,
           evaluation: Evaluation) -> Trace:
    """The trace of a compiled first-match decision, made from its record in one pass.

    Gives what `Trace` works out for the same decision; a part it cannot make from the record
    (see the module's docstring) is left for `Trace` to work out when read.
    """
    record = evaluation.record
    assert record is not None
    trace: Trace = _new(Trace)
    fields = trace.__dict__
    fields.update({"policy": policy, "_values": facts, "_given": given,
                   "_evaluation": evaluation, "refusal": ()})  # as `Trace.__init__` sets them
    shared = parts(record.compiled)
    made = _Expansion(shared, record, trace)
    decider = shared.units[evaluation.index]
    today = record.today
    failed = record.failed
    base: Sequence[RuleTrace] = shared.unreached
    if shared.dated:
        base = [(shared.not_reached if in_effect(rule, today) else shared.not_in_effect
                 )[rule.index] for rule in policy.rules]
    rules = list(base)
    kept = shared.kept
    for rule, index, dated, read, where in shared.order:
        if rule is decider:
            break
        if dated and not in_effect(rule, today):
            rules[where] = shared.not_in_effect[index]
            continue
        position = failed.get(index, 0)
        reader = read[position + 1]
        if reader is not None:
            # The common case, inline: a trace kept for these values (`_Expansion.failed_at`).
            try:
                found = kept.get((index, position, reader(facts)))
            except KeyError:  # a fact left out
                found = None
            if found is not None:
                rules[where] = found
                continue
        rules[where] = made.failed_at(rule, position)
    deciding = shared.otherwise
    if decider.kind == "rule":
        if shared.overrides[decider.index]:
            _overridden(made, decider, rules, base, today)
        deciding = rules[shared.where[decider.index]] = made.held(decider, "decided")
    fields["rules"] = tuple(rules)
    fields["decided_by"] = deciding
    advisories = _advisories(made, record) if record.advisories else ()
    if advisories is not None:
        fields["advisories"] = advisories
    fields["as_of"] = today if shared.dated else None
    fields["constraints"] = ()
    fields["facts"] = _facts(shared, facts, facts if given is None else given)
    fields["closest"] = _closest(made, today) if decider.kind == "otherwise" else ()
    if not policy.defines:
        fields["derived"] = ()
    elif "advisories" in fields:
        derived = _derived(made, trace)
        if derived is not None:
            fields["derived"] = derived
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
    names = shared.fact_names
    if names and (given is facts or shared.fact_set <= given):
        # Every fact given (the usual case): each finite-domain fact's trace is looked up
        # in its table at C speed; only the others are made.
        try:
            values = shared.fact_values(facts)
        except KeyError:  # a fact left out
            values = None
        if values is not None:
            traced: list[FactTrace | None] = list(map(dict.get, shared.fact_tables, values))
            for position in shared.open_facts:
                if traced[position] is None:
                    traced[position] = _made(FactTrace, {
                        "name": names[position], "value": values[position], "origin": "given"})
            if all(traced):
                return tuple(traced)  # type: ignore[arg-type]  # no None left
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
                found = FactTrace(name, value, origin)
                if shared.room > 0:
                    shared.room -= 1
                    kept[key] = found
            made.append(found)
        else:
            made.append(_made(FactTrace, {"name": name, "value": value, "origin": origin}))
    return tuple(made)


def _closest(made: _Expansion, today: Any) -> tuple[NearMiss, ...]:
    """The default decided: the rules that came closest to applying, each conjunct evaluated
    on its own by the generated near-miss functions (as `trace._closest`)."""
    policy = made.parts.policy
    shared = made.parts
    if shared.near is None:
        shared.near = made.parts.compiled.near()
    near = shared.near
    misses: list[tuple[float, int, CheckedRule, tuple[bool | None, ...]]] = []
    facts = made.facts
    for rule, results in zip(policy.rules, (n(facts) for n in near), strict=True):
        if not in_effect(rule, today):
            continue
        held = sum(1 for result in results if result)
        total = len(results)
        if total and held:
            misses.append((-held / total, rule.index, rule, results))
    misses.sort(key=lambda item: (item[0], item[1]))
    closest: list[NearMiss] = []
    for _, _, rule, results in misses[:CLOSEST]:
        trace = made.near_miss(rule, results)
        closest.append(NearMiss(trace, sum(1 for r in results if r), len(results)))
    return tuple(closest)


def _derived(made: _Expansion, trace: Trace) -> tuple[DerivedTrace, ...] | None:
    """The derived values the explanation reads, with the values the walk computed."""
    read = _derived_read(trace)
    found: list[DerivedTrace] = []
    for define in made.parts.policy.defines:
        if define.name not in read:
            continue
        _, subject, keys, names = made.parts.define_parts[define.name]
        value = made.get(define.name)
        if value is None or keys is None:
            return None  # why it cannot be computed, or a lookup's key: the trace works it out
        shown = made.shown(subject, define.text)
        values = () if shown != define.text else tuple((n, made.get(n)) for n in names)
        found.append(DerivedTrace(define.name, define.text, value, made.lookups(keys), shown,
                                  values, None))
    return tuple(found)
