"""JSON Lines histories read by DuckDB: each line parsed and typed in SQL, not in Python.

`policy backtest --engine duckdb` over JSON Lines used to parse every line with the reference
reader (`batch.rows.JsonRows`) and type it with the fact stage before DuckDB saw it, which was
most of its time. Here the reference reader still cuts the file into lines (so line numbers,
a byte order mark, CRLF line ends and over-long lines are exactly as `policy batch` has them),
and DuckDB does the rest: one query turns each line into the input table the policy's query
reads (`tables.schema`: one typed column per fact, NULL for a fact left out), as
`tables.from_parquet` does for a Parquet file.

DuckDB's JSON parser is more lenient than Python's (trailing commas, NaN) and rounds numbers
through DOUBLE, so the query takes only the lines whose meaning it can vouch for, and marks the
others for the reference engine (`python`), which reads them exactly as before:

- the line must be a flat JSON object in strict JSON (checked with a regular expression of the
  grammar: strings without escaped surrogates, numbers, true, false, null, arrays of those),
  with no key twice and every key a declared fact;
- each fact's value must be of the JSON kind the fact's column takes without doubt: yes/no a
  boolean, a whole number an integer of at most 18 digits, an amount a number without an
  exponent (its text taken from the line itself, so `24.90` keeps its two places) or a string,
  text and enumeration values strings, a date a `YYYY-MM-DD` string of a real day, a list an
  array of such strings; a null, or any other kind, goes to the reference engine, as does a
  number with more digits than `--max-digits` allows.

What the query is handed is then what `from_parquet` hands it for the same facts: values the
policy's query validates itself (an enumeration value it does not declare, an amount's text, a
number out of range) exactly as the differential tests prove for Parquet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlglot import exp

from policy_engine.batch.rows import RowLimits
from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EnumType,
    ListType,
    TextType,
    Type,
    WholeType,
)
from policy_engine.sql import trees as t
from policy_engine.sql.trees import Sql
from policy_engine.sql.values import LINE

#: The table of lines the query reads: the line number and its text (NULL for a line the
#: reference engine reads: over the size limit, or not UTF-8).
LINES, TEXT = "lines", "text"
#: The result's column saying the reference engine reads the line.
PYTHON = "_python"

_SPACE = "[ \\t\\n\\r]*"  # JSON's whitespace, as Python's `json` reads it
_STRING = ('"(?:[^"\\\\\\x00-\\x1f]|\\\\["\\\\/bfnrt]'
           '|\\\\u(?:[0-9a-cA-CefEF][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))*"')
_NUMBER = "-?(?:0|[1-9][0-9]*)(?:[.][0-9]+)?(?:[eE][+-]?[0-9]+)?"
_SCALAR = f"(?:{_STRING}|{_NUMBER}|true|false|null)"
_ARRAY = f"\\[{_SPACE}(?:{_SCALAR}{_SPACE}(?:,{_SPACE}{_SCALAR}{_SPACE})*)?\\]"
_MEMBER = f"{_STRING}{_SPACE}:{_SPACE}(?:{_SCALAR}|{_ARRAY})"
#: A flat JSON object in strict JSON: what a line must be for DuckDB to read it.
FLAT_OBJECT = (f"{_SPACE}\\{{{_SPACE}(?:{_MEMBER}{_SPACE}(?:,{_SPACE}{_MEMBER}{_SPACE})*)?"
               f"\\}}{_SPACE}")
#: Whole numbers DuckDB reads (18 digits stay within BIGINT; longer ones go to Python).
_WHOLE = "-?(?:0|[1-9][0-9]{0,17})"
_DECIMAL = "-?(?:0|[1-9][0-9]*)(?:[.][0-9]+)?"
_DATE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"


def supported(policy: CheckedPolicy, limits: RowLimits) -> str | None:
    """Why DuckDB cannot read JSON Lines for `policy` within `limits`, or None when it can."""
    if limits.max_depth < 2:
        return "a depth limit under 2 (a row of lists is too deep): the reference reader words it"
    for info in policy.facts:
        if not _handled(info.type):
            return f"the fact '{info.name}' is of a type read only by the reference reader"
    return None


def _handled(kind: Type) -> bool:
    if isinstance(kind, ListType):
        return isinstance(kind.element, (TextType, EnumType, DateType))
    return isinstance(kind, (BoolType, WholeType, AmountType, TextType, EnumType, DateType))


def _call(name: str, *args: Sql) -> Sql:
    """A DuckDB function by its own name (sqlglot would rename some of them)."""
    return exp.Anonymous(this=name, expressions=list(args))


def _matches(value: Sql, pattern: str) -> Sql:
    return _call("regexp_full_match", value, t.lit(pattern))


def _is_string(value: Sql) -> Sql:
    return _call("starts_with", value, t.lit('"'))


def _string(value: Sql) -> Sql:
    return _call("json_extract_string", value, t.lit("$"))


def _date(text: Sql) -> Sql:
    """A `YYYY-MM-DD` text as a DATE, NULL when it is no day Python's calendar has (DuckDB
    has a year 0, Python's dates start at year 1)."""
    real = t.and_([_matches(text, _DATE), exp.NEQ(this=t.substring(text, t.num(1), t.num(4)),
                                                  expression=t.lit("0000"))])
    return t.when(real, exp.TryCast(this=text, to=exp.DataType.build("DATE")))


