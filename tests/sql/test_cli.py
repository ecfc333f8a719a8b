"""The commands over the SQL stage: `policy batch --engine duckdb` writes what `--engine
python` writes, `policy sql` prints a query a warehouse can run, and `policy eval` never
loads the optional SQL packages."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine.cli import cli
from tests.sql.helpers import CONFORMANCE, ROOT, batch_outcomes, decide

ORDERS = ROOT / "policies" / "aliexpress" / "batch"
ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"


def _speedless(text: str) -> str:
    return re.sub(r"; [0-9,.]+ rows/s \([0-9.]+ s\)", "", text)


@pytest.mark.parametrize("name", ["orders.jsonl", "orders.csv"])
def test_batch_with_duckdb_writes_what_python_writes(name: str) -> None:
    args = ["batch", str(ALIEXPRESS), str(ORDERS / name), "--out", "-", "--jobs", "1"]
    python = CliRunner().invoke(cli, args)
    duckdb = CliRunner().invoke(cli, [*args, "--engine", "duckdb"])
    assert duckdb.exit_code == python.exit_code == 2  # two invalid rows
    assert duckdb.stdout == python.stdout
    assert _speedless(duckdb.stderr) == _speedless(python.stderr)


def test_the_printed_query_runs_in_duckdb_and_answers_as_the_batch(tmp_path: Path) -> None:
    import duckdb

    policy = CONFORMANCE / "missing_facts" / "case.policy"
    printed = CliRunner().invoke(cli, ["sql", str(policy), "--table", "orders"])
    assert printed.exit_code == 0, printed.output
    assert printed.stdout.rstrip().endswith(";")
    rows = [(1, True, "150", 10, None), (2, True, None, 10, None), (3, None, "50", 50, None),
            (4, True, "150", 31, True)]
    facts = [{"paid": p, "amount_paid": a, "days_since_sent": d, "received": r}
             for _, p, a, d, r in rows]
    source = tmp_path / "rows.jsonl"
    import json

    source.write_text("".join(json.dumps({k: v for k, v in f.items() if v is not None}) + "\n"
                              for f in facts))
    expected = batch_outcomes(decide(policy, source)[0])
    with duckdb.connect() as db:
        db.execute("CREATE TABLE orders (_line BIGINT, paid BOOLEAN, amount_paid VARCHAR, "
                   "days_since_sent BIGINT, received BOOLEAN)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?, ?)", rows)
        result = db.sql(printed.stdout.rstrip().rstrip(";")).fetchall()
    got = {line: f"{decision} {rule}" if status == "decided" else f"{status} {code}"
           for line, status, code, _, _, decision, rule, *_ in result}
    assert got == expected


def test_a_construct_sql_cannot_decide_is_e601_with_its_line(tmp_path: Path) -> None:
    policy = tmp_path / "calendar.policy"
    policy.write_text(
        "policy p\nfact start: date\nfact end: date\nfact country: text\n"
        "decision late\ndecision fine\n"
        "rule late when working days from start to end calendar country > 5 then late "
        'because "late"\notherwise fine because "fine"\n')
    result = CliRunner().invoke(cli, ["sql", str(policy)])
    assert result.exit_code == 2
    assert "E601" in result.stderr and "calendar.policy:7:" in result.stderr


def test_policy_eval_never_loads_the_sql_packages() -> None:
    scenario = ROOT / "policies/examples/scenarios/refund/window_expired_day_46.yaml"
    code = (
        "import sys\n"
        "from policy_engine.cli import cli\n"
        "try:\n"
        f"    cli.main(['eval', {str(scenario)!r}])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in ('sqlglot', 'duckdb', 'pyarrow', 'pyspark') if m in sys.modules]\n"
        "print('LOADED', loaded, file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=False)
    assert "LOADED []" in done.stderr, done.stderr
