"""The differential proof (issue 16, docs/scale-out.md "How they are checked"): generated rows
of every shipped policy (valid, boundary, missing and invalid values mixed) decided by
`policy batch --engine python --jobs 2`, the reference, and by DuckDB and Spark, whose outputs
must equal the reference's whole line by whole line (status, decision, rule, outputs,
advisories, refusal code, label and message, an invalid row's path and message).

Per policy the rows are drawn and written once (`tests/sql/proof.py`) and the reference
decides them once; then DuckDB decides every row from Parquet and the first rows from JSON
Lines (where wrong-typed values stay wrong-typed: the reference decides those too), and Spark
the first rows from Parquet (compared with the first lines of the reference's output).
The sizes follow the hypothesis profile unless set: POLICY_SQL_ROWS (all rows, DuckDB from
Parquet), POLICY_JSONL_ROWS and POLICY_SPARK_ROWS (the first rows). `.ci/run` sets 1,000,000,
100,000 and 100,000, and POLICY_ENGINE_NO_SKIP, so Spark cannot be skipped there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from policy_engine import Policy
from policy_engine.batch import open_batch
from tests.sql.helpers import DUCKDB_ROWS, SHIPPED, SPARK_ROWS, sized, spark_session
from tests.sql.proof import columns, compare, write_rows

JSONL_ROWS = "POLICY_JSONL_ROWS"


@dataclass(frozen=True)
class Proof:
    """A policy's generated rows and the reference engine's output for them."""

    policy: Path
    parquet: Path
    jsonl: Path
    reference: Path  # the reference engine's output for the Parquet rows
    jsonl_reference: Path  # and for the JSON Lines (a wrong type is no null there)
    rows: int
    jsonl_rows: int


@pytest.fixture(scope="module", params=SHIPPED, ids=[f"{p.parent.name}-{p.stem}" for p in SHIPPED])
def proof(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Proof]:
    path: Path = request.param
    folder = tmp_path_factory.mktemp(path.stem)
    rows = sized(4000, DUCKDB_ROWS)
    jsonl_rows = min(rows, int(os.environ.get(JSONL_ROWS) or rows))
    policy = Policy.load(str(path))
    parquet, jsonl = write_rows(policy, columns(policy, rows, seed=11), folder,
                                jsonl_rows=jsonl_rows)
    reference = folder / "reference.jsonl"
    jsonl_reference = folder / "reference-of-jsonl.jsonl"
    _reference(path, parquet, reference)
    _reference(path, jsonl, jsonl_reference)
    yield Proof(path, parquet, jsonl, reference, jsonl_reference, rows, jsonl_rows)
    for file in folder.iterdir():
        file.unlink()


def _reference(policy: Path, rows: Path, out: Path) -> None:
    """`policy batch POLICY ROWS --jobs 2`: the command users run, in two processes."""
    done = subprocess.run([sys.executable, "-m", "policy_engine", "batch", str(policy),
                           str(rows), "--out", str(out), "--jobs", "2", "--no-progress"],
                          capture_output=True, text=True, check=False)
    # 2: some rows are invalid, as the generated rows are meant to be.
    assert done.returncode in (0, 2) and out.exists(), done.stderr[-2000:]


def _sql(proof: Proof, rows: Path, engine: str, opened: Any = None) -> tuple[Path, int]:
    """The SQL engine's output for `rows`, and how many of its lines the query wrote."""
    from policy_engine.sql.batching import SqlBatch

    out = rows.with_name(f"{rows.stem}.{engine}.jsonl")
    batch = open_batch(str(proof.policy), str(rows))
    try:
        runner = SqlBatch(batch.policy, batch.reader, engine, opened=opened)
        with out.open("w", encoding="utf-8", newline="\n") as handle:
            runner.run(handle)
    finally:
        batch.close()
    return out, runner.answered


def _check(got: Path, reference: Path, answered: int, lines: int, name: str) -> None:
    decided = compare(got, reference, name, lines=lines)
    got.unlink()
    # The query itself writes the lines of most decided rows (free text it cannot write
    # safely, and values outside its envelope, go to the reference engine): the proof is of
    # the query, not of the reference engine deciding for it.
    assert decided > 0 and answered >= decided * 0.9, (name, answered, decided)


def test_duckdb_equals_the_reference_engine_on_parquet(proof: Proof) -> None:
    got, answered = _sql(proof, proof.parquet, "duckdb")
    _check(got, proof.reference, answered, proof.rows, f"{proof.policy.name}: DuckDB, Parquet")


def test_duckdb_equals_the_reference_engine_on_json_lines(proof: Proof) -> None:
    got, answered = _sql(proof, proof.jsonl, "duckdb")
    _check(got, proof.jsonl_reference, answered, proof.jsonl_rows,
           f"{proof.policy.name}: DuckDB, JSON Lines")


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    yield from spark_session()


def test_spark_equals_the_reference_engine(proof: Proof, spark: Any) -> None:
    import pyarrow.parquet as pq

    count = min(proof.rows, sized(2000, SPARK_ROWS))
    first = proof.parquet.with_name("first.parquet")
    pq.write_table(pq.read_table(proof.parquet).slice(0, count), first)
    got, answered = _sql(proof, first, "spark", opened=spark)
    _check(got, proof.reference, answered, count, f"{proof.policy.name}: Spark, Parquet")
