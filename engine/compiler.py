"""Compiler: turns a checked policy into Python functions built from `ast` nodes.

User text only ever becomes `ast.Constant` values (fact names, enumeration values, texts) or
objects in the constant pool (amounts, dates); names in the generated code are made from
indexes, never from anything a policy author wrote. Each generated statement carries the
policy line it came from, so a traceback inside generated code points at the policy.
"""

from __future__ import annotations

import ast
import datetime
import sys
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from engine import checked as c
from engine import runtime
from engine.checked import CheckedPolicy, CheckedRule, TableInfo
from engine.runtime import Env, Facts, MissingFact, Outputs
from engine.source import Source
from engine.valuetypes import DateType, DurationType, Value, WholeType
from engine.visitor import Visitor

_CMP: dict[str, type[ast.cmpop]] = {
    "==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE,
}
_BINOP: dict[str, type[ast.operator]] = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult}
_HELPERS = {"+": "_add", "-": "_sub", "*": "_mul", "/": "_div"}
_PLAIN_CONSTANTS = (bool, int, str)


class _Codegen(Visitor[ast.expr]):
    """Builds one expression; constants that `ast.Constant` cannot hold go into a pool."""

    def __init__(self, pool: dict[str, object], policy: CheckedPolicy) -> None:
        self.pool = pool
        self.policy = policy

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
        assert isinstance(value, (Decimal, datetime.date, datetime.timedelta, tuple))
        name = f"_k{len(self.pool)}"
        self.pool[name] = value
        return ast.Name(name, ast.Load())

    @staticmethod
    def call(helper: str, *args: ast.expr) -> ast.expr:
        return ast.Call(ast.Name(helper, ast.Load()), list(args), [])

    def visit_FactRef(self, node: c.FactRef) -> ast.expr:
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
        if isinstance(node.type, (WholeType, DateType, DurationType)):
            return ast.BinOp(left, _BINOP[node.op](), right)
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
        if node.function in runtime.ROUNDING:
            value_node, places_node = node.args
            if isinstance(value_node, c.Arith) and value_node.op == "/":
                value = self.call("_exact_div", self.visit(value_node.left),
                                  self.visit(value_node.right))
            else:
                value = self.visit(value_node)
            return self.call("_round", ast.Constant(node.function), value, self.visit(places_node))
        function = self.constant_object(runtime.FUNCTIONS[node.function])
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


def _at(node: ast.AST, line: int) -> ast.AST:
    """Gives a node, and every node inside it that has no line yet, a policy line."""
    for child in ast.walk(node):
        if "lineno" in child._attributes and getattr(child, "lineno", None) is None:
            child.lineno = child.end_lineno = line  # type: ignore[attr-defined]
            child.col_offset = child.end_col_offset = 0  # type: ignore[attr-defined]
    return node


def _function(name: str, body: list[ast.stmt], line: int) -> ast.FunctionDef:
    args = ast.arguments(posonlyargs=[], args=[ast.arg("f")], kwonlyargs=[], kw_defaults=[],
                         defaults=[])
    function = ast.FunctionDef(name=name, args=args, body=body, decorator_list=[],
                               returns=None)
    if sys.version_info >= (3, 12):
        function.type_params = []
    return _at(function, line)  # type: ignore[return-value]


def _condition_function(gen: _Codegen, index: int, rule: CheckedRule,
                        source: Source) -> ast.FunctionDef:
    body: list[ast.stmt] = []
    for position, conjunct in enumerate(rule.conjuncts):
        line = source.line_col(conjunct.span.start)[0]
        test = ast.UnaryOp(ast.Not(), gen.visit(conjunct.expr))
        body.append(_at(ast.If(test, [ast.Return(ast.Constant(position))], []), line))  # type: ignore[arg-type]
    body.append(_at(ast.Return(ast.Constant(-1)), rule.line))  # type: ignore[arg-type]
    return _function(f"_c{index}", body, rule.line)


