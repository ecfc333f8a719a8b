"""Generated rows of the shipped policies decided by DuckDB with `--trace`, exactly as the
Python engine (`policy batch`'s code path) decides and explains them, whole lines compared.
The proof without traces, a million rows per shipped policy in CI, is `test_proof.py`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.sql_rows import generate, write_jsonl
from policy_engine import Policy
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
