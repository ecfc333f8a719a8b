"""Symbolic evaluation: the analysis stage's translation of a checked policy into regions.

Each condition becomes three formulas over total atoms: where it is true, where it is false,
and where evaluating it stops with an error (a missing fact, a table without a row), so
short-circuit evaluation is modelled exactly. `define`d values are inlined; `if ... then ...
else` values are split into cases. Comparisons of a fact (plus a constant) with a constant
are exact atoms; so are constants shifted by calendar months (`2024-01-31 + 1 month`). Anything
else (arithmetic between facts, a date fact plus months, `days_between`, working days) is a
*derived term* or an *opaque condition*: a dimension of its own, free of the facts it is
computed from. That over-approximates every region, so a region found empty really is empty;
a region found non-empty is confirmed only by a witness (see `analysis`).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from policy_engine.analysis.budget import Budget, OverBudget
from policy_engine.analysis.formulas import (
    Atom,
    Formula,
    Three,
    and_,
    compare_values,
    not_,
    or_,
)
from policy_engine.analysis.regions import (
    FIRST_DAY,
    LAST_DAY,
    Cell,
    Dimension,
    Number,
    Space,
    as_number,
    number_cells,
)
from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, CheckedRule, Effective
from policy_engine.check.types import (
    AmountType,
    BoolType,
    CalendarMonths,
    DateType,
    DurationType,
    EnumType,
    ListType,
    TextType,
    Type,
    WholeType,
)
from policy_engine.evaluate.arithmetic import MONTHS, shift_months
from policy_engine.evaluate.errors import OutOfRange

# ---------------------------------------------------------------- terms


@dataclass(frozen=True)
class Term:
    """A value expression on one case: a constant, a fact plus an offset, or a derived term."""

    kind: str  # 'const' | 'fact' | 'derived'
    value: object = None  # the constant; the fact name; the derived expression
    offset: Number = 0
    type: Type | None = None


@dataclass(frozen=True)
class Relation:
    """The meaning of an opaque condition's true cell: `left + left_offset OP right +
    right_offset`, two number or date facts (dates by ordinal, offsets in days)."""

    left: str
    left_offset: Fraction
    op: str  # < <= == !=
    right: str
    right_offset: Fraction


@dataclass(frozen=True)
class Case:
    guard: Formula
    term: Term


@dataclass
class Registry:
    """What the translation met: facts with their constants, derived terms, opaque conditions.

    Shared by the policies of one analysis (two for a symbolic diff) so they use one space.
    """

    facts: dict[str, list[Type]] = field(default_factory=dict)
    optional: set[str] = field(default_factory=set)
    constants: dict[tuple[object, ...], set[Number | str]] = field(default_factory=dict)
    derived: dict[tuple[object, ...], tuple[str, Type, tuple[str, ...]]] = field(
        default_factory=dict)
    opaque: dict[tuple[object, ...], tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    bounds: dict[str, tuple[Number | None, Number | None]] = field(default_factory=dict)
    #: The policy whose expression a derived term or opaque condition is (for witnesses).
    owner: dict[tuple[object, ...], CheckedPolicy] = field(default_factory=dict)
    #: For each opaque condition: an expression that computes it, and whether it is negated.
    opaque_expr: dict[tuple[object, ...], tuple[c.CExpr, bool]] = field(default_factory=dict)
    #: Dimensions for what the analysis could not translate within its budget (a rule whose
    #: outcome is left free); they come last.
    unknown: list[Dimension] = field(default_factory=list)
    #: The opaque conditions that compare two facts, each plus a constant: what their true
    #: cell means, for `differences` (which rules out `a < b and b < a`).
    relations: dict[tuple[object, ...], Relation] = field(default_factory=dict)

    def add_policy(self, policy: CheckedPolicy) -> None:
        for info in policy.facts:
            self.facts.setdefault(info.name, []).append(info.type)
            if info.optional and info.default is None:
                self.optional.add(info.name)
            low, high = _bounds(info.type)
            if info.name in self.bounds:
                old_low, old_high = self.bounds[info.name]
                low = None if low is None or old_low is None else min(low, old_low)
                high = None if high is None or old_high is None else max(high, old_high)
            self.bounds[info.name] = (low, high)

    def space(self) -> Space:
        """The dimensions for everything registered, in a stable order."""
        dimensions: list[Dimension] = []
        for name in self.facts:  # declaration order reads best in descriptions
            types = self.facts[name]
            dimension = self._fact_dimension(name, types)
            if dimension is not None:
                dimensions.append(dimension)
            element = types[0].element if isinstance(types[0], ListType) else None
            if isinstance(element, EnumType):
                if name in self.optional:
                    dimensions.append(Dimension(("present", name), "present", (
                        Cell("missing"), Cell("value", True)), name))
                values: list[str] = []
                for t in types:
                    if isinstance(t, ListType) and isinstance(t.element, EnumType):
                        values.extend(v for v in t.element.values if v not in values)
                for value in values:
                    dimensions.append(Dimension(("member", name, value), "member", (
                        Cell("value", False), Cell("value", True)),
                        f"{name} contains {value}"))
        for key in sorted(self.derived, key=repr):
            text, t, _ = self.derived[key]
            kind = _kind(t)
            consts = [k for k in self.constants.get(key, ()) if not isinstance(k, str)]
            if kind == "date":
                consts = _on_calendar(consts)
            cells = number_cells(consts, whole=kind != "amount", minimum=None, maximum=None)
            dimensions.append(Dimension(key, kind, _calendar_cells(cells) if kind == "date"
                                        else cells, text))
        for key in sorted(self.opaque, key=repr):
            text, _ = self.opaque[key]
            dimensions.append(Dimension(key, "opaque", (
                Cell("value", False), Cell("value", True)), text))
        dimensions.extend(self.unknown)
        return Space(dimensions)

    def _fact_dimension(self, name: str, types: list[Type]) -> Dimension | None:
        first = types[0]
        missing = (Cell("missing"),) if name in self.optional else ()
        key = ("fact", name)
        if isinstance(first, EnumType):
            values: list[str] = []
            for t in types:
                if isinstance(t, EnumType):
                    values.extend(v for v in t.values if v not in values)
            return Dimension(key, "enum", missing + tuple(Cell("value", v) for v in values), name)
        if isinstance(first, BoolType):
            return Dimension(key, "bool", missing + (Cell("value", False),
                                                      Cell("value", True)), name)
        if isinstance(first, TextType):
            texts = sorted(k for k in self.constants.get(key, ()) if isinstance(k, str))
            return Dimension(key, "text", missing + tuple(Cell("value", t) for t in texts)
                             + (Cell("other"),), name)
        if isinstance(first, (WholeType, AmountType, DateType)):
            kind = _kind(first)
            low, high = self.bounds.get(name, (None, None))
            consts = [k for k in self.constants.get(key, ()) if not isinstance(k, str)]
            if kind == "date":
                consts = _on_calendar(consts) or [_ANCHOR]
            cells = number_cells(consts, whole=kind != "amount", minimum=low, maximum=high)
            return Dimension(key, kind, missing + (_calendar_cells(cells) if kind == "date"
                                                   else cells), name)
        if missing:  # a list of something else: only its presence is modelled
            return Dimension(key, "present", (Cell("missing"), Cell("value", True)), name)
        return None


_ANCHOR = datetime.date(2025, 1, 1).toordinal()
def _on_calendar(constants: list[Number]) -> list[Number]:
    """The date constants that split the calendar: a condition compares with a day before
    its first or after its last day only when shifted dates leave it (see `_off_calendar`)."""
    return [k for k in constants if FIRST_DAY <= k <= LAST_DAY]


def _calendar_cells(cells: tuple[Cell, ...]) -> tuple[Cell, ...]:
    """Date cells without the ranges before the first day or after the last, which hold no
    date (so no witness or description ever shows one)."""
    return tuple(cell for cell in cells if not (
        cell.kind == "range" and (cell.high is not None and cell.high <= FIRST_DAY
                                  or cell.low is not None and cell.low >= LAST_DAY)))


def _kind(t: Type) -> str:
    if isinstance(t, AmountType):
        return "amount"
    if isinstance(t, DateType):
        return "date"
    return "whole"


def _bounds(t: Type) -> tuple[Number | None, Number | None]:
    if isinstance(t, (WholeType, AmountType)):
        return as_number(t.minimum), as_number(t.maximum)
    return None, None


# ---------------------------------------------------------------- translation


class Translator:
    """Translates one policy's expressions into formulas, registering what they read."""

    def __init__(self, policy: CheckedPolicy, registry: Registry,
                 budget: Budget | None = None) -> None:
        self.policy = policy
        self.registry = registry
        self.budget = budget if budget is not None else Budget(0)
        self.defines = {d.name: d for d in policy.defines}
        self._define_cases: dict[str, tuple[list[Case], Formula]] = {}
        self._define_reads: dict[str, tuple[str, ...]] = {}
        self._table_rows: dict[str, tuple[dict[str, c.TableRowInfo], c.TableRowInfo | None]] = {}
        #: Derived values whose translation alone took more than an item's share.
        self._too_large: dict[str, str] = {}
        registry.add_policy(policy)

    def text(self, expr: c.CExpr) -> str:
        return " ".join(self.policy.source.text[expr.span.start:expr.span.end].split())

    # ------------------------------------------------------------ conditions
    def condition(self, expr: c.CExpr) -> Three:
        if isinstance(expr, c.Logic):
            parts = [self.condition(item) for item in expr.operands]
            result = parts[0]
            for part in parts[1:]:
                result = result.and_then(part) if expr.op == "and" else result.or_else(part)
            return result
        if isinstance(expr, c.Not):
            inner = self.condition(expr.operand)
            return Three(inner.false, inner.true, inner.error)
        if isinstance(expr, c.Const):
            return Three(bool(expr.value), not expr.value, False)
        if isinstance(expr, c.Presence):
            present = self.present(expr.fact)
            return Three(present if expr.present else not_(present),
                         not_(present) if expr.present else present, False)
        if isinstance(expr, c.Conditional):
            test = self.condition(expr.test)
            then, other = self.condition(expr.then), self.condition(expr.otherwise)
            return Three(or_(and_(test.true, then.true), and_(test.false, other.true)),
                         or_(and_(test.true, then.false), and_(test.false, other.false)),
                         or_(test.error, and_(test.true, then.error),
                             and_(test.false, other.error)))
        if isinstance(expr, c.Compare):
            return self.compare(expr.left, expr.op, expr.right, expr)
        if isinstance(expr, c.Between):
            low = self.compare(expr.low, "<=", expr.subject, expr)
            high = self.compare(expr.subject, "<=", expr.high, expr)
            error = or_(low.error, high.error)
            return Three(and_(not_(error), low.true, high.true),
                         and_(not_(error), or_(low.false, high.false)), error)
        if isinstance(expr, c.InList):
            return self.in_list(expr)
        if isinstance(expr, c.ListContains):
            return self.contains(expr)
        if isinstance(expr, c.FactRef):  # a yes/no fact or derived value
            cases, error = self.cases(expr)
            true: list[Formula] = []
            false: list[Formula] = []
            for case in cases:
                holds = self._compare_terms(case.term, "==", Term("const", True), expr)
                true.append(and_(case.guard, holds))
                false.append(and_(case.guard, not_(holds)))
            return Three(or_(*true), or_(*false), error)
        return self.opaque_condition(expr)

    def opaque_condition(self, expr: c.CExpr) -> Three:
        error = or_(*self._errors(expr))
        atom = self._opaque_atom(expr)
        return Three(and_(not_(error), atom), and_(not_(error), not_(atom)), error)

    def compare(self, left: c.CExpr, op: str, right: c.CExpr, whole: c.CExpr) -> Three:
        if isinstance(left.type, ListType) or isinstance(right.type, ListType):
            return self.list_compare(left, op, right, whole)
        left_cases, left_error = self.cases(left)
        right_cases, right_error = self.cases(right)
        # One value on each side, and the comparison is the whole condition: an opaque atom
        # for it means exactly `left op right` (a `between` is one atom for two comparisons).
        single = (len(left_cases) == 1 and len(right_cases) == 1
                  and isinstance(whole, c.Compare) and whole.op == op)
        true: list[Formula] = []
        false: list[Formula] = []
        for a in left_cases:
            for b in right_cases:
                guard = and_(a.guard, b.guard)
                if guard is False:
                    continue
                holds = self._compare_terms(a.term, op, b.term, whole, exact=single)
                true.append(and_(guard, holds))
                false.append(and_(guard, not_(holds)))
        error = or_(left_error, and_(not_(left_error), right_error))
        return Three(or_(*true), or_(*false), error)

    def _compare_terms(self, a: Term, op: str, b: Term, whole: c.CExpr,
                       exact: bool = False) -> Formula:
        if a.kind == "const" and b.kind == "const":
            return compare_values(a.value, op, b.value)
        if a.kind == "const":
            a, b, op = b, a, _FLIP[op]
        if b.kind == "const" and a.kind in ("fact", "derived"):
            key: tuple[object, ...] = (("fact", a.value) if a.kind == "fact"
                                       else ("derived", a.value))
            constant = b.value
            number = as_number(constant)
            if number is not None and not isinstance(a.type, (EnumType, TextType)):
                number = Fraction(number) - Fraction(a.offset)
                if isinstance(a.type, DurationType):
                    return self.opaque_condition(whole).true
                constant = number
            elif isinstance(constant, str):
                self.registry.constants.setdefault(key, set()).add(constant)
            if number is not None and not isinstance(constant, (bool, str)):
                self.registry.constants.setdefault(key, set()).add(number)
            return Atom(key, ("cmp", op, constant))
        # two facts or derived terms: a dimension of its own; between two facts (each plus a
        # constant) its meaning is recorded, so that `differences` can rule out combinations
        # no fact set has
        return self._opaque_atom(whole, (a, op, b) if exact else None)

    def _opaque_atom(self, expr: c.CExpr,
                     pair: tuple[Term, str, Term] | None = None) -> Formula:
        """A free yes/no dimension for a condition the analysis does not model.

        Comparisons are put in one canonical form (`<` or `==`, possibly negated), so that
        `a > b + 15` and `a <= b + 15` are one dimension, true on one side and false on the
        other, instead of two unrelated ones.
        """
        key: tuple[object, ...] = ("opaque", expr)
        text, negated = self.text(expr), False
        if isinstance(expr, c.Compare) and not isinstance(expr.left.type, ListType):
            op, swap, negated = _CANONICAL[expr.op]
            left, right = (expr.right, expr.left) if swap else (expr.left, expr.right)
            if op == "==" and self.text(right) < self.text(left):
                left, right = right, left
            key = ("opaque", (op, left, right))
            text = f"{self.text(left)} {op} {self.text(right)}"
        self.registry.opaque.setdefault(key, (text, self.reads(expr)))
        self.registry.opaque_expr.setdefault(key, (expr, negated))
        if pair is not None and key not in self.registry.relations:
            relation = self._relation(expr, *pair)
            if relation is not None:
                # `pair` holds where the atom returned holds: the atom is its negation when
                # the canonical form negated the comparison
                self.registry.relations[key] = (Relation(
                    relation.left, relation.left_offset, _NEGATION[relation.op],
                    relation.right, relation.right_offset) if negated else relation)
        self.registry.owner.setdefault(key, self.policy)
        atom = Atom(key, ("true",))
        return not_(atom) if negated else atom

    def _relation(self, expr: c.CExpr, a: Term, op: str, b: Term) -> Relation | None:
        """`a op b` as a relation between two facts, or None when it is not one: a side is
        not a fact plus a constant, the facts are not both numbers or both dates, or the
        comparison reads a derived value (whose name another version may define otherwise,
        while the dimension is shared by both)."""
        if a.kind != "fact" or b.kind != "fact" or op not in _NEGATION:
            return None
        kinds = set()
        for name in (a.value, b.value):
            types = self.registry.facts.get(str(name), [])
            if not types or any(t != types[0] for t in types):
                return None
            kinds.add("date" if isinstance(types[0], DateType) else "number"
                      if isinstance(types[0], (WholeType, AmountType)) else "other")
        if len(kinds) != 1 or "other" in kinds:
            return None
        if any(isinstance(node, c.FactRef) and node.name in self.defines
               for node in c.walk(expr)):
            return None
        return Relation(str(a.value), Fraction(a.offset), op, str(b.value), Fraction(b.offset))

    def in_list(self, expr: c.InList) -> Three:
        options = expr.options
        if not (isinstance(options, c.Const) and isinstance(options.value, tuple)) and not (
                isinstance(options, c.ListExpr)
                and all(isinstance(i, c.Const) for i in options.items)):
            return self.opaque_condition(expr)
        values: tuple[object, ...] = (
            options.value if isinstance(options, c.Const)  # type: ignore[assignment]
            else tuple(i.value for i in options.items))  # type: ignore[union-attr]
        cases, error = self.cases(expr.subject)
        true: list[Formula] = []
        false: list[Formula] = []
        for case in cases:
            if case.term.kind == "const":
                holds: Formula = (case.term.value in values) != expr.negated
            elif case.term.kind == "fact" and isinstance(case.term.type, (EnumType, BoolType)):
                atom = Atom(("fact", case.term.value), ("in", tuple(values)))
                holds = not_(atom) if expr.negated else atom
            else:
                return self.opaque_condition(expr)
            true.append(and_(case.guard, holds))
            false.append(and_(case.guard, not_(holds)))
        return Three(or_(*true), or_(*false), error)

    def contains(self, expr: c.ListContains) -> Three:
        subject, item = expr.subject, expr.item
        if (isinstance(subject, c.FactRef) and subject.name in self.registry.facts
                and isinstance(subject.type, ListType)
                and isinstance(subject.type.element, EnumType) and isinstance(item, c.Const)):
            present = self.present(subject.name)
            atom = Atom(("member", subject.name, item.value), ("true",))
            return Three(and_(present, atom), and_(present, not_(atom)), not_(present))
        return self.opaque_condition(expr)

    def list_compare(self, left: c.CExpr, op: str, right: c.CExpr, whole: c.CExpr) -> Three:
        fact, other = (left, right) if isinstance(left, c.FactRef) else (right, left)
        if (op in ("==", "!=") and isinstance(fact, c.FactRef)
                and fact.name in self.registry.facts
                and isinstance(fact.type, ListType) and isinstance(fact.type.element, EnumType)
                and isinstance(other, (c.Const, c.ListExpr))
                and not (other.value if isinstance(other, c.Const) else other.items)):
            present = self.present(fact.name)
            empty = and_(*(not_(Atom(("member", fact.name, v), ("true",)))
                           for v in fact.type.element.values))
            holds = empty if op == "==" else not_(empty)
            return Three(and_(present, holds), and_(present, not_(holds)), not_(present))
        return self.opaque_condition(whole)

    # ------------------------------------------------------------ values
    def present(self, fact: str) -> Formula:
        if fact not in self.registry.optional:
            return True
        types = self.registry.facts.get(fact, [])
        if types and isinstance(types[0], ListType) and isinstance(types[0].element, EnumType):
            return Atom(("present", fact), ("present",))
        return Atom(("fact", fact), ("present",))

    def cases(self, expr: c.CExpr) -> tuple[list[Case], Formula]:
        """The value of an expression by cases, and where computing it is an error."""
        if isinstance(expr, c.Const):
            return [Case(True, Term("const", expr.value, type=expr.type))], False
        if isinstance(expr, c.FactRef):
            if expr.name in self.defines:
                return self._define(expr.name)
            present = self.present(expr.name)
            return [Case(present, Term("fact", expr.name, type=expr.type))], not_(present)
        if isinstance(expr, c.Conditional):
            test = self.condition(expr.test)
            then, then_error = self.cases(expr.then)
            other, other_error = self.cases(expr.otherwise)
            cases = ([Case(and_(test.true, k.guard), k.term) for k in then]
                     + [Case(and_(test.false, k.guard), k.term) for k in other])
            error = or_(test.error, and_(test.true, then_error), and_(test.false, other_error))
            return [k for k in cases if k.guard is not False], error
        if isinstance(expr, c.Arith) and expr.op in "+-":
            shifted = self._shifted(expr)
            if shifted is not None:
                return shifted
        if isinstance(expr, c.Lookup):
            return self._lookup(expr)
        return self._derived(expr)

    def _shifted(self, expr: c.Arith) -> tuple[list[Case], Formula] | None:
        """`x + k` or `x - k` for a constant `k`, by cases: constants are computed, facts get
        an offset. Where a date leaves the calendar evaluation stops (E408), and so here."""
        left, left_error = self.cases(expr.left)
        right, right_error = self.cases(expr.right)
        if len(right) != 1 or right[0].term.kind != "const":
            return None
        value = right[0].term.value
        if isinstance(value, datetime.date):  # a date minus a date: a number of days
            if not all(isinstance(k.term.value, datetime.date) for k in left):
                return None
            return ([Case(k.guard, Term("const", k.term.value - value, type=expr.type))
                     for k in left if isinstance(k.term.value, datetime.date)],
                    or_(left_error, right_error))
        if isinstance(value, CalendarMonths):
            return self._month_shifted(expr, left, or_(left_error, right_error), value)
        number = as_number(value)
        delta = _days(value) if number is None else number
        if delta is None:
            return None
        shift = (1 if expr.op == "+" else -1) * Fraction(delta)
        out: list[Case] = []
        stops: list[Formula] = [left_error, right_error]
        for case in left:
            term = _shift(case.term, shift)
            if term is None:  # a constant date or duration out of range
                stops.append(case.guard)
                continue
            if term.kind == "derived" and term.offset != 0:
                return None
            if term.kind == "fact" and isinstance(expr.type, DateType):
                stops.append(and_(case.guard, self._off_calendar(term)))
            out.append(Case(case.guard, term))
        return out, or_(*stops)

    @staticmethod
    def _month_shifted(expr: c.Arith, left: list[Case], error: Formula,
                       months: CalendarMonths) -> tuple[list[Case], Formula] | None:
        """A constant date or month duration plus or minus a constant of months, computed as
        evaluation computes it (where it leaves the calendar, evaluation stops). A date fact
        plus months is not a shift by a fixed number of days: None, a derived term."""
        out: list[Case] = []
        stops: list[Formula] = [error]
        for case in left:
            value = case.term.value
            if case.term.kind != "const" or not isinstance(value, (datetime.date,
                                                                   CalendarMonths)):
                return None
            try:
                if isinstance(value, CalendarMonths):
                    shifted: object = MONTHS[expr.op](value, months)
                else:
                    shifted = shift_months(value, months.count if expr.op == "+"
                                           else -months.count)
            except OutOfRange:
                stops.append(case.guard)
                continue
            out.append(Case(case.guard, Term("const", shifted, type=expr.type)))
        return out, or_(*stops)

    def _off_calendar(self, term: Term) -> Formula:
        """Where a date fact plus an offset is before the first day or after the last."""
        key = ("fact", term.value)
        offset = Fraction(term.offset)
        parts: list[Formula] = []
        for op, bound, applies in (("<", FIRST_DAY - offset, offset < 0),
                                   (">", LAST_DAY - offset, offset > 0)):
            if applies:
                self.registry.constants.setdefault(key, set()).add(bound)
                parts.append(Atom(key, ("cmp", op, bound)))
        return or_(*parts)

    def _define(self, name: str) -> tuple[list[Case], Formula]:
        if name not in self._define_cases:
            if name in self._too_large:  # it would be again: fail at once, spend nothing
                raise OverBudget(False, self._too_large[name], define=name)
            self._define_cases[name] = ([], False)  # a cycle cannot pass the checker
            started = self.budget.spent
            try:
                self._define_cases[name] = self._translate_define(name)
            except OverBudget as over:
                del self._define_cases[name]  # never leave the placeholder for later rules
                if not over.whole and self.budget.spent - started >= self.budget.share:
                    self._too_large[name] = f"{over.reason}, in derived value '{name}'"
                    raise OverBudget(False, self._too_large[name], define=name) from None
                raise
        return self._define_cases[name]

    def _translate_define(self, name: str) -> tuple[list[Case], Formula]:
        info = self.defines[name]
        if isinstance(info.type, BoolType):
            three = self.condition(info.expr)
            return ([Case(three.true, Term("const", True, type=info.type)),
                     Case(three.false, Term("const", False, type=info.type))], three.error)
        return self.cases(info.expr)

    def _lookup(self, expr: c.Lookup) -> tuple[list[Case], Formula]:
        table = self.policy.table(expr.table)
        key_cases, key_error = self.cases(expr.key)
        if table.dated or len(key_cases) != 1 or key_cases[0].term.kind != "fact":
            return self._derived(expr)
        fact = str(key_cases[0].term.value)
        guard = key_cases[0].guard
        key_type = key_cases[0].term.type
        assert isinstance(key_type, EnumType)
        cases: list[Case] = []
        errors: list[Formula] = [key_error]
        rows, default = self._rows(table)
        for value in key_type.values:
            row = rows.get(value, default)
            is_value = and_(guard, Atom(("fact", fact), ("in", (value,))))
            if row is None:
                errors.append(is_value)
            else:
                cases.append(Case(is_value, Term("const", row.value, type=table.type)))
        return cases, or_(*errors)

    def _rows(self, table: c.TableInfo) -> tuple[dict[str, c.TableRowInfo],
                                                  c.TableRowInfo | None]:
        """An undated table's row for each key, and its default row: what `table.find` gives,
        worked out once (a key at a time, it reads the whole table for each value)."""
        found = self._table_rows.get(table.name)
        if found is None:
            rows: dict[str, c.TableRowInfo] = {}
            for row in table.rows:
                for key in row.keys:
                    rows.setdefault(key, row)
            default = next((row for row in table.rows if not row.keys), None)
            found = self._table_rows[table.name] = (rows, default)
        return found

    def _derived(self, expr: c.CExpr) -> tuple[list[Case], Formula]:
        facts = self.reads(expr)
        error = or_(*self._errors(expr))
        if isinstance(expr.type, (WholeType, AmountType, DateType)):
            key = ("derived", expr)
            self.registry.derived.setdefault(key, (self.text(expr), expr.type, facts))
            self.registry.owner.setdefault(key, self.policy)
            return [Case(not_(error), Term("derived", expr, type=expr.type))], error
        return [Case(not_(error), Term("opaque-value", expr, type=expr.type))], error

    def _errors(self, expr: c.CExpr, inner: bool = False) -> Iterator[Formula]:
        """Where evaluating `expr` stops: a missing fact (E401), a division by zero (E405).

        Follows evaluation: only the branch of an `if` that is taken, and `and`/`or` left to
        right; every other operand is evaluated.
        """
        if isinstance(expr, c.FactRef):
            if expr.name in self.defines:
                yield self._define(expr.name)[1]
            else:
                yield not_(self.present(expr.name))
            return
        if isinstance(expr, c.Presence):
            return
        if isinstance(expr, c.Conditional):
            test = self.condition(expr.test)
            yield test.error
            yield and_(test.true, or_(*self._errors(expr.then, True)))
            yield and_(test.false, or_(*self._errors(expr.otherwise, True)))
            return
        if inner and isinstance(expr.type, BoolType) and not isinstance(expr, (c.Const,
                                                                               c.FactRef)):
            yield self.condition(expr).error  # follows `and`/`or` as evaluation does
            return
        if isinstance(expr, c.Arith) and expr.op == "/":
            cases, error = self.cases(expr.right)
            yield error
            for case in cases:
                zero = self._compare_terms(case.term, "==", Term("const", 0), expr)
                yield and_(case.guard, zero)
        for child in c.children(expr):
            yield from self._errors(child, True)

    def reads(self, expr: c.CExpr) -> tuple[str, ...]:
        """The facts an expression reads, derived values expanded."""
        found: dict[str, None] = {}  # in order of first reading
        for node in c.walk(expr):
            names: Sequence[str] = ()
            if isinstance(node, c.FactRef):
                names = (self._reads_define(node.name) if node.name in self.defines
                         else (node.name,))
            elif isinstance(node, c.Presence):
                names = (node.fact,)
            elif isinstance(node, c.Lookup) and self.policy.table(node.table).dated \
                    and self.policy.as_of:
                names = (self.policy.as_of,)
            found.update(dict.fromkeys(names))
        return tuple(found)

    def _reads_define(self, name: str) -> tuple[str, ...]:
        # Worked out once per derived value: a chain of values that each read the one before
        # several times would otherwise be walked exponentially often.
        found = self._define_reads.get(name)
        if found is None:
            found = self._define_reads[name] = self.reads(self.defines[name].expr)
        return found

    # ------------------------------------------------------------ rules
    def effective(self, effective: Effective | None) -> Formula:
        """Where a rule with these dates is in effect (the as-of fact within them)."""
        if effective is None:
            return True
        as_of = self.policy.as_of
        if as_of is None:
            return False
        parts: list[Formula] = [self.present(as_of)]
        key = ("fact", as_of)
        for bound, op in ((effective.start, ">="), (effective.end, "<=")):
            if bound is not None:
                number = bound.toordinal()
                self.registry.constants.setdefault(key, set()).add(number)
                parts.append(Atom(key, ("cmp", op, number)))
        return and_(*parts)

    def rule(self, rule: CheckedRule, upto: int | None = None) -> Three:
        """A rule's condition (or its first `upto` conjuncts), as the evaluators run it."""
        result = Three(True, False, False)
        for conjunct in rule.conjuncts[:upto]:
            result = result.and_then(self.condition(conjunct.expr))
        return result

    def outputs_error(self, rule: CheckedRule) -> Formula:
        errors: list[Formula] = []
        for _, expr in rule.outputs:
            if isinstance(expr, c.ListExpr) or isinstance(expr.type, BoolType):
                continue
            _, error = self.cases(expr)
            errors.append(error)
        return or_(*errors)


#: The comparison that holds where another does not.
_NEGATION = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
#: A comparison as (canonical operator, swap the sides, negate): a >= b is not (a < b).
_CANONICAL = {"<": ("<", False, False), ">": ("<", True, False), ">=": ("<", False, True),
              "<=": ("<", True, True), "==": ("==", False, False), "!=": ("==", False, True)}


def _days(value: object) -> int | None:
    return value.days if isinstance(value, datetime.timedelta) else None


def _shift(term: Term, delta: Fraction) -> Term | None:
    """A term moved by `delta` (days for dates and durations); None when a constant date or
    duration leaves the range Python's dates have, where evaluation stops too."""
    if term.kind == "const":
        if isinstance(term.value, (datetime.date, datetime.timedelta)):
            try:
                return Term("const", term.value + datetime.timedelta(days=int(delta)),
                            type=term.type)
            except OverflowError:
                return None
        number = as_number(term.value)
        if number is not None:
            return Term("const", Fraction(number) + delta, type=term.type)
        return term
    return Term(term.kind, term.value, Fraction(term.offset) + delta, term.type)
