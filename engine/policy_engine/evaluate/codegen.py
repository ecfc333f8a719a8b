"""Codegen: a checked expression as a Python `ast` expression, and the helpers that place code.

User text only ever becomes `ast.Constant` values (fact names, enumeration values, texts) or
objects in a constant pool (amounts, dates, tables); names in the generated code are made from
indexes, never from anything a policy author wrote. `at` gives every node a policy line, so a
traceback inside generated code points at the policy. The compiler, its first-match writer and
the compiled fact validator all build their code from these.
"""

from __future__ import annotations

import ast
import datetime
import sys
from decimal import Decimal
from typing import TypeVar

from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import (
    CalendarMonths,
    DateType,
    DurationType,
    MonthsType,
    WholeType,
)
from policy_engine.core.visitor import Visitor
from policy_engine.evaluate import arithmetic

N = TypeVar("N", bound=ast.AST)

_CMP: dict[str, type[ast.cmpop]] = {
    "==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE,
}
#: The namespace's helper for each operator, by the type of the result (see `arithmetic`): they
#: compute exactly as the interpreter does and refuse values out of the engine's range.
_HELPERS = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div"}
_WHOLE_HELPERS = {"+": "_iadd", "-": "_isub", "*": "_imul"}
_DATE_HELPERS = {"+": "_dadd", "-": "_dsub"}
_DURATION_HELPERS = {"+": "_tadd", "-": "_tsub", "*": "_tmul"}
_MONTH_DATE_HELPERS = {"+": "_madd", "-": "_msub"}
_MONTHS_HELPERS = {"+": "_nadd", "-": "_nsub", "*": "_nmul"}
_PLAIN_CONSTANTS = (bool, int, str)


class ExpressionWriter(Visitor[ast.expr]):
    """Builds one expression; constants that `ast.Constant` cannot hold go into a pool."""

    def __init__(self, pool: dict[str, object], policy: CheckedPolicy) -> None:
        self.pool = pool
        self.policy = policy
        self.defines = {define.name: j for j, define in enumerate(policy.defines)}
        #: How a derived value is read: from the environment `f` (None), by calling its
        #: function of the facts (`pure`), or, in the fast path, from a local variable set on
        #: first use (`used` collects which).
        self.pure = False
        self.used: set[int] | None = None
        #: In the traced walk, derived values are kept in the record `r` (under `-1 - j`)
        #: instead of locals, so the explanation reads them as the walk computed them.
        self.recorded = False

    def constant_object(self, value: object) -> ast.expr:
        """A pooled object (a table, a built-in function), reached by a generated name."""
        for name, pooled in self.pool.items():
            if pooled is value:
                return ast.Name(name, ast.Load())
        name = f"_k{len(self.pool)}"
        self.pool[name] = value
        return ast.Name(name, ast.Load())

    def constant(self, value: object) -> ast.expr:
        if isinstance(value, _PLAIN_CONSTANTS) or (
            isinstance(value, tuple) and all(isinstance(v, _PLAIN_CONSTANTS) for v in value)
        ):
            return ast.Constant(value)  # type: ignore[arg-type]  # tuples of constants are valid
        assert isinstance(value, (Decimal, datetime.date, datetime.timedelta, CalendarMonths,
                                  tuple))
        name = f"_k{len(self.pool)}"
        self.pool[name] = value
        return ast.Name(name, ast.Load())

    @staticmethod
    def call(helper: str, *args: ast.expr) -> ast.expr:
        return ast.Call(ast.Name(helper, ast.Load()), list(args), [])

    def visit_FactRef(self, node: c.FactRef) -> ast.expr:
        j = self.defines.get(node.name)
        if j is not None and self.recorded:
            # `(r[K] if K in r else _keep(r, K, _pJ(f)))`, K = -1 - j
            key = ast.Constant(-1 - j)
            record = ast.Name("r", ast.Load())
            keep = self.call("_keep", record, key,
                             self.call(f"_p{j}", ast.Name("f", ast.Load())))
            return ast.IfExp(ast.Compare(key, [ast.In()], [record]),
                             ast.Subscript(record, key, ast.Load()), keep)
        if j is not None and (self.pure or self.used is not None):
            compute = self.call(f"_p{j}", ast.Name("f", ast.Load()))
            if self.used is None:
                return compute
            self.used.add(j)  # `(_vJ if _vJ is not _u else (_vJ := _pJ(f)))`
            local = ast.Name(f"_v{j}", ast.Load())
            return ast.IfExp(ast.Compare(local, [ast.IsNot()], [ast.Name("_u", ast.Load())]),
                             ast.Name(f"_v{j}", ast.Load()),
                             ast.NamedExpr(ast.Name(f"_v{j}", ast.Store()), compute))
        return ast.Subscript(ast.Name("f", ast.Load()), ast.Constant(node.name), ast.Load())

    def visit_Const(self, node: c.Const) -> ast.expr:
        return self.constant(node.value)

    def visit_ListExpr(self, node: c.ListExpr) -> ast.expr:
        if all(isinstance(item, c.Const) for item in node.items):
            return self.constant(tuple(item.value for item in node.items))  # type: ignore[union-attr]
        return ast.Tuple([self.visit(item) for item in node.items], ast.Load())

    def visit_Not(self, node: c.Not) -> ast.expr:
        return ast.UnaryOp(ast.Not(), self.visit(node.operand))

    def visit_Neg(self, node: c.Neg) -> ast.expr:
        if isinstance(node.type, WholeType):
            return ast.UnaryOp(ast.USub(), self.visit(node.operand))
        return self.call("_neg", self.visit(node.operand))

    def visit_Arith(self, node: c.Arith) -> ast.expr:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.type, WholeType):
            return self.call(_WHOLE_HELPERS[node.op], left, right)
        if isinstance(node.type, DateType):
            if isinstance(node.left.type, MonthsType) or isinstance(node.right.type, MonthsType):
                return self.call(_MONTH_DATE_HELPERS[node.op], left, right)
            return self.call(_DATE_HELPERS[node.op], left, right)
        if isinstance(node.type, DurationType):
            return self.call(_DURATION_HELPERS[node.op], left, right)
        if isinstance(node.type, MonthsType):
            return self.call(_MONTHS_HELPERS[node.op], left, right)
        return self.call(_HELPERS[node.op], left, right)

    def visit_Compare(self, node: c.Compare) -> ast.expr:
        return ast.Compare(self.visit(node.left), [_CMP[node.op]()], [self.visit(node.right)])

    def visit_InList(self, node: c.InList) -> ast.expr:
        op: ast.cmpop = ast.NotIn() if node.negated else ast.In()
        return ast.Compare(self.visit(node.subject), [op], [self.visit(node.options)])

    def visit_ListContains(self, node: c.ListContains) -> ast.expr:
        # Evaluate the list first, as the interpreter does, so a missing fact is reported alike.
        return self.call("_contains", self.visit(node.subject), self.visit(node.item))

    def visit_Presence(self, node: c.Presence) -> ast.expr:
        op: ast.cmpop = ast.In() if node.present else ast.NotIn()
        return ast.Compare(ast.Constant(node.fact), [op], [ast.Name("f", ast.Load())])

    def visit_Between(self, node: c.Between) -> ast.expr:
        return self.call("_between", self.visit(node.subject), self.visit(node.low),
                         self.visit(node.high))

    def visit_Lookup(self, node: c.Lookup) -> ast.expr:
        table = self.constant_object(self.policy.table(node.table))
        as_of = ast.Constant(self.policy.as_of)
        return self.call("_lookup", table, self.visit(node.key), ast.Name("f", ast.Load()), as_of)

    def visit_Call(self, node: c.Call) -> ast.expr:
        if node.function in arithmetic.ROUNDING:
            value_node, places_node = node.args
            if isinstance(value_node, c.Arith) and value_node.op == "/":
                value = self.call("_exact_div", self.visit(value_node.left),
                                  self.visit(value_node.right))
            else:
                value = self.visit(value_node)
            return self.call("_round", ast.Constant(node.function), value, self.visit(places_node))
        function = self.constant_object(arithmetic.FUNCTIONS[node.function])
        return ast.Call(function, [self.visit(arg) for arg in node.args], [])

    def visit_WorkingDays(self, node: c.WorkingDays) -> ast.expr:
        none = ast.Constant(None)
        return self.call("_working_days", self.visit(node.start), self.visit(node.end),
                         self.visit(node.excluding) if node.excluding else none,
                         self.visit(node.calendar) if node.calendar else none)

    def visit_Conditional(self, node: c.Conditional) -> ast.expr:
        return ast.IfExp(self.visit(node.test), self.visit(node.then), self.visit(node.otherwise))

    def visit_Logic(self, node: c.Logic) -> ast.expr:
        op: ast.boolop = ast.And() if node.op == "and" else ast.Or()
        return ast.BoolOp(op, [self.visit(operand) for operand in node.operands])


