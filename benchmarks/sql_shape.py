"""The query's shape at scale, and what `--trace` costs on DuckDB, measured in one process.

Two measurements (see docs/scale-out.md, "Limits" and "Explanations"):

- `--rules N`: the generated policy of N rules (`generate.generate_policy`): seconds to
  translate it, to write its DuckDB SQL, and to plan and run it over `--rows` generated rows
  (`generate.random_facts`) in DuckDB, and, with `--trace`, the same with the trail.
- `--trace-cost POLICY`: `policy batch --engine duckdb` on generated rows of a policy
  (`sql_rows.generate`, JSON Lines), with and without `--trace`, interleaved, each repeat's
  outputs checked against the Python engine's; the ratio of the best times.

    python benchmarks/sql_shape.py --rules 10000 --rows 100000
    python benchmarks/sql_shape.py --trace-cost policies/aliexpress/refund.policy --rows 20000
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate_policy, random_facts  # noqa: E402
from benchmarks.sql_rows import generate, write_jsonl  # noqa: E402
from policy_engine import Policy  # noqa: E402
from policy_engine.batch import open_batch  # noqa: E402


def shape(rules: int, rows: int, trace: bool) -> None:
    import duckdb
    import pyarrow as pa

    from policy_engine.sql.query import compile_query

    policy = Policy.from_text(generate_policy(rules), "generated.policy")
    started = time.perf_counter()
    query = compile_query(policy.checked, trail=trace)
    translated = time.perf_counter()
    text = query.sql("duckdb")
    written = time.perf_counter()
    facts = random_facts(rules, rows, seed=3)
    table = pa.table({"_line": pa.array(range(1, rows + 1), pa.int64()),
                      **{name: [row[name] for row in facts] for name in facts[0]}})
    db = duckdb.connect()
    try:
        db.register("facts", table)
        begun = time.perf_counter()
        relation = db.sql(text + " ORDER BY line")
        planned = time.perf_counter()
        result = relation.to_arrow_table()
        ran = time.perf_counter()
    finally:
        db.close()
    print(f"rules {rules} rows {rows} trail {trace}: translate {translated - started:.2f} s, "
          f"write {written - translated:.2f} s ({len(text):,} characters), "
          f"bind {planned - begun:.2f} s, optimise and run {ran - planned:.2f} s, "
          f"{result.num_rows:,} rows")


def _batch(policy: Path, rows: Path, engine: str, trace: bool) -> tuple[float, str]:
    started = time.perf_counter()
    batch = open_batch(str(policy), str(rows), trace=trace)
    out = io.StringIO()
    try:
        if engine == "python":
            batch.run(out, jobs=1)
        else:
            from policy_engine.sql.batching import SqlBatch

            SqlBatch(batch.policy, batch.reader, engine, trace=trace).run(out)
    finally:
        batch.close()
    return time.perf_counter() - started, out.getvalue()


def trace_cost(policy: Path, rows: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.jsonl"
        write_jsonl(generate(Policy.load(str(policy)), rows, seed=3), path)
        expected = {trace: _batch(policy, path, "python", trace)[1] for trace in (False, True)}
        best = {False: float("inf"), True: float("inf")}
        for _ in range(repeats):
            for trace in (False, True):
                seconds, output = _batch(policy, path, "duckdb", trace)
                if output != expected[trace]:
                    raise SystemExit(f"duckdb differs from python (trace={trace})")
                best[trace] = min(best[trace], seconds)
    print(f"{policy} {rows} rows, duckdb: without --trace {best[False]:.2f} s, "
          f"with --trace {best[True]:.2f} s, ratio {best[True] / best[False]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int)
    parser.add_argument("--trace-cost", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trace", action="store_true", help="with --rules: also the trail")
    args = parser.parse_args()
    if args.rules:
        shape(args.rules, args.rows, False)
        if args.trace:
            shape(args.rules, args.rows, True)
    if args.trace_cost:
        trace_cost(args.trace_cost, args.rows, args.repeats)


if __name__ == "__main__":
    main()
