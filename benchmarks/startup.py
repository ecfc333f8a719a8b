"""Start-up: `policy eval` on one AliExpress scenario against `python -c "import click, yaml"`.

Both are started cold, as fresh processes, in the same run and interleaved (bare, eval, eval
without the cache, bare, eval, ...), several times; each figure is the median wall time of
its runs, and the target is the ratio of the medians (the processor time each used is reported
beside it: a machine shared with other work stretches wall times, less so processor time).
One untimed run of each first lets Python write its bytecode caches and the engine fill its
cache of checked policies, as on any machine after the first run (`benchmarks/processes.py`
says what the children get).

    python benchmarks/startup.py [--runs 9]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.processes import environment  # noqa: E402

SCENARIO = "policies/aliexpress/scenarios/never_arrived_after_50_days.yaml"
BARE = "python -c \"import click, yaml\""
EVAL = f"policy eval {SCENARIO}"
EVAL_NO_CACHE = f"POLICY_ENGINE_CACHE=0 {EVAL}"


def _policy_command() -> list[str]:
    """The `policy` command as installed beside this Python, else `python -m policy_engine`."""
    script = Path(sys.executable).with_name("policy")
    return [str(script)] if script.exists() else [sys.executable, "-m", "policy_engine"]


def commands() -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each measured command, by its label, with its environment."""
    policy = _policy_command()
    return {
        BARE: ([sys.executable, "-c", "import click, yaml"], environment()),
        EVAL: ([*policy, "eval", SCENARIO], environment(cache=True)),
        EVAL_NO_CACHE: ([*policy, "eval", SCENARIO], environment(cache=False)),
    }


def _run(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Runs a command; returns its wall time and the processor time it used (user and
    system, from the children's resource usage), which a busy machine disturbs less."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: "
                           f"{done.stderr.decode(errors='replace')[-300:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return took, cpu


def measure(runs: int = 9) -> dict[str, Any]:
    """Median seconds of each command over `runs` interleaved rounds, and the target's ratio.

    The order inside a round turns each round, so no command always runs right after the same
    other one."""
    chosen = commands()
    for argv, env in chosen.values():
        _run(argv, env)  # bytecode caches written, the policy's cache entry filled
    times: dict[str, list[tuple[float, float]]] = {label: [] for label in chosen}
    labels = list(chosen)
    for round_ in range(runs):
        for label in labels[round_ % len(labels):] + labels[:round_ % len(labels)]:
            times[label].append(_run(*chosen[label]))
    medians = {label: statistics.median(wall for wall, _ in values)
               for label, values in times.items()}
    cpu = {label: statistics.median(used for _, used in values)
           for label, values in times.items()}
    return {"runs": runs, "seconds": medians, "cpu_seconds": cpu,
            "ratio": medians[EVAL] / medians[BARE],
            "ratio_no_cache": medians[EVAL_NO_CACHE] / medians[BARE],
            "ratio_cpu": cpu[EVAL] / cpu[BARE]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="rounds of the three commands")
    result = measure(parser.parse_args().runs)
    for label, seconds in result["seconds"].items():
        print(f"{label}: {seconds * 1000:.0f} ms, {result['cpu_seconds'][label] * 1000:.0f} ms "
              f"of processor time (medians of {result['runs']})")
    print(f"policy eval / bare imports: {result['ratio']:.2f}x "
          f"({result['ratio_no_cache']:.2f}x without the cache; "
          f"{result['ratio_cpu']:.2f}x in processor time)")


if __name__ == "__main__":
    main()
