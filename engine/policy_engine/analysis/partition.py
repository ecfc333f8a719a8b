"""Partition: a policy's fact space split into regions, each with the one outcome evaluation gives.

The exact region algebra of `regions` and the translation of `symbolic` split the space by
outcome: a refusal by a constraint, the rule that decides, an error (a missing fact, a table
without a row), the default. `lint` reads findings off the partition and `symbolic_diff`
compares the partitions of two policies; `describe` words regions and `witnesses` finds
concrete facts that show them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from policy_engine.analysis import unknown
from policy_engine.analysis.budget import Budget, OverBudget
from policy_engine.analysis.formulas import (
    Atom,
    Formula,
    Three,
    and_,
    count_atoms,
    not_,
    or_,
    region,
)
from policy_engine.analysis.regions import (
    Cell,
    Cube,
    Dimension,
    Number,
    Region,
    Space,
    as_number,
    intersect,
    subtract,
    union,
)
from policy_engine.analysis.symbolic import Registry, Translator
from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, CheckedRule, RequireInfo
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


Constraint = unknown.Constraint

#: Makes the translator of one policy into a registry (`symbolic.Translator` by default).
TranslatorFactory = Callable[[CheckedPolicy, Registry, Budget], Translator]


@dataclass(frozen=True)
class Stop:
    """Where the whole budget ran out: the analysis of what is left is not done.

    Args:
        at: what was being analysed, in words ("rule 'r12' (line 40)").
        line: its line, for the diagnostic (None: the policy as a whole).
        rules_left: the rules, advisories and default not analysed from there on.
    """

    at: str
    line: int | None
    rules_left: int


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
    #: Its position among the policies of one analysis (keys of its unknown dimensions).
    tag: int = 0
    #: How its unknown dimensions are told apart from the other policy's in a diff.
    version: str = ""
    #: Rules and constraints over their share of the budget: their outcome is left free.
    unknown_rules: dict[int, CheckedRule] = field(default_factory=dict)
    unknown_constraints: dict[int, Constraint] = field(default_factory=dict)
    #: The keys of the dimensions of those outcomes: each rule, or constraint by position.
    unknown_keys: dict[tuple[object, ...], CheckedRule | int] = field(default_factory=dict)
    #: For a rule (by index) or constraint (by position) left open because of a derived value
    #: that alone is over a share: that value's name.
    rules_too_large: dict[int, str] = field(default_factory=dict)
    constraints_too_large: dict[int, str] = field(default_factory=dict)
    #: Where the whole budget ran out, or None when the partition is complete.
    stopped: Stop | None = None
    earlier: list[Model] = field(default_factory=list)
    #: The policy's facts by name (`CheckedPolicy.fact` reads the list, once per call).
    facts: dict[str, c.FactInfo] = field(default_factory=dict)

    def formula_region(self, formula: Formula) -> Region:
        return region(self.space, formula)

    @property
    def constraints(self) -> list[Constraint]:
        return [*self.policy.requires, *self.policy.ensures]


def translate(policy: CheckedPolicy, registry: Registry, budget: Budget | None = None,
              earlier: Sequence[Model] = (), version: str = "",
              make_translator: TranslatorFactory = Translator) -> Model:
    """Translates a policy's constraints, rules and advisories (before the space is built).

    Each is an item of the budget: one over its share gets a free outcome (an unknown
    dimension); when the whole budget runs out, the model is `stopped`.

    Args:
        earlier: the models of the policies translated before it into the same space.
        version: words that tell its unknown dimensions apart from theirs, in descriptions.
        make_translator: makes the translator (partial evaluation's reads the facts it knows
            as constants).
    """
    budget = budget if budget is not None else Budget()
    translator = make_translator(policy, registry, budget)
    model = Model(policy, translator, tag=len(earlier), version=version)
    model.earlier = list(earlier)
    model.facts = {info.name: info for info in reversed(policy.facts)}  # the first wins
    position = 0
    try:
        for position, constraint in enumerate(model.constraints):
            try:
                with budget.item():
                    violated = _violated(translator, constraint)
            except OverBudget as over:
                if over.whole:
                    raise
                dimension, violated = _unknown_constraint(model, position)
                registry.unknown.append(dimension)
                if over.define is not None:
                    model.constraints_too_large[position] = over.define
            model.constraint_steps.append((violated, _refusal(constraint)))
        position = len(model.constraints)
        for rule in policy.units():
            try:
                with budget.item():
                    model.conditions[rule.index] = translator.rule(rule)
                    model.output_errors[rule.index] = translator.outputs_error(rule)
            except OverBudget as over:
                if over.whole:
                    raise
                added = _unknown_rule(model, rule, earlier)
                if added is not None:
                    registry.unknown.append(added)
                if over.define is not None:
                    model.rules_too_large[rule.index] = over.define
            model.effective[rule.index] = translator.effective(rule.effective)
            position += 1
    except OverBudget:
        model.stopped = _stop(model, position)
    return model


def _violated(translator: Translator, constraint: Constraint) -> Formula:
    when = translator.condition(constraint.when) if constraint.when is not None else None
    if isinstance(constraint, RequireInfo):
        missing = or_(*(not_(translator.present(f)) for f in constraint.facts))
        return and_(when.true if when else True, missing)
    return and_(when.true if when else True, translator.condition(constraint.condition).false)


def _refusal(constraint: Constraint) -> Outcome:
    default = "E309" if isinstance(constraint, RequireInfo) else "E308"
    return Outcome("refused", constraint.label or default, "constraint")


# ---------------------------------------------------------------- over the budget


def _unknown_rule(model: Model, rule: CheckedRule, earlier: Sequence[Model]) -> Dimension | None:
    """Leaves the outcome of a rule over its share open: a dimension of its own (returned), or
    the one its twin in an earlier version of the policy has (None: nothing to add)."""
    model.unknown_rules[rule.index] = rule
    for other in earlier:
        for shared, twin in other.unknown_keys.items():
            if isinstance(twin, CheckedRule) and twin.id == rule.id and unknown.same_meaning(
                    twin, other.policy, rule, model.policy):
                model.unknown_keys[shared] = rule
                model.conditions[rule.index], model.output_errors[rule.index] = \
                    unknown.rule_formulas(shared)
                return None
    key: tuple[object, ...] = ("unknown", model.tag, "rule", rule.index)
    model.unknown_keys[key] = rule
    model.conditions[rule.index], model.output_errors[rule.index] = unknown.rule_formulas(key)
    return unknown.rule_dimension(key, rule, model.version)


def _unknown_constraint(model: Model, position: int) -> tuple[Dimension, Formula]:
    """Leaves whether a constraint over its share refuses open: its dimension and formula."""
    key: tuple[object, ...] = ("unknown", model.tag, "constraint", position)
    constraint = model.unknown_constraints[position] = model.constraints[position]
    model.unknown_keys[key] = position
    return (unknown.constraint_dimension(key, constraint, model.version),
            unknown.constraint_formula(key))


def _stop(model: Model, position: int) -> Stop:
    """Where the budget ran out: `position` counts the constraints, then the units."""
    constraints = model.constraints
    units = model.policy.units()
    if position < len(constraints):
        constraint = constraints[position]
        kind = "require" if isinstance(constraint, RequireInfo) else "ensure"
        return Stop(f"the {kind} of line {constraint.line}", constraint.line, len(units))
    if position - len(constraints) < len(units):
        unit = units[position - len(constraints)]
        return Stop(_label(unit), unit.line, len(units) - (position - len(constraints)))
    return Stop("the end of the partition", None, 0)


def _label(rule: CheckedRule) -> str:
    if rule.kind == "otherwise":
        return f"the default (line {rule.line})"
    return f"{rule.kind} '{rule.id}' (line {rule.line})"


def _invalid_cells(model: Model) -> Formula:
    """Facts that this policy would reject: values of the other policy in a symbolic diff."""
    parts: list[Formula] = []
    for dimension in model.space.dimensions:
        if dimension.key[0] != "fact":
            continue
        info = model.facts.get(str(dimension.key[1]))
        if info is None:
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
    """Computes the valid region and the outcome partition of a translated policy.

    Each constraint and rule is an item of the space's budget. One over its share is given a
    free outcome and its step is done again with it (cheap: one more dimension); when the
    whole budget runs out, the model is `stopped` where it was.
    """
    model.space = space
    model.valid = space.nothing()
    if model.stopped is not None:
        return
    position = 0
    try:
        invalid = model.formula_region(_invalid_cells(model))
        reach = space.everything() - invalid
        if invalid:
            model.pieces.append(Piece(invalid, Outcome("invalid", "facts")))
        for position in range(len(model.constraint_steps)):
            reach = _item(model, partial(_unknown_constraint_now, model, position),
                          partial(_constraint_step, model, position, reach))
        model.valid = reach
        position = len(model.constraint_steps)
        if model.policy.strategy == "first match":
            _first_match(model, reach)
        else:
            _all_rules(model, reach)
    except _Stopped as stopped:
        model.stopped = _stop(model, stopped.position)
    except OverBudget:
        model.stopped = _stop(model, position)


class _Stopped(Exception):
    """The whole budget ran out at a step: `position` counts constraints, then units."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


