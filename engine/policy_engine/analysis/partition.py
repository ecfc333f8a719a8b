"""Analysis: the static-analysis stage that finds dead, shadowed and conflicting rules and gaps.

`partition` splits the fact space of a policy into regions with one outcome each (a decision
by a rule, a refusal, an error), using the exact region algebra of `regions` and the
translation of `symbolic`. `lint` reads findings off that partition; `symbolic_diff` compares
the partitions of two policies. Every finding that claims some fact set exists carries a
witness: concrete facts, evaluated by the reference interpreter, that show it.
"""

from __future__ import annotations

import datetime
import itertools
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from policy_engine.analysis.regions import (
    Cell,
    Cube,
    Dimension,
    Number,
    Region,
    Space,
    as_number,
    intersect,
    number_value,
    sample,
    samples,
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
    AmountType,
    BoolType,
    DateType,
    EnumType,
    ListType,
    TextType,
    Type,
    Value,
    WholeType,
)
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, Severity
from policy_engine.evaluate.errors import EvaluationError
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


# ---------------------------------------------------------------- describing regions


def describe_cube(space: Space, cube: Cube, nonempty: frozenset[str] = frozenset()) -> str:
    """A cube as a readable condition in the policy language's own words."""
    parts = cube_parts(space, cube, nonempty)
    return " and ".join(parts) if parts else "any facts"


def cube_parts(space: Space, cube: Cube, nonempty: frozenset[str] = frozenset()) -> list[str]:
    """A cube as the list of conditions that together describe it.

    Args:
        nonempty: list facts that must hold at least one value (their member dimensions are
            left full in the cube).
    """
    parts: list[str] = []
    members: dict[str, list[tuple[str, bool]]] = {}
    shown_nonempty = set()
    for dimension, mask in zip(space.dimensions, cube, strict=True):
        if dimension.kind == "member" and dimension.key[1] in nonempty:
            if dimension.key[1] not in shown_nonempty:
                shown_nonempty.add(dimension.key[1])
                parts.append(f"{dimension.key[1]} != []")
            continue
        if mask == dimension.full:
            continue
        if dimension.kind == "member":
            members.setdefault(str(dimension.key[1]), []).append(
                (str(dimension.key[2]), mask == 2))
            continue
        parts.append(_describe_dimension(dimension, mask))
    for fact, tests in members.items():
        total = sum(1 for d in space.dimensions if d.kind == "member" and d.key[1] == fact)
        if len(tests) == total and not any(has for _, has in tests):
            parts.append(f"{fact} == []")
            continue
        for value, has in tests:
            parts.append(f"{fact} contains {value}" if has else f"not {fact} contains {value}")
    return parts


def _describe_dimension(dimension: Dimension, mask: int) -> str:
    name = dimension.text
    cells = [cell for position, cell in enumerate(dimension.cells) if mask >> position & 1]
    missing = any(cell.kind == "missing" for cell in cells)
    values = [cell for cell in cells if cell.kind != "missing"]
    if dimension.kind == "opaque":
        return name if values[0].value else f"not ({name})"
    if dimension.kind == "present":
        return f"{name} is {'missing' if missing else 'present'}"
    if not values:
        return f"{name} is missing"
    all_values = [cell for cell in dimension.cells if cell.kind != "missing"]
    if len(values) == len(all_values):
        text = f"{name} is present"
    elif dimension.kind == "bool":
        text = name if values[0].value else f"not {name}"
    elif dimension.kind in ("enum", "text"):
        text = _describe_choices(name, dimension, values, all_values)
    else:
        text = _describe_numbers(name, dimension, mask)
    return f"({name} is missing or {text})" if missing else text


def _describe_choices(name: str, dimension: Dimension, values: list[Cell],
                      all_values: list[Cell]) -> str:
    shown = [_literal(dimension, cell) for cell in values]
    left_out = [cell for cell in all_values if cell not in values]
    excluded = [_literal(dimension, cell) for cell in left_out]
    other_left_out = any(cell.kind == "other" for cell in left_out)
    if len(shown) == 1 and values[0].kind != "other":
        return f"{name} is {shown[0]}"
    if len(excluded) == 1 and not other_left_out:
        return f"{name} is not {excluded[0]}"
    if not other_left_out and (len(excluded) < len(shown)
                               or any(cell.kind == "other" for cell in values)):
        return f"{name} not in [{', '.join(excluded)}]"
    named = [text for text, cell in zip(shown, values, strict=True) if cell.kind != "other"]
    return f"{name} in [{', '.join(named)}]"


