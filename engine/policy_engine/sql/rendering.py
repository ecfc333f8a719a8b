"""SQL rendering: values and output lines written in SQL exactly as `policy batch` writes them.

The batch output is JSON Lines made by Python's `json` (`ensure_ascii=False`, `", "` and
`": "` between items). The query writes the line of a decided row, and of the refusals whose
message it can word, as text, byte for byte. What it cannot write safely, such as free text
that may need JSON escapes, is left NULL, and the row is written by the reference engine.
"""

from __future__ import annotations

import json

from sqlglot import exp

from policy_engine.batch.deciding import printable
from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EnumType,
    ListType,
    Type,
    WholeType,
)
from policy_engine.sql import amounts
from policy_engine.sql import trees as t
from policy_engine.sql.trees import Sql
from policy_engine.sql.values import EPOCH, Val

_ENCODER = json.JSONEncoder(ensure_ascii=False)


def json_text(text: str) -> str:
    """A Python string as the batch output writes it inside a line (quotes included)."""
    return _ENCODER.encode(printable(text))


def date_text(day: Sql) -> Sql:
    """A day number as ISO text, `YYYY-MM-DD`."""
    date = exp.cast(exp.DateAdd(this=exp.cast(t.lit(EPOCH), "DATE"),
                                expression=t.cast(day, "INT"), unit=exp.var("DAY")), "DATE")
    return t.cast(date, "VARCHAR")


def plain_text(kind: Type, value: Val) -> Sql | None:
    """A value as `format_value` writes it (messages), or None when SQL cannot be sure to
    write it the same (free text)."""
    if isinstance(kind, BoolType):
        return t.when(value.sql, t.lit("yes"), t.lit("no"))
    if isinstance(kind, WholeType):
        return t.cast(value.sql, "VARCHAR")
    if isinstance(kind, AmountType):
        return amounts.text(value)
    if isinstance(kind, DateType):
        return date_text(value.sql)
    if isinstance(kind, EnumType):
        return value.sql
    if isinstance(kind, ListType):
        if isinstance(kind.element, EnumType):
            items = value.sql
        elif isinstance(kind.element, DateType):
            items = t.transform(value.sql, "x", date_text(t.var("x")))
        else:
            return None
        return t.concat([t.lit("["), t.join_array(items, ", "), t.lit("]")])
    return None


def json_value(kind: Type, value: Val) -> Sql | None:
    """A value as `to_json_value` and `json` write it (outputs), or None when SQL cannot be
    sure to write it the same."""
    if isinstance(kind, BoolType):
        return t.when(value.sql, t.lit("true"), t.lit("false"))
    if isinstance(kind, WholeType):
        return t.cast(value.sql, "VARCHAR")
    if isinstance(kind, AmountType):
        if value.digits is None:  # a whole number stays a whole number (docs/cli.md)
            return t.cast(value.sql, "VARCHAR")
        return t.concat([t.lit('"'), amounts.text(value), t.lit('"')])
    if isinstance(kind, DateType):
        return t.concat([t.lit('"'), date_text(value.sql), t.lit('"')])
    if isinstance(kind, EnumType):
        return t.concat([t.lit('"'), value.sql, t.lit('"')])
    if isinstance(kind, ListType):
        if isinstance(kind.element, EnumType):
            items = t.transform(value.sql, "x", t.concat([t.lit('"'), t.var("x"), t.lit('"')]))
        elif isinstance(kind.element, DateType):
            items = t.transform(value.sql, "x",
                                t.concat([t.lit('"'), date_text(t.var("x")), t.lit('"')]))
        else:
            return None
        return t.concat([t.lit("["), t.join_array(items, ", "), t.lit("]")])
    return None


def decided_line(decision: Sql, rule: Sql, outputs: list[Sql]) -> Sql:
    """`{"line": N, "decision": ..., "rule": ..., "outputs": {...}}` after `{"line": N, `."""
    body = t.concat_ws(", ", outputs) if outputs else t.lit("")
    return t.concat([t.lit('"decision": "'), decision, t.lit('", "rule": "'), rule,
                     t.lit('", "outputs": {'), body, t.lit("}}")])


def refused_line(code: str, label: str | None, message: Sql) -> Sql:
    """`"refused": {...}}` for a refusal whose message is `message` (JSON text, quoted)."""
    head = f'"refused": {{"code": {json_text(code)}, "label": ' \
           f'{json_text(label) if label is not None else "null"}, "message": '
    return t.concat([t.lit(head), message, t.lit("}}")])


def quoted(parts: list[Sql | str]) -> Sql:
    """A JSON string made of constant parts (escaped here) and SQL parts (that need no
    escape: names, numbers, dates)."""
    pieces: list[Sql] = [t.lit('"')]
    for part in parts:
        if isinstance(part, str):
            pieces.append(t.lit(json_text(part)[1:-1]))
        else:
            pieces.append(part)
    pieces.append(t.lit('"'))
    return t.concat(pieces)