class JsonLinesQuery:
    """The query typing a table of JSON lines for one version of a policy (see the module
    docstring). `supported` must have said yes.

    Args:
        policy: the checked policy whose facts the table has.
        limits: the row limits (a number with more digits than `max_digits` goes to Python).
    """

    def __init__(self, policy: CheckedPolicy, limits: RowLimits) -> None:
        self.policy = policy
        self.limits = limits
        self.tree = self._build()
        self._text: str | None = None

    def sql(self) -> str:
        if self._text is None:
            self._text = self.tree.sql(dialect="duckdb")
        return self._text

    def _build(self) -> exp.Expression:
        """Three steps: each line parsed once to JSON and once to text per fact (`parsed`),
        the number facts' tokens taken from the line (`valued`), and the typed columns with
        whether Python reads the line."""
        facts = self.policy.facts
        text = t.col(TEXT)
        flat = t.coalesce([_matches(text, FLAT_OBJECT), t.false()])

        def structure(kind: str) -> Sql:
            return t.lit("{" + ",".join(f'"{info.name}":"{kind}"' for info in facts) + "}")

        parsed = exp.select(
            t.col(LINE), t.col(TEXT), t.alias(flat, "flat"),
            t.alias(t.when(t.col("flat"), _call("json_transform", text, structure("JSON"))),
                    "j"),
            t.alias(t.when(t.col("flat"), _call("json_transform", text,
                                                structure("VARCHAR"))), "s"),
            t.alias(t.when(t.col("flat"), _call("json_keys", text)), "keys"),
        ).from_(LINES, copy=False)
        fields: list[Sql] = [t.col(LINE), t.col("flat"), t.col("keys")]
        for number, info in enumerate(facts):
            value = _field("j", info.name)
            fields += [t.alias(value, f"v{number}"), t.alias(_field("s", info.name), f"s{number}")]
            if isinstance(info.type, AmountType):
                fields.append(t.alias(t.when(t.not_(_is_string(value)), self._token(info.name)),
                                      f"n{number}"))
        valued = exp.select(*fields).from_("parsed", copy=False)
        declared = t.array([t.lit(info.name) for info in facts])
        keys = t.col("keys")
        doubts: list[Sql] = [
            t.not_(t.col("flat")),
            exp.NEQ(this=_call("len", keys), expression=_call("len", _call("list_distinct",
                                                                             keys))),
            t.not_(_call("list_has_all", declared, keys)),
        ]
        columns: list[Sql] = []
        for number, info in enumerate(facts):
            value = t.col(f"v{number}")
            typed, doubt = self._fact(info.type, value, t.col(f"s{number}"),
                                      t.col(f"n{number}"))
            # A null is NULL here, as a fact left out is: the keys tell them apart.
            present = _call("list_contains", keys, t.lit(info.name))
            doubts.append(t.and_([present, t.or_([t.is_null(value),
                                                  t.coalesce([doubt, t.true()])])]))
            columns.append(t.alias(t.when(t.not_null(value), typed), info.name))
        python = t.or_(doubts)
        query = exp.select(t.col(LINE), t.alias(t.coalesce([python, t.true()]), PYTHON),
                           *columns).from_("valued", copy=False)
        query = query.with_("parsed", as_=parsed, copy=False)
        return query.with_("valued", as_=valued, copy=False)

    def _fact(self, kind: Type, value: Sql, string: Sql, token: Sql) -> tuple[Sql, Sql]:
        """The column of one fact and when the line is the reference engine's for it, given
        that the fact is in the line: `value` is its JSON text, `string` the text of a JSON
        string, `token` an amount's number as written in the line."""
        if isinstance(kind, BoolType):
            return (t.eq(value, t.lit("true")),
                    t.not_(t.in_list(value, [t.lit("true"), t.lit("false")])))
        if isinstance(kind, WholeType):
            # DuckDB writes back an integer as it was written, and a number with a fraction
            # or an exponent (which Python reads as a Decimal) with a point or an exponent.
            digits = t.compare(">", t.length(value), t.num(self.limits.max_digits))
            return (exp.TryCast(this=value, to=exp.DataType.build("BIGINT")),
                    t.or_([t.not_(_matches(value, _WHOLE)), digits]))
        if isinstance(kind, AmountType):
            # A number's text as Python reads it (`-0` is the integer 0, written `0`); a
            # string the query checks itself, as a Parquet column of text.
            digits = t.compare(">", t.length(token), t.num(self.limits.max_digits))
            number = t.and_([_matches(token, _DECIMAL), t.not_(t.eq(token, t.lit("-0"))),
                             t.not_(digits)])
            return (t.when(_is_string(value), string, token),
                    t.not_(t.or_([_is_string(value), number])))
        if isinstance(kind, (TextType, EnumType)):
            return string, t.not_(_is_string(value))
        if isinstance(kind, DateType):
            day = _date(string)
            return day, t.or_([t.not_(_is_string(value)), t.is_null(day)])
        assert isinstance(kind, ListType)
        items = _call("json_transform", value, t.lit('["JSON"]'))
        # An item that is no string (a null is NULL here) makes the line Python's.
        odd = t.filter_(items, "x", t.coalesce([t.not_(_is_string(t.var("x"))), t.true()]))
        strings = t.transform(items, "x", _string(t.var("x")))
        not_list = t.not_(t.eq(_call("json_type", value), t.lit("ARRAY")))
        if isinstance(kind.element, DateType):
            days = t.transform(strings, "x", _date(t.var("x")))
            bad = t.filter_(days, "x", t.is_null(t.var("x")))
            return days, t.or_([not_list, t.compare(">", _call("len", odd), t.num(0)),
                                t.compare(">", _call("len", bad), t.num(0))])
        return strings, t.or_([not_list, t.compare(">", _call("len", odd), t.num(0))])

    @staticmethod
    def _token(name: str) -> Sql:
        """A fact's value as written in the line, when it is a number (else empty): in a
        flat object of strict JSON, a quote after `{` or `,` and spaces opens a key."""
        pattern = (f"[{{,]{_SPACE}\"{name}\"{_SPACE}:{_SPACE}(-?[0-9][0-9.eE+-]*)")
        return _call("regexp_extract", t.col(TEXT), t.lit(pattern), t.num(1))


