"""Lowering: turns the Lark parse tree into `nodes`, decoding literals and keeping spans."""

from __future__ import annotations

from typing import Any

from lark import Token, Tree
from lark.tree import Meta

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.source import Source, Span
from policy_engine.language import nodes as n
from policy_engine.language.literals import (
    DURATION_HELP,
    DURATION_PROBLEM,
    MONTHS_PROBLEM,
    NUMBER_HELP,
    BadEscape,
    duration_days,
    duration_months,
    months_text,
    number_problem,
    number_value,
    unescape,
)

#: The deepest parse tree lowered: deeper ones (hundreds of nested levels, which only a program
#: writes) are refused with E006 whatever Python's recursion limit, so that the checker and the
#: compiler, which recurse once per level too, always have room.
MAX_DEPTH = 300

class _LiteralError(Exception):
    def __init__(self, code: str, message: str, span: Span, help: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.span, self.help = code, message, span, help


def _span(meta: Meta) -> Span:
    return Span(getattr(meta, "start_pos", 0), getattr(meta, "end_pos", 0))


def _tspan(token: Token) -> Span:
    start = token.start_pos or 0
    return Span(start, token.end_pos if token.end_pos is not None else start + len(token))


def decode_string(token: Token) -> str:
    """Decodes a quoted text: only \\" \\\\ \\n and \\t are escapes; anything else is an error."""
    try:
        return unescape(str(token)[1:-1])
    except BadEscape as bad:
        start = (token.start_pos or 0) + 1 + bad.index
        raise _LiteralError(
            "E004", f"unknown escape '\\{bad.escaped}' in a quoted text", Span(start, start + 2),
            help='the escapes are \\" \\\\ \\n and \\t; write \\\\ for a backslash',
        ) from None


def _number(token: Token) -> n.Number:
    text = str(token)
    problem = number_problem(text)
    if problem is not None:
        raise _LiteralError("E005", problem, _tspan(token), help=NUMBER_HELP)
    return n.Number(number_value(text), text, _tspan(token))


def _name(token: Token) -> n.Name:
    return n.Name(str(token), _tspan(token))


def _opt_string(token: Token | None) -> str | None:
    return None if token is None else decode_string(token)


class _Lower:
    """A transformer from parse tree to nodes: one method per grammar rule, called with the
    rule's meta (its positions) and its children already lowered, bottom up.

    It does the work of a Lark `Transformer` with `v_args(meta=True)` without its per-call
    wrapper objects, which took a third of the time of lowering a large policy.
    """

    def transform(self, tree: Tree[Token], depth: int) -> Any:
        if depth <= 0:
            # The checker and the compiler recurse once per level too: a tree this deep would
            # exhaust Python's stack in one of them. `Policy.from_text` reports E006.
            raise RecursionError("the policy is nested too deeply")
        children = [self.transform(child, depth - 1) if isinstance(child, Tree) else child
                    for child in tree.children]
        method = getattr(self, tree.data, None)
        if method is None:
            return Tree(tree.data, children, tree.meta)
        return method(tree.meta, children)

    # ------------------------------------------------------------ file and header
    def start(self, meta: Meta, children: list[Any]) -> n.PolicyFile:
        return n.PolicyFile(children[0], tuple(children[1:]), _span(meta))

    def header(self, meta: Meta, children: list[Any]) -> n.Header:
        name, title, version, document = children
        return n.Header(_name(name), _opt_string(title), version, _span(meta), document)

    def document(self, meta: Meta, children: list[Any]) -> n.Text:
        return n.Text(decode_string(children[0]), _tspan(children[0]))

    def judgment(self, meta: Meta, children: list[Any]) -> bool:
        return True

    def version(self, meta: Meta, children: list[Any]) -> str:
        return decode_string(children[0])

    # ------------------------------------------------------------ declarations
    def fact_decl(self, meta: Meta, children: list[Any]) -> n.FactDecl:
        name, description, optional, type_ref, default = children
        return n.FactDecl(_name(name), _opt_string(description), type_ref, optional is not None,
                          default, _span(meta))

    def optional(self, meta: Meta, children: list[Any]) -> bool:
        return True

    def default(self, meta: Meta, children: list[Any]) -> n.Expr:
        return children[0]  # type: ignore[no-any-return]

    def decision_decl(self, meta: Meta, children: list[Any]) -> n.DecisionDecl:
        return n.DecisionDecl(_name(children[0]), _opt_string(children[1]), _span(meta))

    def output_decl(self, meta: Meta, children: list[Any]) -> n.OutputDecl:
        name, description, type_ref = children
        return n.OutputDecl(_name(name), _opt_string(description), type_ref, _span(meta))

    def resolve_first(self, meta: Meta, children: list[Any]) -> n.Resolve:
        return n.Resolve("first match", _span(meta))

    def resolve_unique(self, meta: Meta, children: list[Any]) -> n.Resolve:
        return n.Resolve("unique", _span(meta))

    def resolve_agreeing(self, meta: Meta, children: list[Any]) -> n.Resolve:
        return n.Resolve("agreeing", _span(meta))

    # ------------------------------------------------------------ types
    def t_bool(self, meta: Meta, children: list[Any]) -> n.TypeRef:
        return n.TypeRef("bool", span=_span(meta))

    def t_text(self, meta: Meta, children: list[Any]) -> n.TypeRef:
        return n.TypeRef("text", span=_span(meta))

    def t_date(self, meta: Meta, children: list[Any]) -> n.TypeRef:
        return n.TypeRef("date", span=_span(meta))

    def t_whole(self, meta: Meta, children: list[Any]) -> n.TypeRef:
        low, high = children[0] or (None, None)
        return n.TypeRef("whole", minimum=low, maximum=high, span=_span(meta))

    def t_amount(self, meta: Meta, children: list[Any]) -> n.TypeRef:
        low, high = children[0] or (None, None)
        return n.TypeRef("amount", minimum=low, maximum=high, span=_span(meta))

    def t_enum(self, meta: Meta, children: list[Any]) -> n.TypeRef:
        return n.TypeRef("enum", values=tuple(_name(t) for t in children), span=_span(meta))

    def t_list(self, meta: Meta, children: list[Any]) -> n.TypeRef:
        return n.TypeRef("list", element=children[0], span=_span(meta))

    def b_range(self, meta: Meta, children: list[Any]) -> tuple[Any, Any]:
        return children[0], children[1]

    def b_least(self, meta: Meta, children: list[Any]) -> tuple[Any, Any]:
        return children[0], children[1]

    def b_most(self, meta: Meta, children: list[Any]) -> tuple[Any, Any]:
        return None, children[0]

    def signed(self, meta: Meta, children: list[Any]) -> n.Number:
        minus, number = children
        value = _number(number)
        if minus is None:
            return value
        return n.Number(-value.value, "-" + value.text, _span(meta))

    def as_of(self, meta: Meta, children: list[Any]) -> n.AsOf:
        return n.AsOf(_name(children[0]), _span(meta))

    def define(self, meta: Meta, children: list[Any]) -> n.Define:
        name, description, value = children
        return n.Define(_name(name), _opt_string(description), value, _span(meta))

    def table_decl(self, meta: Meta, children: list[Any]) -> n.Table:
        name, description, key, type_ref, *rows = children
        return n.Table(_name(name), _opt_string(description), _name(key), type_ref, tuple(rows),
                       _span(meta))

    def table_row(self, meta: Meta, children: list[Any]) -> n.TableRow:
        keys, value, effective = children
        return n.TableRow(keys, value, effective, _span(meta))

    def row_values(self, meta: Meta, children: list[Any]) -> tuple[n.Name, ...]:
        return tuple(_name(t) for t in children)

    def row_default(self, meta: Meta, children: list[Any]) -> tuple[n.Name, ...]:
        return ()

    def require(self, meta: Meta, children: list[Any]) -> n.Require:
        *facts, when, label, reason = children
        return n.Require(tuple(_name(t) for t in facts), when, _opt_string(reason),
                         None if label is None else str(label), _span(meta))

    def ensure(self, meta: Meta, children: list[Any]) -> n.Ensure:
        condition, when, label, reason = children
        return n.Ensure(condition, when, _opt_string(reason),
                        None if label is None else str(label), _span(meta))

    def effective_from(self, meta: Meta, children: list[Any]) -> n.Effective:
        start, end = children
        return n.Effective(n.DateLit(str(start), _tspan(start)),
                           None if end is None else n.DateLit(str(end), _tspan(end)), _span(meta))

    def effective_until(self, meta: Meta, children: list[Any]) -> n.Effective:
        return n.Effective(None, n.DateLit(str(children[0]), _tspan(children[0])), _span(meta))

    # ------------------------------------------------------------ rules
    def rule(self, meta: Meta, children: list[Any]) -> n.Rule:
        (rule_id, title, overrides, effective, condition, decision, outputs, reason, judgment,
         citation) = children
        return n.Rule(
            _name(rule_id), _opt_string(title), condition, _name(decision), outputs or (),
            n.Text(decode_string(reason), _tspan(reason)), citation, overrides or (), effective,
            _span(meta), judgment is not None,
        )

    def overrides(self, meta: Meta, children: list[Any]) -> tuple[n.Name, ...]:
        return tuple(_name(t) for t in children)

    def advisory(self, meta: Meta, children: list[Any]) -> n.Advisory:
        rule_id, title, effective, condition, *items, output, reason, judgment, citation = children
        return n.Advisory(_name(rule_id), _opt_string(title), effective, condition, tuple(items),
                          _name(output), n.Text(decode_string(reason), _tspan(reason)), citation,
                          _span(meta), judgment is not None)

    def otherwise(self, meta: Meta, children: list[Any]) -> n.Otherwise:
        decision, outputs, reason, judgment, citation = children
        text = None if reason is None else n.Text(decode_string(reason), _tspan(reason))
        return n.Otherwise(_name(decision), outputs or (), text, citation, _span(meta),
                           judgment=judgment is not None)

    def otherwise_refuse(self, meta: Meta, children: list[Any]) -> n.Otherwise:
        label, reason, judgment, citation = children
        text = None if reason is None else n.Text(decode_string(reason), _tspan(reason))
        return n.Otherwise(None, (), text, citation, _span(meta),
                           None if label is None else str(label), judgment is not None)

    def conditional(self, meta: Meta, children: list[Any]) -> n.Conditional:
        return n.Conditional(children[0], children[1], children[2], _span(meta))

    def with_clause(self, meta: Meta, children: list[Any]) -> tuple[n.Assignment, ...]:
        return tuple(children)

    def assignment(self, meta: Meta, children: list[Any]) -> n.Assignment:
        return n.Assignment(_name(children[0]), children[1], _span(meta))

    def citation(self, meta: Meta, children: list[Any]) -> n.Text:
        return n.Text(decode_string(children[0]), _span(meta))

    # ------------------------------------------------------------ expressions
    def or_(self, meta: Meta, children: list[Any]) -> n.Expr:
        return children[0] if len(children) == 1 else n.Logic("or", tuple(children), _span(meta))

    def and_(self, meta: Meta, children: list[Any]) -> n.Expr:
        return children[0] if len(children) == 1 else n.Logic("and", tuple(children), _span(meta))

    def not_(self, meta: Meta, children: list[Any]) -> n.Unary:
        return n.Unary("not", children[0], _span(meta))

    def compare(self, meta: Meta, children: list[Any]) -> n.Binary:
        left, op, right = children
        return n.Binary(str(op), left, right, _span(meta))

    def arith(self, meta: Meta, children: list[Any]) -> n.Binary:
        left, op, right = children
        return n.Binary(str(op), left, right, _span(meta))

    def negate(self, meta: Meta, children: list[Any]) -> n.Unary:
        return n.Unary("-", children[1], _span(meta))

    def is_(self, meta: Meta, children: list[Any]) -> n.Is:
        return n.Is(children[0], children[1], False, _span(meta))

    def is_not(self, meta: Meta, children: list[Any]) -> n.Is:
        return n.Is(children[0], children[1], True, _span(meta))

    def is_missing(self, meta: Meta, children: list[Any]) -> n.Presence:
        return n.Presence(children[0], False, _span(meta))

    def is_present(self, meta: Meta, children: list[Any]) -> n.Presence:
        return n.Presence(children[0], True, _span(meta))

    def in_(self, meta: Meta, children: list[Any]) -> n.In:
        return n.In(children[0], children[1], False, _span(meta))

    def not_in(self, meta: Meta, children: list[Any]) -> n.In:
        return n.In(children[0], children[1], True, _span(meta))

    def contains(self, meta: Meta, children: list[Any]) -> n.Contains:
        return n.Contains(children[0], children[1], _span(meta))

    def between(self, meta: Meta, children: list[Any]) -> n.Between:
        return n.Between(children[0], children[1], children[2], _span(meta))

    def number(self, meta: Meta, children: list[Any]) -> n.Number:
        return _number(children[0])

    def duration(self, meta: Meta, children: list[Any]) -> n.Duration | n.Months:
        number, unit = children
        problem = number_problem(str(number))  # first: the message would show the number
        if problem is not None:
            raise _LiteralError("E005", problem, _tspan(number), help=NUMBER_HELP)
        if "." in str(number):
            raise _LiteralError("E005", f"a duration is a whole number of {unit}, not {number}",
                                _span(meta),
                                help="write a whole number of days, weeks, months or years, "
                                     "for example 10 days instead of 1.5 weeks")
        if unit in ("months", "years"):
            months = duration_months(str(number), unit)
            if months is None:
                raise _LiteralError("E005", MONTHS_PROBLEM, _span(meta), help=DURATION_HELP)
            return n.Months(months, months_text(str(number), unit), _span(meta))
        days = duration_days(str(number), unit)
        if days is None:
            raise _LiteralError("E005", DURATION_PROBLEM, _span(meta), help=DURATION_HELP)
        return n.Duration(days, f"{number} {unit}", _span(meta))

    def days(self, meta: Meta, children: list[Any]) -> str:
        return "days"

    def weeks(self, meta: Meta, children: list[Any]) -> str:
        return "weeks"

    def months(self, meta: Meta, children: list[Any]) -> str:
        return "months"

    def years(self, meta: Meta, children: list[Any]) -> str:
        return "years"

    def lookup(self, meta: Meta, children: list[Any]) -> n.Lookup:
        return n.Lookup(_name(children[0]), children[1], _span(meta))

    def call(self, meta: Meta, children: list[Any]) -> n.Call:
        return n.Call(_name(children[0]), tuple(children[1:]), _span(meta))

    def working_days(self, meta: Meta, children: list[Any]) -> n.WorkingDays:
        start, end, excluding, calendar = children
        return n.WorkingDays(start, end, excluding, calendar, _span(meta))

    def date(self, meta: Meta, children: list[Any]) -> n.DateLit:
        return n.DateLit(str(children[0]), _tspan(children[0]))

    def string(self, meta: Meta, children: list[Any]) -> n.Text:
        return n.Text(decode_string(children[0]), _tspan(children[0]))

    def true(self, meta: Meta, children: list[Any]) -> n.Bool:
        return n.Bool(True, _span(meta))

    def false(self, meta: Meta, children: list[Any]) -> n.Bool:
        return n.Bool(False, _span(meta))

    def name(self, meta: Meta, children: list[Any]) -> n.Name:
        return _name(children[0])

    def list_(self, meta: Meta, children: list[Any]) -> n.ListLit:
        items = tuple(c for c in children if c is not None)
        return n.ListLit(items, _span(meta))


_LOWER = _Lower()


def lower(source: Source, tree: Tree[Token]) -> n.PolicyFile:
    """Builds the node tree for a parse tree.

    Raises:
        DiagnosticError: for literals that are well-formed tokens but invalid (bad escapes,
            numbers and durations out of the engine's range).
    """
    try:
        result = _LOWER.transform(tree, MAX_DEPTH)
    except _LiteralError as inner:
        raise DiagnosticError(
            [Diagnostic(inner.code, inner.message, source, inner.span, help=inner.help)]
        ) from None
    assert isinstance(result, n.PolicyFile)
    return result
