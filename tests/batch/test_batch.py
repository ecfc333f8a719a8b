"""Tests for `policy batch` and `batch`: every row gets one output line, in input order.

Each row here is decided, refused or invalid, and the counts reconcile (rows read = decided +
refused + invalid; the fourth outcome, failed, is in test_bad_rows.py) whatever the format
and however many processes run. An invalid row never stops the run; it is reported on
standard error as `INPUT:LINE: reason` and makes the exit status 2. The output depends only
on the policy and the input.
"""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from policy_engine.batch import (
    BatchUsageError,
    RowDecider,
    RowError,
    csv_cell,
    infer_format,
    parse_json_line,
    read_rows,
    run_batch,
)
from policy_engine.check.types import BoolType, ListType, TextType, WholeType
from policy_engine.cli import cli
from policy_engine.explain.render import to_json
from policy_engine.policy import Policy
from policy_engine.scenarios.runner import run_scenario
from tests.helpers.cli import Run, invoker
from tests.helpers.paths import ROOT

POLICY = str(ROOT / "policies" / "aliexpress" / "refund.policy")
EXAMPLES = ROOT / "policies" / "aliexpress" / "batch"

NOT_RECEIVED = {"request": "goods_not_received", "order_status": "sent", "paid": True,
                "payment_method": "card", "days_since_sent": 22, "days_without_tracking": 18,
                "goods_received": False}
CANCEL = {"request": "cancel_order", "order_status": "awaiting_shipment", "paid": True,
          "payment_method": "paypal"}
NOT_COVERED = {"request": "cancel_order", "order_status": "completed", "paid": True}
NO_METHOD = {"request": "goods_problem", "order_status": "completed", "paid": True,
             "days_since_sent": 5, "goods_received": True, "problems": ["damaged"]}

#: Good, refused and bad rows, one per line; the comment is what the row must come out as.
MIXED = [
    (json.dumps(NOT_RECEIVED), "decided"),
    (json.dumps(CANCEL), "decided"),
    (json.dumps(NOT_COVERED), "refused"),  # otherwise refuse
    (json.dumps(NO_METHOD), "refused"),  # require ... else MISSING_FIELD
    ('{"request": "cancel_order", "paid": ', "invalid"),  # malformed JSON
    (json.dumps({**CANCEL, "paid": "yes"}), "invalid"),  # a wrong type
    (json.dumps({**CANCEL, "payment_methd": "card"}), "invalid"),  # an unknown fact
    ("", "invalid"),  # a blank line
    (json.dumps({"request": "cancel_order", "paid": True}), "invalid"),  # a required fact missing
    (json.dumps({**NOT_RECEIVED, "days_since_sent": 30}), "decided"),
]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load(POLICY)


def _outcome(row: dict[str, Any]) -> str:
    return "decided" if "decision" in row else "refused" if "refused" in row else "invalid"


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def _batch(policy: Policy | str, path: Path, **options: Any) -> tuple[list[dict[str, Any]], Any,
                                                                   list[str], str]:
    out = io.StringIO()
    reported: list[str] = []
    summary = run_batch(policy, str(path), out, report=reported.append, **options)
    text = out.getvalue()
    return [json.loads(line) for line in text.splitlines()], summary, reported, text


# ---------------------------------------------------------------- JSON Lines


