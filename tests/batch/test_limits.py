"""The row limits are checked before the work they guard, and a row over one is E307.

A row longer than `--max-row-bytes` is never held in memory whole (the reader asks for at
most the limit and skips the rest), a JSON row nested deeper than `--max-depth` is refused
before `json` recurses into it, and a number with more digits than `--max-digits` written out
is refused before anything expands it. The rows around a refused one are read as usual.
"""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import IO, Any

import pytest

from policy_engine.batch import RowError, RowLimits, parse_json_line, read_rows
from policy_engine.batch import reading as reading_module
from policy_engine.batch.rows import digits_written_out, nesting_depth
from policy_engine.policy import Policy
from tests.batch.helpers import ALIEXPRESS, CANCEL, batch, outcome, write_rows
from tests.helpers.cli import Run, invoker
from tests.helpers.paths import ROOT


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load(ALIEXPRESS)


def _long_row(size: int) -> str:
    row = json.dumps({**CANCEL, "dispute_id": ""})
    return row[:-2] + "x" * (size - len(row)) + '"}'


# ---------------------------------------------------------------- the size of a row


def test_a_row_over_the_size_limit_is_e307_and_the_next_one_is_read(policy: Policy,
                                                                    tmp_path: Path) -> None:
    path = write_rows(tmp_path / "rows.jsonl",
                      [json.dumps(CANCEL), _long_row(3_000_000), json.dumps(CANCEL)])
    rows, summary, reported, _ = batch(policy, path, jobs=1)
    assert [outcome(row) for row in rows] == ["decided", "invalid", "decided"]
    assert rows[1] == {"line": 2, "error": {
        "code": "E307", "path": "$",
        "message": "the row is 3,000,000 bytes, more than the limit of 1,048,576 "
                   "(--max-row-bytes)"}}
    assert summary.invalid == 1 and summary.rows == 3
    assert reported == [f"{path}:2: $: {rows[1]['error']['message']} [E307]"]