_T = TypeVar("_T")


def _item(model: Model, unknown: Callable[[], None], step: Callable[[], _T]) -> _T:
    """Runs one step as an item of the budget; over its share, the step's constraint or rule
    gets a free outcome (`unknown`) and the step runs again, within the whole budget only."""
    start, mark = len(model.pieces), model.space.node_count
    try:
        with model.space.budget.item():
            return step()
    except OverBudget as over:
        del model.pieces[start:]  # the step is done again from the start
        model.space.rollback(mark)
        if over.whole:
            raise
    unknown()
    return step()


def _unknown_constraint_now(model: Model, position: int) -> None:
    if position not in model.unknown_constraints:
        dimension, violated = _unknown_constraint(model, position)
        model.space.add_dimension(dimension)
        model.constraint_steps[position] = (violated, model.constraint_steps[position][1])


def _unknown_rule_now(model: Model, rule: CheckedRule) -> None:
    if rule.index not in model.unknown_rules:
        dimension = _unknown_rule(model, rule, model.earlier)
        if dimension is not None:
            model.space.add_dimension(dimension)


def _constraint_step(model: Model, position: int, reach: Region) -> Region:
    violated, outcome = model.constraint_steps[position]
    hit = intersect(reach, model.formula_region(violated))
    if hit:
        model.pieces.append(Piece(hit, outcome))
        reach = subtract(reach, hit)
    return reach


