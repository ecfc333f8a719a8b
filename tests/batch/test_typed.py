"""Typed rows (`batch/typed.py`): msgspec checks the facts, and the decider skips those checks.

The generated decider of typed rows trusts msgspec for every type but amounts, so these
tests look for a row it could let through wrongly: a wrong-typed amount, a missing or null
fact, an enumeration value outside the list, a number out of range or written as a float, a
key given twice, and lines that `decode_lines` could read in another order than the lines
(two values on a line, a blank line). Each must give exactly the row path's output, at 1 and
2 jobs, whether it comes alone, among good rows in a span read at once, or line by line.
"""

from __future__ import annotations

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
from policy_engine.batch.deciding import ChunkResult, record_parser
from policy_engine.batch.quick import QuickLines
from policy_engine.batch.spans import Span, cut_spans
from policy_engine.batch.typed import typed_rows
from policy_engine.policy import Policy
from tests.batch.helpers import ALIEXPRESS, run_jsonl
from tests.batch.test_quick import GOOD, REFERENCE

forked = pytest.mark.skipif(multiprocessing.get_start_method() != "fork",
                            reason="the workers must inherit the test's patch (fork)")

LIMITS = RowLimits()

#: Rows that msgspec may decode as typed rows, or nearly: each one a check the decider of
#: typed rows must not skip wrongly.
TRICKY: list[dict[str, Any] | bytes] = [
    {**GOOD, "amount": 120},  # an amount as a number: not a typed row, decided by the dict path
    {**GOOD, "amount": 120.5},
    {**GOOD, "amount": True},
    {**GOOD, "amount": None},
    {**GOOD, "amount": ["120.00"]},
    {**GOOD, "amount": "1.2e2"},  # text msgspec's Decimal would take, the fact stage refuses
    {**GOOD, "amount": "1_20"},
    {**GOOD, "amount": " 120"},
    {**GOOD, "amount": "NaN"},
    {**GOOD, "amount": "-5"},
    {**GOOD, "amount": "120."},
    {**GOOD, "amount": ".5"},
    {**GOOD, "amount": "\u0661\u0662\u0660"},  # Arabic-Indic digits
    {**GOOD, "amount": "0120.00"},
    {**GOOD, "amount": "0" * 22 + "120.00"},  # 28 characters: the longest typed amount
    {**GOOD, "amount": "0" * 23 + "120.00"},  # 29: the dict path's, the same amount
    {**GOOD, "amount": "0.0000000000000000000000000000001"},
    {**GOOD, "amount": "500.01"},
    {**GOOD, "requested_refund": "400.00", "amount": "120.00"},  # refused: more than paid
    {**GOOD, "status": "lost"},  # outside the enumeration
    {**GOOD, "status": "Delivered"},
    {**GOOD, "status": 3},
    {**GOOD, "paid": 1},
    {**GOOD, "paid": "true"},
    {**GOOD, "paid": None},
    {**GOOD, "days_since_ship": 91},
    {**GOOD, "days_since_ship": -1},
    {**GOOD, "days_since_ship": 12.0},
    {**GOOD, "days_since_ship": True},
    {**GOOD, "days_since_ship": 2**64},
    {**GOOD, "days_since_ship": "12"},
    {key: value for key, value in GOOD.items() if key != "amount"},  # a missing fact
    {key: value for key, value in GOOD.items() if key != "paid"},
    {**GOOD, "note": "x"},  # an unknown fact
    json.dumps(GOOD).encode()[:-1] + b', "paid": false}',  # a key twice, the last one valid
    json.dumps(GOOD).encode()[:-1] + b', "status": "sent"}',
    json.dumps(GOOD).encode().replace(b'"delivered"', b'"\\u0064elivered"'),  # an escape
    json.dumps(GOOD).encode().replace(b'"delivered"', b'"sent\\ud800"'),
    json.dumps(GOOD, indent=1).encode().replace(b"\n", b" "),
    json.dumps(GOOD).encode() + b"   ",
]


def _line(row: dict[str, Any] | bytes) -> bytes:
    return row if isinstance(row, bytes) else json.dumps(row).encode()


def _good(rng: random.Random) -> bytes:
    amount = rng.randint(100, 50_000)
    requested = rng.randint(0, amount)
    return json.dumps({**GOOD, "status": rng.choice(["sent", "delivered", "completed",
                                                      "awaiting_payment"]),
                       "received": rng.random() < 0.5, "days_since_ship": rng.randint(0, 90),
                       "problem": rng.choice(["none", "damaged"]),
                       "amount": f"{amount // 100}.{amount % 100:02d}",
                       "requested_refund": f"{requested // 100}.{requested % 100:02d}"}).encode()


def _row_path(policy: str, path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
              ) -> tuple[str, tuple[int, ...], list[str]]:
    """The output of the path from before msgspec and spans: rows read by the main process,
    decoded by `json`, decided one by one."""
    with monkeypatch.context() as patch:
        patch.setattr(running_module.Batch, "_spanned", lambda self: False)
        patch.setattr(rows_module, "USE_MSGSPEC", False)
        return run_jsonl(policy, path, LIMITS, chunk_rows, jobs=1)