def test_every_row_gets_one_line_with_its_outcome(policy: Policy, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.jsonl", [line for line, _ in MIXED])
    rows, summary, _, _ = _batch(policy, path, jobs=1)
    assert [row["line"] for row in rows] == list(range(1, len(MIXED) + 1))
    assert [_outcome(row) for row in rows] == [outcome for _, outcome in MIXED]
    assert rows[0] == {"line": 1, "decision": "open_dispute_full_refund",
                       "rule": "R12_untracked_or_deadline",
                       "outputs": {"refund_kind": "full", "refund_destination": "card"}}


def test_counts_reconcile(policy: Policy, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.jsonl", [line for line, _ in MIXED])
    _, summary, reported, _ = _batch(policy, path, jobs=1)
    assert (summary.rows, summary.decided, summary.refused, summary.invalid) == (10, 3, 2, 5)
    assert summary.rows == summary.decided + summary.refused + summary.invalid
    assert len(reported) == summary.invalid
    assert re.fullmatch(r"rows read: 10 = 3 decided \+ 2 refused \+ 5 invalid; "
                        r"[0-9,]+ rows/s \([0-9.]+ s\)", summary.text())


def test_a_refusal_carries_the_code_and_the_policys_label(policy: Policy, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.jsonl", [line for line, _ in MIXED])
    rows, _, _, _ = _batch(policy, path, jobs=1)
    assert rows[2]["refused"]["code"] == "E404"
    assert rows[2]["refused"]["label"] == "NOT_COVERED"
    assert rows[2]["refused"]["message"].startswith("no rule applies")
    assert rows[3]["refused"]["code"] == "E309"
    assert rows[3]["refused"]["label"] == "MISSING_FIELD"
    assert set(rows[3]["refused"]) == {"code", "label", "message"}


def test_a_bad_row_says_what_is_wrong_and_where(policy: Policy, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.jsonl", [line for line, _ in MIXED])
    rows, _, reported, _ = _batch(policy, path, jobs=1)
    errors = {row["line"]: row["error"] for row in rows if "error" in row}
    assert errors[5]["code"] == "E304"
    assert errors[5]["message"].startswith("invalid JSON: Expecting value (column ")
    assert errors[6] == {"code": "E304", "message": "expected yes/no, got 'yes'", "path": "$.paid"}
    assert errors[7] == {"code": "E305", "message": "unknown fact 'payment_methd'",
                         "path": "$.payment_methd"}
    assert errors[8] == {"code": "E304", "message": "blank line; expected a JSON object of facts",
                         "path": "$"}
    assert errors[9]["code"] == "E306"
    shown = str(path)
    assert reported[0].startswith(f"{shown}:5: $: invalid JSON: ")
    assert reported[1] == f"{shown}:6: $.paid: expected yes/no, got 'yes' [E304]"
    assert reported[3] == f"{shown}:8: $: blank line; expected a JSON object of facts [E304]"
    assert reported[4] == f"{shown}:9: $.order_status: required fact 'order_status' is missing " \
        "[E306]"


def test_a_row_with_several_problems_reports_the_first_and_counts_the_rest(
        policy: Policy) -> None:
    text, outcome, message = RowDecider(policy, "in.jsonl").decide(
        3, RowError("E306", "required fact 'paid' is missing", "$.paid", more=2))
    assert outcome == "invalid"
    assert message == "in.jsonl:3: $.paid: required fact 'paid' is missing (and 2 more) [E306]"
    assert json.loads(text) == {"line": 3, "error": {
        "code": "E306", "message": "required fact 'paid' is missing", "path": "$.paid"}}


@pytest.mark.parametrize(("line", "message"), [
    (b"[1, 2]", "expected a JSON object of facts, got an array"),
    (b'"text"', "expected a JSON object of facts, got a string"),
    (b'{"paid": NaN}', "invalid JSON: NaN is not a number JSON allows"),
    (b"\xff{}", "not UTF-8 text (byte 0 cannot be decoded)"),
    (b"   ", "blank line; expected a JSON object of facts"),
])
def test_json_lines_that_are_not_fact_sets(line: bytes, message: str) -> None:
    assert parse_json_line(line) == RowError("E304", message)


def test_a_duplicate_key_is_refused_not_silently_overwritten() -> None:
    assert parse_json_line(b'{"paid": true, "paid": false}') == RowError(
        "E304", "the key 'paid' appears twice", "$.paid")


def test_json_numbers_with_a_fraction_stay_exact_amounts(policy: Policy, tmp_path: Path) -> None:
    facts = {"request": "goods_problem", "order_status": "completed", "paid": True,
             "payment_method": "card", "days_since_sent": 20, "goods_received": True,
             "problems": ["poor_quality"], "remedy": "partial_refund"}
    line = json.dumps(facts)[:-1] + ', "amount_paid": 24.90, "requested_partial_amount": 0.10}'
    rows, _, _, _ = _batch(policy, _write(tmp_path / "one.jsonl", [line]), jobs=1)
    assert rows[0]["outputs"]["refund_amount"] == "0.10"


def test_read_rows_yields_line_numbers_and_raw_facts_or_errors(policy: Policy,
                                                               tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.jsonl", [json.dumps(CANCEL), "", "{"])
    rows = list(read_rows(policy, str(path)))
    assert rows[0] == (1, CANCEL)
    assert [line for line, _ in rows] == [1, 2, 3]
    assert all(isinstance(raw, RowError) for _, raw in rows[1:])


# ---------------------------------------------------------------- CSV

CSV_HEADER = ("request,order_status,paid,payment_method,days_since_sent,days_without_tracking,"
              "goods_received,problems,evidence")


def test_csv_rows_are_converted_by_the_declared_types(policy: Policy, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.csv", [
        CSV_HEADER,
        "goods_not_received,sent,yes,card,22,18,no,,",
        'goods_problem,completed,TRUE,paypal,12,,yes,"[""defective""]",photo;video',
        "cancel_order,completed,yes,,,,,,",
        "goods_not_received,sent,maybe,card,22,18,no,,",
        "goods_not_received,sent,yes,card,22,18,no,,,",
        "",
        "cancel_order,awaiting_shipment,yes,card,,,,,",
    ])
    rows, summary, reported, _ = _batch(policy, path, jobs=1)
    assert [row["line"] for row in rows] == [2, 3, 4, 5, 6, 7, 8]
    assert rows[0]["rule"] == "R12_untracked_or_deadline"
    assert rows[1]["rule"] == "R18_full_refund_strong"  # both list forms, TRUE read as yes
    assert rows[2]["refused"]["label"] == "NOT_COVERED"  # empty cells are facts left out
    assert rows[3]["error"] == {"code": "E304", "message": "expected yes/no, got 'maybe'",
                                "path": "$.paid"}
    assert rows[4]["error"] == {"code": "E304", "path": "$",
                                "message": "the row has 10 cells, but the header has 9"}
    assert rows[5]["error"]["message"] == "blank line; expected a row of cells"
    assert rows[6]["decision"] == "cancel_and_refund"
    assert (summary.decided, summary.refused, summary.invalid) == (3, 1, 3)
    assert reported[1] == f"{path}:6: $: the row has 10 cells, but the header has 9 [E304]"


def test_csv_line_numbers_count_lines_inside_quoted_cells(policy: Policy, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.csv", [
        "request,order_status,paid,payment_method,problems",
        'cancel_order,awaiting_shipment,yes,card,"[',
        ']"',
        "cancel_order,awaiting_shipment,yes,card,",
    ])
    rows, _, _, _ = _batch(policy, path, jobs=1)
    assert [row["line"] for row in rows] == [2, 4]


@pytest.mark.parametrize(("t", "cell", "value"), [
    (BoolType(), " No ", False),
    (BoolType(), "oui", "oui"),  # left as text: the fact stage reports it
    (WholeType(), "-3", -3),
    (WholeType(), "1.5", "1.5"),
    (TextType(), " kept as written ", " kept as written "),
    (ListType(WholeType()), "1; 2", [1, 2]),
    (ListType(TextType()), '["a;b"]', ["a;b"]),
])
def test_csv_cells(t: Any, cell: str, value: object) -> None:
    assert csv_cell(t, cell) == value


def test_a_csv_header_naming_no_fact_stops_before_any_row(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "orders.csv", ["request,order_status,payed", "cancel_order,sent,yes"])
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["batch", POLICY, "orders.csv", "--out", "out.jsonl"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error[E305]: orders.csv:1: $.payed: column 3: unknown fact "
                                    "'payed'\nhelp: did you mean 'paid'?")
    assert not (tmp_path / "out.jsonl").exists()


# ---------------------------------------------------------------- processes and order


def _many(tmp_path: Path, count: int) -> Path:
    lines = [line for line, _ in MIXED]
    return _write(tmp_path / "many.jsonl", [lines[i % len(lines)] for i in range(count)])


def test_order_is_kept_and_output_is_the_same_with_two_processes(policy: Policy,
                                                                 tmp_path: Path) -> None:
    path = _many(tmp_path, 95)
    rows, one, _, alone = _batch(policy, path, jobs=1, chunk_rows=7)
    _, two, reported, shared = _batch(POLICY, path, jobs=2, chunk_rows=7)
    assert shared == alone
    assert [row["line"] for row in rows] == list(range(1, 96))
    assert (two.rows, two.decided, two.refused, two.invalid) == \
        (one.rows, one.decided, one.refused, one.invalid)
    assert [int(message.split(":")[1]) for message in reported] == \
        [row["line"] for row in rows if "error" in row]


def test_cli_jobs_two_gives_the_same_bytes_as_jobs_one(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _many(tmp_path, 2100)  # more rows than one chunk, so worker processes start
    monkeypatch.chdir(tmp_path)
    for jobs in ("1", "2"):
        result = CliRunner().invoke(cli, ["batch", POLICY, "many.jsonl", "--out",
                                          f"out{jobs}.jsonl", "--jobs", jobs, "--no-progress"])
        assert result.exit_code == 2
        assert result.stderr.splitlines()[-1].startswith(
            "rows read: 2100 = 630 decided + 420 refused + 1050 invalid; ")
    assert (tmp_path / "out1.jsonl").read_bytes() == (tmp_path / "out2.jsonl").read_bytes()


def test_the_hot_loop_function_of_the_policy_is_used(policy: Policy,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    validating = policy.decider()

    def make(**options: object) -> Callable[..., object]:
        assert not options  # raw rows: the function validates them
        def decide(raw: object, *args: object) -> object:
            calls.append(raw)
            return validating(raw, *args)
        return decide

    monkeypatch.setattr(policy, "decider", make, raising=False)
    text, outcome, _ = RowDecider(policy, "x.jsonl").decide(1, dict(CANCEL))
    assert outcome == "decided" and len(calls) == 1
    assert json.loads(text)["decision"] == "cancel_and_refund"


def test_a_decision_rendered_again_gets_its_own_line_number(policy: Policy) -> None:
    decider = RowDecider(policy, "x.jsonl")
    first, _, _ = decider.decide(1, dict(CANCEL))
    again, _, _ = decider.decide(12, dict(CANCEL))
    other, _, _ = decider.decide(13, {**CANCEL, "payment_method": "qiwi"})
    assert json.loads(again) == {**json.loads(first), "line": 12}
    assert json.loads(other)["outputs"]["refund_destination"] == "qiwi"
    assert json.dumps(json.loads(again), ensure_ascii=False) == again


# ---------------------------------------------------------------- the trace


def test_trace_is_the_trace_of_policy_eval_json(policy: Policy, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.jsonl", [json.dumps(NOT_RECEIVED), json.dumps(NOT_COVERED)])
    rows, _, _, _ = _batch(policy, path, jobs=1, trace=True)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(f"policy: {POLICY}\nfacts: {json.dumps(NOT_RECEIVED)}\n",
                        encoding="utf-8")
    expected = json.loads(json.dumps(to_json(run_scenario(str(scenario)).report())))
    assert rows[0]["trace"] == expected["trace"]
    assert rows[0]["outputs"] == expected["outputs"]
    assert rows[1]["refused"]["code"] == "E404"
    # A refusal is explained too (issue 14): the trace eval's JSON gives for it.
    refused = tmp_path / "refused.yaml"
    refused.write_text(f"policy: {POLICY}\nfacts: {json.dumps(NOT_COVERED)}\n",
                       encoding="utf-8")
    explained = json.loads(json.dumps(to_json(run_scenario(str(refused)).report())))
    assert rows[1]["trace"] == explained["trace"] and rows[1]["trace"]["closest"]


# ---------------------------------------------------------------- the command

@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Run:
    """Runs `policy batch ARGS...` from the repository root."""
    return invoker(ROOT, monkeypatch, "batch")


def test_exit_status_is_0_when_every_row_is_decided_or_refused(run: Run, tmp_path: Path) -> None:
    path = _write(tmp_path / "good.jsonl", [json.dumps(CANCEL), json.dumps(NOT_COVERED)])
    result = run(POLICY, str(path), "--out", "-")
    assert result.exit_code == 0
    assert [_outcome(json.loads(line)) for line in result.stdout.splitlines()] == \
        ["decided", "refused"]
    assert result.stderr.startswith("rows read: 2 = 1 decided + 1 refused + 0 invalid; ")


def test_exit_status_is_2_when_a_row_is_invalid_and_the_run_goes_on(run: Run,
                                                                   tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.jsonl", [line for line, _ in MIXED])
    out = tmp_path / "out.jsonl"
    result = run(POLICY, str(path), "--out", str(out))
    assert result.exit_code == 2
    assert len(out.read_text(encoding="utf-8").splitlines()) == len(MIXED)
    assert f"{path}:6: $.paid: expected yes/no, got 'yes' [E304]" in result.stderr.splitlines()


def test_the_shipped_examples(run: Run) -> None:
    for name, counts in (("orders.jsonl", "10 = 6 decided + 2 refused + 2 invalid"),
                         ("orders.csv", "8 = 4 decided + 2 refused + 2 invalid")):
        result = run(POLICY, str(EXAMPLES / name), "--out", "-")
        assert result.exit_code == 2
        assert f"rows read: {counts}; " in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("orders.txt", "--out", "-"), "cannot tell the format of 'orders.txt' from its suffix"),
    (("orders.jsonl",), "Missing option '--out'"),
    (("orders.jsonl", "--out", "-", "--jobs", "0"), "Invalid value for '--jobs'"),
    (("orders.jsonl", "--out", "-", "--format", "xml"), "Invalid value for '--format'"),
])
def test_usage_errors_exit_3(run: Run, args: tuple[str, ...], message: str) -> None:
    result = run(POLICY, *args)
    assert result.exit_code == 3
    assert message in result.stderr


def test_the_output_must_not_overwrite_the_input(run: Run, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.jsonl", [json.dumps(CANCEL)])
    result = run(POLICY, str(path), "--out", str(path))
    assert result.exit_code == 3
    assert "--out must not be the input file" in result.stderr
    assert path.read_text(encoding="utf-8") == json.dumps(CANCEL) + "\n"


def test_a_missing_input_file_is_a_clear_error(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["batch", POLICY, "missing.jsonl", "--out", "out.jsonl"])
    assert result.exit_code == 2
    assert result.stderr == "error[E301]: missing.jsonl: no such file\n"
    assert not (tmp_path / "out.jsonl").exists()


def test_a_missing_policy_is_a_clear_error(run: Run, tmp_path: Path) -> None:
    path = _write(tmp_path / "orders.jsonl", [json.dumps(CANCEL)])
    result = run(str(tmp_path / "nope.policy"), str(path), "--out", "-")
    assert result.exit_code == 2
    assert result.stderr.startswith("error[E301]: ") and "no such file" in result.stderr


def test_parquet_without_pyarrow_says_what_to_install(run: Run, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    path = tmp_path / "orders.parquet"
    path.write_bytes(b"PAR1")
    result = run(POLICY, str(path), "--out", "-")
    assert result.exit_code == 3
    assert "reading Parquet needs the optional package pyarrow" in result.stderr


def test_format_comes_from_the_suffix_unless_given() -> None:
    assert infer_format("a/orders.JSONL") == "jsonl"
    assert infer_format("orders.ndjson") == "jsonl"
    assert infer_format("orders.csv") == "csv"
    assert infer_format("orders.data", "csv") == "csv"
    with pytest.raises(BatchUsageError):
        infer_format("orders.data")


def test_an_empty_input_decides_nothing(run: Run, tmp_path: Path) -> None:
    path = _write(tmp_path / "empty.jsonl", [])
    result = run(POLICY, str(path), "--out", "-")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.startswith("rows read: 0 = 0 decided + 0 refused + 0 invalid; ")


def test_parquet_rows_are_decided_when_pyarrow_is_installed(policy: Policy,
                                                            tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")
    from decimal import Decimal

    table = pa.table({
        "request": ["cancel_order", "cancel_order", "cancel_order"],
        "order_status": ["awaiting_shipment", "completed", "awaiting_shipment"],
        "paid": [True, True, None],  # null is a fact left out: 'paid' is required
        "payment_method": ["card", None, "card"],
        "amount_paid": pa.array([Decimal("24.90"), None, None], pa.decimal128(10, 2)),
    })
    path = tmp_path / "orders.parquet"
    parquet.write_table(table, str(path))
    rows, summary, reported, _ = _batch(policy, path, jobs=1)
    assert [_outcome(row) for row in rows] == ["decided", "refused", "invalid"]
    assert [row["line"] for row in rows] == [1, 2, 3]
    assert reported == [f"{path}:3: $.paid: required fact 'paid' is missing [E306]"]
