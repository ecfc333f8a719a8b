"""The SQL engines against the Python engine: rows per second, end to end, as ratios.

One process: generated rows of each policy (`sql_rows.generate`: valid, boundary, missing
and invalid values mixed) are written to Parquet once; then, for each repeat, every engine
runs `policy batch`'s own code path on that file (Parquet in, JSON Lines out to a file,
progress and summary as the command keeps them), one after another, interleaved, so a
machine busy with other work slows them alike. Every engine's output must be byte for byte
the Python engine's, or the run stops. The table gives each engine's best time, its rows per
second, and its ratio to the Python engine (how many times as fast). See docs/sql.md.

    python benchmarks/sql_bench.py --rows 1000000                 # python and duckdb
    python benchmarks/sql_bench.py --rows 100000 --engines python,duckdb,spark
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate_policy  # noqa: E402
from benchmarks.sql_rows import generate, write_parquet  # noqa: E402
from policy_engine import Policy  # noqa: E402
from policy_engine.batch import open_batch  # noqa: E402

POLICIES = {
    "aliexpress": ROOT / "policies" / "aliexpress" / "refund.policy",
    "reference": ROOT / "benchmarks" / "reference.policy",
}


def run_once(policy: str, rows: Path, engine: str, out: Path) -> tuple[float, str]:
    """One `policy batch` run: its seconds and the output's SHA-256."""
    started = time.perf_counter()
    batch = open_batch(policy, str(rows))
    try:
        runner = batch
        if engine != "python":
            from policy_engine.sql.batching import SqlBatch

            runner = SqlBatch(batch.policy, batch.reader, engine)  # type: ignore[assignment]
        with open(out, "w", encoding="utf-8") as output:
            runner.run(output)
    finally:
        batch.close()
    seconds = time.perf_counter() - started
    return seconds, hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--engines", default="python,duckdb",
                        help="comma-separated: python, duckdb, spark (python is the baseline)")
    parser.add_argument("--policies", default="aliexpress,reference",
                        help="comma-separated: aliexpress, reference, big (10,000 rules)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    engines = args.engines.split(",")
    if engines[0] != "python":
        engines = ["python", *[e for e in engines if e != "python"]]
    work = Path(tempfile.mkdtemp(prefix="sql-bench-"))
    print(f"{args.rows:,} rows per policy, {args.repeats} repeats, {os.cpu_count()} cores; "
          "Parquet in, JSON Lines out", flush=True)
    print("| policy | engine | rows | best seconds | rows/s | x python |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.policies.split(","):
        if name == "big":
            path = work / "big.policy"
            path.write_text(generate_policy(10_000), encoding="utf-8")
        else:
            path = POLICIES[name]
        policy = Policy.load(str(path))
        rows = work / f"{name}.parquet"
        write_parquet(policy, generate(policy, args.rows, seed=args.seed), rows)
        best: dict[str, float] = {}
        digests: dict[str, str] = {}
        for _ in range(args.repeats):
            for engine in engines:
                seconds, digest = run_once(str(path), rows, engine, work / f"{engine}.jsonl")
                best[engine] = min(best.get(engine, seconds), seconds)
                digests.setdefault(engine, digest)
                if digest != digests["python"]:
                    sys.exit(f"{name}: --engine {engine} wrote other output than --engine "
                             "python; this is a bug")
        for engine in engines:
            rate = args.rows / best[engine]
            print(f"| {name} | {engine} | {args.rows:,} | {best[engine]:.2f} | {rate:,.0f} | "
                  f"{best['python'] / best[engine]:.1f} |", flush=True)
        for leftover in work.glob("*.jsonl"):
            leftover.unlink()
        rows.unlink()


if __name__ == "__main__":
    main()