@forked
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_tricky_rows_among_good_ones_give_the_row_paths_output(
        seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    lines = [_good(rng) for _ in range(400)]
    for row in TRICKY:  # each alone in a span of good rows (spans of 20 lines)
        lines[rng.randrange(len(lines))] = _line(row)
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    expected = _row_path(REFERENCE, path, monkeypatch, 20)
    assert expected[0].count("\n") == 400 and all(expected[1][1:4]), expected[1]
    for jobs in (1, 2):
        assert run_jsonl(REFERENCE, path, LIMITS, 20, jobs=jobs) == expected, jobs


@pytest.mark.parametrize("row", TRICKY, ids=repr)
def test_each_tricky_row_alone_is_decided_as_on_the_row_path(row: dict[str, Any] | bytes
                                                             ) -> None:
    policy = Policy.load(REFERENCE)
    record = _line(row)
    slow = RowDecider(policy, "rows.jsonl")
    fast = RowDecider(policy, "rows.jsonl")
    fast.quick = QuickLines(fast, LIMITS)
    parse = record_parser("jsonl", None, policy, LIMITS)
    records: list[tuple[int, object]] = [(3, record), (4, _line(GOOD))]
    assert fast.decide_chunk(records, parse) == slow.decide_chunk(records, parse)


def _span_of(path: Path) -> Span:
    with open(path, "rb") as handle:
        (span,) = cut_spans(handle, 10_000, 1 << 30)
    return span


@pytest.mark.parametrize("lines", [
    # Two values on a line and a blank line: as many values as lines, and as many colons.
    [_line(GOOD) + b" " + _line({**GOOD, "paid": False}), b"", _line(GOOD)],
    [_line(GOOD) + _line({**GOOD, "paid": False}), b"  ", _line(GOOD)],
    [b"", _line(GOOD) + b"\t" + _line(GOOD), _line(GOOD)],
    # A value of a line begun with a space, where a line may not begin one.
    [_line(GOOD), b" " + _line({**GOOD, "received": False}), _line(GOOD)],
    [_line(GOOD), _line(GOOD) + b"\r", _line(GOOD)],
    # A value over two lines, the line before holding another: as many values as lines.
    [_line(GOOD) + _line({**GOOD, "paid": False})[:-1], b"}"],
    [_line(GOOD)[:-1] + b', "paid": false}', _line({**GOOD, "note": 1})[:-1].replace(b":", b" ")
     + b"}", _line(GOOD)],
], ids=["space", "none", "blank first", "leading space", "carriage return", "two lines",
        "colons"])
def test_a_span_that_decode_lines_could_misread_is_read_line_by_line(
        lines: list[bytes], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    policy = Policy.load(REFERENCE)
    decider = RowDecider(policy, str(path))
    quick = QuickLines(decider, LIMITS)
    decider.quick = quick
    parse = record_parser("jsonl", None, policy, LIMITS)
    with open(path, "rb") as handle:
        assert quick.typed_span(handle, _span_of(path), LIMITS.max_row_bytes, parse) is None
    expected = _row_path(REFERENCE, path, monkeypatch, 100)
    assert run_jsonl(REFERENCE, path, LIMITS, 100, jobs=1) == expected


def test_a_span_of_good_rows_is_decided_whole_from_typed_rows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(5)
    lines = [_good(rng) for _ in range(300)]
    lines[7] = _line({**GOOD, "amount": "1.2e2"})  # typed, but the decider doubts it
    lines[8] = _line({**GOOD, "requested_refund": "400.00"})  # typed, and refused
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join(lines))  # no line break after the last line
    taken: list[ChunkResult | None] = []
    real = QuickLines.typed_span

    def spy(self: QuickLines, *args: Any) -> ChunkResult | None:
        taken.append(real(self, *args))
        return taken[-1]

    monkeypatch.setattr(QuickLines, "typed_span", spy)
    expected = _row_path(REFERENCE, path, monkeypatch, 100)
    assert run_jsonl(REFERENCE, path, LIMITS, 100, jobs=1) == expected
    assert len(taken) == 3 and all(result is not None for result in taken)
    assert expected[1] == (300, 298, 1, 1, 0)


def test_the_decider_of_typed_rows_takes_nothing_but_its_own_rows() -> None:
    policy = Policy.load(REFERENCE)
    doubt = object()
    typed = typed_rows(policy, LIMITS, lambda *args: doubt)
    assert typed is not None and typed.facts == 11
    row = typed.decode(_line(GOOD))
    assert typed.decide(row, "rows.jsonl", None, ()).decision == "partial_refund"
    assert typed.decide(dict(GOOD), "rows.jsonl", None, ()) is doubt  # a dict is not one
    assert typed.decide(None, "rows.jsonl", None, ()) is doubt


def test_which_policies_have_typed_rows(tmp_path: Path) -> None:
    reference, aliexpress = Policy.load(REFERENCE), Policy.load(ALIEXPRESS)
    assert typed_rows(reference, LIMITS, print) is not None
    assert typed_rows(aliexpress, LIMITS, print) is None  # optional facts, lists
    assert typed_rows(reference, RowLimits(max_digits=1), print) is None  # 90: two digits
    assert typed_rows(reference, RowLimits(max_depth=1), print) is None
    head = 'policy p "p"\nversion "1"\nresolve first match\n'
    tail = '\ndecision ok\notherwise ok because "x"\n'
    for facts, typed in [('fact note "n": text\nfact n "n": whole number from 0 to 9', True),
                         ('fact n "n": whole number', False),  # no bounds
                         ('fact n "n": whole number from 0 to 99999999999999999999', False),
                         ('fact day "d": date', False),
                         ('fact n "n": optional whole number from 0 to 9', False),
                         ('fact n "n": whole number from 0 to 9 default 3', False)]:
        try:
            policy = Policy.from_text(head + facts + tail, "p.policy")
        except Exception as error:  # a form this language does not have: not a case here
            pytest.fail(f"{facts!r}: {error}")
        assert (typed_rows(policy, LIMITS, print) is not None) is typed, facts


def test_typed_rows_need_msgspec(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real = builtins.__import__

    def no_msgspec(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "msgspec":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_msgspec)
    assert typed_rows(Policy.load(REFERENCE), LIMITS, print) is None


@forked
@pytest.mark.parametrize("jobs", [1, 2])
def test_the_benchmarks_rows_give_the_row_paths_bytes(
        jobs: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks.batch_bench import write_reference_rows

    path = tmp_path / "reference.jsonl"
    write_reference_rows(path, 3000, 8)
    expected = _row_path(REFERENCE, path, monkeypatch, 1000)
    assert run_jsonl(REFERENCE, path, LIMITS, 1000, jobs=jobs) == expected
    with monkeypatch.context() as patch:  # and what the quick path gave before typed rows
        patch.setattr(quick_module, "typed_rows", lambda *args: None)
        assert run_jsonl(REFERENCE, path, LIMITS, 1000, jobs=jobs) == expected


def test_a_typed_row_over_the_size_limit_is_refused_as_on_the_row_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(9)
    lines = [_good(rng) for _ in range(40)]
    lines[17] = _line(GOOD).replace(b", ", b"," + b" " * 80)  # a typed row of over 600 bytes
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    limits = RowLimits(max_row_bytes=600)
    with monkeypatch.context() as patch:
        patch.setattr(running_module.Batch, "_spanned", lambda self: False)
        patch.setattr(rows_module, "USE_MSGSPEC", False)
        expected = run_jsonl(REFERENCE, path, limits, 100, jobs=1)
    assert expected[1][3] == 1 and '"E307"' in expected[0]
    assert run_jsonl(REFERENCE, path, limits, 100, jobs=1) == expected


#: Values to put in place of a fact's: every JSON kind, and the near misses of each type.
_ODD_VALUES: list[Any] = [None, True, False, 0, -1, 5, 90, 91, 2**63, 12.0, 1.5, "", "0",
                          "12", "120.00", "1e2", "-3", " 1", "none", "sent", "open",
                          "damaged", "Sent", [], ["sent"], {}, {"a": 1}]


@pytest.mark.parametrize("seed", range(4))
def test_rows_with_random_odd_values_are_decided_as_on_the_row_path(seed: int, tmp_path: Path
                                                                    ) -> None:
    from policy_engine.batch.quick import decide_span
    from tests.helpers.examples import examples

    rng = random.Random(seed)
    policy = Policy.load(REFERENCE)
    slow = RowDecider(policy, "rows.jsonl")
    fast = RowDecider(policy, "rows.jsonl")
    fast.quick = QuickLines(fast, LIMITS)
    parse = record_parser("jsonl", None, policy, LIMITS)
    records: list[tuple[int, object]] = []
    lines: list[bytes] = []
    for number in range(examples(300)):
        row = json.loads(_good(rng))
        for _ in range(rng.choice([0, 1, 1, 2])):
            row[rng.choice(sorted(GOOD))] = rng.choice(_ODD_VALUES)
        if rng.random() < 0.1:
            del row[rng.choice(sorted(row))]
        lines.append(json.dumps(row).encode())
        records.append((number + 1, lines[-1]))
    expected = slow.decide_chunk(records, parse)
    assert fast.decide_chunk(records, parse) == expected
    assert expected.decided and expected.invalid
    # The same rows read span by span (a span whole when it can be), mostly good rows.
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    with open(path, "rb") as handle:
        spans = list(cut_spans(handle, 5, 1 << 20))
        results = [decide_span(fast, handle, span, LIMITS.max_row_bytes, parse)
                   for span in spans]
    assert "".join(result.text for result in results) == expected.text
    assert sum(result.invalid for result in results) == expected.invalid
