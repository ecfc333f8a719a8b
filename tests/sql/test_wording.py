"""`policy batch --engine duckdb` words refused and invalid rows from what the query returns,
without handing them to the reference engine, and still writes exactly what `--engine python`
writes: the same lines and the same reports on standard error, every one of them, with and
without `--trace`.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from benchmarks.sql_rows import generate, write_jsonl, write_parquet
from policy_engine import Policy
from policy_engine.batch import open_batch
from policy_engine.sql.batching import SqlBatch
from tests.helpers.examples import examples
from tests.sql.helpers import ROOT

ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"


def run(rows: Path, engine: str, *, trace: bool = False) -> tuple[str, list[str], int]:
    """The output, every report, and how many rows the query itself answered."""
    batch = open_batch(str(ALIEXPRESS), str(rows), trace=trace)
    out = io.StringIO()
    reports: list[str] = []
    try:
        if engine == "python":
            batch.run(out, jobs=1, report=reports.append)
            return out.getvalue(), reports, 0
        runner = SqlBatch(batch.policy, batch.reader, engine, trace=trace)
        runner.run(out, report=reports.append)
        return out.getvalue(), reports, runner.answered
    finally:
        batch.close()


@pytest.fixture(scope="module")
def parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    policy = Policy.load(str(ALIEXPRESS))
    path = tmp_path_factory.mktemp("wording") / "rows.parquet"
    write_parquet(policy, generate(policy, examples(3000), seed=23), path)
    return path


@pytest.mark.parametrize("trace", [False, True], ids=["plain", "trace"])
def test_invalid_and_refused_rows_are_worded_from_the_query(parquet: Path,
                                                            trace: bool) -> None:
    expected, expected_reports, _ = run(parquet, "python", trace=trace)
    got, reports, answered = run(parquet, "duckdb", trace=trace)
    assert got == expected
    assert reports == expected_reports
    lines = expected.splitlines()
    invalid = sum('"error": ' in line for line in lines)
    assert invalid > 0 and len(reports) == invalid
    if not trace:
        # Only what truly needs the reference engine goes back to it: values outside the
        # query's envelope, a handful in a thousand generated rows.
        assert answered >= len(lines) * 0.99


def test_json_lines_rows_give_the_same_lines_and_reports(tmp_path: Path) -> None:
    policy = Policy.load(str(ALIEXPRESS))
    path = tmp_path / "rows.jsonl"
    write_jsonl(generate(policy, examples(1500), seed=29), path)
    with open(path, "a", encoding="utf-8") as rows:
        rows.write("\n{not json\n\n[1, 2]\n")  # blank lines leave gaps in the line numbers
    expected, expected_reports, _ = run(path, "python")
    got, reports, _ = run(path, "duckdb")
    assert got == expected
    assert reports == expected_reports


@pytest.mark.parametrize("trace", [False, True], ids=["plain", "trace"])
def test_parquet_output_is_the_same_on_both_engines(parquet: Path, tmp_path: Path,
                                                    trace: bool) -> None:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from policy_engine.cli import cli

    tables = {}
    for engine in ("python", "duckdb"):
        out = tmp_path / f"{engine}.parquet"
        result = CliRunner().invoke(cli, ["batch", str(ALIEXPRESS), str(parquet), "--out",
                                          str(out), "--format", "parquet", "--engine", engine,
                                          *(["--trace"] if trace else [])])
        assert result.exit_code == 2, result.output  # the generated rows hold invalid ones
        tables[engine] = pq.read_table(out)
    assert tables["duckdb"].equals(tables["python"])
    table = tables["python"]
    assert table.column("line").to_pylist() == list(range(1, table.num_rows + 1))
    counts = dict(zip(*(pc.value_counts(table.column("status")).flatten()), strict=True))
    assert set(map(str, counts)) == {"decided", "refused", "invalid"}
    assert (pc.count(table.column("trace")).as_py() > 0) == trace
    assert not list(tmp_path.glob(".*.tmp"))


def test_parquet_output_needs_a_file(parquet: Path) -> None:
    from click.testing import CliRunner

    from policy_engine.cli import cli

    result = CliRunner().invoke(cli, ["batch", str(ALIEXPRESS), str(parquet), "--out", "-",
                                      "--format", "parquet"])
    assert result.exit_code == 3
    assert "give --out FILE" in result.output
