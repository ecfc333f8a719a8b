"""SQL trees: small constructors over sqlglot's expression classes, so the translation reads as
the SQL it builds. Every piece of SQL the backend makes goes through these or through sqlglot
itself: text a policy author wrote only ever becomes a quoted literal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlglot import exp

Sql = exp.Expression


def lit(value: str) -> Sql:
    """A quoted string literal."""
    return exp.Literal.string(value)


def num(value: int) -> Sql:
    """A whole number literal; negative numbers are a negation of the literal."""
    if value < 0:
        return exp.Neg(this=exp.Literal.number(-value))
    return exp.Literal.number(value)


def big(value: int) -> Sql:
    """A whole number as a BIGINT, whatever the engine would type the literal as."""
    return cast(num(value), "BIGINT")


def true() -> Sql:
    return exp.Boolean(this=True)


def false() -> Sql:
    return exp.Boolean(this=False)


def null() -> Sql:
    return exp.Null()


def col(name: str, table: str | None = None) -> Sql:
    """A column, always quoted, so a fact may be named like an SQL keyword."""
    return exp.Column(this=exp.to_identifier(name, quoted=True),
                      table=exp.to_identifier(table) if table else None)


#: Each type parsed once: `DataType.build` runs sqlglot's parser, which a policy of 10,000
#: rules would otherwise run tens of thousands of times.
_TYPES: dict[str, exp.DataType] = {}


def cast(value: Sql, to: str) -> Sql:
    kind = _TYPES.get(to)
    if kind is None:
        kind = _TYPES[to] = exp.DataType.build(to)
    return exp.Cast(this=value, to=kind.copy())


def decimal(value: Sql, digits: int, scale: int) -> Sql:
    """A cast to DECIMAL(digits, scale); the caller knows the value fits."""
    return cast(value, f"DECIMAL({max(digits, 1)}, {scale})")


def case(branches: Iterable[tuple[Sql, Sql]], default: Sql | None = None) -> Sql:
    """CASE WHEN c1 THEN v1 ... ELSE default END (NULL without a default)."""
    ifs = [exp.If(this=condition, true=value) for condition, value in branches]
    if not ifs:
        return default if default is not None else null()
    return exp.Case(ifs=ifs, default=default)


def when(condition: Sql, then: Sql, otherwise: Sql | None = None) -> Sql:
    return case([(condition, then)], otherwise)


def coalesce(values: Sequence[Sql]) -> Sql:
    if len(values) == 1:
        return values[0]
    return exp.Coalesce(this=values[0], expressions=list(values[1:]))


def and_(values: Sequence[Sql]) -> Sql:
    if not values:
        return true()
    result = paren(values[0])
    for value in values[1:]:
        result = exp.And(this=result, expression=paren(value))
    return result


def or_(values: Sequence[Sql]) -> Sql:
    if not values:
        return false()
    result = paren(values[0])
    for value in values[1:]:
        result = exp.Or(this=result, expression=paren(value))
    return result


def not_(value: Sql) -> Sql:
    return exp.Not(this=paren(value))


def paren(value: Sql) -> Sql:
    """The value in parentheses unless it is atomic: a column, a literal, a CASE, a call.
    (sqlglot's AND and OR are functions too, so operators are tested first.)"""
    if isinstance(value, (exp.Binary, exp.Connector, exp.Predicate, exp.Unary, exp.Not)):
        return exp.Paren(this=value)
    if isinstance(value, (exp.Column, exp.Literal, exp.Boolean, exp.Null, exp.Paren,
                          exp.Case, exp.Cast, exp.Func)):
        return value
    return exp.Paren(this=value)


def is_null(value: Sql) -> Sql:
    return exp.Is(this=paren(value), expression=exp.Null())


def not_null(value: Sql) -> Sql:
    return exp.Not(this=is_null(value))


def eq(a: Sql, b: Sql) -> Sql:
    return exp.EQ(this=paren(a), expression=paren(b))


def compare(op: str, a: Sql, b: Sql) -> Sql:
    kinds: dict[str, type[exp.Expression]] = {
        "==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}
    return kinds[op](this=paren(a), expression=paren(b))


def arith(op: str, a: Sql, b: Sql) -> Sql:
    kinds: dict[str, type[exp.Expression]] = {
        "+": exp.Add, "-": exp.Sub, "*": exp.Mul, "//": exp.IntDiv, "%": exp.Mod}
    return kinds[op](this=paren(a), expression=paren(b))


def neg(value: Sql) -> Sql:
    return exp.Neg(this=paren(value))


def concat(parts: Sequence[Sql]) -> Sql:
    """`a || b || ...`: NULL when any part is NULL, in every dialect."""
    result = paren(parts[0])
    for part in parts[1:]:
        result = exp.DPipe(this=result, expression=paren(part), safe=False)
    return result


def concat_ws(separator: str, parts: Sequence[Sql]) -> Sql:
    """The parts joined by `separator`, NULL parts left out, '' when every part is NULL (in
    DuckDB and Spark alike)."""
    # Named as is: sqlglot's ConcatWs is rewritten for DuckDB with other NULL semantics.
    return coalesce([exp.Anonymous(this="CONCAT_WS", expressions=[lit(separator), *parts]),
                     lit("")])


def func(name: str, *args: Sql) -> Sql:
    # sqlglot's hints make `exp.func` a `Func`, which they do not relate to `Expression`.
    called: Any = exp.func(name, *args)
    return called  # type: ignore[no-any-return]


def in_list(value: Sql, options: Sequence[Sql]) -> Sql:
    return exp.In(this=paren(value), expressions=list(options))


def array(items: Sequence[Sql]) -> Sql:
    return exp.Array(expressions=list(items))


def lam(variable: str, body: Sql) -> Sql:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(variable)])


def var(name: str) -> Sql:
    """A lambda's variable."""
    return exp.Column(this=exp.to_identifier(name))


def length(value: Sql) -> Sql:
    return exp.Length(this=value)


def size(value: Sql) -> Sql:
    return exp.ArraySize(this=value)


def contains(array_value: Sql, item: Sql) -> Sql:
    return exp.ArrayContains(this=array_value, expression=item)


def filter_(array_value: Sql, variable: str, condition: Sql) -> Sql:
    return exp.ArrayFilter(this=array_value, expression=lam(variable, condition))


def transform(array_value: Sql, variable: str, body: Sql) -> Sql:
    return exp.Transform(this=array_value, expression=lam(variable, body))


def join_array(array_value: Sql, separator: str) -> Sql:
    return exp.ArrayToString(this=array_value, expression=lit(separator))


def array_concat(a: Sql, b: Sql) -> Sql:
    return exp.ArrayConcat(this=a, expressions=[b])


def substring(value: Sql, start: Sql, count: Sql) -> Sql:
    return exp.Substring(this=value, start=start, length=count)


def lpad(value: Sql, width: Sql, fill: str) -> Sql:
    return exp.Pad(this=value, expression=width, fill_pattern=lit(fill), is_left=True)


def alias(value: Sql, name: str) -> Sql:
    return exp.Alias(this=value, alias=exp.to_identifier(name, quoted=True))