def _literal(dimension: Dimension, cell: Cell) -> str:
    if dimension.kind == "text":
        return '"' + str(cell.value).replace('"', '\\"') + '"'
    return str(cell.value)


def _describe_numbers(name: str, dimension: Dimension, mask: int) -> str:
    runs: list[list[Cell]] = []
    previous = -2
    for position, cell in enumerate(dimension.cells):
        if not mask >> position & 1 or cell.kind == "missing":
            continue
        if position == previous + 1 and runs:
            runs[-1].append(cell)
        else:
            runs.append([cell])
        previous = position
    present = [cell for cell in dimension.cells if cell.kind != "missing"]
    texts = [_describe_run(name, dimension, run, present) for run in runs]
    return texts[0] if len(texts) == 1 else "(" + " or ".join(texts) + ")"


def _describe_run(name: str, dimension: Dimension, run: list[Cell], all_cells: list[Cell]) -> str:
    whole = dimension.kind != "amount"
    first, last = run[0], run[-1]
    bounded_below = first is not all_cells[0]
    bounded_above = last is not all_cells[-1]

    def show(number: object) -> str:
        value = number_value(dimension.kind, number)  # type: ignore[arg-type]
        return value.isoformat() if isinstance(value, datetime.date) else str(value)

    def low_end() -> tuple[str, object]:
        if first.kind == "value":
            return "<=", first.value
        if whole:
            return "<=", _int_after(first.low)
        return "<", first.low

    def high_end() -> tuple[str, object]:
        if last.kind == "value":
            return "<=", last.value
        if whole:
            return "<=", _int_before(last.high)
        return "<", last.high

    if bounded_below and bounded_above:
        (low_op, low), (high_op, high) = low_end(), high_end()
        if low == high:
            return f"{name} == {show(low)}"
        return f"{show(low)} {low_op} {name} {high_op} {show(high)}"
    if bounded_below:
        if first.kind == "range":
            return f"{name} > {show(first.low)}"
        return f"{name} >= {show(first.value)}"
    if bounded_above:
        if last.kind == "range":
            return f"{name} < {show(last.high)}"
        return f"{name} <= {show(last.value)}"
    return f"{name} is present"


def _int_after(low: object) -> int:
    return int(Fraction(low).__floor__()) + 1  # type: ignore[call-overload]


def _int_before(high: object) -> int:
    return int(Fraction(high).__ceil__()) - 1  # type: ignore[call-overload]


def describe(space: Space, area: Region, target: Region | None = None,
             limit: int = MAX_REGIONS) -> list[str]:
    """A region as readable conditions, simplest first, at most `limit` of them."""
    parts = describe_parts(space, area, target)
    texts = list(dict.fromkeys(" and ".join(p) if p else "any facts" for p in parts))
    if len(texts) > limit:
        return texts[:limit] + [f"... and {len(texts) - limit} more regions"]
    return texts


def describe_parts(space: Space, area: Region, target: Region | None = None) -> list[list[str]]:
    """A region as lists of conditions, one list per region, simplest first.

    Cubes that differ only in which values a list holds are merged into `LIST != []` when
    together they cover every non-empty list.
    """
    items: list[tuple[Cube, frozenset[str]]] = [(cube, frozenset())
                                                for cube in cover(space, area, target)]
    lists = sorted({str(d.key[1]) for d in space.dimensions if d.kind == "member"})
    for name in lists:
        positions = [i for i, d in enumerate(space.dimensions)
                     if d.kind == "member" and d.key[1] == name]
        groups: dict[tuple[Cube, frozenset[str]], list[Cube]] = {}
        for cube, nonempty in items:
            key = tuple(space.top[i] if i in positions else m for i, m in enumerate(cube))
            groups.setdefault((key, nonempty), []).append(cube)
        merged: list[tuple[Cube, frozenset[str]]] = []
        for (key, nonempty), cubes in groups.items():
            together = union(*(space.cube(cube) for cube in cubes))
            empty = tuple(1 if i in positions else m for i, m in enumerate(key))
            if len(cubes) > 1 and together == space.cube(key) - space.cube(empty):
                merged.append((key, nonempty | {name}))
            else:
                merged.extend((cube, nonempty) for cube in cubes)
        items = merged
    items.sort(key=lambda item: sum(1 for d, m in zip(space.dimensions, item[0], strict=True)
                                    if m != d.full) + len(item[1]))
    return [cube_parts(space, cube, nonempty) for cube, nonempty in items]


