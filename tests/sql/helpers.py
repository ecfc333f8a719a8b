"""Shared helpers of the SQL tests: a file decided by the reference engine and by a SQL
engine, and the Spark session they share (one per test module, stopped at its end)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from policy_engine.batch import open_batch

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = Path(__file__).resolve().parent / "conformance"
CASES = sorted(path.name for path in CONFORMANCE.iterdir() if path.is_dir())
#: The policies the project ships: each is held to the reference engine row by row.
SHIPPED = sorted([*(ROOT / "policies").rglob("*.policy"), ROOT / "benchmarks" / "reference.policy"])
#: Decided rows the query hands to the reference engine, by design (docs/scale-out.md, "Limits").
DEFERRED = {
    # 9223372036854775807 and -9223372036854775808 have more digits than the envelope (15).
    "division": 2,
    # amounts with more than 6 decimal places, or products needing more than 38 digits.
    "rounding": 7,
}
#: Set by .ci/run: a test that needs Java or pyspark fails instead of skipping without them.
NO_SKIP = "POLICY_ENGINE_NO_SKIP"
#: Generated rows per shipped policy in the differential proof (test_proof.py), when set:
#: .ci/run sets them (1,000,000 for DuckDB, 100,000 for Spark); unset, the hypothesis
#: profile's count keeps the README's suite quick.
DUCKDB_ROWS, SPARK_ROWS = "POLICY_SQL_ROWS", "POLICY_SPARK_ROWS"


def sized(default: int, variable: str) -> int:
    """The generated rows of a differential test: `variable` if set, else `examples`."""
    from tests.helpers.examples import examples

    given = os.environ.get(variable)
    return int(given) if given else examples(default)


def decide(policy: str | Path, rows: str | Path, engine: str = "python", *,
           opened: Any = None, trace: bool = False) -> tuple[str, int]:
    """The batch output for `rows`, and how many of its lines the query itself wrote."""
    batch = open_batch(str(policy), str(rows), trace=trace)
    out = io.StringIO()
    try:
        if engine == "python":
            batch.run(out, jobs=1)
            return out.getvalue(), 0
        from policy_engine.sql.batching import SqlBatch

        runner = SqlBatch(batch.policy, batch.reader, engine, trace=trace, opened=opened)
        runner.run(out)
        return out.getvalue(), runner.answered
    finally:
        batch.close()


def decided_lines(output: str) -> int:
    # A decided line starts with its decision; a refused line's trace names decisions too.
    return sum(line.split(", ", 1)[-1].startswith('"decision": ')
               for line in output.splitlines())


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark is not installed (pip install -e '.[spark]')"
    from policy_engine.sql.engines import java_available

    if not java_available():
        return "no Java runtime (apt-get install default-jre-headless, or set JAVA_HOME)"
    return None


def spark_session() -> Iterator[Any]:
    """One local Spark engine (two cores) for a test module; skips without Java or pyspark
    unless NO_SKIP is set."""
    reason = spark_missing()
    if reason is not None:
        if os.environ.get(NO_SKIP):
            pytest.fail(f"{reason}, and {NO_SKIP} is set: the Spark tests must run")
        pytest.skip(reason)
    from policy_engine.sql.engines import Spark

    engine = Spark("local[2]", partitions=2)
    try:
        yield engine
    finally:
        engine.close()


def query_outcomes(policy_path: str | Path, rows: str | Path, engine: Any) -> dict[int, str]:
    """What the query itself says of each row the fact stage reads (JSON Lines only): the
    decision and rule, `refused CODE`, `invalid CODE` or `deferred`, by line."""
    import json

    from policy_engine import Policy
    from policy_engine.sql.query import compile_query
    from policy_engine.sql.tables import from_typed

    policy = Policy.load(str(policy_path))
    typed, given = [], []
    for number, line in enumerate(Path(rows).read_text(encoding="utf-8").splitlines(), 1):
        raw = json.loads(line)
        facts = policy._facts.quick(raw)
        if facts is not None:
            typed.append((number, facts))
            given.append(frozenset(raw))
    table, _ = from_typed(policy.checked, typed, given)  # rows set aside: reference only
    result = engine.run(compile_query(policy.checked), table).to_pylist()
    return {row["line"]: (f"{row['decision']} {row['rule']}" if row["status"] == "decided"
                          else f"{row['status']} {row['code'] or ''}".strip())
            for row in result}


def batch_outcomes(output: str) -> dict[int, str]:
    """The same, from a batch output."""
    import json

    found = {}
    for text in output.splitlines():
        line = json.loads(text)
        if "decision" in line:
            found[line["line"]] = f"{line['decision']} {line['rule']}"
        elif "refused" in line:
            found[line["line"]] = f"refused {line['refused']['code']}"
        else:
            found[line["line"]] = f"invalid {line['error']['code']}"
    return found
