"""`policy backtest --engine duckdb` over JSON Lines read by DuckDB itself (`sql.json_lines`)
against the reference engine reading the same file with Python, and against the same rows in
Parquet: the whole report (transitions, counts, amounts, example rows with their line numbers
and both explanations) must be the same, with every kind of awkward line in the history. A
line DuckDB cannot read as Python does must be left to Python, and a plain line must not be.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks.sql_rows import generate, write_jsonl, write_parquet
from policy_engine import Policy
from policy_engine.batch.rows import DEFAULT_LIMITS, RowLimits, parse_json_line
from policy_engine.check.types import AmountType
from policy_engine.sql import json_lines
from policy_engine.sql.backtest import backtest
from policy_engine.sql.engines import DuckDB
from policy_engine.sql.reports import to_json
from policy_engine.sql.tables import from_typed
from tests.helpers.examples import examples
from tests.sql.helpers import ROOT
from tests.sql.test_backtest_differential import changed

POLICY = ROOT / "policies" / "aliexpress" / "refund.policy"
#: A plain row of the AliExpress policy that both versions decide (and decide otherwise).
PLAIN = {"request": "goods_not_received", "order_status": "sent", "paid": True,
         "amount_paid": "24.90", "payment_method": "card", "days_since_sent": 40,
         "days_without_tracking": 20}


def _line(**changes: Any) -> bytes:
    return json.dumps({**PLAIN, **changes}).encode()


def _swap(old: str, new: str) -> bytes:
    text = json.dumps(PLAIN)
    assert old in text
    return text.replace(old, new, 1).encode()


#: One awkward line (or file) of each kind: the kinds of line DuckDB's JSON reader could read
#: otherwise than Python's `json` does.
AWKWARD: dict[str, bytes] = {
    "whole beyond 64 bits": _swap('"days_since_sent": 40',
                                  '"days_since_sent": 1234567890123456789012345678'),
    "whole beyond BIGINT": _swap('"days_since_sent": 40',
                                 '"days_since_sent": 9223372036854775808'),
    "whole of 19 digits": _swap('"days_since_sent": 40', '"days_since_sent": 1234567890123456789'),
    "whole written as a decimal": _swap('"days_since_sent": 40', '"days_since_sent": 40.0'),
    "whole with an exponent": _swap('"days_since_sent": 40', '"days_since_sent": 4e1'),
    "whole negative zero": _swap('"days_since_sent": 40', '"days_since_sent": -0'),
    "whole as text": _line(days_since_sent="40"),
    "whole over the digits limit": _swap('"days_since_sent": 40',
                                         '"days_since_sent": ' + "9" * 101),
    "amount a float with places": _swap('"amount_paid": "24.90"', '"amount_paid": 24.90'),
    "amount a float rounding in binary": _swap('"amount_paid": "24.90"', '"amount_paid": 0.1'),
    "amount with 17 places": _swap('"amount_paid": "24.90"',
                                   '"amount_paid": 0.10000000000000001'),
    "amount an integer": _swap('"amount_paid": "24.90"', '"amount_paid": 25'),
    "amount negative zero": _swap('"amount_paid": "24.90"', '"amount_paid": -0'),
    "amount negative zero with places": _swap('"amount_paid": "24.90"', '"amount_paid": -0.00'),
    "amount with an exponent": _swap('"amount_paid": "24.90"', '"amount_paid": 2.49E1'),
    "amount beyond 64 bits": _swap('"amount_paid": "24.90"',
                                   '"amount_paid": 123456789012345678901234567890'),
    "amount text not a number": _line(amount_paid="24,90"),
    "amount a boolean": _line(amount_paid=True),
    "null for a required fact": _line(paid=None),
    "null for an optional fact": _line(amount_paid=None),
    "duplicate key": _swap('"paid": true', '"paid": true, "paid": false'),
    "duplicate key, same value": _swap('"paid": true', '"paid": true, "paid": true'),
    "key written with an escape": _swap('"paid": true', '"\\u0070aid": true'),
    "number's key written with an escape": _swap('"days_since_sent"', '"\\u0064ays_since_sent"'),
    "amount's key written with an escape": _swap('"amount_paid": "24.90"',
                                                 '"\\u0061mount_paid": 24.9'),
    "unknown fact": _line(colour="red"),
    "trailing comma": _swap('"paid": true', '"paid": true,').replace(b"}", b",}"),
    "NaN": _swap('"amount_paid": "24.90"', '"amount_paid": NaN'),
    "Infinity": _swap('"amount_paid": "24.90"', '"amount_paid": Infinity'),
    "malformed": b'{"request": "goods_not_received", "paid": tru',
    "text after the object": _line() + b' {"paid": true}',
    "comment": _line().replace(b"}", b" /* note */}"),
    "single quotes": b"{'paid': true}",
    "array line": b"[1, 2]",
    "string line": b'"goods_not_received"',
    "number line": b"42",
    "null line": b"null",
    "blank line": b"",
    "spaces only": b"  \t ",
    "not UTF-8": _line(currency="EUR").replace(b"EUR", b"\xff\xfeR"),
    "byte order mark inside the file": b"\xef\xbb\xbf" + _line(),
    "lone surrogate": _line(currency="X").replace(b'"X"', b'"\\ud800"'),
    "surrogate pair": _line(currency="X").replace(b'"X"', b'"\\ud83d\\ude00"'),
    "escaped NUL": _line(currency="X").replace(b'"X"', b'"a\\u0000b"'),
    "escapes": _line(currency='a"b\\c\n\té/'),
    "raw control character": _line(currency="X").replace(b'"X"', b'"a\tb"'),
    "non-ASCII text": _line(currency="€ ünïcode"),
    "nested object": _line(currency={"code": "EUR"}),
    "nested array": _line(evidence=[["photo"]]),
    "list with a number": _line(evidence=["photo", 3]),
    "list with a null": _line(evidence=["photo", None]),
    "list not a list": _line(evidence="photo"),
    "enumeration not declared": _line(request="something_else"),
    "date not a day": _line(as_of_date="2024-02-30"),
    "date of year 0": _line(as_of_date="0000-01-01"),
    "date in another form": _line(as_of_date="2024-1-5"),
    "date list with a bad day": _line(holidays=["2024-01-01", "2024-13-01"]),
    "yes/no as text": _line(paid="yes"),
    "whitespace around": b" \t" + _line() + b" \t",
    "over the row size limit": _line(currency="x" * 5000),
}


def report(old: Path, new: Path, history: Path, engine: str, *, limits: RowLimits = DEFAULT_LIMITS,
           shown: bool = True) -> dict[str, Any]:
    result = backtest(Policy.load(str(old)), Policy.load(str(new)), str(history),
                      old_name="old", new_name="new", engine=engine, examples=3,
                      limits=limits)
    data = to_json(result)
    del data["engine"]
    if not shown:  # the history's name differs between its JSON Lines and Parquet copies
        del data["history"]
        for transition in data["transitions"]:
            for example in transition["examples"]:
                del example["file"]
    return data


LIMITS = RowLimits(max_row_bytes=4096)
#: The awkward kind whose amounts sum beyond 28 digits (see `backtest`'s `_Rounded`).
ROUNDED = "amount beyond 64 bits"


@pytest.mark.parametrize("kind", sorted(AWKWARD))
def test_an_awkward_line_gives_the_reference_report(kind: str, tmp_path: Path) -> None:
    new = changed(POLICY, tmp_path)
    lines = [_line(), _line(days_since_sent=50), AWKWARD[kind], _line(amount_paid="3.5"),
             AWKWARD[kind], _line(days_since_sent=31)]
    history = tmp_path / "history.jsonl"
    history.write_bytes(b"\n".join(lines) + b"\n")
    expected = report(POLICY, new, history, "python", limits=LIMITS)
    assert report(POLICY, new, history, "duckdb", limits=LIMITS) == expected


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
@pytest.mark.parametrize("bom", [False, True], ids=["", "BOM"])
def test_byte_order_mark_and_line_ends(ending: bytes, bom: bool, tmp_path: Path) -> None:
    new = changed(POLICY, tmp_path)
    lines = [_line(), _line(days_since_sent=50), _line(amount_paid=12), b"", _line()]
    history = tmp_path / "history.jsonl"
    history.write_bytes((b"\xef\xbb\xbf" if bom else b"") + ending.join(lines))  # no last end
    expected = report(POLICY, new, history, "python")
    assert report(POLICY, new, history, "duckdb") == expected
    assert expected["rows"] == len(lines)


def test_generated_history_with_every_awkward_kind(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated rows (valid, boundary, missing and invalid values) with the awkward lines
    mixed in: the report read by DuckDB is the reference engine's; and the generated rows
    that a Parquet file holds alike (values of their facts' types: a Parquet column turns a
    value of another type into a null) give the same report from JSON Lines as from Parquet."""
    policy = Policy.load(str(POLICY))
    new = changed(POLICY, tmp_path)
    rows = generate(policy, examples(2000), seed=23)
    write_jsonl(rows, tmp_path / "rows.jsonl")
    amounts = [info.name for info in policy.checked.facts if isinstance(info.type, AmountType)]
    typed = [row for row in rows if policy._facts.quick(row) is not None
             and all(isinstance(row[name], str) for name in amounts if name in row)]
    write_jsonl(typed, tmp_path / "typed.jsonl")
    write_parquet(policy, typed, tmp_path / "typed.parquet")
    parquet = report(POLICY, new, tmp_path / "typed.parquet", "duckdb", shown=False)
    assert report(POLICY, new, tmp_path / "typed.jsonl", "duckdb", shown=False) == parquet
    assert report(POLICY, new, tmp_path / "typed.parquet", "python", shown=False) == parquet
    plain = (tmp_path / "rows.jsonl").read_bytes().splitlines()
    mixed = []
    # A sum beyond 28 digits sends the whole history to the reference engine (a case above).
    awkward = sorted((kind, line) for kind, line in AWKWARD.items() if kind != ROUNDED)
    for position, line in enumerate(plain):
        mixed.append(line)
        if position % 7 == 3:
            mixed.append(awkward[(position // 7) % len(awkward)][1])
    history = tmp_path / "mixed.jsonl"
    history.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(mixed) + b"\r\n")
    expected = report(POLICY, new, history, "python", limits=LIMITS)
    read: list[int] = []
    typed = json_lines.typed

    def counted(engine: Any, query: Any, lines: Any) -> Any:
        table, left = typed(engine, query, lines)
        read.append(table.num_rows)
        return table, left

    monkeypatch.setattr(json_lines, "typed", counted)
    assert report(POLICY, new, history, "duckdb", limits=LIMITS) == expected
    assert expected["changed"] > 0 and expected["invalid"]["before"] > 0
    assert sum(read) > len(mixed) // 2  # DuckDB read most lines itself


def _typed_by_duckdb(policy: Policy, lines: list[bytes]) -> tuple[list[dict[str, Any]],
                                                                  list[int]]:
    chunk = [(number, line) for number, line in enumerate(lines, 1)]
    with DuckDB() as engine:
        table, left = json_lines.typed(engine, json_lines.JsonLinesQuery(
            policy.checked, LIMITS), json_lines.lines_table(chunk))
    return table.to_pylist(), left


def test_each_awkward_line_is_left_to_python_or_read_alike(tmp_path: Path) -> None:
    """Every awkward line DuckDB keeps holds what Python's reader and fact stage make of it
    (its values in the input table as `from_typed` writes them); the others it leaves."""
    policy = Policy.load(str(POLICY))
    kinds = sorted(AWKWARD)
    rows, left = _typed_by_duckdb(policy, [AWKWARD[kind] for kind in kinds])
    kept = {row["_line"]: row for row in rows}
    assert set(kept) | set(left) == set(range(1, len(kinds) + 1))
    assert not set(kept) & set(left)
    must_leave = {"whole beyond 64 bits", "whole beyond BIGINT", "whole of 19 digits",
                  "whole written as a decimal", "whole with an exponent", "whole as text",
                  "whole over the digits limit", "amount with an exponent",
                  "amount a boolean", "amount negative zero",
                  "null for a required fact", "null for an optional fact", "duplicate key",
                  "duplicate key, same value", "amount's key written with an escape",
                  "unknown fact",
                  "trailing comma", "NaN", "Infinity", "malformed", "text after the object",
                  "comment", "single quotes", "array line", "string line", "number line",
                  "null line", "blank line", "spaces only", "not UTF-8",
                  "byte order mark inside the file", "lone surrogate", "surrogate pair",
                  "raw control character", "nested object", "nested array",
                  "list with a number", "list with a null", "list not a list",
                  "date not a day", "date of year 0", "date in another form",
                  "date list with a bad day", "yes/no as text"}
    for number, kind in enumerate(kinds, 1):
        if kind in must_leave:
            assert number in left, kind
    for number, row in kept.items():
        raw = parse_json_line(AWKWARD[kinds[number - 1]], LIMITS)
        assert isinstance(raw, dict), kinds[number - 1]
        facts = policy._facts.quick(raw)
        if facts is None:  # the policy's query words the problem, as for Parquet
            continue
        expected, aside = from_typed(policy.checked, [(number, facts)], [frozenset(raw)])
        assert not aside
        assert expected.to_pylist() == [row], kinds[number - 1]


def test_plain_rows_are_read_by_duckdb_alike(tmp_path: Path) -> None:
    """Generated rows that Python's fact stage takes as they are: DuckDB keeps every one (the
    speed depends on it) with the same values as Python's input table."""
    policy = Policy.load(str(POLICY))
    rows = generate(policy, examples(1000), seed=5)
    write_jsonl(rows, tmp_path / "rows.jsonl")
    lines = (tmp_path / "rows.jsonl").read_bytes().splitlines()
    typed, left = _typed_by_duckdb(policy, lines)
    by_line = {row["_line"]: row for row in typed}
    plain = 0
    for number, line in enumerate(lines, 1):
        raw = parse_json_line(line, LIMITS)
        facts = policy._facts.quick(raw) if isinstance(raw, dict) else None
        if facts is None:
            continue
        expected, aside = from_typed(policy.checked, [(number, facts)], [frozenset(raw)])
        if aside:
            continue
        plain += 1
        assert number not in left, line
        assert [by_line[number]] == expected.to_pylist(), line
    assert plain > len(lines) // 2


def test_an_unsupported_limit_reads_with_python(tmp_path: Path) -> None:
    policy = Policy.load(str(POLICY))
    assert json_lines.supported(policy.checked, RowLimits(max_depth=1)) is not None
    assert json_lines.supported(policy.checked, DEFAULT_LIMITS) is None
    new = changed(POLICY, tmp_path)
    history = tmp_path / "history.jsonl"
    history.write_bytes(b"\n".join([_line(), _line(days_since_sent=50),
                                    _line(evidence=["photo"])]) + b"\n")
    limits = RowLimits(max_depth=1)
    expected = report(POLICY, new, history, "python", limits=limits)
    assert report(POLICY, new, history, "duckdb", limits=limits) == expected
