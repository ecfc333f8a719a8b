"""Partition: a policy's fact space split into regions, each with the one outcome evaluation gives.

The exact region algebra of `regions` and the translation of `symbolic` split the space by
outcome: a refusal by a constraint, the rule that decides, an error (a missing fact, a table
without a row), the default. `lint` reads findings off the partition and `symbolic_diff`
compares the partitions of two policies; `describe` words regions and `witnesses` finds
concrete facts that show them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_engine.analysis.regions import (
    Cell,
    Dimension,
    Number,
    Region,
    Space,
    as_number,
    intersect,
    subtract,
    union,
)
from policy_engine.analysis.symbolic import (
    Atom,
    Formula,
    Registry,
    Three,
    Translator,
    and_,
    atoms,
    not_,
    or_,
    region,
)
from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, CheckedRule
from policy_engine.check.types import (
    EnumType,
    Type,
    Value,
)
from policy_engine.core.diagnostics import Diagnostic, Severity
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import environment

#: How many regions a finding describes before it says "... and N more".
MAX_REGIONS = 8


#: How many candidate fact sets a witness search tries for one region.
MAX_TRIES = 400


@dataclass(frozen=True)
class Outcome:
    """What evaluation does on a region: ('decision', name, rule), ('refused', label, None),
    ('error', code, rule) or ('invalid', 'facts', None)."""

    kind: str
    name: str
    rule: str | None = None

    def describe(self) -> str:
        if self.kind == "decision":
            return self.name
        if self.kind == "refused":
            return f"refused ({self.name})"
        if self.kind == "invalid":
            return "invalid facts"
        return f"no decision ({self.name})"

    def same_result(self, other: Outcome) -> bool:
        return (self.kind, self.name) == (other.kind, other.name)


@dataclass
class Piece:
    region: Region
    outcome: Outcome


@dataclass
class Model:
    """One policy translated into a shared space, with the partition of that space."""

    policy: CheckedPolicy
    translator: Translator
    space: Space = field(init=False)
    valid: Region = field(init=False)
    pieces: list[Piece] = field(default_factory=list)
    conditions: dict[int, Three] = field(default_factory=dict)
    effective: dict[int, Formula] = field(default_factory=dict)
    output_errors: dict[int, Formula] = field(default_factory=dict)
    constraint_steps: list[tuple[Formula, Outcome]] = field(default_factory=list)

    def formula_region(self, formula: Formula) -> Region:
        return region(self.space, formula)


def translate(policy: CheckedPolicy, registry: Registry) -> Model:
    """Translates a policy's constraints, rules and advisories (before the space is built)."""
    translator = Translator(policy, registry)
    model = Model(policy, translator)
    for require in policy.requires:
        when = translator.condition(require.when) if require.when is not None else None
        missing = or_(*(not_(translator.present(f)) for f in require.facts))
        violated = and_(when.true if when else True, missing)
        model.constraint_steps.append((violated, Outcome("refused", require.label or "E309",
                                                         "constraint")))
    for ensure in policy.ensures:
        when = translator.condition(ensure.when) if ensure.when is not None else None
        condition = translator.condition(ensure.condition)
        violated = and_(when.true if when else True, condition.false)
        model.constraint_steps.append((violated, Outcome("refused", ensure.label or "E308",
                                                         "constraint")))
    for rule in policy.units():
        model.conditions[rule.index] = translator.rule(rule)
        model.effective[rule.index] = translator.effective(rule.effective)
        model.output_errors[rule.index] = translator.outputs_error(rule)
    return model


def _invalid_cells(model: Model) -> Formula:
    """Facts that this policy would reject: values of the other policy in a symbolic diff."""
    parts: list[Formula] = []
    for dimension in model.space.dimensions:
        if dimension.key[0] != "fact":
            continue
        name = str(dimension.key[1])
        try:
            info = model.policy.fact(name)
        except KeyError:
            continue
        bad = dimension.mask(lambda cell, info=info: not _cell_allowed(info.type, info, cell))
        if bad:
            values = tuple(cell.value for position, cell in enumerate(dimension.cells)
                           if bad >> position & 1 and cell.kind == "value")
            if values:
                parts.append(Atom(dimension.key, ("in", values)))
            if any(cell.kind == "missing" for position, cell in enumerate(dimension.cells)
                   if bad >> position & 1):
                parts.append(not_(Atom(dimension.key, ("present",))))
    return or_(*parts)


