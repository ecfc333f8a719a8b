"""Fact traces: the facts part of a compiled decision's explanation, made in one call.

For each fact of a policy, a table from its value to its `FactTrace`: one kept for every value
of a finite domain (an enumeration, yes/no, a small whole-number range), one made for any other
value (an amount, a date, text). A function generated per policy reads every fact given and
gives their traces at once (`fact_traces`), for `expand`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from typing import Any

from policy_engine.check.checked import CheckedPolicy, FactInfo
from policy_engine.check.types import BoolType, EnumType, Value, WholeType
from policy_engine.evaluate.codegen import function
from policy_engine.explain.trace import FactTrace, quick_fact


class FactTable(dict[Value | None, FactTrace]):
    """A fact's traces by its value, when given: one kept for every value of a finite domain,
    and one made for any other value (`__missing__`); None: the fact is missing."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __missing__(self, value: Value) -> FactTrace:
        return quick_fact(self.name, value, "given")


def fact_traces(policy: CheckedPolicy, tables: tuple[FactTable, ...]
                 ) -> Callable[[Mapping[str, Value]], tuple[FactTrace, ...]]:
    """A generated function from the facts, every one given, to their traces, in order (raises
    KeyError when one is left out): a fact with a finite domain is looked up in its table
    (`_tJ[f['name']]`), any other made for its value (`_m` when it is None, else `_q(...)`),
    without a Python call or a hash per fact. Built from ast nodes and constants only."""
    namespace: dict[str, Any] = {"_q": quick_fact}
    items: list[ast.expr] = []
    for j, (info, table) in enumerate(zip(policy.facts, tables, strict=True)):
        read = ast.Subscript(ast.Name("f", ast.Load()), ast.Constant(info.name), ast.Load())
        if len(table) > 1:  # a finite domain, kept (`fact_table`)
            namespace[f"_t{j}"] = table
            items.append(ast.Subscript(ast.Name(f"_t{j}", ast.Load()), read, ast.Load()))
            continue
        namespace[f"_m{j}"] = table[None]
        value = ast.NamedExpr(ast.Name("_x", ast.Store()), read)
        made = ast.Call(ast.Name("_q", ast.Load()), [ast.Constant(info.name),
                                                     ast.Name("_x", ast.Load()),
                                                     ast.Constant("given")], [])
        items.append(ast.IfExp(ast.Compare(value, [ast.Is()], [ast.Constant(None)]),
                               ast.Name(f"_m{j}", ast.Load()), made))
    body: list[ast.stmt] = [ast.Return(ast.Tuple(items, ast.Load()))]
    module = ast.fix_missing_locations(ast.Module([function("_facts", body, 1)], []))
    code = compile(module, f"<policy:{policy.source.name} facts>", "exec")
    exec(code, namespace)  # generated-code: built from ast nodes and constants only
    return namespace["_facts"]  # type: ignore[no-any-return]


def fact_table(info: FactInfo, most: int) -> FactTable:
    """A fact's table, with the traces of every value of its domain kept when it has at most
    `most` values."""
    table = FactTable(info.name)
    table[None] = FactTrace(info.name, None, "missing")
    kind = info.type
    domain: tuple[Value, ...] = ()
    if isinstance(kind, EnumType):
        domain = kind.values
    elif isinstance(kind, BoolType):
        domain = (False, True)
    elif isinstance(kind, WholeType) and kind.minimum is not None \
            and kind.maximum is not None and kind.maximum - kind.minimum < most:
        domain = tuple(range(kind.minimum, kind.maximum + 1))
    for value in domain:
        table[value] = FactTrace(info.name, value, "given")
    return table


def domain_size(kind: object) -> int | None:
    """How many values (and a missing one) a finite type has; None: too many to keep."""
    if isinstance(kind, EnumType):
        return len(kind.values) + 1
    if isinstance(kind, BoolType):
        return 3
    if isinstance(kind, WholeType) and kind.minimum is not None and kind.maximum is not None:
        return kind.maximum - kind.minimum + 2
    return None
