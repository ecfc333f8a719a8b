"""Checker (expressions): resolves the names in one expression and checks its types.

The declaration checker (`checker.py`) extends this class; it owns the tables of facts,
derived values and tables that names resolve against.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from decimal import Decimal

from policy_engine.check import checked as c
from policy_engine.check.grouping import grouped_text, ungrouped
from policy_engine.check.types import (
    AmountType,
    BoolType,
    CalendarMonths,
    DateType,
    DurationType,
    EmptyListType,
    EnumType,
    ListType,
    MonthsType,
    TextType,
    Type,
    WholeType,
    article,
    assignable,
    compatible,
    is_numeric,
)
from policy_engine.core.calendars import supported
from policy_engine.core.diagnostics import Diagnostic, Severity, did_you_mean
from policy_engine.core.source import Source, Span
from policy_engine.core.visitor import Visitor
from policy_engine.language import nodes as n
from policy_engine.language.name_hints import dashed_name_help

BOOL = BoolType()
_BOOL = BOOL
_ORDERED = (WholeType, AmountType, DateType, DurationType, MonthsType)
#: Types that order among themselves only (numbers order with numbers, see `is_numeric`).
_SELF_ORDERED = (DateType, DurationType, MonthsType)
#: The help line when days and months meet in one comparison or calculation.
_DAYS_AND_MONTHS = ("a month has no fixed number of days, so days and months do not mix; add "
                    "each to a date and compare dates, for example: "
                    "ordered_on + 1 month + 10 days < as_of_date")
_ROUNDING = ("round", "round_up", "round_down")
_FUNCTIONS = _ROUNDING + ("min", "max", "abs", "count", "days_between")


class ExpressionChecker(Visitor["c.CExpr | None"]):
    """Checks expressions against the declared facts, derived values and tables."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.facts: dict[str, c.FactInfo] = {}
        self.defines: dict[str, c.DefineInfo] = {}
        self.tables: dict[str, c.TableInfo] = {}
        self.used_facts: set[str] = set()
        self.used_defines: set[str] = set()
        self.rounded: set[int] = set()  # ids of divisions written inside round(...)
        self.broken: set[str] = set()  # declared, but with an error already reported
        self.later_defines: dict[str, n.Define] = {}  # derived values not checked yet

    # ------------------------------------------------------------ reporting
    def error(self, code: str, message: str, span: Span, help: str | None = None,
              notes: tuple[str, ...] = ()) -> None:
        self.diagnostics.append(
            Diagnostic(code, message, self.source, span, help=help, notes=notes))

    def warn(self, code: str, message: str, span: Span, help: str | None = None) -> None:
        self.diagnostics.append(
            Diagnostic(code, message, self.source, span, help=help, severity=Severity.WARNING)
        )

    def line(self, span: Span) -> int:
        return self.source.line_col(span.start)[0]

    # ------------------------------------------------------------ expressions
    def visit_Number(self, node: n.Number, expect: Type | None) -> c.CExpr:
        if isinstance(node.value, Decimal):
            return c.Const(node.value, AmountType(), node.span)
        return c.Const(node.value, WholeType(), node.span)

    def visit_Text(self, node: n.Text, expect: Type | None) -> c.CExpr:
        return c.Const(node.value, TextType(), node.span)

    def visit_Bool(self, node: n.Bool, expect: Type | None) -> c.CExpr:
        return c.Const(node.value, _BOOL, node.span)

    def visit_DateLit(self, node: n.DateLit, expect: Type | None) -> c.CExpr | None:
        try:
            value = datetime.date.fromisoformat(node.value)
        except ValueError:
            self.error("E005", f"'{node.value}' is not a real date", node.span,
                       help="write dates as YYYY-MM-DD, for example 2024-02-29")
            return None
        return c.Const(value, DateType(), node.span)

    def visit_Name(self, node: n.Name, expect: Type | None) -> c.CExpr | None:
        if isinstance(expect, EnumType) and node.name in _value_set(expect):
            return c.Const(node.name, expect, node.span)
        fact = self.facts.get(node.name)
        if fact is not None:
            self.used_facts.add(node.name)
            return c.FactRef(node.name, fact.type, node.span)
        define = self.defines.get(node.name)
        if define is not None:
            self.used_defines.add(node.name)
            return c.FactRef(node.name, define.type, node.span)
        if node.name in self.tables:
            self.error("E113", f"'{node.name}' is a table; look a value up in it", node.span,
                       help=f"write: {node.name} for {self.tables[node.name].key_fact}")
            return None
        if node.name in self.broken:
            return None
        if node.name in self.later_defines:
            later = self.later_defines[node.name]
            line = self.source.line_col(later.span.start)[0]
            self.error("E116", f"derived value '{node.name}' is used before it is defined",
                       node.span, help=f"it is defined on line {line}; move that 'define' above "
                                       f"this line (a derived value cannot use itself)")
            return None
        if isinstance(expect, EnumType):
            self.error("E102", f"unknown value '{node.name}'; expected one of "
                               f"{', '.join(expect.values)}", node.span,
                       help=did_you_mean(node.name, expect.values))
            return None
        owners = [f.name for f in self.facts.values() if node.name in _enum_values(f.type)]
        if owners:
            owner = self.facts[owners[0]]
            verb = "contains" if isinstance(owner.type, ListType) else "is"
            self.error("E101", f"'{node.name}' is not a fact; it is a value of '{owners[0]}'",
                       node.span, help=f"compare the fact with it: {owners[0]} {verb} {node.name}")
            return None
        self.error("E101", f"unknown fact '{node.name}'", node.span,
                   help=self.dashed_help(node.span) or did_you_mean(node.name, self.facts)
                   or declare_help("fact", node.name, self.facts))
        return None

    def dashed_help(self, span: Span) -> str | None:
        """For a name joined to the next or the last by '-' (`base-fee`, read as a
        subtraction): names join their words with '_'."""
        text = self.source.text
        if text[span.end : span.end + 1] == "-":
            return dashed_name_help(text, span.end)
        if text[span.start - 1 : span.start] == "-":
            return dashed_name_help(text, span.start - 1)
        return None

    def visit_ListLit(self, node: n.ListLit, expect: Type | None) -> c.CExpr | None:
        element = expect.element if isinstance(expect, ListType) else None
        items = [self.visit(item, element) for item in node.items]
        if any(item is None for item in items):
            return None
        typed = [item for item in items if item is not None]
        if not typed:
            return c.ListExpr((), EmptyListType(), node.span)
        first = typed[0].type
        for item in typed[1:]:
            if not _compatible(first, item.type):
                self.error("E201", f"a list mixes {article(first)} and {article(item.type)}",
                           item.span)
                return None
        if isinstance(first, (ListType, EmptyListType)):
            self.error("E205", "a list cannot hold lists", node.span)
            return None
        list_type = ListType(element if element is not None and all(
            assignable(i.type, element) for i in typed) else first)
        return c.ListExpr(tuple(typed), list_type, node.span)

    def visit_Conditional(self, node: n.Conditional, expect: Type | None) -> c.CExpr | None:
        test = self.visit(node.test, _BOOL)
        then = self.visit(node.then, expect)
        otherwise = self.visit(node.otherwise, then.type if then is not None else expect)
        if test is None or then is None or otherwise is None:
            return None
        if not self.need_bool(test, "'if'"):
            return None
        if not _compatible(then.type, otherwise.type):
            self.error("E201", f"'then' gives {article(then.type)} but 'else' gives "
                               f"{article(otherwise.type)}", node.span,
                       help="both branches of 'if' must give the same kind of value")
            return None
        result = then.type
        if is_numeric(result) and is_numeric(otherwise.type):
            result = _plain_numeric(result) if type(result) is type(otherwise.type) \
                else AmountType()
        elif isinstance(result, EmptyListType):
            result = otherwise.type
        return c.Conditional(test, then, otherwise, result, node.span)

    def visit_Unary(self, node: n.Unary, expect: Type | None) -> c.CExpr | None:
        if node.op == "not":
            operand = self.visit(node.operand, _BOOL)
            if operand is None or not self.need_bool(operand, "'not'"):
                return None
            return c.Not(operand, _BOOL, node.span)
        operand = self.visit(node.operand, None)
        if operand is None:
            return None
        if not is_numeric(operand.type):
            self.error("E203", f"'-' needs a number, not {article(operand.type)}", node.span)
            return None
        result: Type = WholeType() if isinstance(operand.type, WholeType) else AmountType()
        return c.Neg(operand, result, node.span)

    def need_bool(self, expr: c.CExpr, what: str) -> bool:
        if isinstance(expr.type, BoolType):
            return True
        self.error("E202", f"{what} needs a yes/no condition, but this is {article(expr.type)}",
                   expr.span, help="compare it with something, for example: x > 0 or x is value")
        return False

    def visit_Logic(self, node: n.Logic, expect: Type | None) -> c.CExpr | None:
        typed = [self.visit(operand, _BOOL) for operand in node.operands]
        if any(t is None for t in typed):
            return None
        ok = [self.need_bool(t, f"'{node.op}'") for t in typed if t is not None]
        if not all(ok):
            return None
        operands: list[c.CExpr] = []
        for side in typed:
            if isinstance(side, c.Logic) and side.op == node.op:
                operands.extend(side.operands)  # `a and (b and c)` is `a and b and c`
            elif side is not None:
                operands.append(side)
        logic = c.Logic(node.op, tuple(operands), _BOOL, node.span)
        # Each `or` as written (before `a or (b or c)` is merged) warns for its own operands.
        written = c.Logic(node.op, tuple(t for t in typed if t is not None), _BOOL, node.span)
        if node.op == "or" and any(ungrouped(self.source, written)):
            self.warn("W007", "'and' and 'or' mixed without parentheses", node.span,
                      help=f"'and' binds more tightly than 'or', so this reads as: "
                           f"{grouped_text(self.source, logic)}; write the parentheses "
                           f"('policy fmt' adds them)")
        return logic

    def visit_Binary(self, node: n.Binary, expect: Type | None) -> c.CExpr | None:
        if node.op in ("+", "-", "*", "/"):
            return self.arithmetic(node)
        return self.comparison(node)

    def arithmetic(self, node: n.Binary) -> c.CExpr | None:
        left = self.visit(node.left, None)
        right = self.visit(node.right, None)
        if left is None or right is None:
            return None
        if is_numeric(left.type) and is_numeric(right.type):
            if node.op == "/" and id(node) not in self.rounded:
                text = " ".join(self.source.snippet(node.span).split())
                slashed = _SLASHED_DATE.match(self.source.text, node.span.start)
                self.error("E209", "a division must say how its result is rounded", node.span,
                           help=f"write dates as YYYY-MM-DD, for example 2024-03-01: "
                                f"{slashed[0]} reads as a division" if slashed else
                                f"write round({text}, 2) for 2 decimal places (halves away "
                                f"from zero), or round_down(...) / round_up(...)")
                return None
            whole = isinstance(left.type, WholeType) and isinstance(right.type, WholeType)
            result: Type = WholeType() if whole and node.op != "/" else AmountType()
            return c.Arith(node.op, left, right, result, node.span)
        dated = _date_arithmetic(node.op, left.type, right.type)
        if dated is None:
            calendar = (DateType, DurationType, MonthsType)
            if isinstance(left.type, calendar) or isinstance(right.type, calendar):
                self.error("E203", f"'{node.op}' cannot combine {article(left.type)} and "
                                   f"{article(right.type)}", node.span,
                           help=_DAYS_AND_MONTHS if _days_and_months(left.type, right.type)
                           else "dates and durations combine as: date - date, date + 45 days, "
                                "date - 2 weeks, date + 1 month, date - 1 year, "
                                "45 days + 1 day, 3 * 7 days, 2 * 6 months")
            else:
                bad = left if not is_numeric(left.type) else right
                self.error("E203", f"'{node.op}' works on numbers and amounts, not "
                                   f"{article(bad.type)}", bad.span)
            return None
        return c.Arith(node.op, left, right, dated, node.span)

    def pair(self, left: n.Expr, right: n.Expr) -> tuple[c.CExpr | None, c.CExpr | None]:
        """Checks two operands, letting a fact on either side give a bare value its enumeration."""
        facts, defines = self.facts, self.defines

        def bare(node: n.Expr) -> bool:
            if isinstance(node, n.ListLit):
                return bool(node.items) and all(bare(item) for item in node.items)
            return (isinstance(node, n.Name) and node.name not in facts
                    and node.name not in defines)

        if bare(left) and not bare(right):
            right_typed = self.visit(right, None)
            left_typed = self.visit(left, right_typed.type if right_typed else None)
            return left_typed, right_typed
        left_typed = self.visit(left, None)
        return left_typed, self.visit(right, left_typed.type if left_typed else None)

    def comparison(self, node: n.Binary) -> c.CExpr | None:
        left, right = self.pair(node.left, node.right)
        if left is None or right is None:
            return None
        if node.op in ("==", "!="):
            if not _compatible(left.type, right.type):
                self.mismatch(node.op, left, right, node.span)
                return None
        elif not _ordered_pair(left.type, right.type):
            if isinstance(left.type, _ORDERED) and isinstance(right.type, _ORDERED):
                self.mismatch(node.op, left, right, node.span)
                if _days_and_months(left.type, right.type):
                    self.diagnostics[-1] = Diagnostic(
                        "E201", self.diagnostics[-1].message, self.source, node.span,
                        help=self.compare_dates_help(node.op, left, right))
                elif {type(left.type), type(right.type)} & {DurationType, MonthsType}:
                    unit = "12 months" if MonthsType in {type(left.type), type(right.type)} \
                        else "45 days"
                    self.diagnostics[-1] = Diagnostic(
                        "E201", self.diagnostics[-1].message, self.source, node.span,
                        help=f"write durations with their unit, for example: > {unit}")
            else:
                bad = right if isinstance(left.type, _ORDERED) else left
                self.error("E203", f"'{node.op}' orders numbers, amounts and dates, not "
                                   f"{article(bad.type)}", bad.span,
                           help=_quoted_literal_help(left, right)
                           or "use 'is' or '==' to compare values that have no order")
            return None
        return c.Compare(node.op, left, right, _BOOL, node.span)

    def compare_dates_help(self, op: str, left: c.CExpr, right: c.CExpr) -> str:
        """The help for days compared with months; for `A - B <= 2 years`, the comparison of
        dates that says it: `A <= B + 2 years`."""
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
        days, months = (left, right) if isinstance(left.type, DurationType) else (right, left)
        if not (isinstance(days, c.Arith) and days.op == "-"
                and isinstance(days.left.type, DateType)):
            return _DAYS_AND_MONTHS
        later, earlier, shift = (self.plain_text(days.left), self.plain_text(days.right),
                                 self.plain_text(months))
        if days is right:  # `2 years < A - B` reads `B + 2 years < A`
            op = flipped[op]
        return (f"a month has no fixed number of days; compare the dates instead: "
                f"{later} {op} {earlier} + {shift}")

    def plain_text(self, expr: c.CExpr) -> str:
        """An operand's source text, in parentheses unless it is a single word or literal."""
        text = " ".join(self.source.snippet(expr.span).split())
        simple = isinstance(expr, (c.FactRef, c.Const)) and not isinstance(expr, c.ListExpr)
        return text if simple else f"({text})"

    def mismatch(self, op: str, left: c.CExpr, right: c.CExpr, span: Span) -> None:
        help = None
        enum, text = (left, right) if isinstance(left.type, EnumType) else (right, left)
        if isinstance(enum.type, EnumType) and isinstance(text, c.Const) and \
                isinstance(text.type, TextType):
            help = f"enumeration values are written without quotes, for example: " \
                   f"{self.source.snippet(enum.span)} is {enum.type.values[0]}"
        help = help or _quoted_literal_help(left, right)
        self.error("E201", f"cannot compare {article(left.type)} with {article(right.type)} "
                           f"using '{op}'", span, help=help)

    def visit_Is(self, node: n.Is, expect: Type | None) -> c.CExpr | None:
        subject_fact = self.facts.get(node.subject.name) if isinstance(node.subject, n.Name) \
            else None
        if subject_fact is not None and isinstance(subject_fact.type, ListType):
            self.used_facts.add(subject_fact.name)
            shown = " ".join(self.source.snippet(node.value.span).split())
            self.error("E203", f"'is' compares one value, and '{subject_fact.name}' is "
                               f"{article(subject_fact.type)}", node.span,
                       help=f"to test what the list holds, write: {subject_fact.name} contains "
                            f"{shown}")
            return None
        subject, value = self.pair(node.subject, node.value)
        if subject is None or value is None:
            return None
        if is_numeric(subject.type) or isinstance(subject.type, (DateType, ListType)):
            op = "!=" if node.negated else "=="
            self.error("E203", f"'is' compares enumeration values, yes/no and text, not "
                               f"{article(subject.type)}", node.span,
                       help=f"use '{op}' for numbers, amounts and dates")
            return None
        if not _compatible(subject.type, value.type):
            self.mismatch("is not" if node.negated else "is", subject, value, node.span)
            return None
        return c.Compare("!=" if node.negated else "==", subject, value, _BOOL, node.span)

    def visit_In(self, node: n.In, expect: Type | None) -> c.CExpr | None:
        known = self.facts.keys() | self.defines.keys()
        if isinstance(node.subject, n.Name) and node.subject.name not in known and \
                isinstance(node.options, n.Name) and node.options.name in known:
            # `photo in evidence`: the list fact gives the bare value its enumeration
            options_first = self.visit(node.options, None)
            element = options_first.type.element if options_first is not None and isinstance(
                options_first.type, ListType) else None
            subject = self.visit(node.subject, element)
        else:
            subject = self.visit(node.subject, None)
        if subject is None:
            return None
        if isinstance(subject.type, (ListType, EmptyListType, BoolType)):
            self.error("E203", f"'in' tests one value, not {article(subject.type)}", node.span,
                       help="to test a list, write: LIST contains VALUE")
            return None
        options = self.visit(node.options, ListType(subject.type))
        if options is None:
            return None
        if isinstance(options.type, EmptyListType):
            pass
        elif not isinstance(options.type, ListType):
            self.error("E203", f"'in' needs a list after it, not {article(options.type)}",
                       options.span, help="write the options in brackets: x in [a, b]")
            return None
        elif not _compatible(subject.type, options.type.element):
            self.mismatch("in", subject, options, node.span)
            return None
        return c.InList(subject, options, node.negated, _BOOL, node.span)

    def visit_Contains(self, node: n.Contains, expect: Type | None) -> c.CExpr | None:
        subject = self.visit(node.subject, None)
        if subject is None:
            return None
        if not isinstance(subject.type, ListType):
            self.error("E203", f"'contains' needs a list on its left, not "
                               f"{article(subject.type)}", subject.span,
                       help="to test one value against options, write: VALUE in [a, b]")
            return None
        item = self.visit(node.item, subject.type.element)
        if item is None:
            return None
        if not _compatible(subject.type.element, item.type):
            self.mismatch("contains", subject, item, node.span)
            return None
        return c.ListContains(subject, item, _BOOL, node.span)

    def visit_Presence(self, node: n.Presence, expect: Type | None) -> c.CExpr | None:
        subject = node.subject
        if isinstance(subject, n.Name) and subject.name in self.defines:
            self.error("E208", f"'{subject.name}' is a derived value, never missing; test the "
                               "facts it is computed from", subject.span)
            return None
        if not isinstance(subject, n.Name) or subject.name not in self.facts:
            if isinstance(subject, n.Name):
                return self.visit(subject, None)  # reports the unknown fact
            self.error("E208", "'is missing' and 'is present' apply to a fact", subject.span)
            return None
        fact = self.facts[subject.name]
        self.used_facts.add(fact.name)
        if fact.default is not None or not fact.optional:
            why = "it has a default" if fact.default is not None else "it is required"
            self.warn("W004", f"'{fact.name}' is never missing: {why}", node.span,
                      help="declare it 'optional' without a default, or drop this test")
        return c.Presence(fact.name, node.present, _BOOL, node.span)

    def visit_Between(self, node: n.Between, expect: Type | None) -> c.CExpr | None:
        subject = self.visit(node.subject, None)
        low = self.visit(node.low, None)
        high = self.visit(node.high, None)
        if subject is None or low is None or high is None:
            return None
        for bound in (low, high):
            if not _ordered_pair(subject.type, bound.type):
                self.error("E203", f"'between' needs numbers, amounts or dates; got "
                                   f"{article(subject.type)} and {article(bound.type)}",
                           node.span)
                return None
        return c.Between(subject, low, high, _BOOL, node.span)


    # ------------------------------------------------------------ dates, tables, functions
    def visit_Duration(self, node: n.Duration, expect: Type | None) -> c.CExpr:
        return c.Const(datetime.timedelta(days=node.days), DurationType(), node.span)

    def visit_Months(self, node: n.Months, expect: Type | None) -> c.CExpr:
        return c.Const(CalendarMonths(node.months), MonthsType(), node.span)

    def need(self, node: n.Expr | None, kind: type, words: str, what: str) -> c.CExpr | None:
        if node is None:
            return None
        typed = self.visit(node, None)
        if typed is not None and not isinstance(typed.type, kind):
            self.error("E203", f"{what} needs {words}, not {article(typed.type)}", node.span)
            return None
        return typed

    def visit_WorkingDays(self, node: n.WorkingDays, expect: Type | None) -> c.CExpr | None:
        what = "'working days from ... to ...'"
        start = self.need(node.start, DateType, "a date", what)
        end = self.need(node.end, DateType, "a date", what)
        excluding = None
        if node.excluding is not None:
            excluding = self.visit(node.excluding, ListType(DateType()))
            if excluding is not None and not (
                isinstance(excluding.type, EmptyListType)
                or (isinstance(excluding.type, ListType)
                    and isinstance(excluding.type.element, DateType))
            ):
                self.error("E203", f"'excluding' needs a list of dates, not "
                                   f"{article(excluding.type)}", node.excluding.span)
                return None
            if excluding is None:
                return None
        calendar = self.need(node.calendar, TextType, "text (a country code such as \"DE\")",
                             "'calendar'")
        if node.calendar is not None and calendar is None:
            return None
        if isinstance(calendar, c.Const) and isinstance(calendar.value, str):
            if calendar.value not in supported():
                self.error("E210", f"unknown holiday calendar '{calendar.value}'", calendar.span,
                           help=did_you_mean(calendar.value, supported())
                           or "use an ISO 3166 country code such as \"DE\" or \"RU\"")
                return None
        if start is None or end is None:
            return None
        return c.WorkingDays(start, end, excluding, calendar, WholeType(), node.span)

    def visit_Lookup(self, node: n.Lookup, expect: Type | None) -> c.CExpr | None:
        table = self.tables.get(node.table.name)
        if table is None and node.table.name in self.broken:
            return None
        if table is None:
            self.error("E113", f"unknown table '{node.table.name}'", node.table.span,
                       help=did_you_mean(node.table.name, self.tables)
                       or declare_help("table", node.table.name, self.tables))
            return None
        key_type = self.facts[table.key_fact].type
        key = self.visit(node.key, key_type)
        if key is None:
            return None
        if not _compatible(key.type, key_type):
            self.error("E201", f"table '{table.name}' is keyed by {article(key_type)}, not "
                               f"{article(key.type)}", node.key.span)
            return None
        return c.Lookup(table.name, key, table.type, node.span)

    def visit_Call(self, node: n.Call, expect: Type | None) -> c.CExpr | None:
        name = node.function.name
        if name not in _FUNCTIONS:
            self.error("E118", f"unknown function '{name}'", node.function.span,
                       help=did_you_mean(name, _FUNCTIONS)
                       or f"the functions are: {', '.join(_FUNCTIONS)}")
            return None
        if name in _ROUNDING:
            return self.rounding(node)
        args = [self.visit(arg, None) for arg in node.args]
        if any(a is None for a in args):
            return None
        typed = [a for a in args if a is not None]
        if name == "days_between":
            if len(typed) != 2 or not all(isinstance(a.type, DateType) for a in typed):
                return self.bad_call(node, "days_between(START, END) takes two dates")
            return c.Call(name, tuple(typed), WholeType(), node.span)
        if name == "count":
            if len(typed) != 1 or not isinstance(typed[0].type, (ListType, EmptyListType)):
                return self.bad_call(node, "count(LIST) takes one list")
            return c.Call(name, tuple(typed), WholeType(), node.span)
        if name == "abs":
            if len(typed) != 1 or not is_numeric(typed[0].type):
                return self.bad_call(node, "abs(NUMBER) takes one number or amount")
            return c.Call(name, tuple(typed), _plain_numeric(typed[0].type), node.span)
        # min and max
        if len(typed) < 2:
            return self.bad_call(node, f"{name}(A, B, ...) takes two or more values")
        kinds = {("number" if is_numeric(a.type) else type(a.type).__name__) for a in typed}
        if len(kinds) != 1 or not isinstance(typed[0].type, _ORDERED):
            return self.bad_call(node, f"{name} compares numbers, amounts, dates or durations "
                                       f"of one kind")
        result = typed[0].type
        if is_numeric(result):
            result = AmountType() if any(isinstance(a.type, AmountType) for a in typed) \
                else WholeType()
        return c.Call(name, tuple(typed), result, node.span)

    def rounding(self, node: n.Call) -> c.CExpr | None:
        name = node.function.name
        if len(node.args) != 2:
            return self.bad_call(node, f"{name}(VALUE, PLACES) takes a value and a number of "
                                       f"decimal places")
        value_node, places_node = node.args
        if isinstance(value_node, n.Binary) and value_node.op == "/":
            self.rounded.add(id(value_node))
        value = self.visit(value_node, None)
        places = self.visit(places_node, None)
        if value is None or places is None:
            return None
        if not is_numeric(value.type):
            return self.bad_call(node, f"{name} rounds a number or an amount, not "
                                       f"{article(value.type)}")
        if not (isinstance(places, c.Const) and isinstance(places.value, int)
                and not isinstance(places.value, bool) and 0 <= places.value <= 28):
            return self.bad_call(node, "the number of decimal places is a whole number from "
                                       "0 to 28, written as a literal")
        return c.Call(name, (value, places), AmountType(), node.span)

    def bad_call(self, node: n.Call, message: str) -> c.CExpr | None:
        self.error("E118", message, node.span)
        return None



