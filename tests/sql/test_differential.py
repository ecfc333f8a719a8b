"""Generated rows of the shipped policies decided by DuckDB with `--trace`, exactly as the
Python engine (`policy batch`'s code path) decides and explains them, whole lines compared.
The proof without traces, a million rows per shipped policy in CI, is `test_proof.py`.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from benchmarks.sql_rows import generate, write_jsonl, write_parquet
from policy_engine import Policy
from policy_engine.batch import open_batch
from tests.helpers.examples import examples
from tests.sql.helpers import (
    SHIPPED,
    decide,
)


@pytest.mark.parametrize("path", SHIPPED[:2], ids=[p.name for p in SHIPPED[:2]])
def test_traces_from_the_query_are_the_interpreters(path: Path, tmp_path: Path) -> None:
    policy = Policy.load(str(path))
    write_jsonl(generate(policy, examples(800), seed=5), tmp_path / "rows.jsonl")
    expected, _ = decide(path, tmp_path / "rows.jsonl", trace=True)
    got, _ = decide(path, tmp_path / "rows.jsonl", "duckdb", trace=True)
    assert got == expected


@pytest.mark.parametrize("trace", [False, True], ids=["lean", "trace"])
@pytest.mark.parametrize("path", SHIPPED[:2], ids=[p.name for p in SHIPPED[:2]])
def test_parquet_in_many_chunks_is_the_interpreters(path: Path, trace: bool,
                                                    tmp_path: Path) -> None:
    """Parquet in chunks of 37 rows: without --trace each chunk's lean query runs in the
    worker thread while the chunk before is put together; with it, the full query explains
    each row. The lines, in input order, and the summary are the Python engine's."""
    from policy_engine.sql.batching import SqlBatch

    policy = Policy.load(str(path))
    rows = tmp_path / "rows.parquet"
    write_parquet(policy, generate(policy, examples(600), seed=9), rows)
    counts = []
    outputs = []
    for engine in ("python", "duckdb"):
        batch = open_batch(str(path), str(rows), trace=trace)
        out = io.StringIO()
        try:
            if engine == "python":
                summary = batch.run(out, jobs=1)
            else:
                summary = SqlBatch(batch.policy, batch.reader, engine, trace=trace,
                                   chunk_rows=37).run(out)
        finally:
            batch.close()
        outputs.append(out.getvalue())
        counts.append((summary.rows, summary.decided, summary.refused, summary.invalid,
                       summary.failed))
    assert outputs[1] == outputs[0]
    assert counts[1] == counts[0]
    assert counts[0][0] == examples(600)
