"""`policy batch` end to end: rows per second of the real command, JSON Lines in and out.

Each run is the command itself in a child process (`python -m policy_engine batch POLICY
INPUT --out OUTPUT --summary SUMMARY`, one worker per core by default), so that the worker
processes' start-up, reading the input, deciding, and writing the output file all count.
The policies take turns run by run (AliExpress, reference, AliExpress, ...), so a busy
moment of a shared machine slows them alike. A run's figure is the command's own (rows in
the input divided by the seconds from opening the batch to the last line written, as its
`--summary` reports it); the whole child process, interpreter start and policy load
included, is reported beside it. Every run of a policy must write the same bytes, and one
run with `--jobs 1` must match them too, or the benchmark stops.

    python benchmarks/batch_bench.py --rows 1000000
    python benchmarks/batch_bench.py --policy reference --against ../main/.venv/bin/python

`--against PYTHON` runs another interpreter's installed engine too, right after each run of
this checkout's on the same input, so that a change is compared with its baseline under the
same load (its output must be byte for byte the same).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.batch_input import write_rows  # noqa: E402
from benchmarks.cases import (  # noqa: E402
    ALIEXPRESS_POLICY,
    REFERENCE_POLICY,
    reference_cases,
)
from benchmarks.processes import environment  # noqa: E402

#: Rows of the reference policy generated at a time (its cases are built in memory).
_REFERENCE_BLOCK = 100_000


def write_reference_rows(out: Path, rows: int, seed: int) -> None:
    """`rows` JSON lines of the reference policy's facts (`cases.reference_cases`)."""
    with out.open("w", encoding="utf-8", newline="\n") as handle:
        for block, start in enumerate(range(0, rows, _REFERENCE_BLOCK)):
            count = min(_REFERENCE_BLOCK, rows - start)
            for case in reference_cases(count, seed + block):
                handle.write(json.dumps(case) + "\n")


def run_once(policy: Path, rows: Path, out: Path, jobs: int | None = None,
             python: str | None = None) -> dict[str, Any]:
    """One `policy batch` in a child process: its summary, wall time and output digest.

    Args:
        python: another interpreter whose own installed engine runs the command (a
            baseline: this checkout is then not put on its path).
    """
    summary = out.with_suffix(".summary.json")
    command = [python or sys.executable, "-m", "policy_engine", "batch", str(policy),
               str(rows), "--out", str(out), "--summary", str(summary), "--no-progress"]
    if jobs is not None:
        command += ["--jobs", str(jobs)]
    env = environment()
    if python is not None:
        env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        # The child's CPU time with its workers' (it reaps them): what the rows cost, however
        # busy the machine is.
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        errors.seek(0)
        stderr = errors.read()
    if child.returncode not in (0, 2) or not summary.exists():
        raise RuntimeError(f"policy batch failed ({child.returncode}): "
                           + stderr.decode(errors="replace")[-500:])
    data = json.loads(summary.read_text(encoding="utf-8"))
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.unlink()
    summary.unlink()
    return {"rows": data["rows"], "seconds": data["seconds"],
            "rows_per_second": data["rows"] / data["seconds"] if data["seconds"] else 0.0,
            "process_seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime,
            "sha256": digest}


def measure(rows: int, repeats: int, seed: int = 8, folder: Path | None = None,
            against: str | None = None,
            policies: tuple[str, ...] = ("aliexpress", "reference")) -> dict[str, Any]:
    """Interleaved runs of the policies on `rows` generated rows each.

    Args:
        against: another interpreter (say, main's virtual environment's) whose `policy
            batch` runs the same inputs too, right after each run of this checkout's; its
            figures are under `NAME against`, and its output must be the same.
        policies: which of `aliexpress` and `reference` to run.

    Returns:
        Per policy: the median and best rows per second (the command's own figure), the
        median seconds of the whole child process, the counts, and the load average.
    """
    with tempfile.TemporaryDirectory(dir=folder) as temporary:
        where = Path(temporary)
        inputs = {"aliexpress": (ALIEXPRESS_POLICY, where / "aliexpress.jsonl"),
                  "reference": (REFERENCE_POLICY, where / "reference.jsonl")}
        inputs = {name: inputs[name] for name in policies}
        if "aliexpress" in inputs:
            write_rows(inputs["aliexpress"][1], rows, seed)
        if "reference" in inputs:
            write_reference_rows(inputs["reference"][1], rows, seed)
        pythons: dict[str, str | None] = {"": None}
        if against is not None:
            pythons[" against"] = against
        runs: dict[str, list[dict[str, Any]]] = {
            name + label: [] for name in inputs for label in pythons}
        for _ in range(repeats):
            for name, (policy, data) in inputs.items():
                for label, python in pythons.items():
                    runs[name + label].append(run_once(
                        policy, data, where / f"{name}.out.jsonl", python=python))
        result: dict[str, Any] = {"rows": rows, "repeats": repeats, "cores": os.cpu_count()}
        for name, label in [(name, label) for name in inputs for label in pythons]:
            policy, data = inputs[name]
            key = name + label
            digests = {run["sha256"] for run in runs[key]}
            alone = run_once(policy, data, where / f"{name}.one.jsonl", jobs=1,
                             python=pythons[label])
            if digests != {alone["sha256"]} or digests != {runs[name][0]["sha256"]}:
                raise RuntimeError(f"{key}: the output differs between runs, with --jobs 1, "
                                   "or between the interpreters")
            speeds = [run["rows_per_second"] for run in runs[key]]
            result[key] = {
                "rows_per_second": statistics.median(speeds),
                "best_rows_per_second": max(speeds),
                "process_seconds": statistics.median(run["process_seconds"] for run in runs[key]),
                "one_job_rows_per_second": alone["rows_per_second"],
                # CPU of every process of the command (interpreter start-up and policy load
                # included) per row: less sensitive to a busy machine than rows per second.
                "cpu_us_per_row": 1e6 * statistics.median(run["cpu_seconds"]
                                                          for run in runs[key]) / rows,
                "one_job_cpu_us_per_row": 1e6 * alone["cpu_seconds"] / rows,
            }
        result["load_average"] = [round(value, 2) for value in os.getloadavg()]
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="rows per policy")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each policy")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--against", metavar="PYTHON",
                        help="also run another interpreter's policy batch (a baseline, such as "
                             "main's .venv/bin/python) on the same inputs, interleaved")
    parser.add_argument("--policy", choices=("aliexpress", "reference"), action="append",
                        help="only this policy (repeat for both; default: both)")
    args = parser.parse_args()
    policies = tuple(args.policy or ("aliexpress", "reference"))
    result = measure(args.rows, args.repeats, args.seed, against=args.against,
                     policies=policies)
    for name in [name + label for name in policies for label in ("", " against")
                 if name + label in result]:
        row = result[name]
        print(f"{name}: {row['rows_per_second']:,.0f} rows/s median of {args.repeats} "
              f"(best {row['best_rows_per_second']:,.0f}; --jobs 1: "
              f"{row['one_job_rows_per_second']:,.0f}); whole process "
              f"{row['process_seconds']:.2f} s; CPU {row['cpu_us_per_row']:.2f} µs a row "
              f"(--jobs 1: {row['one_job_cpu_us_per_row']:.2f})")
    print(f"{args.rows:,} rows per policy, {result['cores']} cores, load average "
          f"{result['load_average']}")


if __name__ == "__main__":
    main()