def _outputs_function(gen: _Codegen, index: int, rule: CheckedRule) -> ast.FunctionDef:
    pairs: list[ast.expr] = [ast.Tuple([ast.Constant(name), gen.visit(expr)], ast.Load())
             for name, expr in rule.outputs]
    body: list[ast.stmt] = [_at(ast.Return(ast.Tuple(pairs, ast.Load())), rule.line)]  # type: ignore[list-item]
    return _function(f"_o{index}", body, rule.line)


def build_module(policy: CheckedPolicy) -> tuple[ast.Module, dict[str, object]]:
    """Returns the generated module and its constant pool (for inspection and tests)."""
    pool: dict[str, object] = {}
    gen = _Codegen(pool, policy)
    body: list[ast.stmt] = []
    for rule in policy.units():
        body.append(_condition_function(gen, rule.index, rule, policy.source))
        body.append(_outputs_function(gen, rule.index, rule))
    for position, define in enumerate(policy.defines):
        line = policy.source.line_col(define.span.start)[0]
        value: ast.stmt = _at(ast.Return(gen.visit(define.expr)), line)  # type: ignore[assignment]
        body.append(_function(f"_d{position}", [value], line))
    module = ast.Module(body=body, type_ignores=[])
    ast.fix_missing_locations(module)
    return module, pool


def generated_source(policy: CheckedPolicy) -> str:
    """The generated code as Python text, for reading and debugging (`policy compile`)."""
    module, pool = build_module(policy)
    shown_name = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in policy.source.name)
    header = [f"# generated from {shown_name}; constants: "
              + ", ".join(f"{k} = {_shown(v)}" for k, v in pool.items())] if pool else []
    return "\n".join(header + [ast.unparse(module)]) + "\n"


def _shown(value: object) -> str:
    if isinstance(value, TableInfo):
        return f"<table {value.name}>"
    if callable(value):
        return f"<function {getattr(value, '__name__', '?')}>"
    return repr(value)


class CompiledPolicy:
    """The compiled evaluator: one Python function per rule condition and per rule outputs."""

    def __init__(self, policy: CheckedPolicy) -> None:
        self.policy = policy
        module, pool = build_module(policy)
        namespace: dict[str, Any] = {
            "__builtins__": {},
            "_add": runtime.add, "_sub": runtime.sub, "_mul": runtime.mul, "_div": runtime.div,
            "_neg": runtime.neg, "_between": runtime.between, "_contains": _contains,
            "_lookup": runtime.lookup, "_round": runtime.round_value,
            "_exact_div": runtime.exact_div, "_working_days": runtime.count_working_days,
            **pool,
        }
        code = compile(module, f"<policy:{policy.source.name}>", "exec")
        exec(code, namespace)  # generated-code: built from ast nodes and constants only
        count = len(policy.units())
        self._conditions: tuple[Callable[[Facts], int], ...] = tuple(
            namespace[f"_c{i}"] for i in range(count))
        self._outputs: tuple[Callable[[Facts], Outputs], ...] = tuple(
            namespace[f"_o{i}"] for i in range(count))
        self._derived: dict[str, Callable[[Facts], Value]] = {
            define.name: namespace[f"_d{i}"] for i, define in enumerate(policy.defines)}

    def condition(self, index: int, facts: Facts) -> int:
        try:
            return self._conditions[index](facts)
        except KeyError as error:  # only fact lookups raise KeyError in generated code
            raise MissingFact(str(error.args[0])) from None

    def outputs(self, index: int, facts: Facts) -> Outputs:
        try:
            return self._outputs[index](facts)
        except KeyError as error:
            raise MissingFact(str(error.args[0])) from None

    def derive(self, name: str, facts: Env) -> Value:
        try:
            return self._derived[name](facts)
        except KeyError as error:
            raise MissingFact(str(error.args[0])) from None


def _contains(collection: tuple[object, ...], item: object) -> bool:
    return item in collection