# ---------------------------------------------------------------- helpers


def _date_arithmetic(op: str, left: Type, right: Type) -> Type | None:
    kinds = (type(left), type(right))
    if op == "-" and kinds == (DateType, DateType):
        return DurationType()
    if op in "+-" and kinds == (DateType, DurationType):
        return DateType()
    if op == "+" and kinds == (DurationType, DateType):
        return DateType()
    if op in "+-" and kinds == (DurationType, DurationType):
        return DurationType()
    if op == "*" and kinds in ((DurationType, WholeType), (WholeType, DurationType)):
        return DurationType()
    # Calendar months: a date moves by months; months add up, and multiply by whole numbers.
    if op in "+-" and kinds == (DateType, MonthsType):
        return DateType()
    if op == "+" and kinds == (MonthsType, DateType):
        return DateType()
    if op in "+-" and kinds == (MonthsType, MonthsType):
        return MonthsType()
    if op == "*" and kinds in ((MonthsType, WholeType), (WholeType, MonthsType)):
        return MonthsType()
    return None


def _ordered_pair(a: Type, b: Type) -> bool:
    """Whether `<`, `between`, `min` and the like can order values of these two types."""
    if is_numeric(a) and is_numeric(b):
        return True
    return isinstance(a, _SELF_ORDERED) and type(a) is type(b)