def _cell_allowed(t: Type, info: c.FactInfo, cell: Cell) -> bool:
    if cell.kind == "missing":
        return info.optional or info.default is not None
    if isinstance(t, EnumType):
        return cell.value in t.values
    return True


def build(model: Model, space: Space) -> None:
    """Computes the valid region and the outcome partition of a translated policy."""
    model.space = space
    policy = model.policy
    invalid = model.formula_region(_invalid_cells(model))
    reach = space.everything() - invalid
    if invalid:
        model.pieces.append(Piece(invalid, Outcome("invalid", "facts")))
    for violated, outcome in model.constraint_steps:
        hit = intersect(reach, model.formula_region(violated))
        if hit:
            model.pieces.append(Piece(hit, outcome))
            reach = subtract(reach, hit)
    model.valid = reach
    if policy.strategy == "first match":
        _first_match(model, reach)
    else:
        _all_rules(model, reach)


def _first_match(model: Model, reach: Region) -> None:
    for rule in model.policy.first_match_order:
        if not reach:
            return
        three = model.conditions[rule.index]
        live = intersect(reach, model.formula_region(model.effective[rule.index]))
        fails = model.formula_region(three.error)
        errors = intersect(live, fails)
        if errors:
            model.pieces.append(Piece(errors, Outcome("error", "E401", rule.id)))
        matched = intersect(live, model.formula_region(three.true))
        if matched:
            _decide(model, rule, matched)
        reach = subtract(reach, union(errors, matched))
    _fall_through(model, reach)


def _decide(model: Model, rule: CheckedRule, matched: Region) -> None:
    broken = intersect(matched, model.formula_region(model.output_errors[rule.index]))
    if broken:
        model.pieces.append(Piece(broken, Outcome("error", "E401", rule.id)))
        matched = subtract(matched, broken)
    if matched:
        model.pieces.append(Piece(matched, Outcome("decision", rule.decision, rule.id)))


def _fall_through(model: Model, reach: Region) -> None:
    if not reach:
        return
    policy = model.policy
    if policy.otherwise is not None:
        _decide(model, policy.otherwise, reach)
    elif policy.refusal is not None:
        model.pieces.append(Piece(reach, Outcome("refused", policy.refusal.label or "E404")))
    else:
        model.pieces.append(Piece(reach, Outcome("error", "E404")))


def _all_rules(model: Model, reach: Region) -> None:
    """'unique' and 'agreeing': every rule is tried, so split by the set of matching rules."""
    policy = model.policy
    states: list[tuple[Region, tuple[CheckedRule, ...]]] = [(reach, ())] if reach else []
    for rule in policy.first_match_order:
        three = model.conditions[rule.index]
        effective = model.formula_region(model.effective[rule.index])
        true, error = model.formula_region(three.true), model.formula_region(three.error)
        following: list[tuple[Region, tuple[CheckedRule, ...]]] = []
        for area, matched in states:
            live = intersect(area, effective)
            errors = intersect(live, error)
            if errors:
                model.pieces.append(Piece(errors, Outcome("error", "E401", rule.id)))
            hit = intersect(live, true)
            if hit:
                following.append((hit, matched + (rule,)))
            rest = subtract(area, union(errors, hit))
            if rest:
                following.append((rest, matched))
        states = following
    for area, matched in states:
        winners = [r for r in matched
                   if not any(r.index in policy.overridden_by[w.index] for w in matched)]
        if not winners:
            _fall_through(model, area)
        elif len(winners) == 1:
            _decide(model, winners[0], area)
        elif policy.strategy == "unique":
            model.pieces.append(Piece(area, Outcome(
                "error", "E402", "+".join(r.id for r in winners))))
        elif len({r.decision for r in winners}) > 1 or not _same_outputs(winners):
            model.pieces.append(Piece(area, Outcome(
                "error", "E403", "+".join(r.id for r in winners))))
        else:
            _decide(model, winners[0], area)