def _position(model: Model, rule: CheckedRule) -> int:
    return len(model.constraint_steps) + model.policy.units().index(rule)


def _first_match(model: Model, reach: Region) -> None:
    for rule in model.policy.first_match_order:
        if not reach:
            return
        try:
            reach = _item(model, partial(_unknown_rule_now, model, rule),
                          partial(_first_match_step, model, rule, reach))
        except OverBudget:
            raise _Stopped(_position(model, rule)) from None
    try:
        _fall_through(model, reach)
    except OverBudget:
        raise _Stopped(len(model.constraint_steps) + len(model.policy.rules)) from None


def _first_match_step(model: Model, rule: CheckedRule, reach: Region) -> Region:
    three = model.conditions[rule.index]
    live = intersect(reach, model.formula_region(model.effective[rule.index]))
    fails = model.formula_region(three.error)
    errors = intersect(live, fails)
    if errors:
        model.pieces.append(Piece(errors, Outcome("error", "E401", rule.id)))
    matched = intersect(live, model.formula_region(three.true))
    if matched:
        _decide(model, rule, matched)
    return subtract(reach, union(errors, matched))


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
        try:
            states = _item(model, partial(_unknown_rule_now, model, rule),
                           partial(_all_rules_step, model, rule, states))
        except OverBudget:
            raise _Stopped(_position(model, rule)) from None
    try:
        for area, matched in states:
            _resolve(model, area, matched)
    except OverBudget:
        raise _Stopped(len(model.constraint_steps) + len(policy.rules)) from None


def _all_rules_step(model: Model, rule: CheckedRule,
                    states: list[tuple[Region, tuple[CheckedRule, ...]]],
                    ) -> list[tuple[Region, tuple[CheckedRule, ...]]]:
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
    return following


def _resolve(model: Model, area: Region, matched: tuple[CheckedRule, ...]) -> None:
    policy = model.policy
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


def analyse(policies: Sequence[CheckedPolicy], budget: Budget | None = None,
            make_translator: TranslatorFactory = Translator) -> list[Model]:
    """Translates policies into one shared space and partitions it for each.

    Args:
        budget: the work the analysis may do (`Budget()`, the default budget, when None).
            What goes over it is recorded on the models (`unknown_rules`, `stopped`).
        make_translator: see `translate`.
    """
    budget = budget if budget is not None else Budget()
    with budget.active():
        registry = Registry()
        models: list[Model] = []
        for policy in policies:
            version = ("", " (old)", " (new)")[len(models) + 1] if len(policies) == 2 else ""
            models.append(translate(policy, registry, budget, models, version,
                                    make_translator))
        space = registry.space()
        space.budget = budget
        for model in models:
            build(model, space)
            count_atoms([formula for three in model.conditions.values()
                         for formula in (three.true, three.false)], space.weight)
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
    cube = locate(model, facts)
    for piece in model.pieces:
        if model.space.within(cube, piece.region.node):
            return piece.outcome
    return None


def locate(model: Model, facts: Mapping[str, Value]) -> Cube:
    """The one cell of every dimension that a typed fact set lies in, as a cube."""
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
        if kind == "unknown":
            point.append(_unknown_bit(model, dimension, interpreter, env))
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
    return tuple(point)


def _unknown_bit(model: Model, dimension: Dimension, interpreter: Interpreter,
                 env: Mapping[str, Value]) -> int:
    """The cell of the outcome a rule or constraint over its share really has."""
    owner = model.unknown_keys.get(dimension.key)
    if owner is None:
        return 1  # the other policy's: no piece of this one depends on it
    value = (unknown.rule_outcome(owner, interpreter, env) if isinstance(owner, CheckedRule)
             else unknown.constraint_outcome(model.constraints[owner], interpreter, env))
    return dimension.mask(lambda cell: cell.value == value)


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
