"""Spark in local mode: the conformance cases and generated rows of every shipped policy
decided byte for byte as the Python engine decides them. One Spark session serves the whole
module and is stopped at its end; without Java or pyspark the module skips, unless
POLICY_ENGINE_NO_SKIP is set (.ci/run sets it), when it fails.
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
    SPARK_ROWS,
    assert_same_lines,
    decide,
    decided_lines,
    sized,
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


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_spark_equals_the_reference_engine_on_generated_rows(spark: Any, path: Path,
                                                             tmp_path: Path) -> None:
    policy = Policy.load(str(path))
    rows = tmp_path / "rows.parquet"
    write_parquet(policy, generate(policy, sized(2000, SPARK_ROWS), seed=7), rows)
    expected, _ = decide(path, rows)
    got, answered = decide(path, rows, "spark", opened=spark)
    assert_same_lines(got, expected, rows.name)
    assert answered >= decided_lines(expected)


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
