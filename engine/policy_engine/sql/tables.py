"""SQL input tables: batches of rows turned into the Arrow table the query reads.

The query reads one column per fact in a fixed type (`validation.sql_type`). Two kinds of rows
come in: fact sets that Python has already read and typed (JSON Lines, CSV, decision logs:
`from_typed`), and Parquet record batches (`from_parquet`), whose columns are converted with
Arrow's compute functions without a Python loop. A row the query cannot be handed as it is (a
column of a type that does not fit its fact, a column that is no fact, a value that only the
reference engine reads as the fact stage would, a row over the size limit) is set aside for
the reference engine, which reads it exactly as `policy batch --engine python` does.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from policy_engine.check.checked import CheckedPolicy
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
)
from policy_engine.sql.values import LINE

#: Whole numbers beyond these are left to the reference engine (BIGINT's range).
_INT64 = 2**63


def arrow_type(kind: Type) -> Any:
    import pyarrow as pa

    if isinstance(kind, BoolType):
        return pa.bool_()
    if isinstance(kind, WholeType):
        return pa.int64()
    if isinstance(kind, DateType):
        return pa.date32()
    if isinstance(kind, ListType):
        return pa.list_(arrow_type(kind.element))
    return pa.string()


def schema(policy: CheckedPolicy) -> Any:
    import pyarrow as pa

    return pa.schema([(LINE, pa.int64())] + [(info.name, arrow_type(info.type))
                                              for info in policy.facts])


def _plain(kind: Type, value: Value) -> object:
    """A typed value as the column holds it; raises ValueError when it does not fit."""
    if isinstance(kind, AmountType):
        if isinstance(value, int):
            return str(value)
        assert isinstance(value, Decimal)
        exponent = value.as_tuple().exponent
        if not isinstance(exponent, int) or exponent > 0:
            raise ValueError("an amount with a positive exponent")
        return format(value, "f")
    if isinstance(kind, WholeType):
        assert isinstance(value, int)
        if not -_INT64 < value < _INT64:
            raise ValueError("a whole number beyond BIGINT")
        return value
    if isinstance(kind, ListType):
        assert isinstance(value, tuple)
        return [_plain(kind.element, item) for item in value]
    if isinstance(kind, DateType):
        assert isinstance(value, datetime.date)
        return value
    return value


def from_typed(policy: CheckedPolicy, rows: Sequence[tuple[int, dict[str, Value]]],
               given: Sequence[frozenset[str]] | None = None) -> tuple[Any, list[int]]:
    """An input table from typed fact sets (`FactStage.quick`), and the positions in `rows` of
    those it cannot hold (left to the reference engine).

    A fact that took its default is written as NULL (left out), so the query fills in the
    same default.
    """
    import pyarrow as pa

    columns: dict[str, list[object]] = {LINE: []}
    for info in policy.facts:
        columns[info.name] = []
    kept: list[int] = []
    for position, (line, facts) in enumerate(rows):
        try:
            values = [_plain(info.type, facts[info.name]) if info.name in facts else None
                      for info in policy.facts]
        except ValueError:
            kept.append(position)
            continue
        if given is not None:
            values = [v if info.name in given[position] else None
                      for v, info in zip(values, policy.facts, strict=True)]
        columns[LINE].append(line)
        for info, value in zip(policy.facts, values, strict=True):
            columns[info.name].append(value)
    table = pa.table({name: pa.array(values, type=field.type) for (name, values), field in
                      zip(columns.items(), schema(policy), strict=True)})
    return table, kept


def from_parquet(policy: CheckedPolicy, batch: Any, first_line: int,
                 max_row_bytes: int) -> tuple[Any, Any]:
    """An input table from a Parquet record batch whose first row is line `first_line`, and
    a boolean mask of the rows left to the reference engine."""
    import pyarrow as pa
    import pyarrow.compute as pc

    count = batch.num_rows
    aside = pa.array([False] * count)
    facts = {info.name: info for info in policy.facts}
    columns: dict[str, Any] = {LINE: pa.array(range(first_line, first_line + count),
                                              pa.int64())}
    size = pa.array([0] * count, pa.int64())
    for name in batch.schema.names:
        column = batch.column(name)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            size = pc.add(size, pc.fill_null(pc.utf8_length(column), 0))
        elif pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
            size = pc.add(size, pc.fill_null(pc.binary_length(column), 0))
        info = facts.get(name)
        converted = _convert(info.type, column) if info is not None else None
        if converted is None:
            aside = pc.or_(aside, pc.is_valid(column))  # E304 or E305: worded by Python
            continue
        value, odd = converted
        aside = pc.or_(aside, odd)
        columns[name] = value
    aside = pc.or_(aside, pc.greater(size, max_row_bytes))
    for info in policy.facts:
        if info.name not in columns:
            columns[info.name] = pa.nulls(count, arrow_type(info.type))
    ordered = {name: columns[name] for name in [LINE] + [info.name for info in policy.facts]}
    return pa.table(ordered), aside


def _convert(kind: Type, column: Any) -> tuple[Any, Any] | None:
    """A Parquet column as the query's column for a fact of `kind`, and a mask of the values
    only the reference engine reads alike; None when no value of the column fits."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = column.type
    none = pc.and_(pc.is_valid(column), pa.scalar(False))
    if isinstance(kind, BoolType) and pa.types.is_boolean(t):
        return column, none
    if isinstance(kind, WholeType) and pa.types.is_integer(t) and t.bit_width <= 64 \
            and not (pa.types.is_unsigned_integer(t) and t.bit_width == 64):
        return pc.cast(column, pa.int64()), none
    if isinstance(kind, AmountType):
        if pa.types.is_decimal(t):
            if t.scale < 0:
                return None
            return pc.cast(column, pa.string()), none
        if pa.types.is_integer(t) and t.bit_width <= 64:
            return pc.cast(column, pa.string()), none
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return pc.cast(column, pa.string()), none
        return None
    if isinstance(kind, (TextType, EnumType)) and (pa.types.is_string(t)
                                                   or pa.types.is_large_string(t)):
        return pc.cast(column, pa.string()), none
    if isinstance(kind, DateType) and pa.types.is_date32(t):
        return column, none
    if isinstance(kind, ListType) and (pa.types.is_list(t) or pa.types.is_large_list(t)):
        element = kind.element
        inner = t.value_type
        fits = ((isinstance(element, (TextType, EnumType))
                 and (pa.types.is_string(inner) or pa.types.is_large_string(inner)))
                or (isinstance(element, DateType) and pa.types.is_date32(inner)))
        if fits:
            return pc.cast(column, arrow_type(kind)), none
    return None
