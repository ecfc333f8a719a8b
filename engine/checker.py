"""Checker: resolves every name, checks types, and builds the `CheckedPolicy` the evaluators run."""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from engine import checked as c
from engine import nodes as n
from engine.diagnostics import Diagnostic, DiagnosticError, Severity, did_you_mean
from engine.source import Source, Span
from engine.valuetypes import (
    AmountType,
    BoolType,
    DateType,
    EmptyListType,
    EnumType,
    ListType,
    TextType,
    Type,
    Value,
    WholeType,
    assignable,
    compatible,
    is_numeric,
)
from engine.visitor import Visitor

_BOOL = BoolType()
_ORDERED = (WholeType, AmountType, DateType)
_RESERVED_RULE_IDS = {"otherwise"}


def check(source: Source, tree: n.PolicyFile) -> tuple[c.CheckedPolicy, list[Diagnostic]]:
    """Checks a parsed policy.

    Returns:
        The checked policy and the warnings found.

    Raises:
        DiagnosticError: with every error (and warning) found, in source order.
    """
    checker = _Checker(source)
    policy = checker.run(tree)
    diagnostics = sorted(checker.diagnostics, key=lambda d: (d.span.start if d.span else 0))
    errors = [d for d in diagnostics if d.is_error]
    if errors or policy is None:
        # Warnings such as "fact never used" are often echoes of an error; show errors alone.
        raise DiagnosticError(errors)
    return policy, diagnostics


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class _Checker(Visitor["c.CExpr | None"]):
    def __init__(self, source: Source) -> None:
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.facts: dict[str, c.FactInfo] = {}
        self.decisions: dict[str, c.DecisionInfo] = {}
        self.outputs: dict[str, c.OutputInfo] = {}
        self.used_facts: set[str] = set()

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

    # ------------------------------------------------------------ the policy
    def run(self, tree: n.PolicyFile) -> c.CheckedPolicy | None:
        strategy: n.Resolve | None = None
        otherwise: n.Otherwise | None = None
        rules: list[n.Rule] = []
        for item in tree.items:
            if isinstance(item, n.FactDecl):
                self.declare_fact(item)
            elif isinstance(item, n.DecisionDecl):
                self.declare(self.decisions, item.name, "decision",
                             c.DecisionInfo(item.name.name, item.description, item.span))
            elif isinstance(item, n.OutputDecl):
                output_type = self.type_of(item.type)
                if output_type is not None:
                    self.declare(self.outputs, item.name, "output",
                                 c.OutputInfo(item.name.name, output_type, item.description,
                                              item.span))
            elif isinstance(item, n.Resolve):
                if strategy is not None:
                    self.error("E109", "the policy says 'resolve' twice", item.span,
                               help=f"keep one; the first is on line {self.line(strategy.span)}")
                strategy = strategy or item
            elif isinstance(item, n.Otherwise):
                if otherwise is not None:
                    self.error("E109", "the policy has two 'otherwise' defaults", item.span,
                               help=f"keep one; the first is on line {self.line(otherwise.span)}")
                otherwise = otherwise or item
            else:
                rules.append(item)

        checked_rules = self.check_rules(rules)
        checked_otherwise = None
        if otherwise is not None:
            checked_otherwise = self.check_decision_part(
                len(checked_rules), "otherwise", None, (), otherwise.decision, otherwise.outputs,
                otherwise.reason, otherwise.citation, otherwise.span)
        else:
            self.warn("W003", "the policy has no 'otherwise' default", tree.header.span,
                      help="when no rule matches, evaluation refuses to decide; add "
                           "'otherwise DECISION because \"...\"' to give a default")
        self.unused(checked_rules, checked_otherwise)
        if any(d.is_error for d in self.diagnostics):
            return None
        return c.CheckedPolicy(
            name=tree.header.name.name,
            title=tree.header.title,
            version=tree.header.version,
            strategy=strategy.strategy if strategy else "first match",
            facts=tuple(self.facts.values()),
            decisions=tuple(self.decisions.values()),
            outputs=tuple(self.outputs.values()),
            rules=tuple(r for r in checked_rules if r is not None),
            otherwise=checked_otherwise,
            source=self.source,
        )

    def declare(self, table: dict[str, Any], name: n.Name, kind: str, info: object) -> None:
        if name.name in table:
            first = table[name.name]
            self.error("E105", f"{kind} '{name.name}' is declared twice", name.span,
                       help=f"the first declaration is on line "
                            f"{self.line(getattr(first, 'span', Span(0, 0)))}")
            return
        table[name.name] = info

    def declare_fact(self, decl: n.FactDecl) -> None:
        fact_type = self.type_of(decl.type)
        if fact_type is None:
            return
        default: Value | None = None
        if decl.default is not None:
            default = self.constant(decl.default, fact_type, f"the default of '{decl.name.name}'")
        self.declare(self.facts, decl.name, "fact",
                     c.FactInfo(decl.name.name, fact_type, decl.optional or default is not None,
                                default, decl.description, decl.span))

    def constant(self, expr: n.Expr, target: Type, what: str) -> Value | None:
        typed = self.visit(expr, target)
        if typed is None:
            return None
        if not assignable(typed.type, target):
            self.error("E207", f"{what} must be {target.describe()}, not {typed.type.describe()}",
                       expr.span)
            return None
        value = _constant_value(typed)
        if value is None:
            self.error("E207", f"{what} must be a literal value", expr.span,
                       help="write a number, a quoted text, yes/no, a date, a value or a list")
            return None
        if not _within(value, target):
            self.error("E207", f"{what} is outside {target.describe()}", expr.span)
            return None
        return value

    # ------------------------------------------------------------ types
    def type_of(self, ref: n.TypeRef, in_list: bool = False) -> Type | None:
        if ref.kind == "bool":
            return BoolType()
        if ref.kind == "text":
            return TextType()
        if ref.kind == "date":
            return DateType()
        if ref.kind in ("whole", "amount"):
            return self.bounded(ref)
        if ref.kind == "enum":
            seen: dict[str, n.Name] = {}
            for value in ref.values:
                if value.name in seen:
                    self.error("E107", f"'{value.name}' is listed twice", value.span)
                seen.setdefault(value.name, value)
            return EnumType(tuple(seen))
        assert ref.kind == "list" and ref.element is not None
        if ref.element.kind not in ("enum", "text"):
            self.error("E205", f"a list holds enumeration values or text, not "
                               f"{_kind_words(ref.element.kind)}", ref.element.span,
                       help="write 'list of one of a, b, c' or 'list of text'")
            return None
        element = self.type_of(ref.element, in_list=True)
        return None if element is None else ListType(element)

    def bounded(self, ref: n.TypeRef) -> Type | None:
        low = ref.minimum.value if ref.minimum else None
        high = ref.maximum.value if ref.maximum else None
        for bound in (ref.minimum, ref.maximum):
            if ref.kind == "whole" and bound is not None and isinstance(bound.value, Decimal):
                self.error("E206", f"a whole number's bound must be whole, not {bound.text}",
                           bound.span)
                return None
        if low is not None and high is not None and low > high:
            self.error("E206", f"the lower bound {low} is above the upper bound {high}", ref.span)
            return None
        if ref.kind == "whole":
            return WholeType(_int(low), _int(high))
        return AmountType(_dec(low), _dec(high))

    # ------------------------------------------------------------ rules
    def check_rules(self, rules: list[n.Rule]) -> list[c.CheckedRule | None]:
        seen: dict[str, n.Rule] = {}
        out: list[c.CheckedRule | None] = []
        for rule in rules:
            rule_id = rule.id.name
            if rule_id in _RESERVED_RULE_IDS:
                self.error("E110", f"'{rule_id}' is reserved and cannot be a rule id", rule.id.span)
            if rule_id in seen:
                self.error("E106", f"rule id '{rule_id}' is used twice", rule.id.span,
                           help=f"the first rule '{rule_id}' is on line "
                                f"{self.line(seen[rule_id].span)}; rule ids must be unique")
            seen.setdefault(rule_id, rule)
            condition = self.visit(rule.condition, _BOOL)
            if condition is not None and not isinstance(condition.type, BoolType):
                self.error("E202", f"a condition must be yes/no, but this is "
                                   f"{condition.type.describe()}", rule.condition.span,
                           help="compare it with something, for example: x > 0 or x is value")
                condition = None
            conjuncts = tuple(self.conjunct(e) for e in _conjuncts(condition)) if condition else ()
            out.append(self.check_decision_part(
                len(out), rule_id, rule.title, conjuncts, rule.decision, rule.outputs,
                rule.reason, rule.citation, rule.span))
        return out

    def conjunct(self, expr: c.CExpr) -> c.Conjunct:
        text = " ".join(self.source.snippet(expr.span).split())
        facts = tuple(dict.fromkeys(_facts_read(expr)))
        return c.Conjunct(expr, text, facts, expr.span)

    def check_decision_part(
        self, index: int, rule_id: str, title: str | None, conjuncts: tuple[c.Conjunct, ...],
        decision: n.Name, assignments: tuple[n.Assignment, ...], reason: n.Text | None,
        citation: n.Text | None, span: Span,
    ) -> c.CheckedRule | None:
        ok = True
        if decision.name not in self.decisions:
            ok = False
            self.error("E103", f"unknown decision '{decision.name}'", decision.span,
                       help=did_you_mean(decision.name, self.decisions)
                       or _declare_help("decision", decision.name, self.decisions))
        outputs: dict[str, c.CExpr] = {}
        for assignment in assignments:
            name = assignment.output.name
            info = self.outputs.get(name)
            if info is None:
                ok = False
                self.error("E104", f"unknown output '{name}'", assignment.output.span,
                           help=did_you_mean(name, self.outputs)
                           or _declare_help("output", name, self.outputs))
                continue
            if name in outputs:
                ok = False
                self.error("E108", f"output '{name}' is set twice", assignment.output.span)
                continue
            value = self.visit(assignment.value, info.type)
            if value is None:
                ok = False
                continue
            if not assignable(value.type, info.type):
                ok = False
                self.error("E204", f"output '{name}' is {info.type.describe()}, but this is "
                                   f"{value.type.describe()}", assignment.value.span)
                continue
            outputs[name] = value
        if not ok:
            return None
        order = list(self.outputs)
        return c.CheckedRule(
            index=index, id=rule_id, title=title, conjuncts=conjuncts, decision=decision.name,
            outputs=tuple(sorted(outputs.items(), key=lambda kv: order.index(kv[0]))),
            reason=reason.value if reason else None,
            citation=citation.value if citation else None,
            line=self.line(span), span=span,
        )

    def unused(self, rules: list[c.CheckedRule | None], otherwise: c.CheckedRule | None) -> None:
        returned = {r.decision for r in rules if r is not None}
        if otherwise is not None:
            returned.add(otherwise.decision)
        for info in self.decisions.values():
            if info.name not in returned:
                self.warn("W001", f"decision '{info.name}' is never returned by any rule",
                          info.span, help="remove it, or write the rule that returns it")
        for fact in self.facts.values():
            if fact.name not in self.used_facts:
                self.warn("W002", f"fact '{fact.name}' is never used", fact.span,
                          help="remove it, or use it in a rule")

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
        if isinstance(expect, EnumType) and node.name in expect.values:
            return c.Const(node.name, expect, node.span)
        fact = self.facts.get(node.name)
        if fact is not None:
            self.used_facts.add(node.name)
            return c.FactRef(node.name, fact.type, node.span)
        if isinstance(expect, EnumType):
            self.error("E102", f"unknown value '{node.name}'; expected one of "
                               f"{', '.join(expect.values)}", node.span,
                       help=did_you_mean(node.name, expect.values))
            return None
        owners = [f.name for f in self.facts.values() if node.name in _enum_values(f.type)]
        if owners:
            self.error("E101", f"'{node.name}' is not a fact; it is a value of '{owners[0]}'",
                       node.span, help=f"compare the fact with it: {owners[0]} is {node.name}")
            return None
        self.error("E101", f"unknown fact '{node.name}'", node.span,
                   help=did_you_mean(node.name, self.facts)
                   or _declare_help("fact", node.name, self.facts))
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
            if not compatible(first, item.type):
                self.error("E201", f"a list mixes {first.describe()} and {item.type.describe()}",
                           item.span)
                return None
        if isinstance(first, (ListType, EmptyListType)):
            self.error("E205", "a list cannot hold lists", node.span)
            return None
        list_type = ListType(element if element is not None and all(
            assignable(i.type, element) for i in typed) else first)
        return c.ListExpr(tuple(typed), list_type, node.span)

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
            self.error("E203", f"'-' needs a number, not {operand.type.describe()}", node.span)
            return None
        result: Type = WholeType() if isinstance(operand.type, WholeType) else AmountType()
        return c.Neg(operand, result, node.span)

    def need_bool(self, expr: c.CExpr, what: str) -> bool:
        if isinstance(expr.type, BoolType):
            return True
        self.error("E202", f"{what} needs a yes/no condition, but this is {expr.type.describe()}",
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
        return c.Logic(node.op, tuple(operands), _BOOL, node.span)

    def visit_Binary(self, node: n.Binary, expect: Type | None) -> c.CExpr | None:
        if node.op in ("+", "-", "*", "/"):
            return self.arithmetic(node)
        return self.comparison(node)

    def arithmetic(self, node: n.Binary) -> c.CExpr | None:
        left = self.visit(node.left, None)
        right = self.visit(node.right, None)
        if left is None or right is None:
            return None
        if not (is_numeric(left.type) and is_numeric(right.type)):
            bad = left if not is_numeric(left.type) else right
            self.error("E203", f"'{node.op}' works on numbers and amounts, not "
                               f"{bad.type.describe()}", bad.span)
            return None
        whole = isinstance(left.type, WholeType) and isinstance(right.type, WholeType)
        result: Type = WholeType() if whole and node.op != "/" else AmountType()
        return c.Arith(node.op, left, right, result, node.span)

    def pair(self, left: n.Expr, right: n.Expr) -> tuple[c.CExpr | None, c.CExpr | None]:
        """Checks two operands, letting a fact on either side give a bare value its enumeration."""
        if isinstance(left, n.Name) and left.name not in self.facts and not (
            isinstance(right, n.Name) and right.name not in self.facts
        ):
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
            if not compatible(left.type, right.type):
                self.mismatch(node.op, left, right, node.span)
                return None
        elif not (
            (is_numeric(left.type) and is_numeric(right.type))
            or (isinstance(left.type, DateType) and isinstance(right.type, DateType))
        ):
            if isinstance(left.type, _ORDERED) and isinstance(right.type, _ORDERED):
                self.mismatch(node.op, left, right, node.span)
            else:
                bad = right if isinstance(left.type, _ORDERED) else left
                self.error("E203", f"'{node.op}' orders numbers, amounts and dates, not "
                                   f"{bad.type.describe()}", bad.span,
                           help="use 'is' or '==' to compare values that have no order")
            return None
        return c.Compare(node.op, left, right, _BOOL, node.span)

    def mismatch(self, op: str, left: c.CExpr, right: c.CExpr, span: Span) -> None:
        self.error("E201", f"cannot compare {left.type.describe()} with {right.type.describe()} "
                           f"using '{op}'", span)

    def visit_Is(self, node: n.Is, expect: Type | None) -> c.CExpr | None:
        subject, value = self.pair(node.subject, node.value)
        if subject is None or value is None:
            return None
        if is_numeric(subject.type) or isinstance(subject.type, (DateType, ListType)):
            op = "!=" if node.negated else "=="
            self.error("E203", f"'is' compares enumeration values, yes/no and text, not "
                               f"{subject.type.describe()}", node.span,
                       help=f"use '{op}' for numbers, amounts and dates")
            return None
        if not compatible(subject.type, value.type):
            self.mismatch("is not" if node.negated else "is", subject, value, node.span)
            return None
        return c.Compare("!=" if node.negated else "==", subject, value, _BOOL, node.span)

    def visit_In(self, node: n.In, expect: Type | None) -> c.CExpr | None:
        subject = self.visit(node.subject, None)
        if subject is None:
            return None
        if isinstance(subject.type, (ListType, EmptyListType, BoolType)):
            self.error("E203", f"'in' tests one value, not {subject.type.describe()}", node.span,
                       help="to test a list, write: LIST contains VALUE")
            return None
        options = self.visit(node.options, ListType(subject.type))
        if options is None:
            return None
        if isinstance(options.type, EmptyListType):
            pass
        elif not isinstance(options.type, ListType):
            self.error("E203", f"'in' needs a list after it, not {options.type.describe()}",
                       options.span, help="write the options in brackets: x in [a, b]")
            return None
        elif not compatible(subject.type, options.type.element):
            self.mismatch("in", subject, options, node.span)
            return None
        return c.InList(subject, options, node.negated, _BOOL, node.span)

    def visit_Contains(self, node: n.Contains, expect: Type | None) -> c.CExpr | None:
        subject = self.visit(node.subject, None)
        if subject is None:
            return None
        if not isinstance(subject.type, ListType):
            self.error("E203", f"'contains' needs a list on its left, not "
                               f"{subject.type.describe()}", subject.span,
                       help="to test one value against options, write: VALUE in [a, b]")
            return None
        item = self.visit(node.item, subject.type.element)
        if item is None:
            return None
        if not compatible(subject.type.element, item.type):
            self.mismatch("contains", subject, item, node.span)
            return None
        return c.ListContains(subject, item, _BOOL, node.span)

    def visit_Presence(self, node: n.Presence, expect: Type | None) -> c.CExpr | None:
        subject = node.subject
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
            ok = (is_numeric(subject.type) and is_numeric(bound.type)) or (
                isinstance(subject.type, DateType) and isinstance(bound.type, DateType))
            if not ok:
                self.error("E203", f"'between' needs numbers, amounts or dates; got "
                                   f"{subject.type.describe()} and {bound.type.describe()}",
                           node.span)
                return None
        return c.Between(subject, low, high, _BOOL, node.span)


# ---------------------------------------------------------------- helpers


def _conjuncts(expr: c.CExpr) -> Iterator[c.CExpr]:
    if isinstance(expr, c.Logic) and expr.op == "and":
        for operand in expr.operands:
            yield from _conjuncts(operand)
    else:
        yield expr


def _facts_read(expr: c.CExpr) -> Iterator[str]:
    if isinstance(expr, c.FactRef):
        yield expr.name
    elif isinstance(expr, c.Presence):
        yield expr.fact
    for name in getattr(expr, "__slots__", ()):
        child = getattr(expr, name)
        if isinstance(child, tuple):
            for item in child:
                if hasattr(item, "span") and hasattr(item, "type"):
                    yield from _facts_read(item)
        elif hasattr(child, "span") and hasattr(child, "type") and name != "type":
            yield from _facts_read(child)


def _enum_values(t: Type) -> tuple[str, ...]:
    if isinstance(t, EnumType):
        return t.values
    if isinstance(t, ListType):
        return _enum_values(t.element)
    return ()


def _constant_value(expr: c.CExpr) -> Value | None:
    if isinstance(expr, c.Const):
        return expr.value
    if isinstance(expr, c.ListExpr):
        values = [_constant_value(item) for item in expr.items]
        if any(v is None for v in values):
            return None
        return tuple(v for v in values if v is not None)
    if isinstance(expr, c.Neg) and isinstance(expr.operand, c.Const):
        value = expr.operand.value
        if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
            return -value
    return None


def _within(value: Value, t: Type) -> bool:
    if isinstance(t, (WholeType, AmountType)) and isinstance(value, (int, Decimal)):
        return (t.minimum is None or value >= t.minimum) and (
            t.maximum is None or value <= t.maximum)
    return True


def _int(value: int | Decimal | None) -> int | None:
    return None if value is None else int(value)


def _dec(value: int | Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _kind_words(kind: str) -> str:
    return {"bool": "yes/no", "whole": "whole numbers", "amount": "amounts", "date": "dates",
            "list": "lists"}.get(kind, kind)


def _declare_help(kind: str, name: str, known: Mapping[str, object]) -> str:
    if not known:
        return f"declare it first: {kind} {name} ..."
    listed = ", ".join(sorted(known)[:8]) + (", ..." if len(known) > 8 else "")
    return f"declared {kind}s: {listed}"