def _field(struct: str, name: str) -> Sql:
    return exp.Dot(this=t.col(struct), expression=exp.to_identifier(name, quoted=True))


def lines_table(chunk: Sequence[tuple[int, object]]) -> Any:
    """The Arrow table of a chunk of records from the reader (`batch.reading.Reader`): each
    line's number and its text, NULL where the record is the reader's error or not UTF-8."""
    import pyarrow as pa

    numbers = pa.array([line for line, _ in chunk], pa.int64())
    data = pa.array([record if isinstance(record, bytes) else None for _, record in chunk],
                    pa.binary())
    try:
        text = data.cast(pa.string())
    except pa.ArrowInvalid:  # some line is not UTF-8: those lines go to Python
        text = pa.array([_utf8(record) for _, record in chunk], pa.string())
    return pa.table({LINE: numbers, TEXT: text})


def _utf8(record: object) -> str | None:
    if not isinstance(record, bytes):
        return None
    try:
        return record.decode("utf-8")
    except UnicodeDecodeError:
        return None


def typed(engine: Any, query: JsonLinesQuery, lines: Any) -> tuple[Any, list[int]]:
    """The input table of `lines` (from `lines_table`) for `query`'s policy, and the lines
    left to the reference engine."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from policy_engine.sql.tables import schema

    result = engine.sql(query.sql(), {LINES: lines})
    python = pc.fill_null(result.column(PYTHON), True)
    left = result.filter(python).column(LINE).to_pylist()
    kept = result.filter(pc.invert(python)).drop_columns([PYTHON])
    target = schema(query.policy)
    return pa.table([kept.column(field.name).cast(field.type) for field in target],
                    schema=target), left
