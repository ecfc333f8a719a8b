"""The SQL engines against the Python engine: rows per second, end to end, as ratios.

One process: generated rows of each policy (`sql_rows.generate`: valid, boundary, missing
and invalid values mixed) are written to Parquet once; then, for each repeat, every engine
runs `policy batch`'s own code path on that file (Parquet in, JSON Lines out to a file,
progress and summary as the command keeps them), one after another, interleaved, so a
machine busy with other work slows them alike; then the JSON Lines are turned into Parquet as
`--format parquet` does (`sql/parquet_output.py`), and that is timed too: "Parquet out" is
the run plus the conversion. Every engine's JSON Lines must be byte for byte the Python
engine's, and its Parquet file equal to the Python engine's, or the run stops. The table gives
each engine's best time, its rows per second, and its ratio to the Python engine (how many
times as fast). See docs/scale-out.md.

    python benchmarks/sql_bench.py --rows 1000000                 # python and duckdb
    python benchmarks/sql_bench.py --rows 100000 --engines python,duckdb,spark

`benchmarks/run.py` runs it too (`measure`, `targets`, `markdown`), for the target "DuckDB at
least 20 times the Python engine, AliExpress policy, a million rows".
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

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
#: The ratio issue 16 asks of DuckDB against the Python engine, end to end.
TARGET_RATIO = 20.0


def _cpu() -> float:
    """This process's CPU seconds so far, every thread's (DuckDB's own threads included)."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def run_once(policy: str, rows: Path, engine: str, out: Path
             ) -> tuple[float, float, str, float]:
    """One `policy batch` run: its seconds with JSON Lines out, the seconds the Parquet
    conversion adds (the file is `out` with the suffix .parquet), the JSON Lines' SHA-256,
    and the CPU seconds of the run (this process's; the Python engine's worker processes are
    not in it)."""
    from policy_engine.sql.parquet_output import ParquetOutput

    gc.collect()
    cpu = _cpu()
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
    cpu = _cpu() - cpu
    started = time.perf_counter()
    ParquetOutput(str(out.with_suffix(".parquet"))).write(str(out))
    converting = time.perf_counter() - started
    return seconds, converting, hashlib.sha256(out.read_bytes()).hexdigest(), cpu


def measure(rows: int, engines: list[str], policies: list[str], repeats: int,
            seed: int = 1, progress: Any = None) -> list[dict[str, Any]]:
    """Each policy's rows decided by every engine, interleaved; one dict per policy and
    engine: best seconds with JSON Lines out and with Parquet out, rows/s and ratios to the
    Python engine (the first engine).

    Raises:
        RuntimeError: an engine's output differs from the Python engine's.
    """
    if engines[0] != "python":
        engines = ["python", *[e for e in engines if e != "python"]]
    work = Path(tempfile.mkdtemp(prefix="sql-bench-"))
    found: list[dict[str, Any]] = []
    try:
        for name in policies:
            if name == "big":
                path = work / "big.policy"
                path.write_text(generate_policy(10_000), encoding="utf-8")
            else:
                path = POLICIES[name]
            policy = Policy.load(str(path))
            data = work / f"{name}.parquet"
            write_parquet(policy, generate(policy, rows, seed=seed), data)
            best: dict[str, tuple[float, float]] = {}
            digests: dict[str, str] = {}
            for _ in range(repeats):
                for engine in engines:
                    out = work / f"{engine}.jsonl"
                    seconds, converting, digest, cpu = run_once(str(path), data, engine, out)
                    jsonl, parquet = best.get(engine, (seconds, seconds + converting))
                    best[engine] = (min(jsonl, seconds), min(parquet, seconds + converting))
                    digests.setdefault(engine, digest)
                    if digest != digests["python"]:
                        raise RuntimeError(f"{name}: --engine {engine} wrote other output than "
                                           "--engine python; this is a bug")
                    if engine != "python" and not _same_parquet(work, engine):
                        raise RuntimeError(f"{name}: --engine {engine} wrote another Parquet "
                                           "file than --engine python; this is a bug")
                    if progress is not None:
                        progress(f"{name} {engine}: {seconds:.1f} s + {converting:.1f} s "
                                 f"(CPU of this process {cpu:.1f} s, load "
                                 f"{os.getloadavg()[0]:.1f})")
            base = best["python"]
            for engine in engines:
                jsonl, parquet = best[engine]
                found.append({"policy": name, "engine": engine, "rows": rows,
                              "jsonl_s": jsonl, "parquet_s": parquet,
                              "jsonl_rows_per_s": rows / jsonl,
                              "parquet_rows_per_s": rows / parquet,
                              "x_python_jsonl": base[0] / jsonl,
                              "x_python_parquet": base[1] / parquet})
            data.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return found


def _same_parquet(work: Path, engine: str) -> bool:
    import pyarrow.parquet as pq

    return bool(pq.read_table(work / f"{engine}.parquet")
                .equals(pq.read_table(work / "python.parquet")))


def markdown(found: list[dict[str, Any]]) -> str:
    """The table of `measure`'s figures."""
    lines = ["| policy | engine | rows | JSON Lines out: s | rows/s | x python | "
             "Parquet out: s | rows/s | x python |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for row in found:
        lines.append(f"| {row['policy']} | {row['engine']} | {row['rows']:,} | "
                     f"{row['jsonl_s']:.2f} | {row['jsonl_rows_per_s']:,.0f} | "
                     f"{row['x_python_jsonl']:.1f} | {row['parquet_s']:.2f} | "
                     f"{row['parquet_rows_per_s']:,.0f} | {row['x_python_parquet']:.1f} |")
    return "\n".join(lines) + "\n"


def ratio_target(found: list[dict[str, Any]], engine: str = "duckdb",
                 policy: str = "aliexpress") -> tuple[str, str, bool | None]:
    """The measured figure of "ENGINE >= 20x the Python engine, Parquet in and out" and
    whether it holds (None: not measured)."""
    row = next((r for r in found if r["engine"] == engine and r["policy"] == policy), None)
    if row is None:
        return "not measured", ">= 20x", None
    ratio = row["x_python_parquet"]
    return (f"{ratio:.1f}x, {row['parquet_rows_per_s']:,.0f} rows/s Parquet in and out on "
            f"{row['rows']:,} rows ({row['x_python_jsonl']:.1f}x with JSON Lines out)",
            f">= {TARGET_RATIO:g}x", ratio >= TARGET_RATIO)


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
    print(f"{args.rows:,} rows per policy, {args.repeats} repeats, {os.cpu_count()} cores; "
          "Parquet in; JSON Lines out, and Parquet out (the same run plus the conversion)",
          flush=True)
    try:
        found = measure(args.rows, args.engines.split(","), args.policies.split(","),
                        args.repeats, args.seed,
                        progress=lambda text: print(text, file=sys.stderr, flush=True))
    except RuntimeError as error:
        sys.exit(str(error))
    sys.stdout.write(markdown(found))
    load = os.getloadavg()
    print(f"load average at the end: {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}")


if __name__ == "__main__":
    main()
