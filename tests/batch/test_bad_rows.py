"""Rows that used to end a batch now end in their own line, and the run goes on.

Each row here once stopped `policy batch` with an internal error and lost the rows around it:
a value past the engine's range (a date, a duration, a whole number, an amount), a JSON row
nested 100,000 deep, a lone surrogate echoed in a message, a number that expands to a
billion digits. Whether evaluation refuses such a value itself (E408) or the batch catches
what escapes (E313), the run finishes with one line per row, in order, and counts that
reconcile; the codes the batch gives itself (E304, E307, E313) are checked exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy_engine.batch import RowDecider, RowError, RowLimits, parse_json_line, printable
from policy_engine.batch.deciding import record_parser
from policy_engine.policy import Policy
from tests.batch.helpers import STRESS, batch, outcome, reconciles, write_rows

PLAIN = '{"kind": "plain"}'
#: A row that breaks, and what it must come out as: a code the batch gives, or None when
#: either evaluation refuses it (E408) or the batch catches it (E313).
BAD_ROWS = {
    "date after 9999-12-31": ('{"kind": "next_day", "d": "9999-12-31"}', None),
    "date before 0001-01-01": ('{"kind": "previous_day", "d": "0001-01-01"}', None),
    "huge number of days": ('{"kind": "later", "n": 1' + "0" * 30 + "}", None),
    "whole number of 6,400 digits": ('{"kind": "big", "n": 1' + "0" * 99 + "}", None),
    "amount past the decimal range": ('{"kind": "total", "a": 1000}', None),
    "nested 100,000 deep": ('{"kind": "plain", "note": ' + "[" * 100_000 + "]" * 100_000 + "}",
                            "E307"),
    "1e999999999 days": ('{"kind": "later", "n": 1e999999999}', "E307"),
    "a lone surrogate echoed": ('{"kind": "\\ud800"}', "E304"),
    "a lone surrogate in a key": ('{"kind": "plain", "\\udc00": 1}', "E305"),
}


@pytest.fixture(scope="module")
def stress() -> Policy:
    return Policy.load(STRESS)


@pytest.mark.parametrize("name", list(BAD_ROWS))
def test_a_bad_row_gets_one_line_and_its_neighbours_are_decided(
        name: str, stress: Policy, tmp_path: Path) -> None:
    row, code = BAD_ROWS[name]
    path = write_rows(tmp_path / "rows.jsonl", [PLAIN] * 50 + [row] + [PLAIN] * 50)
    rows, summary, reported, text = batch(stress, path, jobs=1, chunk_rows=20)
    assert [r["line"] for r in rows] == list(range(1, 102))
    assert [outcome(r) for r in rows[:50] + rows[51:]] == ["decided"] * 100
    bad = rows[50]
    assert outcome(bad) in ("refused", "invalid", "failed")
    if code is not None:
        assert bad["error"]["code"] == code
    elif "refused" in bad:
        assert bad["refused"]["code"] == "E408"
    else:
        assert bad["error"]["code"] == "E313"
    assert summary.rows == 101 and reconciles(summary)
    text.encode("utf-8")  # the output can always be written
    assert all(message.isprintable() for message in reported)


def test_all_of_them_in_one_file_with_worker_processes(stress: Policy, tmp_path: Path) -> None:
    # 5,001 rows with the bad ones in the middle: the run finishes, every row has its line,
    # and the output is byte for byte the one a single process writes.
    bad = [row for row, _ in BAD_ROWS.values()]
    lines = [PLAIN] * 2500 + bad + [PLAIN] * (2501 - len(bad))
    path = write_rows(tmp_path / "rows.jsonl", lines)
    rows, alone, _, one = batch(STRESS, path, jobs=1, chunk_rows=500)
    _, shared, _, two = batch(STRESS, path, jobs=2, chunk_rows=500)
    assert two == one
    assert [r["line"] for r in rows] == list(range(1, 5002))
    assert alone.rows == shared.rows == 5001
    assert reconciles(alone) and reconciles(shared)
    assert alone.decided == 5001 - len(bad)
    assert (shared.decided, shared.refused, shared.invalid, shared.failed) == \
        (alone.decided, alone.refused, alone.invalid, alone.failed)


def test_an_exception_from_deciding_is_the_rows_e313_line(stress: Policy,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Whatever escapes the decider (here a RuntimeError) is that row's failure, named by
    # class, without a traceback; the next row is decided as usual.
    decider = RowDecider(stress, "rows.jsonl")
    real = decider._decide

    def explode(raw: dict[str, object], *args: object) -> object:
        if raw.get("note") == "boom":
            raise RuntimeError("boom\ud800\x1b[2J")
        return real(raw, *args)

    monkeypatch.setattr(decider, "_decide", explode)
    parse = record_parser("jsonl", None, stress)
    result = decider.decide_chunk([(7, b'{"kind": "plain", "note": "boom"}'),
                                   (8, PLAIN.encode())], parse)
    first, second = (json.loads(line) for line in result.text.splitlines())
    assert first == {"line": 7, "error": {
        "code": "E313", "path": "$",
        "message": "the row could not be decided: RuntimeError: boom\\ud800\\x1b[2J"}}
    assert second["decision"] == "ok"
    assert (result.decided, result.failed, result.rows) == (1, 1, 2)
    assert result.messages == ["rows.jsonl:7: $: the row could not be decided: RuntimeError: "
                               "boom\\ud800\\x1b[2J [E313]"]


def test_an_exception_from_reading_a_row_is_its_e313_line(stress: Policy) -> None:
    # With the depth limit raised past what Python's JSON reader can do, it runs out of
    # stack: that row fails, and nothing else does.
    decider = RowDecider(stress, "rows.jsonl")
    parse = record_parser("jsonl", None, stress, RowLimits(max_depth=1_000_000))
    deep = b'{"note": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    result = decider.decide_chunk([(1, deep), (2, PLAIN.encode())], parse)
    first, second = (json.loads(line) for line in result.text.splitlines())
    assert first["error"]["code"] == "E313"
    assert first["error"]["message"].startswith("the row could not be decided: RecursionError")
    assert second["decision"] == "ok"


def test_a_decided_line_with_a_lone_surrogate_is_still_json_that_utf8_can_write(
        stress: Policy) -> None:
    text, result, _ = RowDecider(stress, "rows.jsonl").decide(
        3, {"kind": "plain", "note": "a\ud800é"})
    assert result == "decided"
    assert text == '{"line": 3, "decision": "ok", "rule": "plain", "outputs": ' \
                   '{"echo": "a\\ud800é"}}'
    assert json.loads(text)["outputs"]["echo"] == "a\ud800é"  # read back, the same text
    text.encode("utf-8")


@pytest.mark.parametrize(("text", "shown"), [
    ("plain", "plain"),
    ("tab\there", "tab\\x09here"),
    ("\ud800", "\\ud800"),
    ("esc\x1b[31m", "esc\\x1b[31m"),
    ("del\x7f c1\x85", "del\\x7f c1\\x85"),
    ("é €", "é €"),
])
def test_messages_are_made_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_a_lone_surrogate_in_a_message_is_escaped(stress: Policy) -> None:
    text, result, message = RowDecider(stress, "in.jsonl").decide(
        2, parse_json_line(b'{"kind": "\\ud800"}'))
    assert result == "invalid"
    assert message is not None and message.endswith("got '\\ud800' [E304]")
    assert json.loads(text)["error"]["message"].endswith("got '\\ud800'")
    text.encode("utf-8")


def test_a_row_error_is_also_a_diagnostic() -> None:
    error = RowError("E307", "the row is 2,000 bytes, more than the limit of 1,000", more=1)
    assert error.diagnostic("in.jsonl", 4).render() == (
        "error[E307]: in.jsonl:4: $: the row is 2,000 bytes, more than the limit of 1,000 "
        "(and 1 more)\n"
        "help: split the row, or raise the limit (policy batch --help lists the options)")
