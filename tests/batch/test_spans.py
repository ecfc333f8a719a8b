"""The fast paths of `policy batch` give exactly the output of the reading path.

Three things were made faster, and each must be invisible in the output: workers that read
their own spans of a JSON Lines file (instead of the main process reading every row to
them), msgspec decoding (instead of `json`, with `json` for every row msgspec cannot vouch
for), and refusals worded from the compiled checks (instead of the full fact stage). Every
input here holds the rows that could tell them apart: broken JSON, keys twice, numbers and
nesting over the limits, rows over the size limit, blank lines, CRLF, a lone surrogate,
bytes that are not UTF-8, refusals, and a last line without a line break.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import random
import subprocess
import sys
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from policy_engine.batch import RowLimits
from policy_engine.batch import rows as rows_module
from policy_engine.batch import running as running_module
from policy_engine.batch.rows import JsonRows
from policy_engine.batch.spans import Span, cut_spans, span_records
from policy_engine.policy import Policy
from policy_engine.scenarios.yaml_data import read_yaml_file
from tests.batch.helpers import ALIEXPRESS, CANCEL, NOT_RECEIVED, SOME, run_jsonl
from tests.helpers.paths import ROOT

forked = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                            reason="the workers must inherit the test's patch (fork)")

LIMITS = RowLimits(max_row_bytes=600, max_depth=4, max_digits=12)

#: Rows that are not plain fact sets, each written as bytes.
ODD: list[bytes] = [
    b"",
    b"   ",
    b"{",
    b"[1, 2]",
    b'"text"',
    b"null",
    b'{"request": "cancel_order", "request": "cancel_order"}',
    b'{"request" : "cancel_order", "request":"x"}',
    b'{"request": NaN}',
    b'{"paid": true,}',
    b'{"days_since_sent": 1e999999999}',
    b'{"days_since_sent": 1234567890123}',
    b'{"days_since_sent": -999999999999}',
    b'{"amount_paid": 12.50, "request": "cancel_order"}',
    b'{"amount_paid": 1.5E+3}',
    b'{"problems": [[[[["deep"]]]]]}',
    b'{"problems": [{"a": 1}]}',
    b'{"problems": ["a:b"], "request": "cancel_order"}',
    b'{"note": "\\ud800"}',
    b'{"request": "\xff"}',
    b'{"request": "cancel\x01order"}',
    b'{"request": "caf\xc3\xa9", "paid": true}',
    b'\xef\xbb\xbf{"request": "cancel_order"}',
    b'{"request": "cancel_order", "order_status": "awaiting_shipment", "paid": true, '
    b'"payment_method": "paypal", "dispute_id": "' + b"x" * 700 + b'"}',
]


def _refused_facts() -> list[str]:
    """The facts of shipped AliExpress scenarios that the policy refuses (a failed
    `require` or `ensure` labelled MISSING_FIELD, INCONSISTENT_FACTS..., or `otherwise refuse`)."""
    found = []
    for path in sorted((ROOT / "policies" / "aliexpress" / "scenarios").glob("**/*.yaml")):
        data = read_yaml_file(str(path)).data
        assert isinstance(data, dict)
        error = (data.get("expect") or {}).get("error")
        if error is not None and not error.startswith("E3"):  # E3xx: the facts are invalid
            found.append(json.dumps(data["facts"], default=str))
    return found


def _input(seed: int, count: int) -> bytes:
    """`count` lines mixing decided, refused and odd rows, with CRLF here and there and (for
    odd seeds) no line break after the last line."""
    rng = random.Random(seed)
    refused = _refused_facts()
    lines: list[bytes] = []
    for _ in range(count):
        pick = rng.random()
        if pick < 0.5:
            facts = dict(rng.choice((CANCEL, NOT_RECEIVED)))
            if "days_since_sent" in facts:
                facts["days_since_sent"] = rng.randint(0, 60)
                facts["days_without_tracking"] = rng.randint(0, facts["days_since_sent"])
            line = json.dumps(facts).encode()
        elif pick < 0.7:
            line = rng.choice(refused).encode()
        elif pick < 0.8:
            line = rng.choice(SOME).encode()
        else:
            line = rng.choice(ODD)
        lines.append(line + (b"\r\n" if rng.random() < 0.1 else b"\n"))
    text = b"".join(lines)
    return text[:-1] if seed % 2 else text


def _run(path: Path, **options: Any) -> tuple[str, tuple[int, ...], list[str]]:
    return run_jsonl(ALIEXPRESS, path, LIMITS, options.pop("chunk_rows", 7), **options)


@forked
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_path_gives_the_reading_path_s_output(seed: int, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(_input(seed, 160))
    with monkeypatch.context() as patch:  # today's path: rows read by this process, json
        patch.setattr(running_module.Batch, "_spanned", lambda self: False)
        patch.setattr(rows_module, "USE_MSGSPEC", False)
        expected = _run(path, jobs=1)
    assert expected[1][0] == 160 and all(expected[1][1:4])  # decided, refused, invalid
    for msgspec in (True, False):
        monkeypatch.setattr(rows_module, "USE_MSGSPEC", msgspec)
        for jobs in (1, 2, 3):
            assert _run(path, jobs=jobs) == expected, (msgspec, jobs)


@forked
def test_without_msgspec_installed_the_output_is_the_same(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(_input(4, 60))
    expected = _run(path, jobs=2)
    monkeypatch.setitem(sys.modules, "msgspec", None)  # `import msgspec` raises ImportError
    assert rows_module.quick_decoder(LIMITS) is None
    assert _run(path, jobs=2) == expected
    assert _run(path, jobs=1) == expected


@forked
@pytest.mark.parametrize("content", [b"", b"\n", b'{"request": "cancel_order"}',
                                     b'{"paid": 1}\n{"paid": 2}\n'], ids=repr)
def test_a_file_smaller_than_the_workers(content: bytes, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(content)
    monkeypatch.setattr(running_module.Batch, "_spanned", lambda self: False)
    expected = _run(path, jobs=1, chunk_rows=1)
    monkeypatch.undo()
    assert _run(path, jobs=3, chunk_rows=1) == expected


def test_a_pipe_is_read_by_this_process_with_the_same_output(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    data = _input(5, 80)
    path.write_bytes(data)
    expected = _run(path, jobs=2)
    fifo = tmp_path / "rows.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    try:
        got = _run(fifo, jobs=2, chunk_rows=7)
    finally:
        writer.join(60)
    assert got[:2] == expected[:2]
    assert [line.replace(str(fifo), str(path)) for line in got[2]] == expected[2]


def test_a_fifo_named_jsonl_is_read_without_being_peeked_at(tmp_path: Path) -> None:
    """Telling a decision log from its first line must not take that line from a FIFO (or
    wait on it): without --input-format, a FIFO is read as JSON Lines, every row kept."""
    data = _input(7, 40)
    path = tmp_path / "rows.jsonl"
    path.write_bytes(data)
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    command = [sys.executable, "-m", "policy_engine", "batch", str(ALIEXPRESS)]

    def run(source: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, str(source), "--out", "-", "--jobs", "1"],
                              capture_output=True, text=True, timeout=120, check=False)

    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    try:
        through_fifo = run(fifo)
    finally:
        writer.join(60)
    from_file = run(path)
    assert through_fifo.returncode == from_file.returncode, through_fifo.stderr
    assert through_fifo.stdout == from_file.stdout
    assert len(through_fifo.stdout.splitlines()) == 40


@pytest.mark.parametrize("scan", [1, 5, 64, 1 << 20])
@pytest.mark.parametrize("rows", [1, 3, 1000])
def test_spans_cover_the_file_in_whole_lines(scan: int, rows: int, tmp_path: Path) -> None:
    data = _input(6, 50) + b"\n\n" + b"x" * 300 + b"\r\n" + b"tail"
    path = tmp_path / "rows.jsonl"
    path.write_bytes(data)
    with open(path, "rb") as handle:
        spans = list(cut_spans(handle, rows, 200, scan))
    with open(path, "rb") as handle:
        records = [r for span in spans for r in span_records(handle, span, 250)]
    assert spans[0].start == 0 and spans[-1].end == len(data)
    assert all(a.end == b.start and a.first + a.lines == b.first
               for a, b in zip(spans, spans[1:], strict=False))
    assert all(data[span.end - 1:span.end] == b"\n" for span in spans[:-1])
    assert [line for line, _ in records] == list(range(1, data.count(b"\n") + 2))
    assert all(s.lines <= rows for s in spans)
    assert list(cut_spans(io.BytesIO(b""), 5, 100)) == []
    assert list(cut_spans(io.BytesIO(b"a\n"), 5, 100)) == [Span(0, 2, 1, 1)]


@pytest.mark.parametrize("record", ODD + [line.encode() for line in SOME] + [
    b'{"a": 1.0, "b": 1.00, "c": -0.0, "d": 0, "e": -0, "f": true, "g": null}',
    b'{"a": [1, 2.50, "x", [true, null]], "b": 123456789012}',
    b'{"a": "\\u00e9\\n\\"", "b": "\\/"}',
    b' {"a": 1} ',
], ids=repr)
def test_msgspec_decodes_as_json_or_leaves_the_row_to_json(
        record: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rows_module, "USE_MSGSPEC", True)
    fast = JsonRows(LIMITS)
    monkeypatch.setattr(rows_module, "USE_MSGSPEC", False)
    slow = JsonRows(LIMITS)
    assert slow._quick is None
    got, expected = fast.parse(record), slow.parse(record)
    assert repr(got) == repr(expected)
    assert [type(v) for v in _leaves(got)] == [type(v) for v in _leaves(expected)]


def _leaves(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def test_a_depth_limit_under_two_leaves_every_row_to_json() -> None:
    assert rows_module.quick_decoder(RowLimits(max_depth=1)) is None
    assert JsonRows(RowLimits(max_depth=1)).parse(b'{"a": [1]}') == JsonRows(
        RowLimits(max_depth=1), ).parse(b'{"a": [1]}')


def test_msgspec_keeps_decimals_exact() -> None:
    parsed = JsonRows().parse(b'{"amount_paid": 10.50}')
    assert isinstance(parsed, dict) and parsed["amount_paid"].as_tuple() == \
        Decimal("10.50").as_tuple()


def test_refusals_from_the_compiled_checks_are_the_full_path_s() -> None:
    policy = Policy.load(ALIEXPRESS)
    decide = policy.decider()
    refused = [json.loads(text) for text in _refused_facts()]
    assert refused
    for facts in refused:
        fast = decide(facts, "rows.jsonl", None, ())
        slow = policy._decide_raw(facts, "rows.jsonl", None, ())
        assert fast.refusal and fast.refusal == slow.refusal
        assert fast.to_json() == slow.to_json()


def test_the_command_s_output_summary_and_status_do_not_depend_on_jobs(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_bytes(_input(7, 120))
    results = []
    for jobs in ("1", "2"):
        process = subprocess.run(
            [sys.executable, "-m", "policy_engine", "batch", ALIEXPRESS, "rows.jsonl", "--out",
             f"out{jobs}.jsonl", "--summary", f"summary{jobs}.json", "--jobs", jobs,
             "--max-depth", "4", "--max-digits", "12", "--max-row-bytes", "600"],
            cwd=tmp_path, capture_output=True, timeout=300, check=False)
        summary = json.loads((tmp_path / f"summary{jobs}.json").read_text())
        del summary["seconds"], summary["rows_per_second"]
        stderr = process.stderr.decode().splitlines()[:-1]  # the last line has the speed
        results.append((process.returncode, (tmp_path / f"out{jobs}.jsonl").read_bytes(),
                        summary, stderr))
    assert results[0] == results[1]
    assert results[0][0] == 2 and results[0][2]["invalid"] > 0