@pytest.mark.parametrize(("size", "result"), [(1000, "decided"), (1001, "invalid")])
def test_the_size_limit_counts_the_bytes_of_the_row_without_its_line_break(
        policy: Policy, tmp_path: Path, size: int, result: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(_long_row(size).encode() + b"\r\n" + json.dumps(CANCEL).encode())
    rows, _, _, _ = batch(policy, path, jobs=1, limits=RowLimits(max_row_bytes=1000))
    assert [outcome(row) for row in rows] == [result, "decided"]
    assert [row["line"] for row in rows] == [1, 2]


class _Recording:
    """A binary file that records the longest piece any read returned."""

    def __init__(self, handle: IO[bytes], longest: list[int]) -> None:
        self._handle = handle
        self._longest = longest

    def readline(self, size: int = -1) -> bytes:
        line = self._handle.readline(size)
        self._longest[0] = max(self._longest[0], len(line))
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


def test_a_long_row_is_never_held_whole(policy: Policy, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    longest = [0]

    def recording_open(path: str, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = builtins.open(path, mode, *args, **kwargs)
        return _Recording(handle, longest) if "b" in mode else handle

    monkeypatch.setattr(reading_module, "open", recording_open, raising=False)
    path = write_rows(tmp_path / "rows.jsonl", [_long_row(5_000_000), json.dumps(CANCEL)])
    rows = list(read_rows(policy, str(path), limits=RowLimits(max_row_bytes=10_000)))
    assert [line for line, _ in rows] == [1, 2]
    assert isinstance(rows[0][1], RowError) and rows[0][1].code == "E307"
    assert "5,000,000 bytes" in rows[0][1].message
    assert 0 < longest[0] <= 1 << 16  # pieces of at most 64 KiB, never the 5 MB line


def test_a_csv_row_over_the_size_limit_is_e307(policy: Policy, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "rows.csv", [
        "request,order_status,paid,payment_method,dispute_id",
        "cancel_order,awaiting_shipment,yes,card,short",
        "cancel_order,awaiting_shipment,yes,card," + "x" * 5000,
        "cancel_order,awaiting_shipment,yes,card,\"a note\nover\nseveral lines " + "y" * 900
        + "\nand more " + "z" * 900 + '"',
        "cancel_order,awaiting_shipment,yes,card,short again",
    ])
    rows, summary, _, _ = batch(policy, path, jobs=1, limits=RowLimits(max_row_bytes=1500))
    assert [(row["line"], outcome(row)) for row in rows][:3] == \
        [(2, "decided"), (3, "invalid"), (4, "invalid")]
    assert rows[1]["error"]["message"] == \
        "the row is 5,040 bytes, more than the limit of 1,500 (--max-row-bytes)"
    assert rows[2]["error"]["code"] == "E307"
    assert rows[-1] == {**rows[0], "line": 8}  # reading goes on after the cut row
    assert summary.rows == len(rows)


# ---------------------------------------------------------------- nesting


def test_a_row_nested_too_deep_is_refused_before_json_reads_it() -> None:
    row = b'{"problems": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert parse_json_line(row) == RowError(
        "E307", "the row nests arrays and objects more than 64 levels deep (the limit, "
                "--max-depth)")


def test_brackets_inside_text_do_not_count_as_nesting(policy: Policy, tmp_path: Path) -> None:
    note = "[{" * 500 + '\\"]' * 100
    path = write_rows(tmp_path / "rows.jsonl",
                      [json.dumps(CANCEL)[:-1] + f', "dispute_id": "{note}"}}'])
    rows, _, _, _ = batch(policy, path, jobs=1)
    assert outcome(rows[0]) == "decided"


@pytest.mark.parametrize(("text", "depth"), [
    ("{}", 1),
    ('{"a": [1, [2, {"b": []}]]}', 5),
    ('{"a": "[[[[", "b": [[]]}', 3),
    ('{"a": "\\"[[", "b": []}', 2),
])
def test_nesting_depth(text: str, depth: int) -> None:
    assert nesting_depth(text, 64) == depth


def test_the_depth_limit_is_an_option(policy: Policy, tmp_path: Path) -> None:
    row = json.dumps({**CANCEL, "problems": []})
    path = write_rows(tmp_path / "rows.jsonl", [row])
    rows, _, _, _ = batch(policy, path, jobs=1, limits=RowLimits(max_depth=1))
    assert rows[0]["error"]["code"] == "E307"
    rows, _, _, _ = batch(policy, path, jobs=1, limits=RowLimits(max_depth=2))
    assert outcome(rows[0]) == "decided"


# ---------------------------------------------------------------- digits


@pytest.mark.parametrize(("token", "digits"), [
    ("0", 1), ("-12", 2), ("24.90", 4), ("0.001", 4), ("1e6", 7), ("1.5e3", 4),
    ("1e-3", 4), ("1e999999999", 1_000_000_000), ("-2.5E-2", 4),
])
def test_digits_written_out(token: str, digits: int) -> None:
    assert digits_written_out(token) == digits


def test_a_number_that_would_expand_to_a_billion_digits_is_refused_with_its_path() -> None:
    result = parse_json_line(b'{"request": "cancel_order", "days_since_sent": 1e999999999}')
    assert result == RowError(
        "E307", "the number 1e999999999 has 1,000,000,000 digits written out, more than the "
                "limit of 100 (--max-digits)", "$.days_since_sent")


@pytest.mark.parametrize(("number", "code"), [
    ("9" * 100, None), ("9" * 101, "E307"), ("-" + "9" * 101, "E307"), ("9" * 5000, "E307"),
    ("1e99", None), ("1e100", "E307"), ("1" + "0" * 80 + ".5", None), ("1e-200", "E307"),
])
def test_the_digits_limit(number: str, code: str | None) -> None:
    result = parse_json_line(f'{{"problems": [{{"x": {number}}}]}}'.encode())
    if code is None:
        assert isinstance(result, dict)
    else:
        assert isinstance(result, RowError) and result.code == code
        assert result.path == "$.problems[0].x"


def test_csv_cells_have_the_digits_and_depth_limits(policy: Policy, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "rows.csv", [
        "request,order_status,paid,payment_method,days_since_sent,problems",
        "cancel_order,awaiting_shipment,yes,card,5,",
        "cancel_order,awaiting_shipment,yes,card," + "9" * 5000 + ",",
        'cancel_order,awaiting_shipment,yes,card,5,"[1e999999999]"',
        'cancel_order,awaiting_shipment,yes,card,5,"' + "[" * 1000 + "]" * 1000 + '"',
    ])
    rows, _, _, _ = batch(policy, path, jobs=1)
    assert outcome(rows[0]) == "decided"
    assert [row["error"]["code"] for row in rows[1:]] == ["E307"] * 3
    assert [row["error"]["path"] for row in rows[1:]] == \
        ["$.days_since_sent", "$.problems", "$.problems"]


# ---------------------------------------------------------------- the command


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Run:
    return invoker(ROOT, monkeypatch, "batch")


def test_the_limits_are_options_of_the_command(run: Run, tmp_path: Path) -> None:
    path = write_rows(tmp_path / "rows.jsonl", [json.dumps(CANCEL), _long_row(200),
                                                '{"days_since_sent": 123456}'])
    result = run(ALIEXPRESS, str(path), "--out", "-", "--max-row-bytes", "150",
                 "--max-digits", "5")
    assert result.exit_code == 2
    errors = [json.loads(line).get("error", {}).get("code") for line in result.stdout.split("\n")
              if line]
    assert errors == [None, "E307", "E307"]
    assert "rows read: 3 = 1 decided + 0 refused + 2 invalid; " in result.stderr
    assert run(ALIEXPRESS, str(path), "--out", "-", "--max-depth", "0").exit_code == 3


def test_a_csv_header_over_the_size_limit_stops_before_any_row(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    write_rows(tmp_path / "rows.csv", ["request," * 100 + "paid", "cancel_order,yes"])
    run = invoker(tmp_path, monkeypatch, "batch")
    result = run(ALIEXPRESS, "rows.csv", "--out", "out.jsonl", "--max-row-bytes", "100")
    assert result.exit_code == 2
    assert result.stderr == ("error[E307]: rows.csv:1: the row is 804 bytes, more than the "
                             "limit of 100 (--max-row-bytes)\n")
    assert not (tmp_path / "out.jsonl").exists()


class _FakeBatch:
    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows

    def to_pylist(self) -> list[dict[str, object]]:
        return self.rows


class _FakeParquet:
    """What the reader uses of pyarrow's ParquetFile, for a test without pyarrow."""

    def __init__(self, rows: list[dict[str, object]]) -> None:
        self.rows = rows
        self.metadata = type("Metadata", (), {"num_rows": len(rows)})()

    def iter_batches(self, batch_size: int) -> list[_FakeBatch]:
        return [_FakeBatch(self.rows[i:i + batch_size])
                for i in range(0, len(self.rows), batch_size)]


def test_a_parquet_row_over_the_size_limit_is_e307(policy: Policy, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rows: list[dict[str, object]] = [dict(CANCEL), {**CANCEL, "dispute_id": "x" * 2000},
                                     {**CANCEL, "dispute_id": None}]
    monkeypatch.setattr(reading_module, "_open_parquet", lambda path, shown: _FakeParquet(rows))
    path = tmp_path / "rows.parquet"
    path.write_bytes(b"PAR1")
    found, summary, _, _ = batch(policy, path, jobs=1, limits=RowLimits(max_row_bytes=1000))
    assert [outcome(row) for row in found] == ["decided", "invalid", "decided"]
    assert found[1]["error"]["code"] == "E307"
    assert summary.rows == 3
