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
    _is_ordered,
    _names_read,
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
            size = _domain_size(info.type)
            if size is not None:
                finite[info.name] = size
        for define in policy.defines:  # derived values are read as the walk computed them
            size = _domain_size(define.type)
            if size is not None:
                finite[define.name] = size
        self.finite = finite
        self.conjuncts = {u.index: tuple(_Conjunct(policy, j, finite) for j in u.conjuncts)
                          for u in units}
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


def _domain_size(kind: object) -> int | None:
    """How many values (and a missing one) a finite type has; None: too many to keep."""
    if isinstance(kind, EnumType):
        return len(kind.values) + 1
    if isinstance(kind, BoolType):
        return 3
    if isinstance(kind, WholeType) and kind.minimum is not None and kind.maximum is not None:
        return kind.maximum - kind.minimum + 2
    return None


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

    __slots__ = ("parts", "trace", "facts", "record", "advised", "near_units")

    def __init__(self, shared: Parts, record: Record, trace: Trace) -> None:
        self.parts = shared
        self.trace = trace
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

    def values(self, index: int, count: int) -> object:
        """The values a unit's first `count` conjuncts read, when their traces can be kept
        (`Parts.prefixes`); `_ABSENT` when not."""
        reader = self.parts.readers[index][count]
        if reader is not None:
            try:
                return reader(self.facts)
            except KeyError:  # a fact left out: read one by one below
                pass
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

    def failed_at(self, unit: CheckedRule, position: int) -> RuleTrace:
        results = (True,) * position + (False,)
        values = self.values(unit.index, position + 1)
        if values is _ABSENT:
            return self.rule(unit, "did not apply", results)
        return self.kept((unit.index, position, values), unit, "did not apply", results)

    def held(self, unit: CheckedRule, status: str, by: str | None = None) -> RuleTrace:
        count = len(unit.conjuncts)
        values = self.values(unit.index, count)
        if values is _ABSENT:
            return self.rule(unit, status, (True,) * count, by)
        return self.kept((unit.index, status, by, values), unit, status, (True,) * count, by)

    def near_miss(self, unit: CheckedRule, results: tuple[bool | None, ...]) -> RuleTrace:
        values = self.values(unit.index, len(unit.conjuncts))
        if values is _ABSENT:
            return self.rule(unit, "did not apply", results)
        return self.kept((unit.index, results, values), unit, "did not apply", results)


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
        derived = _derived(made, trace, decider)
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
        made.near_units.append(rule)
        closest.append(NearMiss(trace, sum(1 for r in results if r), len(results)))
    return tuple(closest)


def _derived_names(made: _Expansion, trace: Trace, decider: CheckedRule) -> set[str]:
    """What `trace._derived_read` finds, from the per-policy sets of each unit: the derived
    values read by the conjuncts each trace shows, by the decider's outputs and by the outputs
    of the advisories that added, and the derived values those read."""
    shared = made.parts
    reads = shared.reads
    read: set[str] = set()
    for unit, rule in zip(shared.policy.rules, trace.rules, strict=True):
        read |= reads[unit.index][len(rule.checks)]
    for outcome, rule in zip(made.advised, trace.advisories, strict=True):
        read |= reads[outcome.index][len(rule.checks)]
        if rule.status == "added":
            read |= shared.output_reads[outcome.index]
    for unit, miss in zip(made.near_units, trace.closest, strict=True):
        read |= reads[unit.index][len(miss.rule.checks)]
    return read | shared.output_reads[decider.index]


def _derived(made: _Expansion, trace: Trace, decider: CheckedRule
             ) -> tuple[DerivedTrace, ...] | None:
    """The derived values the explanation reads, with the values the walk computed."""
    read = _derived_names(made, trace, decider)
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
        derived = DerivedTrace(name, define.text, value, made.lookups(keys), shown, values, None)
        if key is not None and shared.room > 0:
            shared.room -= 1
            shared.kept_derived[key] = derived
        found.append(derived)
    return tuple(found)
