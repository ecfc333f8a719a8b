"""Generated rows (valid, boundary, missing and invalid values mixed) of every shipped policy,
decided by DuckDB exactly as the Python engine (`policy batch`'s code path) decides them: the
same output, whole lines compared byte for byte (status, decision, rule, outputs, advisories,
refusal code, label and message), from JSON Lines and from Parquet, with and without traces.
The row count grows with the hypothesis profile; POLICY_SQL_ROWS sets it, and .ci/run's
million-row proof sets it to 1,000,000 per shipped policy (docs/scale-out.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.sql_rows import generate, write_jsonl, write_parquet
from policy_engine import Policy
from tests.helpers.examples import examples
from tests.sql.helpers import (
    DUCKDB_ROWS,
    SHIPPED,
    assert_same_lines,
    decide,
    decided_lines,
    sized,
)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_duckdb_equals_the_reference_engine_on_generated_rows(path: Path,
                                                              tmp_path: Path) -> None:
    policy = Policy.load(str(path))
    rows = generate(policy, sized(4000, DUCKDB_ROWS), seed=11)
    write_jsonl(rows, tmp_path / "rows.jsonl")
    write_parquet(policy, rows, tmp_path / "rows.parquet")
    del rows
    for name in ("rows.jsonl", "rows.parquet"):
        expected, _ = decide(path, tmp_path / name)
        got, answered = decide(path, tmp_path / name, "duckdb")
        assert_same_lines(got, expected, name)
        # Most decided rows are decided by the query itself (free text it cannot write
        # safely, and values outside its envelope, go to the reference engine).
        assert answered >= decided_lines(expected) * 0.9, name


@pytest.mark.parametrize("path", SHIPPED[:2], ids=[p.name for p in SHIPPED[:2]])
def test_traces_from_the_query_are_the_interpreters(path: Path, tmp_path: Path) -> None:
    policy = Policy.load(str(path))
    write_jsonl(generate(policy, examples(800), seed=5), tmp_path / "rows.jsonl")
    expected, _ = decide(path, tmp_path / "rows.jsonl", trace=True)
    got, _ = decide(path, tmp_path / "rows.jsonl", "duckdb", trace=True)
    assert got == expected
