"""The correctness half of benchmarks/sql_bench.py (and the SQL rows of benchmarks/run.py):
each engine's JSON Lines and Parquet output are checked against the Python engine's before a
figure is given, and a disagreement stops the run. No timing is asserted here, ever.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import sql_bench


def test_every_engine_is_checked_and_measured_both_ways() -> None:
    found = sql_bench.measure(300, ["duckdb", "python"], ["reference"], repeats=1)
    assert [row["engine"] for row in found] == ["python", "duckdb"]
    for row in found:
        assert row["rows"] == 300
        assert row["parquet_s"] >= row["jsonl_s"] > 0  # Parquet out is the run plus more
    measured, limit, passed = sql_bench.ratio_target(found, policy="reference")
    assert limit == ">= 20x" and passed is not None and "rows/s" in measured
    assert sql_bench.ratio_target(found)[2] is None  # no AliExpress row: not measured
    assert "| reference | duckdb | 300 |" in sql_bench.markdown(found)


def test_a_disagreement_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    real = sql_bench.run_once

    def wrong(policy: str, rows: Path, engine: str, out: Path
              ) -> tuple[float, float, str, float]:
        seconds, converting, digest, cpu = real(policy, rows, engine, out)
        return seconds, converting, digest if engine == "python" else "0" * 64, cpu

    monkeypatch.setattr(sql_bench, "run_once", wrong)
    with pytest.raises(RuntimeError, match="other output"):
        sql_bench.measure(100, ["python", "duckdb"], ["reference"], repeats=1)