def at(node: N, line: int) -> N:
    """Gives a node, and every node inside it that has no line yet, a policy line.

    Code is built bottom up, so a node that has a line already has one everywhere inside it
    and is not walked again.
    """
    stack: list[ast.AST] = [node]
    fields_of = _LINE_FIELDS
    while stack:
        child = stack.pop()
        if child._attributes:  # statements and expressions; not operators and contexts
            attributes = child.__dict__
            if attributes.get("lineno") is not None:
                continue
            # end_col_offset is optional: left out, it is unknown.
            attributes["lineno"] = attributes["end_lineno"] = line
            attributes["col_offset"] = 0
        cls = child.__class__
        fields = fields_of.get(cls)
        if fields is None:
            fields = fields_of[cls] = _line_fields(cls)
        for name in fields:
            value = getattr(child, name, None)
            if value.__class__ is list:
                stack.extend(item for item in value if isinstance(item, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append(value)
    return node


#: The fields of a node class that can hold nodes needing a line (`at` walks only these).
_LINE_FIELDS: dict[type, tuple[str, ...]] = {ast.Constant: ()}
#: Fields that only ever hold names, flags, operators or contexts: nothing with a line.
_NO_LINE_FIELDS = frozenset({"ctx", "op", "ops", "id", "attr", "arg", "kind", "type_comment",
                             "name", "level", "module", "conversion", "is_async", "simple"})


def _line_fields(cls: type) -> tuple[str, ...]:
    return tuple(name for name in cls._fields  # type: ignore[attr-defined]
                 if name not in _NO_LINE_FIELDS)


def function(name: str, body: list[ast.stmt], line: int,
             args: tuple[str, ...] = ("f",)) -> ast.FunctionDef:
    """A generated function of the facts `f` (and, for a traced function, the record `r`)."""
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(a) for a in args], kwonlyargs=[],
                              kw_defaults=[], defaults=[])
    made = ast.FunctionDef(name=name, args=arguments, body=body, decorator_list=[],
                           returns=None)
    if sys.version_info >= (3, 12):
        made.type_params = []
    return at(made, line)