# ---------------------------------------------------------------- witnesses


@dataclass(frozen=True)
class Witness:
    """A scenario that shows a finding: facts, and what the policy does with them."""

    name: str
    description: str
    facts: dict[str, Any]
    expect: dict[str, Any]

    def scenario(self, policy_path: str | None) -> dict[str, Any]:
        data: dict[str, Any] = {"description": self.description}
        if policy_path is not None:
            data["policy"] = policy_path
        data["facts"] = self.facts
        data["expect"] = self.expect
        return data


def _engine_policy(policy: CheckedPolicy) -> Any:
    """The `Policy` around a checked policy, built once (its validator is worth keeping)."""
    from policy_engine.policy import Policy

    found = _policies.get(id(policy))
    if found is None or found.checked is not policy:  # an id can be reused after collection
        if len(_policies) > 16:
            _policies.clear()
        found = _policies[id(policy)] = Policy(policy, [], None)
    return found


def _known(policy: CheckedPolicy, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The raw facts this policy declares (a symbolic diff gives both versions one fact set)."""
    names = {info.name for info in policy.facts}
    return {k: v for k, v in raw.items() if k in names}


def observe(policy: CheckedPolicy, raw: Mapping[str, Any]) -> Outcome:
    """Runs the reference interpreter on raw facts, as `policy eval` would."""
    engine_policy = _engine_policy(policy)
    try:
        typed = engine_policy.validate(_known(policy, raw))
    except DiagnosticError as error:
        first = error.diagnostics[0]
        if first.code in ("E308", "E309"):
            return Outcome("refused", first.label or first.code)
        return Outcome("invalid", "facts")
    try:
        evaluation = engine_policy.decide(typed, engine="interpreted")
    except EvaluationError as error:
        if error.code == "E404" and error.label:
            return Outcome("refused", error.label)
        if error.code == "E404" and policy.refusal is not None:
            return Outcome("refused", "E404")
        return Outcome("error", error.code, "+".join(error.rules) or None)
    return Outcome("decision", evaluation.decision, evaluation.rule)


_policies: dict[int, Any] = {}


class WitnessFinder:
    """Turns a cube into concrete facts, searching where derived terms are involved."""

    def __init__(self, models: Sequence[Model]) -> None:
        self.models = models
        self.space = models[0].space
        self.registry = models[0].translator.registry

    def candidates(self, cube: Cube) -> Iterator[dict[str, Any]]:
        """Fact sets inside the cube, the plainest first.

        Facts read by a derived term or an opaque condition that the cube constrains are
        searched group by group (facts shared between such terms form one group); each
        group's candidates are screened with the interpreter before any full evaluation.
        """
        base: dict[str, Any] = {}
        choices: dict[str, list[Any]] = {}
        searched = self._searched_facts(cube)
        members: dict[str, list[str]] = {}
        absent_lists: set[str] = set()
        for dimension, mask in zip(self.space.dimensions, cube, strict=True):
            if dimension.kind == "member":
                if mask == 2:
                    members.setdefault(str(dimension.key[1]), []).append(str(dimension.key[2]))
                continue
            if dimension.kind == "present":
                if not mask & 2:
                    absent_lists.add(str(dimension.key[1]))
                continue
            if dimension.key[0] != "fact":
                continue
            name = str(dimension.key[1])
            options = self._values(dimension, mask, name, many=name in searched)
            if name in searched:
                choices[name] = options
            if options[0] is not _OMIT:
                base[name] = options[0]
        for name in self.registry.facts:
            types = self.registry.facts[name]
            if isinstance(types[0], ListType) and name not in absent_lists:
                if name in members or self._required(name):
                    base[name] = members.get(name, [])
            elif name not in base and self._required(name) and not any(
                    d.key == ("fact", name) for d in self.space.dimensions):
                base[name] = _plain_value(types[0])
        groups = self._groups(cube)
        if not groups:
            yield dict(base)
            return
        solutions: list[list[dict[str, Any]]] = []
        for facts, checks in groups:
            found = list(itertools.islice(self._solve(base, facts, choices, checks), 3))
            if not found:
                return
            solutions.append(found)
        for combination in itertools.product(*solutions):
            candidate = dict(base)
            for part in combination:
                for name, value in part.items():
                    if value is _OMIT:
                        candidate.pop(name, None)
                    else:
                        candidate[name] = value
            yield candidate

    def _groups(self, cube: Cube) -> list[tuple[list[str], list[tuple[Dimension, int]]]]:
        """Constrained derived terms and opaque conditions, grouped by the facts they share."""
        groups: list[tuple[set[str], list[tuple[Dimension, int]]]] = []
        for dimension, mask in zip(self.space.dimensions, cube, strict=True):
            if dimension.key[0] not in ("derived", "opaque") or mask == dimension.full:
                continue
            facts = set(self.registry.derived[dimension.key][2]
                        if dimension.key[0] == "derived"
                        else self.registry.opaque[dimension.key][1])
            joined = [g for g in groups if g[0] & facts]
            merged_facts, merged_checks = set(facts), [(dimension, mask)]
            for group in joined:
                merged_facts |= group[0]
                merged_checks += group[1]
                groups.remove(group)
            groups.append((merged_facts, merged_checks))
        return [(sorted(f), checks) for f, checks in groups]

    def _solve(self, base: dict[str, Any], facts: list[str], choices: dict[str, list[Any]],
               checks: list[tuple[Dimension, int]]) -> Iterator[dict[str, Any]]:
        names = [n for n in facts if n in choices]
        for tried, combination in enumerate(itertools.product(*(choices[n] for n in names))):
            if tried >= MAX_TRIES:
                return
            part = dict(zip(names, combination, strict=True))
            candidate = dict(base)
            for name, value in part.items():
                if value is _OMIT:
                    candidate.pop(name, None)
                else:
                    candidate[name] = value
            if all(self._check(candidate, dimension, mask) for dimension, mask in checks):
                yield part

    def _check(self, raw: dict[str, Any], dimension: Dimension, mask: int) -> bool:
        """Whether the interpreter puts a derived term or opaque condition in the cube."""
        if dimension.key[0] == "opaque":
            expr, negated = self.registry.opaque_expr[dimension.key]
        else:
            expr, negated = dimension.key[1], False  # type: ignore[assignment]
        value = _quick_value(self.registry.owner[dimension.key], raw, expr)
        if value is _FAILED:
            return False
        if dimension.key[0] == "opaque":
            return bool(mask >> (1 if bool(value) != negated else 0) & 1)
        number = as_number(value)
        return number is not None and any(
            _in_cell(cell, number)
            for position, cell in enumerate(dimension.cells) if mask >> position & 1)

    def _required(self, name: str) -> bool:
        for model in self.models:
            try:
                if model.policy.fact(name).required:
                    return True
            except KeyError:
                continue
        return False

    def _searched_facts(self, cube: Cube) -> set[str]:
        facts: set[str] = set()
        for dimension, mask in zip(self.space.dimensions, cube, strict=True):
            if dimension.key[0] == "derived" and mask != dimension.full:
                facts.update(self.registry.derived[dimension.key][2])
            elif dimension.key[0] == "opaque" and mask != dimension.full:
                facts.update(self.registry.opaque[dimension.key][1])
        return facts

    def _values(self, dimension: Dimension, mask: int, name: str, many: bool) -> list[Any]:
        cells = [cell for position, cell in enumerate(dimension.cells) if mask >> position & 1]
        default = self._default(name)
        values: list[Any] = []
        if default is not None:
            for cell in cells:
                if _cell_has(dimension, cell, default):
                    values.append(_OMIT)
        if any(cell.kind == "missing" for cell in cells):
            values.append(_OMIT)
        for cell in cells:
            if cell.kind == "missing":
                continue
            if cell.kind == "other":
                values.append("other value")
            elif dimension.kind in ("whole", "amount", "date"):
                numbers = (samples(cell, whole=dimension.kind != "amount") if many
                           else [sample(cell, whole=dimension.kind != "amount")])
                values.extend(_json_value(number_value(dimension.kind, n)) for n in numbers)
            else:
                values.append(cell.value)
        if many and dimension.kind == "date":
            values.extend(self._date_offsets(cells))
        return list(dict.fromkeys(values, None)) if values else [_OMIT]

    def _date_offsets(self, cells: list[Cell]) -> list[str]:
        """Dates at the distances the derived terms are compared with, from an anchor."""
        anchor = datetime.date(2025, 1, 1)
        distances: set[int] = {0, 1}
        for key in self.registry.derived:
            for number in self.registry.constants.get(key, ()):
                if isinstance(number, (int, Fraction)) and -3000 < number < 3000:
                    distances.update({int(number), int(number) + 1, int(number) - 1})
        out = []
        for distance in sorted(distances):
            day = anchor - datetime.timedelta(days=distance)
            ordinal = day.toordinal()
            if any(_in_cell(cell, ordinal) for cell in cells):
                out.append(day.isoformat())
        return out

    def _default(self, name: str) -> Value | None:
        for model in self.models:
            try:
                info = model.policy.fact(name)
            except KeyError:
                continue
            return info.default
        return None

    def find(self, cube: Cube, accept: Any) -> dict[str, Any] | None:
        for candidate in self.candidates(cube):
            if accept(candidate):
                return candidate
        return None


class _Omit:
    def __repr__(self) -> str:
        return "<omit>"


_OMIT: Any = _Omit()


_FAILED: Any = object()


def _quick_value(policy: CheckedPolicy, raw: dict[str, Any], expr: c.CExpr) -> Any:
    """An expression's value on raw facts, converted without the full validation."""
    from policy_engine.facts.conversion import convert_value

    typed: dict[str, Value] = {}
    try:
        for info in policy.facts:
            if info.name in raw:
                typed[info.name] = convert_value(info.type, raw[info.name])
            elif info.default is not None:
                typed[info.name] = info.default
        interpreter = Interpreter(policy)
        return interpreter.value(expr, environment(policy, interpreter, typed))
    except Exception:  # noqa: BLE001 - any failure means: not this candidate
        return _FAILED


def _in_cell(cell: Cell, number: Number) -> bool:
    """Whether a number (a date by its ordinal) lies in a number cell."""
    if cell.kind == "value":
        return cell.value == number
    if cell.kind != "range":
        return False
    return (cell.low is None or number > cell.low) and (cell.high is None or number < cell.high)


def _cell_has(dimension: Dimension, cell: Cell, value: Value) -> bool:
    if cell.kind == "missing":
        return False
    if dimension.kind in ("whole", "amount", "date"):
        number = as_number(value)
        return number is not None and _in_cell(cell, number)
    if cell.kind == "other":
        return False
    return bool(cell.value == value)


def _json_value(value: object) -> Any:
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _plain_value(t: Type) -> Any:
    if isinstance(t, EnumType):
        return t.values[0]
    if isinstance(t, BoolType):
        return False
    if isinstance(t, (WholeType, AmountType)):
        low = t.minimum if t.minimum is not None else 0
        return _json_value(low)
    if isinstance(t, DateType):
        return "2025-01-01"
    if isinstance(t, TextType):
        return "text"
    if isinstance(t, ListType):
        return []
    return None


def expectation(outcome: Outcome) -> dict[str, Any]:
    """What a witness scenario expects from its policy."""
    if outcome.kind == "decision":
        return {"decision": outcome.name, "rule": outcome.rule}
    return {"error": outcome.name}


def witness_for(models: Sequence[Model], area: Sequence[Cube], name: str, description: str,
                expected: Sequence[Outcome | None],
                extra: Any = None) -> tuple[Witness | None, int]:
    """Finds facts in one of the cubes on which each model's policy gives the expected outcome.

    Returns the witness (or None) and the index of the cube it came from.
    """
    finder = WitnessFinder(models)

    def accept(candidate: dict[str, Any]) -> bool:
        for model, outcome in zip(models, expected, strict=True):
            if outcome is not None and not matches(observe(model.policy, candidate), outcome):
                return False
        return extra(candidate) if extra is not None else True

    for position, cube in enumerate(area[:MAX_REGIONS * 2]):
        found = finder.find(cube, accept)
        if found is not None:
            outcome = observe(models[-1].policy, found)
            return Witness(name, description, found, expectation(outcome)), position
    return None, -1


def matches(seen: Outcome, wanted: Outcome) -> bool:
    """Whether an observed outcome is the one the analysis predicted.

    The analysis models every stop of evaluation (a missing fact, a table without a row) as
    one kind of error, so an error matches an error of the same rule.
    """
    if wanted.kind == "error" and wanted.name == "E401":
        return seen.kind == "error" and seen.rule == wanted.rule
    return seen.same_result(wanted) and (wanted.rule in (None, "constraint")
                                         or seen.rule == wanted.rule)


def expand(space: Space, cube: Cube, target: Region, area: Region | None = None) -> Cube:
    """Widens a cube inside `target`, dimension by dimension, so it reads shorter.

    Whole dimensions are freed inside `target`; single cells are added only inside `area`
    (the region itself, without the facts that do not matter), so no description mentions
    a value just because it does not matter.
    """
    current = list(cube)
    # Free the dimensions the policy mentions least first: they are the details.
    order = sorted(range(len(space.dimensions)), key=lambda i: (
        space.weight.get(space.dimensions[i].key, 0), -i))
    for position in order:
        dimension = space.dimensions[position]
        if current[position] == dimension.full:
            continue
        trial = current.copy()
        trial[position] = dimension.full
        if space.within(tuple(trial), target.node):
            current = trial
    inner = (target if area is None else area).node

    def fits(position: int, cell: int) -> bool:
        # A cube lies in a region exactly when each of its one-cell slices does.
        trial = current.copy()
        trial[position] = 1 << cell
        return space.within(tuple(trial), inner)

    for position, dimension in enumerate(space.dimensions):
        count = len(dimension.cells)
        if current[position] == dimension.full:
            continue
        if count <= 16:
            for cell in range(count):
                if not current[position] >> cell & 1 and fits(position, cell):
                    current[position] |= 1 << cell
            continue
        # Many cells (a number compared with many constants): widen each interval at its ends.
        for cell in range(count):
            if current[position] >> cell & 1:
                continue
            left = cell > 0 and current[position] >> (cell - 1) & 1
            right = cell + 1 < count and current[position] >> (cell + 1) & 1
            if (left or right) and fits(position, cell):
                current[position] |= 1 << cell
        for cell in range(count - 1, -1, -1):
            if not current[position] >> cell & 1 and cell + 1 < count \
                    and current[position] >> (cell + 1) & 1 and fits(position, cell):
                current[position] |= 1 << cell
    return tuple(current)


def cover(space: Space, area: Region, target: Region | None = None,
          limit: int = 4 * MAX_REGIONS) -> list[Cube]:
    """A short description of `area`: cubes widened inside `target` until they cover it."""
    target = area if target is None else target
    key = (area.node, target.node, limit)
    if key in space.covers:
        return space.covers[key]
    wide: list[Cube] = []
    left = area
    while left and len(wide) < limit:
        cube = next(left.cubes())
        widened = expand(space, cube, target, area)
        wide.append(widened)
        left = left - space.cube(widened)
    wide.sort(key=lambda cube: sum(1 for d, m in zip(space.dimensions, cube, strict=True)
                                   if m != d.full))
    space.covers[key] = wide
    return wide


def rule_holds(policy: CheckedPolicy, rule: CheckedRule, raw: Mapping[str, Any]) -> int | None:
    """The interpreter's verdict on one rule's condition: -1 holds, N fails at conjunct N."""
    try:
        typed = _engine_policy(policy).validator.validate(_known(policy, raw), file="<witness>")
        interpreter = Interpreter(policy)
        return interpreter.condition(rule.index, environment(policy, interpreter, typed))
    except Exception:  # noqa: BLE001 - a witness candidate that cannot run is no witness
        return None


def dumps_witness(witness: Witness, policy_path: str | None) -> str:
    import yaml

    return str(yaml.safe_dump(witness.scenario(policy_path), sort_keys=False,
                              allow_unicode=True, width=100))


def write_witnesses(named: Sequence[tuple[str, Witness | None]], directory: str,
                    policy_path: str | None) -> list[str]:
    """Saves witnesses as scenario files `NN-NAME.yaml` in `directory` (NN counts every
    entry, with or without a witness), each naming `policy_path`; returns the paths written."""
    os.makedirs(directory, exist_ok=True)
    relative = (os.path.relpath(policy_path, directory).replace(os.sep, "/")
                if policy_path else None)
    written: list[str] = []
    for number, (name, witness) in enumerate(named, start=1):
        if witness is None:
            continue
        slug = re.sub(r"[^A-Za-z0-9_]+", "-", name).strip("-")[:80] or "witness"
        path = os.path.join(directory, f"{number:02d}-{slug}.yaml")
        with open(path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(dumps_witness(witness, relative))
        written.append(path)
    return written


def diagnostic(policy: CheckedPolicy, code: str, message: str, *, span: Any = None,
               notes: Sequence[str] = (), help: str | None = None,
               severity: Severity = Severity.WARNING) -> Diagnostic:
    return Diagnostic(code, message, policy.source, span, help=help,
                      severity=severity, notes=tuple(notes))


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
        elif _cell_has(dimension, cell, value):  # type: ignore[arg-type]
            return 1 << position
    return 1  # a failed derived term: any cell, evaluation stops before it matters