def _days_and_months(a: Type, b: Type) -> bool:
    """Whether one side counts days (a duration) and the other months."""
    return {type(a), type(b)} == {DurationType, MonthsType}


def _plain_numeric(t: Type) -> Type:
    return WholeType() if isinstance(t, WholeType) else AmountType()



def _enum_values(t: Type) -> tuple[str, ...]:
    if isinstance(t, EnumType):
        return t.values
    if isinstance(t, ListType):
        return _enum_values(t.element)
    return ()


def declare_help(kind: str, name: str, known: Mapping[str, object]) -> str:
    if not known:
        return f"declare it first: {kind} {name} ..."
    listed = ", ".join(sorted(known)[:8]) + (", ..." if len(known) > 8 else "")
    return f"declared {kind}s: {listed}"


#: The values of each enumeration type seen, as a set: policies with hundreds of values test
#: membership once per name. Keyed by identity (the type is kept alive beside its set).
_VALUE_SETS: dict[int, tuple[EnumType, frozenset[str]]] = {}


def _value_set(t: EnumType) -> frozenset[str]:
    entry = _VALUE_SETS.get(id(t))
    if entry is None or entry[0] is not t:
        if len(_VALUE_SETS) > 4096:
            _VALUE_SETS.clear()
        entry = (t, frozenset(t.values))
        _VALUE_SETS[id(t)] = entry
    return entry[1]


def _compatible(a: Type, b: Type) -> bool:
    # A type is compatible with itself; checking that first skips comparing two sets of
    # enumeration values, which is most of the time of `x is v` on a large enumeration.
    return a is b or compatible(a, b)


def _quoted_literal_help(left: c.CExpr, right: c.CExpr) -> str | None:
    """The help when a date or a number was written in quotes (`>= "2024-01-01"`) and compared
    with a date or a number: quotes make any value text, so the fix is to drop them."""
    for quoted, other in ((left, right), (right, left)):
        if not (isinstance(quoted, c.Const) and isinstance(quoted.type, TextType)
                and isinstance(quoted.value, str)):
            continue
        text = quoted.value.strip()
        if isinstance(other.type, DateType) and _DATE_TEXT.fullmatch(text):
            kind = "a date"
        elif is_numeric(other.type) and _NUMBER_TEXT.fullmatch(text):
            kind = "a number"
        else:
            continue
        return f'drop the quotes: {text} is {kind}, but "{quoted.value}" in quotes is text'
    return None


_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: A date written with slashes (01/03/2024), which reads as two divisions.
_SLASHED_DATE = re.compile(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}(?![0-9])")
_NUMBER_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