def _same_outputs(rules: Sequence[CheckedRule]) -> bool:
    return len({rule.outputs for rule in rules}) == 1


def analyse(policies: Sequence[CheckedPolicy]) -> list[Model]:
    """Translates policies into one shared space and partitions it for each."""
    registry = Registry()
    models = [translate(policy, registry) for policy in policies]
    space = registry.space()
    for model in models:
        build(model, space)
        for three in model.conditions.values():
            for formula in (three.true, three.false):
                for atom in atoms(formula):
                    space.weight[atom.key] = space.weight.get(atom.key, 0) + 1
    return models


def refused(model: Model) -> Region:
    """Facts the policy refuses before any rule (constraints, invalid values)."""
    return union(model.space.nothing(), *(p.region for p in model.pieces
                                         if p.outcome.kind == "invalid" or (
                                             p.outcome.kind == "refused"
                                             and p.outcome.rule == "constraint")))


def diagnostic(policy: CheckedPolicy, code: str, message: str, *, span: Any = None,
               notes: Sequence[str] = (), help: str | None = None,
               severity: Severity = Severity.WARNING) -> Diagnostic:
    return Diagnostic(code, message, policy.source, span, help=help,
                      severity=severity, notes=tuple(notes))


_FAILED: Any = object()


def predicted(model: Model, facts: Mapping[str, Value]) -> Outcome | None:
    """The outcome the partition gives for one typed fact set (None if it is in no piece).

    Derived terms and opaque conditions take the values the interpreter computes, so this is
    exact even where the regions are approximate: tests hold the partition to evaluation.
    """
    policy = model.policy
    interpreter = Interpreter(policy)
    env = environment(policy, interpreter, facts)
    point: list[int] = []
    value: object
    for dimension in model.space.dimensions:
        kind, *rest = dimension.key
        if kind == "member":
            listed = facts.get(str(rest[0]), ())
            point.append(2 if isinstance(listed, tuple) and rest[1] in listed else 1)
            continue
        if kind == "present":
            point.append(2 if str(rest[0]) in facts else 1)
            continue
        if kind == "fact":
            value = facts.get(str(rest[0]), _FAILED)
        elif kind == "opaque":
            expr, negated = model.translator.registry.opaque_expr[dimension.key]
            value = _quick_typed(interpreter, env, expr)
            if value is not _FAILED:
                value = bool(value) != negated
        else:
            value = _quick_typed(interpreter, env, rest[0])  # type: ignore[arg-type]
        point.append(_cell_bit(dimension, value))
    cube = tuple(point)
    for piece in model.pieces:
        if model.space.within(cube, piece.region.node):
            return piece.outcome
    return None


def _quick_typed(interpreter: Interpreter, env: Mapping[str, Value], expr: c.CExpr) -> object:
    try:
        return interpreter.value(expr, env)
    except Exception:  # noqa: BLE001 - evaluation stops here; the dimension does not matter
        return _FAILED


def _cell_bit(dimension: Dimension, value: object) -> int:
    for position, cell in enumerate(dimension.cells):
        if value is _FAILED:
            if cell.kind == "missing":
                return 1 << position
            continue
        if dimension.kind == "opaque":
            if cell.value == bool(value):
                return 1 << position
        elif cell.kind == "other":
            if not any(c.kind == "value" and c.value == value for c in dimension.cells):
                return 1 << position
        elif cell_has(dimension, cell, value):  # type: ignore[arg-type]
            return 1 << position
    return 1  # a failed derived term: any cell, evaluation stops before it matters


def in_cell(cell: Cell, number: Number) -> bool:
    """Whether a number (a date by its ordinal) lies in a number cell."""
    if cell.kind == "value":
        return cell.value == number
    if cell.kind != "range":
        return False
    return (cell.low is None or number > cell.low) and (cell.high is None or number < cell.high)


def cell_has(dimension: Dimension, cell: Cell, value: Value) -> bool:
    if cell.kind == "missing":
        return False
    if dimension.kind in ("whole", "amount", "date"):
        number = as_number(value)
        return number is not None and in_cell(cell, number)
    if cell.kind == "other":
        return False
    return bool(cell.value == value)
