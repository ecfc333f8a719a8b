"""SQL expressions: a checked policy's typed expressions translated into sqlglot trees.

Each expression becomes a `values.Val`, its value and its fault, following the interpreter
step by step: left to right, `and`/`or` stopping as soon as the answer is known, `if` reading
only the branch it takes, a derived value computed from its definition. A construct with no
exact translation raises `Untranslatable`, and the whole policy is refused with E601; nothing is
ever approximated.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from decimal import Decimal

from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, TableInfo
from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    DurationType,
    EmptyListType,
    EnumType,
    ListType,
    TextType,
    Type,
    Value,
    WholeType,
)
from policy_engine.core.visitor import Visitor
from policy_engine.language.literals import MAX_DAYS
from policy_engine.sql import amounts
from policy_engine.sql import trees as t
from policy_engine.sql.amounts import faults
from policy_engine.sql.calendars import CalendarProbe, Calendars
from policy_engine.sql.trees import Sql
from policy_engine.sql.values import (
    BIGINT_LIMIT,
    LAST_DAY,
    Bounds,
    Digits,
    Envelope,
    Untranslatable,
    Val,
)

DAYS = Bounds(0, LAST_DAY)
#: A duration within the engine's range; beyond it the interpreter refuses with E408.
DURATION = Bounds(-MAX_DAYS, MAX_DAYS)


def missing(name: str) -> Sql:
    return t.lit(f"E401:{name}")


def whole_bounds(kind: WholeType, envelope: Envelope) -> Bounds:
    limit = 10**envelope.whole_digits - 1
    low = -limit if kind.minimum is None else max(-limit, kind.minimum)
    high = limit if kind.maximum is None else min(limit, kind.maximum)
    return Bounds(low, high)


def amount_digits(kind: AmountType, envelope: Envelope) -> Digits:
    whole = envelope.amount_digits
    if kind.minimum is not None and kind.maximum is not None:
        largest = max(abs(kind.minimum), abs(kind.maximum))
        whole = min(whole, max(len(str(int(largest))), 1))
    return Digits(whole, envelope.amount_scale)


class Scope:
    """What expressions read: the typed fact columns, derived values, tables, calendars."""

    def __init__(self, policy: CheckedPolicy, envelope: Envelope, calendars: Calendars,
                 column: Callable[[str], Sql]) -> None:
        self.policy = policy
        self.envelope = envelope
        self.calendars = calendars
        self.column = column
        self.facts = {info.name: info for info in policy.facts}
        self.defines = {d.name: d for d in policy.defines}
        self._derived: dict[str, Val] = {}
        self.translator = Translator(self)

    def derive(self, name: str) -> list[Sql]:
        """Translates a derived value into the columns that hold it from then on (its value,
        fault, and an amount's places and sign), which `fact` reads afterwards."""
        value = self.translator.value(self.defines[name].expr)
        column = "_d_" + name
        columns = [t.alias(value.sql, column)]
        if value.fault is not None:
            columns.append(t.alias(value.fault, column + "__fault"))
        if value.digits is not None:
            assert value.scale is not None and value.negative is not None
            columns += [t.alias(value.scale, column + "__scale"),
                        t.alias(value.negative, column + "__negative")]
        self._derived[name] = Val(
            t.col(column), t.col(column + "__fault") if value.fault is not None else None,
            bounds=value.bounds, digits=value.digits,
            scale=t.col(column + "__scale") if value.digits is not None else None,
            negative=t.col(column + "__negative") if value.digits is not None else None)
        return columns

    def fact(self, name: str) -> Val:
        if name in self.defines:
            return self._derived[name]
        info = self.facts[name]
        value = self.column(name)
        fault = missing(name) if info.optional and info.default is None else None
        if fault is not None:
            fault = t.when(t.is_null(value), fault)
        kind = info.type
        if isinstance(kind, WholeType):
            return Val(value, fault, bounds=whole_bounds(kind, self.envelope))
        if isinstance(kind, AmountType):
            return Val(value, fault, digits=amount_digits(kind, self.envelope),
                       scale=self.column(name + "__scale"),
                       negative=self.column(name + "__negative"))
        if isinstance(kind, DateType):
            return Val(value, fault, bounds=DAYS)
        return Val(value, fault)


class Translator(Visitor[Val]):
    """Turns typed expressions into `Val`s within a `Scope`."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def value(self, expr: c.CExpr) -> Val:
        return self.visit(expr)

    def condition(self, expr: c.CExpr) -> Val:
        return self.visit(expr)

    def generic_visit(self, node: object, *args: object) -> Val:
        raise Untranslatable(f"'{type(node).__name__}' has no SQL translation",
                             getattr(node, "span", None))

    # ------------------------------------------------------------ leaves
    def visit_FactRef(self, node: c.FactRef) -> Val:
        return self.scope.fact(node.name)

    def visit_Const(self, node: c.Const) -> Val:
        return constant(node.value, node.type, node.span)

    def visit_ListExpr(self, node: c.ListExpr) -> Val:
        items = [self.visit(item) for item in node.items]
        return Val(t.array([item.sql for item in items]), faults(*items))

    def visit_Presence(self, node: c.Presence) -> Val:
        info = self.scope.facts.get(node.fact)
        if info is None or not info.optional or info.default is not None:
            return Val(t.true() if node.present else t.false())
        test = t.not_null(self.scope.column(node.fact)) if node.present \
            else t.is_null(self.scope.column(node.fact))
        return Val(test)

    # ------------------------------------------------------------ logic
    def visit_Not(self, node: c.Not) -> Val:
        operand = self.visit(node.operand)
        return Val(t.not_(operand.sql), operand.fault)

    def visit_Logic(self, node: c.Logic) -> Val:
        operands = [self.visit(o) for o in node.operands]
        value = (t.and_ if node.op == "and" else t.or_)([o.sql for o in operands])
        return Val(value, short_circuit(node.op, operands))

    def visit_Conditional(self, node: c.Conditional) -> Val:
        test = self.visit(node.test)
        then = self.visit(node.then)
        otherwise = self.visit(node.otherwise)
        if isinstance(node.type, AmountType) and (then.digits or otherwise.digits):
            then, otherwise = amounts.as_amount(then), amounts.as_amount(otherwise)
        fault: Sql | None = None
        if test.fault is not None or then.fault is not None or otherwise.fault is not None:
            fault = t.case([(t.not_null(test.fault), test.fault)] if test.fault is not None
                           else [],
                           t.when(test.sql, then.fault or t.null(), otherwise.fault or t.null()))
        value = t.when(test.sql, then.sql, otherwise.sql)
        if then.digits and otherwise.digits:
            digits = Digits(max(then.digits.whole, otherwise.digits.whole),
                            max(then.digits.scale, otherwise.digits.scale))
            assert then.scale is not None and otherwise.scale is not None
            assert then.negative is not None and otherwise.negative is not None
            return Val(t.decimal(value, digits.total, digits.scale), fault, digits=digits,
                       scale=t.when(test.sql, then.scale, otherwise.scale),
                       negative=t.when(test.sql, then.negative, otherwise.negative))
        bounds = then.bounds.join(otherwise.bounds) if then.bounds and otherwise.bounds else None
        return Val(value, fault, bounds=bounds)

    # ------------------------------------------------------------ comparisons
    def visit_Compare(self, node: c.Compare) -> Val:
        left = self.visit(node.left)
        right = self.visit(node.right)
        fault = faults(left, right)
        if isinstance(node.left.type, (ListType, EmptyListType)):
            return Val(list_compare(node, left, right), fault)
        return Val(t.compare(node.op, left.sql, right.sql), fault)

    def visit_InList(self, node: c.InList) -> Val:
        subject = self.visit(node.subject)
        if isinstance(node.options, c.ListExpr):
            options = [self.visit(item) for item in node.options.items]
            if not options:
                found: Sql = t.false()
            elif all(o.fault is None for o in options):
                found = t.in_list(subject.sql, [o.sql for o in options])
            else:
                found = t.or_([t.eq(subject.sql, o.sql) for o in options])
            fault = faults(subject, *options)
        else:
            listed = self.visit(node.options)
            found = t.contains(listed.sql, subject.sql)
            fault = faults(subject, listed)
        return Val(t.not_(found) if node.negated else found, fault)

    def visit_ListContains(self, node: c.ListContains) -> Val:
        subject = self.visit(node.subject)
        item = self.visit(node.item)
        return Val(t.contains(subject.sql, item.sql), faults(subject, item))

    def visit_Between(self, node: c.Between) -> Val:
        subject = self.visit(node.subject)
        low = self.visit(node.low)
        high = self.visit(node.high)
        value = t.and_([t.compare("<=", low.sql, subject.sql),
                        t.compare("<=", subject.sql, high.sql)])
        return Val(value, faults(subject, low, high))

    # ------------------------------------------------------------ calculations
    def visit_Neg(self, node: c.Neg) -> Val:
        operand = self.visit(node.operand)
        if isinstance(node.type, AmountType):
            return amounts.negate(operand)
        assert operand.bounds is not None
        return checked_whole(Val(t.neg(operand.sql), operand.fault, bounds=-operand.bounds),
                             node)

    def visit_Arith(self, node: c.Arith) -> Val:
        left = self.visit(node.left)
        right = self.visit(node.right)
        kind = node.type
        if isinstance(kind, AmountType):
            if node.op == "*":
                return amounts.multiply(left, right, node.span)
            if node.op in "+-":
                return amounts.add(left, right, node.op == "-", node.span)
            raise Untranslatable("a division outside round(...)", node.span)
        if isinstance(kind, WholeType):
            assert left.bounds is not None and right.bounds is not None
            bounds = {"+": left.bounds + right.bounds, "-": left.bounds - right.bounds,
                      "*": left.bounds * right.bounds}[node.op]
            return checked_whole(Val(t.arith(node.op, left.sql, right.sql),
                                     faults(left, right), bounds=bounds), node)
        if isinstance(kind, DateType):
            return date_shift(node, left, right)
        if isinstance(kind, DurationType):
            return duration(node, left, right)
        raise Untranslatable(f"arithmetic on {kind.describe()}", node.span)

    def visit_Call(self, node: c.Call) -> Val:
        name = node.function
        if name in ("round", "round_up", "round_down"):
            value_node, places_node = node.args
            if not isinstance(places_node, c.Const) or not isinstance(places_node.value, int):
                raise Untranslatable("rounding to a number of places worked out from facts",
                                     node.span)
            places = places_node.value
            if isinstance(value_node, c.Arith) and value_node.op == "/":
                return amounts.round_division(name, self.visit(value_node.left),
                                              self.visit(value_node.right), places, node.span)
            return amounts.round_value(name, self.visit(value_node), places, node.span)
        args = [self.visit(arg) for arg in node.args]
        if name in ("min", "max"):
            if isinstance(node.type, AmountType):
                return amounts.choose(args, name == "min")
            return choose_plain(args, name == "min")
        if name == "abs":
            (value,) = args
            if isinstance(node.type, AmountType):
                return amounts.absolute(value)
            assert value.bounds is not None
            return Val(t.func("ABS", value.sql), value.fault,
                       bounds=Bounds(0, value.bounds.magnitude))
        if name == "count":
            (value,) = args
            return Val(t.cast(t.size(value.sql), "BIGINT"), value.fault,
                       bounds=Bounds(0, BIGINT_LIMIT))
        if name == "days_between":
            start, end = args
            return Val(t.arith("-", end.sql, start.sql), faults(start, end),
                       bounds=Bounds(-LAST_DAY, LAST_DAY))
        raise Untranslatable(f"the function '{name}'", node.span)

    def visit_Lookup(self, node: c.Lookup) -> Val:
        table = self.scope.policy.table(node.table)
        key = self.visit(node.key)
        return lookup(self.scope, table, key, node)

    def visit_WorkingDays(self, node: c.WorkingDays) -> Val:
        start = self.visit(node.start)
        end = self.visit(node.end)
        excluding = self.visit(node.excluding) if node.excluding is not None else None
        code: str | None = None
        if node.calendar is not None:
            if not isinstance(node.calendar, c.Const) or not isinstance(node.calendar.value,
                                                                        str):
                raise Untranslatable("a holiday calendar named by a fact", node.calendar.span)
            code = node.calendar.value
        probe: CalendarProbe | None = None
        if code is not None:
            probe = self.scope.calendars.probe(code, start.sql, end.sql)
        count, problem = self.scope.calendars.count(start.sql, end.sql,
                                                    excluding.sql if excluding else None, probe)
        fault = faults(*(v for v in (start, end, excluding) if v is not None))
        if problem is not None:
            fault = t.coalesce([fault, problem]) if fault is not None else problem
        return Val(count, fault, bounds=Bounds(-LAST_DAY, LAST_DAY))


# ---------------------------------------------------------------- helpers


def short_circuit(op: str, operands: list[Val]) -> Sql | None:
    """The fault of `and`/`or` evaluated left to right, stopping at the first operand that
    settles the answer (false for `and`, true for `or`)."""
    if all(o.fault is None for o in operands):
        return None
    result: Sql = t.null()
    for operand in reversed(operands):
        settles = t.not_(operand.sql) if op == "and" else operand.sql
        branches = []
        if operand.fault is not None:
            branches.append((t.not_null(operand.fault), operand.fault))
        branches.append((settles, t.null()))
        result = t.case(branches, result)
    return result


def checked_whole(value: Val, node: c.CExpr) -> Val:
    assert value.bounds is not None
    if value.bounds.magnitude > BIGINT_LIMIT:
        raise Untranslatable("this calculation can exceed the whole numbers SQL computes "
                             "with (BIGINT)", node.span,
                             help="bound the facts it reads ('whole number from 0 to 1000'), "
                                  "or decide with --engine python", digits=True)
    return value


def in_range(value: Val, bounds: Bounds, allowed: Bounds) -> Val:
    """A date or duration that the interpreter refuses (E408) outside `allowed`."""
    if allowed.low <= bounds.low and bounds.high <= allowed.high:
        return Val(value.sql, value.fault, bounds=bounds)
    if bounds.magnitude > BIGINT_LIMIT:
        raise Untranslatable("this date calculation can exceed what SQL computes with", None)
    outside = t.or_([t.compare("<", value.sql, t.big(allowed.low)),
                     t.compare(">", value.sql, t.big(allowed.high))])
    fault = t.when(outside, t.lit("E408"))
    combined = t.coalesce([value.fault, fault]) if value.fault is not None else fault
    return Val(value.sql, combined, bounds=Bounds(max(bounds.low, allowed.low),
                                                  min(bounds.high, allowed.high)))


def date_shift(node: c.Arith, left: Val, right: Val) -> Val:
    """A date plus or minus a duration (either way round for +), as day numbers."""
    assert left.bounds is not None and right.bounds is not None
    fault = faults(left, right)
    bounds = left.bounds + right.bounds if node.op == "+" else left.bounds - right.bounds
    value = Val(t.arith(node.op, left.sql, right.sql), fault, bounds=bounds)
    return in_range(value, bounds, DAYS)


def duration(node: c.Arith, left: Val, right: Val) -> Val:
    assert left.bounds is not None and right.bounds is not None
    fault = faults(left, right)
    if node.op == "-" and isinstance(node.left.type, DateType):
        bounds = left.bounds - right.bounds
        return Val(t.arith("-", left.sql, right.sql), fault, bounds=bounds)
    bounds = {"+": left.bounds + right.bounds, "-": left.bounds - right.bounds,
              "*": left.bounds * right.bounds}[node.op]
    value = Val(t.arith(node.op, left.sql, right.sql), fault, bounds=bounds)
    return in_range(value, bounds, DURATION)


def choose_plain(values: list[Val], smallest: bool) -> Val:
    best = values[0]
    for other in values[1:]:
        beats = t.compare("<" if smallest else ">", other.sql, best.sql)
        bounds = best.bounds.join(other.bounds) if best.bounds and other.bounds else None
        best = Val(t.when(beats, other.sql, best.sql), faults(best, other), bounds=bounds)
    return best


def list_compare(node: c.Compare, left: Val, right: Val) -> Sql:
    """`==` and `!=` of lists: the same items in the same order; `[]` as an emptiness test."""
    if isinstance(node.right, c.ListExpr) and not node.right.items:
        empty = t.compare("==", t.size(left.sql), t.num(0))
        return empty if node.op == "==" else t.not_(empty)
    if isinstance(node.left, c.ListExpr) and not node.left.items:
        empty = t.compare("==", t.size(right.sql), t.num(0))
        return empty if node.op == "==" else t.not_(empty)
    if node.op not in ("==", "!="):
        raise Untranslatable("ordering lists", node.span)
    return t.compare(node.op, left.sql, right.sql)


def constant(value: Value, kind: Type, span: object) -> Val:
    """A value written in the policy, as SQL."""
    if isinstance(value, bool):
        return Val(t.true() if value else t.false())
    if isinstance(value, int):
        if isinstance(kind, AmountType):
            return amounts.as_amount(Val(t.big(value), bounds=Bounds(value, value)))
        return Val(t.big(value), bounds=Bounds(value, value))
    if isinstance(value, Decimal):
        return decimal_constant(value, span)
    if isinstance(value, datetime.date):
        return Val(t.big(day_number(value)), bounds=Bounds(day_number(value),
                                                           day_number(value)))
    if isinstance(value, datetime.timedelta):
        return Val(t.big(value.days), bounds=Bounds(value.days, value.days))
    if isinstance(value, str):
        return Val(t.lit(value))
    if isinstance(value, tuple):
        element = kind.element if isinstance(kind, ListType) else kind
        items = [constant(item, element, span) for item in value]
        return Val(t.array([item.sql for item in items]))
    raise Untranslatable(f"the value {value!r}", None)


def decimal_constant(value: Decimal, span: object) -> Val:
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    scale = max(-exponent, 0)
    text = format(value.copy_abs(), "f")
    whole = len(text.split(".")[0].lstrip("0")) or 1
    size = Digits(whole, scale)
    if size.total > 38 or exponent > 0:
        raise Untranslatable(f"the amount {value} in SQL", span)  # type: ignore[arg-type]
    number = t.decimal(t.lit(format(value, "f")), size.total, scale)
    return Val(number, digits=size, scale=t.big(scale), negative=t.true() if sign else t.false())


def day_number(day: datetime.date) -> int:
    return day.toordinal() - 1


def lookup(scope: Scope, table: TableInfo, key: Val, node: c.Lookup) -> Val:
    """`table for key`: the row for the key in effect on the as-of day, else the default row
    in effect, else E406 (and E401 when a dated table needs the as-of fact and it is missing)."""
    policy = scope.policy
    fault = key.fault
    as_of: Val | None = None
    if table.dated and policy.as_of is not None:
        as_of = scope.fact(policy.as_of)
        as_of_missing = t.when(t.is_null(as_of.sql), missing(policy.as_of))
        fault = t.coalesce([fault, as_of_missing]) if fault is not None else as_of_missing
    key_type = scope.facts[table.key_fact].type
    assert isinstance(key_type, EnumType)
    branches: list[tuple[Sql, Sql]] = []
    values: list[Val] = []
    for option in key_type.values:
        candidates = [(row, True) for row in table.rows if option in row.keys] + \
                     [(row, False) for row in table.rows if not row.keys]
        inner: list[tuple[Sql, Val]] = []
        for row, _ in candidates:
            found = constant(row.value, table.type, node.span)
            values.append(found)
            if row.effective is None:
                inner.append((t.true(), found))
                break
            if as_of is None:
                continue  # without an as-of day, a dated row is never in effect
            tests = []
            if row.effective.start is not None:
                tests.append(t.compare(">=", as_of.sql, t.big(day_number(row.effective.start))))
            if row.effective.end is not None:
                tests.append(t.compare("<=", as_of.sql, t.big(day_number(row.effective.end))))
            inner.append((t.and_(tests), found))
        branches.append((t.eq(key.sql, t.lit(option)), _pick(inner)))
    if not values:
        raise Untranslatable(f"table '{table.name}' without rows", node.span)
    chosen = t.case([(test, tagged) for test, tagged in branches])
    row_fault = t.when(t.is_null(chosen), t.lit("E406"))
    fault = t.coalesce([fault, row_fault]) if fault is not None else row_fault
    return _lookup_value(table, chosen, fault, values)


def _pick(inner: list[tuple[Sql, Val]]) -> Sql:
    return t.case([(test, found.sql) for test, found in inner])


def _lookup_value(table: TableInfo, chosen: Sql, fault: Sql, values: list[Val]) -> Val:
    kind = table.type
    if isinstance(kind, AmountType):
        raise Untranslatable(f"table '{table.name}' of amounts", None,
                             help="tables of whole numbers, enumerations and yes/no are "
                                  "translated")
    if isinstance(kind, WholeType):
        numbers = [v.bounds for v in values if v.bounds is not None]
        bounds = Bounds(min(b.low for b in numbers), max(b.high for b in numbers))
        return Val(chosen, fault, bounds=bounds)
    if isinstance(kind, (BoolType, EnumType, TextType, ListType)):
        return Val(chosen, fault)
    raise Untranslatable(f"table '{table.name}' of {kind.describe()}", None)
