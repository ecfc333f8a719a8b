"""Witnesses: concrete fact sets that show a finding, checked on the reference interpreter.

Every finding that claims some fact set exists comes with one: facts inside the region,
validated and decided exactly as `policy eval --engine interpreted` would, and written out as
a scenario file on request.
"""

from __future__ import annotations

import datetime
import itertools
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from policy_engine.analysis import differences
from policy_engine.analysis.partition import (
    MAX_REGIONS,
    MAX_TRIES,
    Model,
    Outcome,
    cell_has,
    in_cell,
)
from policy_engine.analysis.regions import (
    FIRST_DAY,
    LAST_DAY,
    Cell,
    Cube,
    Dimension,
    as_number,
    number_value,
    sample,
    samples,
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
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.evaluate.errors import EvaluationError
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import environment, resolve
from policy_engine.facts.constraints import check_constraints
from policy_engine.facts.conversion import convert_value
from policy_engine.facts.validation import FactStage


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


def _known(policy: CheckedPolicy, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The raw facts this policy declares (a symbolic diff gives both versions one fact set)."""
    names = {info.name for info in policy.facts}
    return {k: v for k, v in raw.items() if k in names}


def observe(policy: CheckedPolicy, raw: Mapping[str, Any]) -> Outcome:
    """Runs the reference interpreter on raw facts, as `policy eval` would.

    An evaluation that fails with anything but a refusal (an engine bug) gives the outcome
    ('crash', exception name), which matches no prediction: such facts are no witness, and
    the analysis goes on.
    """
    stage, interpreter = _tools(policy)
    try:
        try:
            typed = stage.validate(_known(policy, raw), file="<facts>")
        except DiagnosticError:
            return Outcome("invalid", "facts")
        problems = check_constraints(policy, typed, file="<facts>", locate=None,
                                     prefix=("facts",))
        if problems:  # as the partition says it: refused by a constraint
            return Outcome("refused", problems[0].label or problems[0].code, "constraint")
        try:
            evaluation = resolve(policy, interpreter, typed)
        except EvaluationError as error:
            if error.code == "E404" and error.label:
                return Outcome("refused", error.label)
            if error.code == "E404" and policy.refusal is not None:
                return Outcome("refused", "E404")
            return Outcome("error", error.code, "+".join(error.rules) or None)
    except Exception as error:  # noqa: BLE001 - a crash is the engine's bug, not a witness
        return Outcome("crash", type(error).__name__)
    return Outcome("decision", evaluation.decision, evaluation.rule)


def evaluation_cost(policy: CheckedPolicy) -> int:
    """The steps one evaluation of a candidate is charged: about the work it does."""
    return 1 + len(policy.facts) + len(policy.units()) + len(policy.requires) \
        + len(policy.ensures)


def _tools(policy: CheckedPolicy) -> tuple[FactStage, Interpreter]:
    """The fact stage and the interpreter of a checked policy, built once per policy (a witness
    search observes hundreds of candidates)."""
    found = _TOOLS.get(id(policy))
    if found is None or found[0] is not policy:  # an id can be reused after collection
        if len(_TOOLS) > 16:
            _TOOLS.clear()
        found = _TOOLS[id(policy)] = (policy, FactStage(policy.facts, title=policy.title),
                                      Interpreter(policy))
    return found[1], found[2]


_TOOLS: dict[int, tuple[CheckedPolicy, FactStage, Interpreter]] = {}


class WitnessFinder:
    """Turns a cube into concrete facts, searching where derived terms are involved."""

    def __init__(self, models: Sequence[Model], fixed: Mapping[str, Any] | None = None,
                 left_out: frozenset[str] = frozenset(), relations_first: bool = False) -> None:
        """Args:
            fixed: raw facts every candidate gives as they are (partial evaluation's known
                facts); the search never varies them.
            left_out: facts every candidate leaves out (known to be absent).
            relations_first: try the facts that satisfy every comparison between facts
                (`differences.solve`) before the plain ones, not after.
        """
        self.models = models
        self.relations_first = relations_first
        self.space = models[0].space
        self.budget = self.space.budget
        self.registry = models[0].translator.registry
        self.fixed = dict(fixed or {})
        self.left_out = left_out

    def candidates(self, cube: Cube) -> Iterator[dict[str, Any]]:
        """Fact sets inside the cube, the plainest first.

        Facts read by a derived term or an opaque condition that the cube constrains are
        searched group by group (facts shared between such terms form one group); each
        group's candidates are screened with the interpreter before any full evaluation.
        Facts that comparisons between facts relate (`withdrawal_date <= deadline`) are also
        given values that satisfy all of them at once (`differences.solve`), first or after
        the others (`relations_first`): sampling each fact on its own rarely makes two dates
        equal.
        """
        if not self.relations_first:
            yield from self._candidates(cube, {}, set())
        relations = differences.of(self.space, self.registry)
        solved = relations.solve(cube) if relations.relations else None
        if solved is not None and solved.possible and solved.values:
            settled = {self.space.dimensions[position].key
                       for position, relation in relations.relations.items()
                       if {relation.left, relation.right} <= solved.values.keys()}
            fixed = {name: _json_value(number_value(
                self.space.dimensions[relations.variables[name].position].kind, number))
                for name, number in solved.values.items()}
            yield from self._candidates(cube, fixed, settled)
        if self.relations_first:
            yield from self._candidates(cube, {}, set())

    def _candidates(self, cube: Cube, fixed: dict[str, Any],
                    settled: AbstractSet[tuple[object, ...]]) -> Iterator[dict[str, Any]]:
        """`candidates`, with some facts `fixed` and the comparisons `settled` by them not
        searched again."""
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
            if name in fixed:
                choices.pop(name, None)
                base[name] = fixed[name]
            elif options[0] is not _OMIT:
                base[name] = options[0]
        for name in self.registry.facts:
            types = self.registry.facts[name]
            if isinstance(types[0], ListType) and name not in absent_lists:
                if name in members or self._required(name):
                    base[name] = members.get(name, [])
            elif name not in base and self._required(name) and not any(
                    d.key == ("fact", name) for d in self.space.dimensions):
                base[name] = _plain_value(types[0])
        base.update(self.fixed)
        for name in self.left_out:
            base.pop(name, None)
        groups = self._groups(cube, settled)
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

    def fact_values(self, name: str, cube: Cube, many: bool = False) -> list[Any]:
        """Plain raw values of one fact inside a cube (`LEFT_OUT` where it may be left out),
        the plainest first; with `many`, a few more. Partial evaluation moves a completion
        to other values of one fact with them. Empty for a fact with no dimension."""
        position = self.space.index.get(("fact", name))
        if position is not None:
            return self._values(self.space.dimensions[position], cube[position], name, many)
        present = self.space.index.get(("present", name))
        if present is not None and not cube[present] & 2:
            return [LEFT_OUT]
        members = [(str(d.key[2]), mask) for d, mask in zip(self.space.dimensions, cube,
                                                            strict=True)
                   if d.kind == "member" and d.key[1] == name]
        if not members:
            return [LEFT_OUT] if present is not None else []
        values = [[value for value, mask in members if mask == 2]]
        if many:
            values.append([value for value, mask in members if mask & 2])
        if present is not None and cube[present] & 1:
            values.append(LEFT_OUT)
        return list({repr(v): v for v in values}.values())

    def _groups(self, cube: Cube, settled: AbstractSet[tuple[object, ...]] = frozenset(),
                ) -> list[tuple[list[str], list[tuple[Dimension, int]]]]:
        """Constrained derived terms and opaque conditions, grouped by the facts they share."""
        groups: list[tuple[set[str], list[tuple[Dimension, int]]]] = []
        for dimension, mask in zip(self.space.dimensions, cube, strict=True):
            if dimension.key[0] not in ("derived", "opaque") or mask == dimension.full \
                    or dimension.key in settled:
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
        choices = dict(choices)
        for name in facts:  # a fact with no dimension (a list of text): the texts compared
            if name not in choices and name not in self.fixed and name not in self.left_out:
                guesses = self._guesses(name, checks)
                if guesses:
                    choices[name] = guesses
        names = [n for n in facts if n in choices and n not in self.fixed
                 and n not in self.left_out]
        for tried, combination in enumerate(itertools.product(*(choices[n] for n in names))):
            if tried >= MAX_TRIES:
                return
            self.budget.charge(1 + len(names))
            part = dict(zip(names, combination, strict=True))
            candidate = dict(base)
            for name, value in part.items():
                if value is _OMIT:
                    candidate.pop(name, None)
                else:
                    candidate[name] = value
            if all(self._check(candidate, dimension, mask) for dimension, mask in checks):
                yield part

    def _guesses(self, name: str, checks: list[tuple[Dimension, int]]) -> list[Any]:
        """Values to try for a fact that has no dimension of its own: for text, and lists
        of text, the texts the conditions being searched compare with."""
        first = self.registry.facts[name][0]
        element = first.element if isinstance(first, ListType) else first
        info = self.models[0].policy.fact(name)
        # Leaving the fact out is tried first when it may be, so a witness names only the
        # facts that make it one; then the empty list.
        empty: list[Any] = [_OMIT, []] if info.default is not None or not info.required else [[]]
        if isinstance(first, ListType) and isinstance(element, DateType):
            # Non-working days: one of the days the searched terms count from the anchor.
            days = self._date_offsets([Cell("range")])
            return empty + [[day] for day in days[:8]]
        if not isinstance(element, TextType):
            return []
        texts: dict[str, None] = {}
        for dimension, _ in checks:
            expr = (self.registry.opaque_expr[dimension.key][0]
                    if dimension.key[0] == "opaque" else dimension.key[1])
            for node in c.walk(expr):  # type: ignore[arg-type]
                if isinstance(node, c.Const) and isinstance(node.value, str):
                    texts[node.value] = None
        if isinstance(first, ListType):
            return empty + [[text] for text in texts]
        return [*texts, "other value"]

    def _check(self, raw: dict[str, Any], dimension: Dimension, mask: int) -> bool:
        """Whether the interpreter puts a derived term or opaque condition in the cube."""
        if dimension.key[0] == "opaque":
            expr, negated = self.registry.opaque_expr[dimension.key]
        else:
            expr, negated = dimension.key[1], False  # type: ignore[assignment]
        owner = self.registry.owner[dimension.key]
        self.budget.charge(1 + len(owner.facts))
        value = _quick_value(owner, raw, expr)
        if value is _FAILED:
            return False
        if dimension.key[0] == "opaque":
            return bool(mask >> (1 if bool(value) != negated else 0) & 1)
        number = as_number(value)
        return number is not None and any(
            in_cell(cell, number)
            for position, cell in enumerate(dimension.cells) if mask >> position & 1)

    def _required(self, name: str) -> bool:
        return any(info is not None and info.required
                   for info in (model.facts.get(name) for model in self.models))

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
                if cell_has(dimension, cell, default):
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
                if dimension.kind == "date":  # samples near the calendar's ends may leave it
                    numbers = [n for n in numbers if FIRST_DAY <= n <= LAST_DAY]
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
            if any(in_cell(cell, ordinal) for cell in cells):
                out.append(day.isoformat())
        return out

    def _default(self, name: str) -> Value | None:
        for model in self.models:
            info = model.facts.get(name)
            if info is not None:
                return info.default
        return None

    def find(self, cube: Cube, accept: Any) -> dict[str, Any] | None:
        for candidate in self.candidates(cube):
            if accept(candidate):
                return candidate
        return None


_FAILED: Any = object()


class _Omit:
    def __repr__(self) -> str:
        return "<omit>"


_OMIT: Any = _Omit()
#: Stands for "leave the fact out" among the values of `WitnessFinder.fact_values`.
LEFT_OUT: Any = _OMIT


def _quick_value(policy: CheckedPolicy, raw: dict[str, Any], expr: c.CExpr) -> Any:
    """An expression's value on raw facts, converted without the full validation."""
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
                extra: Any = None, relations_first: bool = False) -> tuple[Witness | None, int]:
    """Finds facts in one of the cubes on which each model's policy gives the expected outcome.

    Returns the witness (or None) and the index of the cube it came from.
    """
    finder = WitnessFinder(models, relations_first=relations_first)
    cost = sum(evaluation_cost(model.policy) for model in models)

    def accept(candidate: dict[str, Any]) -> bool:
        # The extra test evaluates a rule once more: charged as a whole evaluation.
        finder.budget.charge(cost * (2 if extra is not None else 1))
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


def rule_holds(policy: CheckedPolicy, rule: CheckedRule, raw: Mapping[str, Any]) -> int | None:
    """The interpreter's verdict on one rule's condition: -1 holds, N fails at conjunct N."""
    try:
        stage, interpreter = _tools(policy)
        typed = stage.validate(_known(policy, raw), file="<witness>")
        return interpreter.condition(rule.index, environment(policy, interpreter, typed))
    except Exception:  # noqa: BLE001 - a witness candidate that cannot run is no witness
        return None


#: A text written without quotes in a witness: a plain name no YAML reader takes for
#: anything else (a number, a date, yes/no, null, in YAML 1.1 or 1.2).
_PLAIN_TEXT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})


def dumps_witness(witness: Witness, policy_path: str | None) -> str:
    """A witness as a scenario file (see `dumps_scenario`)."""
    return dumps_scenario(witness.scenario(policy_path))


def dumps_scenario(data: Mapping[str, Any]) -> str:
    """A scenario (plain data) as YAML. Every text that is not a plain name is quoted, so the
    file reads back as the same values whatever YAML rules the reader follows."""
    import yaml  # only to write scenarios: analysis itself never reads YAML

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        plain = _PLAIN_TEXT.fullmatch(value) and value.lower() not in _YAML_WORDS
        return dumper.represent_scalar("tag:yaml.org,2002:str", value,
                                       style=None if plain else '"')

    Dumper.add_representer(str, text)
    return str(yaml.dump(dict(data), Dumper=Dumper, sort_keys=False, allow_unicode=True,
                         width=100))


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
