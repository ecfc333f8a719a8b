"""Spark in local mode: the conformance cases decided and a backtest reported byte for byte
as the Python engine does (generated rows of every shipped policy are test_proof.py's), and
a query past its timeout cancelled (E607). One Spark session serves the whole module and is
stopped at its end; without Java or pyspark the module skips, unless POLICY_ENGINE_NO_SKIP is
set (.ci/run sets it), when it fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.sql_rows import generate, write_parquet
from policy_engine import Policy
from tests.sql.helpers import (
    CASES,
    CONFORMANCE,
    DEFERRED,
    SHIPPED,
    decide,
    decided_lines,
    spark_session,
)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    yield from spark_session()


@pytest.mark.parametrize("case", CASES)
def test_spark_decides_each_case_as_the_reference_engine(spark: Any, case: str) -> None:
    policy, rows = CONFORMANCE / case / "case.policy", CONFORMANCE / case / "rows.jsonl"
    expected, _ = decide(policy, rows)
    got, answered = decide(policy, rows, "spark", opened=spark)
    assert got == expected
    assert answered >= decided_lines(expected) - DEFERRED.get(case, 0) > 0


def test_spark_backtests_in_one_query_as_the_reference_engine(spark: Any,
                                                               tmp_path: Path) -> None:
    from tests.sql.test_backtest_differential import changed, report

    path = SHIPPED[1]  # the AliExpress policy, against its 30-day window
    new = changed(path, tmp_path)
    rows = tmp_path / "rows.parquet"
    write_parquet(Policy.load(str(path)), generate(Policy.load(str(path)), 1500, seed=19), rows)
    expected = report(path, new, rows, "python")
    assert report(path, new, rows, "spark", opened=spark) == expected
    assert expected["changed"] > 0


def test_a_query_past_its_timeout_is_cancelled_and_reported(spark: Any) -> None:
    # Last in the module: the timeout stops the session the module shares.
    from policy_engine.core.diagnostics import DiagnosticError
    from policy_engine.sql.query import compile_query
    from policy_engine.sql.tables import schema

    checked = Policy.load(str(SHIPPED[1])).checked
    query, table = compile_query(checked), schema(checked).empty_table()
    spark.timeout = 0.01  # no query is planned and run in that time
    with pytest.raises(DiagnosticError) as raised:
        spark.run(query, table)
    assert [d.code for d in raised.value.diagnostics] == ["E607"]
    assert spark.closed and spark.session.sparkContext._jsc is None, "the session was stopped"
    with pytest.raises(DiagnosticError) as again:  # and is not used again
        spark.run(query, table)
    assert [d.code for d in again.value.diagnostics] == ["E603"]
