"""Conformance on DuckDB: each case in conformance/ (a policy and rows chosen at the edges
where SQL and Python differ: rounding, division, date differences, lookups with and without
a row, missing facts, working days with holidays) decided byte for byte as the Python engine
decides it; the query itself decides the rows inside its envelope, and its own status of
every row it does not defer (decided, refused with the code, invalid) is the reference's.

tests/sql/test_spark.py runs the same cases on Spark.
"""

from __future__ import annotations

import pytest

from policy_engine.sql.engines import DuckDB
from tests.sql.helpers import (
    CASES,
    CONFORMANCE,
    DEFERRED,
    batch_outcomes,
    decide,
    decided_lines,
    query_outcomes,
)


@pytest.mark.parametrize("trace", [False, True], ids=["plain", "trace"])
@pytest.mark.parametrize("case", CASES)
def test_duckdb_decides_each_case_as_the_reference_engine(case: str, trace: bool) -> None:
    policy, rows = CONFORMANCE / case / "case.policy", CONFORMANCE / case / "rows.jsonl"
    expected, _ = decide(policy, rows, trace=trace)
    got, answered = decide(policy, rows, "duckdb", trace=trace)
    assert got == expected
    # The query, not the reference engine it hands rows back to, decided the decided rows.
    assert answered >= decided_lines(expected) - DEFERRED.get(case, 0) > 0


@pytest.mark.parametrize("case", CASES)
def test_the_querys_own_outcomes_are_the_reference_engines(case: str) -> None:
    policy, rows = CONFORMANCE / case / "case.policy", CONFORMANCE / case / "rows.jsonl"
    expected = batch_outcomes(decide(policy, rows)[0])
    with DuckDB() as engine:
        got = query_outcomes(policy, rows, engine)
    compared = {line: outcome for line, outcome in got.items() if outcome != "deferred"}
    assert compared == {line: expected[line] for line in compared}
    assert len(compared) >= len(got) - DEFERRED.get(case, 0)
