"""The quick path of `policy batch` (`batch/quick.py`) writes exactly what the row path writes.

A span of JSON lines is read in one call and its plain rows decided by the generated checks
without the per-value look the row path takes; every row it is not sure of goes to the row
path. The inputs here mix rows that decide, rows the policy refuses, invalid rows, and the
rows that could tell the two paths apart: keys given twice, integers too long for the digits
limit (in a fact and elsewhere), floats, nesting, unicode and lone surrogates, bytes that
are not UTF-8, CRLF and stray carriage returns, a byte order mark, blank lines, lines over
the size limit, and a last line without a line break. Each is compared with `--jobs 1`,
with the quick path turned off, and with the path from before msgspec and spans (rows read
by the main process, decoded by `json`).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import random
from pathlib import Path
from typing import Any

import pytest

from policy_engine.batch import RowDecider, RowLimits
from policy_engine.batch import quick as quick_module
from policy_engine.batch import rows as rows_module
from policy_engine.batch import running as running_module
from policy_engine.batch.deciding import record_parser
from policy_engine.batch.quick import QuickLines, span_chunk, span_lines, values_need_checks
from policy_engine.batch.spans import Span, cut_spans, span_records
from policy_engine.policy import Policy
from tests.batch.helpers import ALIEXPRESS, CANCEL, NOT_RECEIVED, SOME, run_jsonl
from tests.helpers.paths import ROOT

forked = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                            reason="the workers must inherit the test's patch (fork)")

REFERENCE = str(ROOT / "benchmarks" / "reference.policy")

GOOD = {"status": "delivered", "paid": True, "received": True, "days_since_ship": 12,
        "days_without_tracking": 3, "problem": "damaged", "evidence_count": 2,
        "dispute_state": "none", "off_platform_offer": False, "amount": "120.00",
        "requested_refund": "40.50"}

#: Reference-policy rows that are not plain: each one a way the two paths could differ.
ODD: list[bytes] = [
    b"",
    b"  \t ",
    b"{",
    b"[]",
    b"null",
    b"42",
    json.dumps({**GOOD, "requested_refund": "400.00"}).encode(),  # refused: more than paid
    json.dumps({**GOOD, "paid": "yes"}).encode(),
    json.dumps({**GOOD, "status": "lost"}).encode(),
    json.dumps({**GOOD, "note": "x"}).encode(),  # an unknown fact
    json.dumps({k: v for k, v in GOOD.items() if k != "paid"}).encode(),  # a missing fact
    json.dumps({**GOOD, "paid": None}).encode(),
    json.dumps({**GOOD, "days_since_ship": 91}).encode(),
    json.dumps({**GOOD, "days_since_ship": 10 ** 150}).encode(),  # over the digits limit
    json.dumps({**GOOD, "days_since_ship": -(10 ** 30)}).encode(),
    json.dumps({**GOOD, "days_since_ship": 12.0}).encode(),
    json.dumps({**GOOD, "amount": 120.5}).encode(),  # a float amount: an exact Decimal
    json.dumps({**GOOD, "amount": 120}).encode(),
    json.dumps({**GOOD, "amount": 10 ** 40}).encode(),
    json.dumps({**GOOD, "amount": "1.2e2"}).encode(),
    json.dumps({**GOOD, "amount": "0120.00"}).encode(),
    json.dumps({**GOOD, "amount": "1" + "0" * 120}).encode(),
    b'{"status": "delivered", "status": "sent"}',
    json.dumps(GOOD).encode()[:-1] + b', "paid": false}',  # a key twice, the row complete
    json.dumps(GOOD).encode()[:-1] + b', "x": 1e999999}',
    json.dumps({**GOOD, "problem": ["damaged"]}).encode(),
    json.dumps({**GOOD, "problem": {"a": [[[[[[1]]]]]]}}).encode(),
    json.dumps({**GOOD, "problem": "d\u00e4maged"}, ensure_ascii=False).encode(),
    json.dumps({**GOOD, "problem": "\u00e9"}).encode(),
    json.dumps({**GOOD, "status": "sent\ud800"}).encode(),  # a lone surrogate, escaped
    json.dumps({**GOOD, "status": "a:b"}).encode(),  # a colon inside a value
    json.dumps(GOOD).encode().replace(b"delivered", b"deliver\xffed"),  # not UTF-8
    json.dumps(GOOD).encode() + b"\r",
    json.dumps(GOOD).encode() + b"\r\r",
    b"\xef\xbb\xbf" + json.dumps(GOOD).encode(),  # a byte order mark, not on line 1
    json.dumps({**GOOD, "status": "x" * 700}).encode(),  # over the size limit below
]


def _reference_rows(rng: random.Random) -> dict[str, Any]:
    amount = rng.randint(100, 50_000)
    return {"status": rng.choice(["awaiting_payment", "awaiting_shipment", "sent",
                                  "delivered", "completed"]),
            "paid": rng.random() < 0.8, "received": rng.random() < 0.5,
            "days_since_ship": rng.randint(0, 90), "days_without_tracking": rng.randint(0, 60),
            "problem": rng.choice(["none", "defective", "damaged", "wrong_item",
                                   "wrong_quantity"]),
            "evidence_count": rng.randint(0, 5),
            "dispute_state": rng.choice(["none", "open", "closed_seller_won"]),
            "off_platform_offer": rng.random() < 0.05,
            "amount": f"{amount // 100}.{amount % 100:02d}",
            "requested_refund": f"{amount // 300}.{amount % 100:02d}" if rng.random() < 0.9
            else "499.99"}  # more than paid, mostly: refused


def _input(policy: str, seed: int, count: int) -> bytes:
    """`count` lines of `policy`'s rows, a quarter odd, with CRLF here and there; a byte
    order mark first (even seeds) and no line break after the last line (odd seeds)."""
    rng = random.Random(seed)
    lines: list[bytes] = []
    for _ in range(count):
        if rng.random() < 0.25:
            line = rng.choice(ODD)
        elif policy == REFERENCE:
            line = json.dumps(_reference_rows(rng)).encode()
        else:
            line = rng.choice([json.dumps(CANCEL).encode(), json.dumps(NOT_RECEIVED).encode(),
                               *(row.encode() for row in SOME)])
        lines.append(line + (b"\r\n" if rng.random() < 0.1 else b"\n"))
    text = (b"\xef\xbb\xbf" if seed % 2 == 0 else b"") + b"".join(lines)
    return text[:-1] if seed % 2 else text


LIMITS = RowLimits(max_row_bytes=600, max_depth=4, max_digits=100)


def _run(policy: str, path: Path, limits: RowLimits = LIMITS, **options: Any
         ) -> tuple[str, tuple[int, ...], list[str]]:
    return run_jsonl(policy, path, limits, options.pop("chunk_rows", 9), **options)


@forked
@pytest.mark.parametrize("policy", [REFERENCE, ALIEXPRESS], ids=["reference", "aliexpress"])
@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("limits", [LIMITS, RowLimits(max_row_bytes=600, max_depth=2,
                                                      max_digits=2)], ids=["limits", "tight"])
def test_the_quick_path_writes_what_every_other_path_writes(
        policy: str, seed: int, limits: RowLimits, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(_input(policy, seed, 300))
    with monkeypatch.context() as patch:  # the path from before spans and msgspec
        patch.setattr(running_module.Batch, "_spanned", lambda self: False)
        patch.setattr(rows_module, "USE_MSGSPEC", False)
        expected = _run(policy, path, limits, jobs=1)
    assert expected[1][0] == 300 and all(expected[1][1:4]), expected[1]
    with monkeypatch.context() as patch:  # spans and msgspec, without the quick path
        patch.setattr(quick_module, "USE_QUICK", False)
        assert _run(policy, path, limits, jobs=2) == expected
    for jobs in (1, 2):
        assert _run(policy, path, limits, jobs=jobs) == expected, jobs
    assert _run(policy, path, limits, jobs=2, chunk_rows=1000) == expected


@pytest.mark.parametrize("record", ODD + [json.dumps(GOOD).encode()], ids=repr)
def test_each_odd_row_alone_is_decided_as_on_the_row_path(record: bytes) -> None:
    policy = Policy.load(REFERENCE)
    for limits in (LIMITS, RowLimits(max_digits=1), RowLimits(max_depth=2)):
        slow = RowDecider(policy, "rows.jsonl")
        fast = RowDecider(policy, "rows.jsonl")
        fast.quick = QuickLines(fast, limits)
        assert fast.quick.ready
        parse = record_parser("jsonl", None, policy, limits)
        records: list[tuple[int, object]] = [(7, record.rstrip(b"\r")), (8, record)]
        got = fast.decide_chunk(records, parse)
        assert got == slow.decide_chunk(records, parse)
        assert got.decided + got.refused + got.invalid + got.failed == 2


def test_a_row_of_a_shared_decision_is_looked_up_after_the_first() -> None:
    policy = Policy.load(REFERENCE)
    decider = RowDecider(policy, "rows.jsonl")
    decider.quick = QuickLines(decider, LIMITS)
    parse = record_parser("jsonl", None, policy, LIMITS)
    row = json.dumps(GOOD).encode()
    first = decider.decide_chunk([(1, row)], parse)
    assert len(decider.quick._lines) == 1  # type: ignore[union-attr]
    again = decider.decide_chunk([(5, row), (6, row)], parse)
    line = first.text.strip()
    assert line.startswith('{"line": 1, "decision": "partial_refund"')
    assert again.text.splitlines() == [line.replace('"line": 1,', f'"line": {n},')
                                       for n in (5, 6)]
    assert again.decided == 2


def test_without_msgspec_the_quick_path_stays_shut(monkeypatch: pytest.MonkeyPatch) -> None:
    policy = Policy.load(REFERENCE)
    monkeypatch.setattr(rows_module, "USE_MSGSPEC", False)
    assert not QuickLines(RowDecider(policy, "rows.jsonl"), LIMITS).ready
    monkeypatch.setattr(rows_module, "USE_MSGSPEC", True)
    assert not QuickLines(RowDecider(policy, "rows.jsonl", trace=True), LIMITS).ready
    assert not QuickLines(RowDecider(policy, "rows.jsonl"), RowLimits(max_depth=1)).ready


def test_which_policies_need_their_values_looked_at() -> None:
    reference, aliexpress = Policy.load(REFERENCE), Policy.load(ALIEXPRESS)
    assert not values_need_checks(reference, LIMITS)  # single values, bounded integers
    assert values_need_checks(reference, RowLimits(max_digits=1))  # 90 has two digits
    assert not values_need_checks(reference, RowLimits(max_digits=28))  # amounts: 28
    assert values_need_checks(reference, RowLimits(max_digits=27))
    assert values_need_checks(aliexpress, LIMITS)  # lists


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("rows", [1, 4, 1000])
def test_a_span_read_at_once_has_the_records_of_the_bounded_reading(
        seed: int, rows: int, tmp_path: Path) -> None:
    data = _input(REFERENCE, seed, 60) + b"\n\n\r\n" + b"y" * 650 + b"\r\n" + b"tail\r"
    path = tmp_path / "rows.jsonl"
    path.write_bytes(data)
    with open(path, "rb") as handle:
        spans = list(cut_spans(handle, rows, 1 << 20))
    at_once = 0
    with open(path, "rb") as handle:
        for span in spans:
            for limit in (600, 1 << 20):
                expected = span_records(handle, span, limit)
                assert span_chunk(handle, span, limit) == expected
                at_once += limit > 600 and span_lines(handle, span, limit) is not None
    # Only the first span of a file with a byte order mark is read line by line.
    assert at_once == len(spans) - data.startswith(b"\xef\xbb\xbf")


def test_a_span_of_a_file_that_changed_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"{}\n{}\n{}\n")
    with open(path, "rb") as handle:
        span = next(cut_spans(handle, 10, 1 << 20))
    path.write_bytes(b"{}\n{}{}\n{}\n")
    with open(path, "rb") as handle:
        assert span_lines(handle, span, 100) is None
        assert span_chunk(handle, span, 100) == span_records(handle, span, 100)


def _cut_line_by_line(handle: io.BytesIO, rows: int, max_bytes: int, scan: int) -> list[Span]:
    """How spans were cut before `cut_spans` counted line breaks in bulk: line by line."""
    spans = []
    start = position = end = handle.tell()
    first, lines = 1, 0
    while block := handle.read(scan):
        at = 0
        while (found := block.find(b"\n", at)) >= 0:
            lines += 1
            at = found + 1
            end = position + at
            if lines >= rows or end - start >= max_bytes:
                spans.append(Span(start, end, first, lines))
                start, first, lines = end, first + lines, 0
        position += len(block)
    if position > end:
        lines += 1
    if lines:
        spans.append(Span(start, position, first, lines))
    return spans


@pytest.mark.parametrize("seed", range(40))
def test_spans_are_cut_where_the_line_by_line_cut_put_them(seed: int) -> None:
    rng = random.Random(seed)
    lines = [b"x" * rng.choice([0, 1, 5, 60, 200, 1000, rng.randint(0, 3000)])
             for _ in range(rng.randint(0, 400))]
    data = b"\n".join(lines) + rng.choice([b"", b"\n", b"\n\n", b"tail"])
    for _ in range(6):
        rows = rng.choice([1, 2, 3, 7, 50, 1000])
        max_bytes = rng.choice([1, 10, 300, 4000, 1 << 20])
        scan = rng.choice([1, 2, 64, 1000, 1 << 20])
        skip = rng.choice([0, 0, min(len(data), 3)])
        expected = _cut_line_by_line(_at(data, skip), rows, max_bytes, scan)
        assert list(cut_spans(_at(data, skip), rows, max_bytes, scan)) == expected, \
            (rows, max_bytes, scan, skip)


def _at(data: bytes, skip: int) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.seek(skip)
    return handle
