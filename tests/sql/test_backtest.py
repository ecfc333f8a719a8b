"""policy backtest: the transition matrix of a change over history, held to the library.

The expected counts are worked out here with `Policy.evaluate` row by row, never copied from
what the command printed.
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from benchmarks.sql_rows import generate, write_jsonl, write_parquet
from policy_engine import Policy
from policy_engine.batch import RowError, parse_json_line
from policy_engine.cli import cli
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.sql.reports import MARKDOWN_LIMIT
from tests.sql.helpers import ROOT

OLD = ROOT / "policies" / "examples" / "refund.policy"
NEW = ROOT / "policies" / "examples" / "proposals" / "window_30_days.policy"


def _key(policy: Policy, raw: Any) -> str:
    if isinstance(raw, RowError):
        return f"invalid {raw.code}"
    try:
        decision = policy.evaluate(raw, prefix=())
    except DiagnosticError as error:
        return f"invalid {error.diagnostics[0].code}"
    if decision.decision is not None:
        return decision.decision
    refusal = decision.refusal[0]
    label = getattr(refusal, "label", None)
    return f"refused {refusal.code}" + (f" {label}" if label else "")


Expected = tuple[Counter[tuple[str, str]], dict[tuple[str, str], Decimal]]


def _expected(rows: list[dict[str, Any]]) -> Expected:
    old, new = Policy.load(str(OLD)), Policy.load(str(NEW))
    counts: Counter[tuple[str, str]] = Counter()
    sums: dict[tuple[str, str], Decimal] = {}
    for row in rows:
        # The history is read back from JSON Lines, as the command reads it.
        raw = parse_json_line(json.dumps(row).encode())
        key = (_key(old, raw), _key(new, raw))
        counts[key] += 1
        value = raw.get("amount_paid") if isinstance(raw, dict) else None
        if isinstance(value, (str, int, Decimal)) and not isinstance(value, bool):
            try:
                sums[key] = sums.get(key, Decimal(0)) + Decimal(str(value))
            except ArithmeticError:
                pass
    return counts, sums


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["backtest", str(OLD), str(NEW), *args])


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("history")
    rows = generate(Policy.load(str(NEW)), 600, seed=3)
    write_jsonl(rows, folder / "rows.jsonl")
    return folder / "rows.jsonl", rows


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_transition_matrix_is_the_librarys(engine: str,
                                               history: tuple[Path, list[dict[str, Any]]]) -> None:
    path, rows = history
    result = _run("--history", str(path), "--engine", engine, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    counts, sums = _expected(rows)
    got = {(t["before"], t["after"]): t["rows"] for t in report["transitions"]}
    assert got == dict(counts)
    assert report["rows"] == len(rows)
    assert report["changed"] == sum(n for (a, b), n in counts.items() if a != b) > 0
    for transition in report["transitions"]:
        key = (transition["before"], transition["after"])
        assert Decimal(transition["amount"]) == sums.get(key, Decimal(0))
        if transition["changed"]:
            assert 0 < len(transition["examples"]) <= 3
            for example in transition["examples"]:
                raw = parse_json_line(path.read_bytes().splitlines()[example["line"] - 1])
                assert _key(Policy.load(str(OLD)), raw) == key[0]
                assert example["after"].get("decision", None) == (
                    key[1] if not key[1].startswith(("refused", "invalid")) else None)


def test_the_engines_agree_and_the_formats_say_the_same(
        history: tuple[Path, list[dict[str, Any]]], tmp_path: Path) -> None:
    path, rows = history
    parquet = tmp_path / "rows.parquet"
    write_parquet(Policy.load(str(NEW)), rows, parquet)
    python = _run("--history", str(parquet), "--engine", "python")
    duckdb = _run("--history", str(parquet), "--engine", "duckdb")
    assert python.exit_code == duckdb.exit_code == 0
    assert python.output.split("\n", 1)[1] == duckdb.output.split("\n", 1)[1]
    markdown = _run("--history", str(parquet), "--format", "markdown")
    assert markdown.exit_code == 0 and len(markdown.output) < MARKDOWN_LIMIT
    assert "| before | after | rows | share |" in markdown.output
    assert _run("--history", str(parquet), "--fail-on-change").exit_code == 1


def _log_line(facts: dict[str, Any], masked: list[str]) -> str:
    return json.dumps({
        "format": "policy-engine/decision-log", "format_version": 1, "decision_id": "01J",
        "time": "2026-12-07T15:04:05.123456Z",
        "policy": {"name": "refund", "version": None, "sha256": "0" * 64},
        "facts": {**facts, **{name: "<masked>" for name in masked}}, "masked": masked,
        "result": {}, "trace_summary": []})


def test_decision_logs_are_replayed_and_masked_facts_counted(tmp_path: Path) -> None:
    rows = [json.loads(line) for line in
            (ROOT / "policies/examples/history/orders.jsonl").read_text().splitlines()]
    log = tmp_path / "decisions.log"
    lines = [_log_line(row, []) for row in rows]
    lines.append(_log_line(rows[0], ["days_since_sent"]))  # read by both versions
    lines.append(_log_line(rows[1], ["buyer_email"]))  # no fact of the policy: left out
    log.write_text("\n".join(lines) + "\n")
    result = _run("--history", str(tmp_path), "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["rows"] == len(rows) + 2
    assert report["not_replayable"] == 1
    counts, _ = _expected(rows + [rows[1]])
    got = Counter({(t["before"], t["after"]): t["rows"] for t in report["transitions"]})
    counts[("invalid E604", "invalid E604")] += 1
    assert got == counts


def test_an_empty_history_is_e606(tmp_path: Path) -> None:
    (tmp_path / "history").mkdir()
    result = _run("--history", str(tmp_path / "history"))
    assert result.exit_code == 2
    assert "E606" in result.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert "E606" in _run("--history", str(empty)).output


def test_the_markdown_stays_under_the_limit_with_many_transitions() -> None:
    from policy_engine.sql.backtest import Backtest, Example, Transition
    from policy_engine.sql.reports import render_markdown

    result = Backtest("old.policy", "new.policy", ["h.jsonl"], "duckdb", "amount_paid", rows=5000)
    side = {"decision": "x" * 300, "rule": "r", "reason": "because " * 40}
    for number in range(2000):
        transition = Transition(f"before_{number}", f"after_{number}", rows=2)
        transition.examples = [Example("h.jsonl", n, side, side) for n in range(3)]
        result.transitions[(transition.before, transition.after)] = transition
    text = render_markdown(result)
    assert len(text) <= MARKDOWN_LIMIT
    assert "--format json" in text
