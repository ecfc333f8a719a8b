"""Checker: checks declarations and rules, and builds the `CheckedPolicy` the evaluators run."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from policy_engine.check import checked as c
from policy_engine.check.expression_checker import BOOL, ExpressionChecker, declare_help
from policy_engine.check.grouping import grouped_text
from policy_engine.check.quotes import collect as collect_quotes
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
    article,
    assignable,
)
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from policy_engine.core.source import Source, Span
from policy_engine.language import nodes as n

_BOOL = BOOL
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


class _Checker(ExpressionChecker):
    """Checks declarations, rules and the policy as a whole; expressions are checked by the
    `ExpressionChecker` it extends."""

    def __init__(self, source: Source) -> None:
        super().__init__(source)
        self.decisions: dict[str, c.DecisionInfo] = {}
        self.outputs: dict[str, c.OutputInfo] = {}
        self.as_of: str | None = None
        self.as_of_node: n.AsOf | None = None

    # ------------------------------------------------------------ the policy
    def run(self, tree: n.PolicyFile) -> c.CheckedPolicy | None:
        strategy: n.Resolve | None = None
        otherwise: n.Otherwise | None = None
        rules: list[n.Rule] = []
        later: list[n.Item] = []
        for item in tree.items:
            if isinstance(item, (n.Define, n.Table, n.Require, n.Ensure, n.Advisory, n.AsOf)):
                later.append(item)
                continue
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

        # Tables, derived values and the as-of date come before anything that may use them.
        for item in later:
            if isinstance(item, n.AsOf):
                self.declare_as_of(item)
        for item in later:
            if isinstance(item, n.Table):
                self.declare_table(item)
        self.later_defines = {item.name.name: item for item in later if isinstance(item, n.Define)}
        for item in later:
            if isinstance(item, n.Define):
                self.declare_define(item)
                self.later_defines.pop(item.name.name, None)
        requires = [self.check_require(i) for i in later if isinstance(i, n.Require)]
        ensures = [self.check_ensure(i) for i in later if isinstance(i, n.Ensure)]
        checked_rules = self.check_rules(rules)
        checked_otherwise = None
        refusal = None
        if otherwise is not None and otherwise.decision is None:
            refusal = c.RefusalInfo(otherwise.label,
                                    otherwise.reason.value if otherwise.reason else None,
                                    otherwise.citation.value if otherwise.citation else None,
                                    self.line(otherwise.span))
        elif otherwise is not None and otherwise.decision is not None:
            checked_otherwise = self.check_decision_part(
                len(checked_rules), "otherwise", None, (), otherwise.decision, otherwise.outputs,
                otherwise.reason, otherwise.citation, otherwise.span, kind="otherwise")
        first_advisory = len(checked_rules) + (1 if checked_otherwise is not None else 0)
        advisories = [self.check_advisory(first_advisory + i, a) for i, a in
                      enumerate(x for x in later if isinstance(x, n.Advisory))]
        self.check_overrides(rules, checked_rules)
        self.check_dated(checked_rules, advisories)
        if otherwise is None:
            self.warn("W003", "the policy has no 'otherwise' default", tree.header.span,
                      help="when no rule matches, evaluation refuses to decide; add "
                           "'otherwise DECISION because \"...\"' to give a default, or "
                           "'otherwise refuse because \"...\"' to say the refusal is meant")
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
            as_of=self.as_of,
            defines=tuple(self.defines.values()),
            tables=tuple(self.tables.values()),
            requires=tuple(r for r in requires if r is not None),
            ensures=tuple(e for e in ensures if e is not None),
            advisories=tuple(a for a in advisories if a is not None),
            refusal=refusal,
            document=collect_quotes(self.source, tree),
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
            self.broken.add(decl.name.name)  # already reported; uses of it say nothing more
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
            self.error("E207", f"{what} must be {article(target)}, not {article(typed.type)}",
                       expr.span)
            return None
        value = _constant_value(typed)
        if value is None:
            self.error("E207", f"{what} must be a literal value", expr.span,
                       help="write a number, a quoted text, yes/no, a date, a value or a list")
            return None
        if not _within(value, target):
            self.error("E207", f"{what} is outside {article(target)}", expr.span)
            return None
        if isinstance(target, AmountType) and isinstance(value, int) \
                and not isinstance(value, bool):
            return Decimal(value)  # an amount is a Decimal, even when written as 0
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
        if ref.element.kind not in ("enum", "text", "date"):
            self.error("E205", f"a list holds enumeration values, text or dates, not "
                               f"{_kind_words(ref.element.kind)}", ref.element.span,
                       help="write 'list of one of a, b, c', 'list of text' or 'list of date'")
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
        seen: dict[str, list[tuple[n.Rule, c.Effective | None]]] = {}
        out: list[c.CheckedRule | None] = []
        for rule in rules:
            rule_id = rule.id.name
            if rule_id in _RESERVED_RULE_IDS:
                self.error("E110", f"'{rule_id}' is reserved and cannot be a rule id", rule.id.span)
            effective = self.effective(rule.effective)
            for other, other_effective in seen.get(rule_id, []):
                if effective is None or other_effective is None:
                    self.error("E106", f"rule id '{rule_id}' is used twice", rule.id.span,
                               help=f"the first rule '{rule_id}' is on line "
                                    f"{self.line(other.span)}; rule ids must be unique, unless "
                                    f"each version says when it is in effect")
                elif _overlap(effective, other_effective):
                    self.error("E106", f"two versions of rule '{rule_id}' are in effect on the "
                                       f"same days", rule.effective.span if rule.effective
                               else rule.id.span,
                               help=f"the other version is on line {self.line(other.span)}; "
                                    f"make their 'effective' dates not overlap")
            seen.setdefault(rule_id, []).append((rule, effective))
            conjuncts = self.condition(rule.condition)
            out.append(self.check_decision_part(
                len(out), rule_id, rule.title, conjuncts, rule.decision, rule.outputs,
                rule.reason, rule.citation, rule.span,
                overrides=tuple(o.name for o in rule.overrides), effective=effective))
        return out

    def condition(self, expr: n.Expr) -> tuple[c.Conjunct, ...]:
        """Checks a rule's condition and splits it into its top-level `and` operands."""
        condition = self.visit(expr, _BOOL)
        if condition is not None and not isinstance(condition.type, BoolType):
            self.error("E202", f"a condition must be yes/no, but this is "
                               f"{article(condition.type)}", expr.span,
                       help="compare it with something, for example: x > 0 or x is value")
            condition = None
        return tuple(self.conjunct(e) for e in _conjuncts(condition)) if condition else ()

    def conjunct(self, expr: c.CExpr) -> c.Conjunct:
        # One walk for the facts read and for whether the text needs grouping: without an
        # `and`/`or` inside, the grouped text is the text (a large policy has ~3 a rule).
        facts: list[str] = []
        mixed = False
        for node in c.walk(expr):
            if isinstance(node, c.FactRef):
                facts.append(node.name)
            elif isinstance(node, c.Presence):
                facts.append(node.fact)
            elif isinstance(node, c.Logic):
                mixed = True
        text = self.text(expr)
        return c.Conjunct(expr, text, tuple(dict.fromkeys(facts)),
                          grouped_text(self.source, expr) if mixed else text, expr.span)

    def text(self, expr: c.CExpr | n.Expr) -> str:
        return " ".join(self.source.snippet(expr.span).split())

    def check_decision_part(
        self, index: int, rule_id: str, title: str | None, conjuncts: tuple[c.Conjunct, ...],
        decision: n.Name, assignments: tuple[n.Assignment, ...], reason: n.Text | None,
        citation: n.Text | None, span: Span, *, kind: str = "rule",
        overrides: tuple[str, ...] = (), effective: c.Effective | None = None,
    ) -> c.CheckedRule | None:
        ok = True
        if decision.name not in self.decisions:
            ok = False
            self.error("E103", f"unknown decision '{decision.name}'", decision.span,
                       help=did_you_mean(decision.name, self.decisions)
                       or declare_help("decision", decision.name, self.decisions))
        outputs: dict[str, c.CExpr] = {}
        for assignment in assignments:
            name = assignment.output.name
            info = self.outputs.get(name)
            if info is None:
                ok = False
                self.error("E104", f"unknown output '{name}'", assignment.output.span,
                           help=did_you_mean(name, self.outputs)
                           or declare_help("output", name, self.outputs))
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
                self.error("E204", f"output '{name}' is {article(info.type)}, but this is "
                                   f"{article(value.type)}", assignment.value.span)
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
            line=self.line(span), span=span, kind=kind, overrides=overrides,
            effective=effective,
        )

    # ------------------------------------------------------------ exceptions and dates
    def check_overrides(self, rules: list[n.Rule], checked: list[c.CheckedRule | None]) -> None:
        ids = {rule.id.name for rule in rules}
        graph: dict[str, set[str]] = {}
        for rule in rules:
            for target in rule.overrides:
                if target.name == rule.id.name:
                    self.error("E112", f"rule '{target.name}' cannot override itself",
                               target.span)
                elif target.name not in ids:
                    self.error("E111", f"unknown rule '{target.name}'", target.span,
                               help=did_you_mean(target.name, ids)
                               or "'overrides' names the rules this rule is an exception to")
                else:
                    graph.setdefault(rule.id.name, set()).add(target.name)
        for rule in rules:
            if _reaches(graph, rule.id.name, rule.id.name):
                self.error("E112", f"rule '{rule.id.name}' is, through 'overrides', an "
                                   f"exception to itself", rule.id.span,
                           help="exceptions must form a hierarchy: a rule cannot both override "
                                "and be overridden by the same rule")
                break

    def effective(self, node: n.Effective | None) -> c.Effective | None:
        if node is None:
            return None
        start = self.date_value(node.start)
        end = self.date_value(node.end)
        if start is not None and end is not None and end < start:
            self.error("E206", f"the period ends ({end.isoformat()}) before it starts "
                               f"({start.isoformat()})", node.span)
        return c.Effective(start, end)

    def date_value(self, node: n.DateLit | None) -> datetime.date | None:
        if node is None:
            return None
        typed = self.visit_DateLit(node, None)
        return typed.value if isinstance(typed, c.Const) else None  # type: ignore[return-value]

    def check_dated(self, rules: list[c.CheckedRule | None],
                    advisories: list[c.CheckedRule | None]) -> None:
        dated = [r for r in rules + advisories if r is not None and r.effective is not None]
        dated_tables = [t for t in self.tables.values() if t.dated]
        if (dated or dated_tables) and self.as_of is None:
            first = dated[0].span if dated else dated_tables[0].span
            self.error("E117", "rules or table rows say when they are in effect, but the policy "
                               "does not say which date fact is today", first,
                       help="declare the date fact that selects versions, for example: "
                            "as of as_of_date")

    def declare_as_of(self, item: n.AsOf) -> None:
        if self.as_of_node is not None:
            self.error("E109", "the policy says 'as of' twice", item.span)
            return
        self.as_of_node = item
        fact = self.facts.get(item.fact.name)
        if fact is None:
            self.visit_Name(item.fact, None)  # unknown fact, with did-you-mean
            return
        if not isinstance(fact.type, DateType):
            self.error("E117", f"'as of' needs a date fact; '{fact.name}' is "
                               f"{article(fact.type)}", item.fact.span)
            return
        self.used_facts.add(fact.name)
        self.as_of = fact.name

    # ------------------------------------------------------------ tables and derived values
    def declare_table(self, item: n.Table) -> None:
        name = item.name.name
        if name in self.tables:
            self.error("E105", f"table '{name}' is declared twice", item.name.span)
            return
        key_fact = self.facts.get(item.key.name)
        value_type = self.type_of(item.type)
        self.broken.add(name)  # until the table is complete, uses of it say nothing more
        if key_fact is None:
            self.visit_Name(item.key, None)
            return
        if not isinstance(key_fact.type, EnumType):
            self.error("E114", f"a table is keyed by an enumeration fact; '{key_fact.name}' is "
                               f"{article(key_fact.type)}", item.key.span)
            return
        if value_type is None:
            return
        self.used_facts.add(key_fact.name)
        values = key_fact.type.values
        rows: list[c.TableRowInfo] = []
        covered: set[str] = set()
        has_default = False
        for row in item.rows:
            for key in row.keys:
                if key.name not in values:
                    self.error("E114", f"'{key.name}' is not a value of '{key_fact.name}'",
                               key.span, help=did_you_mean(key.name, values)
                               or f"the values are: {', '.join(values)}")
            value = self.constant(row.value, value_type, f"a row of table '{name}'")
            effective = self.effective(row.effective)
            if value is None:
                continue
            for other in rows:
                same_keys = set(other.keys) & {k.name for k in row.keys} or (
                    not other.keys and not row.keys)
                if same_keys and (other.effective is None or effective is None
                                  or _overlap(effective, other.effective)):
                    label = ", ".join(sorted(same_keys)) if isinstance(same_keys, set) \
                        else "default"
                    self.error("E114", f"table '{name}' has two rows for {label} in effect on "
                                       f"the same days", row.span,
                               help=f"the other row is on line {other.line}")
            rows.append(c.TableRowInfo(tuple(k.name for k in row.keys), value, effective,
                                       self.line(row.span)))
            covered.update(k.name for k in row.keys)
            has_default = has_default or not row.keys
        missing = [v for v in values if v not in covered]
        if missing and not has_default:
            self.error("E115", f"table '{name}' has no row for {', '.join(missing)}", item.span,
                       help="add a row for each, or a 'default = ...' row")
        elif missing:
            self.warn("W005", f"table '{name}' uses its default row for {', '.join(missing)}",
                      item.span, help="add rows for them if the default is not meant for them")
        self.tables[name] = c.TableInfo(name, item.description, key_fact.name, value_type,
                                        tuple(rows), item.span)
        self.broken.discard(name)

    def declare_define(self, item: n.Define) -> None:
        name = item.name.name
        if name in self.facts or name in self.defines:
            self.error("E105", f"'{name}' is already declared", item.name.span,
                       help="a derived value needs a name no fact or other value has")
            return
        value = self.visit(item.value, None)
        if value is None:
            self.broken.add(name)
            return
        self.defines[name] = c.DefineInfo(name, value.type, value, self.text(item.value),
                                          item.description, item.span)

    # ------------------------------------------------------------ input constraints
    def guard(self, expr: n.Expr | None) -> tuple[c.CExpr | None, str | None, bool]:
        if expr is None:
            return None, None, True
        typed = self.visit(expr, _BOOL)
        if typed is None or not self.need_bool(typed, "'when'"):
            return None, None, False
        return typed, self.text(expr), True

    def check_require(self, item: n.Require) -> c.RequireInfo | None:
        ok = True
        for name in item.facts:
            fact = self.facts.get(name.name)
            if fact is None:
                self.visit_Name(name, None)
                ok = False
            elif fact.default is not None:
                self.warn("W004", f"'{fact.name}' is never missing: it has a default", name.span)
            else:
                self.used_facts.add(fact.name)
        when, when_text, guard_ok = self.guard(item.when)
        if not (ok and guard_ok):
            return None
        return c.RequireInfo(tuple(n_.name for n_ in item.facts), when, when_text, item.reason,
                             self.line(item.span), item.span, item.label)

    def check_ensure(self, item: n.Ensure) -> c.EnsureInfo | None:
        condition = self.visit(item.condition, _BOOL)
        when, when_text, guard_ok = self.guard(item.when)
        if condition is None or not self.need_bool(condition, "'ensure'") or not guard_ok:
            return None
        facts = tuple(dict.fromkeys(_facts_read(condition)))
        return c.EnsureInfo(condition, self.text(item.condition), facts, when, when_text,
                            item.reason, self.line(item.span), item.span, item.label)

    # ------------------------------------------------------------ advisories
    def check_advisory(self, index: int, item: n.Advisory) -> c.CheckedRule | None:
        conjuncts = self.condition(item.condition)
        effective = self.effective(item.effective)
        info = self.outputs.get(item.output.name)
        if info is None:
            self.error("E104", f"unknown output '{item.output.name}'", item.output.span,
                       help=did_you_mean(item.output.name, self.outputs)
                       or declare_help("output", item.output.name, self.outputs))
            return None
        if not isinstance(info.type, ListType):
            self.error("E204", f"an advisory adds to a list output; '{info.name}' is "
                               f"{article(info.type)}", item.output.span)
            return None
        items = [self.visit(value, info.type.element) for value in item.items]
        if any(i is None for i in items) or not conjuncts:
            return None
        for value, typed in zip(item.items, items, strict=True):
            assert typed is not None
            if not assignable(typed.type, info.type.element):
                self.error("E204", f"'{info.name}' holds {article(info.type.element)}, not "
                                   f"{article(typed.type)}", value.span)
                return None
        added = c.ListExpr(tuple(i for i in items if i is not None), info.type, item.span)
        return c.CheckedRule(
            index=index, id=item.id.name, title=item.title, conjuncts=conjuncts,
            decision=info.name, outputs=((info.name, added),), reason=item.reason.value,
            citation=item.citation.value if item.citation else None,
            line=self.line(item.span), span=item.span, kind="advisory", effective=effective)

    def unused(self, rules: list[c.CheckedRule | None], otherwise: c.CheckedRule | None) -> None:
        returned = {r.decision for r in rules if r is not None}
        if otherwise is not None:
            returned.add(otherwise.decision)
        for info in self.decisions.values():
            if info.name not in returned:
                self.warn("W001", f"decision '{info.name}' is never returned by any rule",
                          info.span, help="remove it, or write the rule that returns it")
        for define in self.defines.values():
            if define.name not in self.used_defines:
                self.warn("W006", f"derived value '{define.name}' is never used", define.span,
                          help="remove it, or use it in a rule")
        for fact in self.facts.values():
            # An optional fact no rule reads can still be part of an interface or a record;
            # a required one makes every caller send data for nothing.
            if fact.name not in self.used_facts and fact.required:
                self.warn("W002", f"required fact '{fact.name}' is never used", fact.span,
                          help="callers must send it for nothing: use it in a rule, make it "
                               "optional, or remove it")

# ---------------------------------------------------------------- helpers


def _overlap(a: c.Effective, b: c.Effective) -> bool:
    starts = [d for d in (a.start, b.start) if d is not None]
    ends = [d for d in (a.end, b.end) if d is not None]
    return not (starts and ends and max(starts) > min(ends))


def _reaches(graph: dict[str, set[str]], start: str, target: str) -> bool:
    seen: set[str] = set()
    stack = list(graph.get(start, ()))
    while stack:
        node = stack.pop()
        if node == target:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return False


def _conjuncts(expr: c.CExpr) -> Iterator[c.CExpr]:
    if isinstance(expr, c.Logic) and expr.op == "and":
        for operand in expr.operands:
            yield from _conjuncts(operand)
    else:
        yield expr


def _facts_read(expr: c.CExpr) -> list[str]:
    """The facts an expression reads, in the order `c.walk` meets them (repeats included)."""
    return [node.name if isinstance(node, c.FactRef) else node.fact
            for node in c.walk(expr) if isinstance(node, (c.FactRef, c.Presence))]


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


