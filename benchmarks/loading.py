"""Loading a large policy: `Policy.load` of a generated 10,000-rule policy, with and without
the cache of checked policies.

Each load runs in a fresh process (so nothing is warm but the engine's imports and its parser,
which every process builds once whatever it loads), the two kinds interleaved, several times;
the figure is the median of the wall times (the processor time is reported beside it, which a
busy machine disturbs less). The cache lives in a temporary folder, filled by one untimed load.
One more child times what a hot loop adds on top, once: the first `decider()`, which generates
and compiles the policy's code.

    python benchmarks/loading.py [--rules 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
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

from benchmarks.processes import environment  # noqa: E402


def child(path: str, cache: bool, decider: bool) -> dict[str, Any]:
    """Runs in the child: loads the policy at `path` and says how long it took."""
    from benchmarks.generate import generate_policy
    from policy_engine import Policy

    Policy.from_text(generate_policy(1), "warm_up.policy")  # the parser, built once a process
    start, cpu = time.perf_counter(), time.process_time()
    policy = Policy.load(path, cache=cache)
    result: dict[str, Any] = {"load_s": time.perf_counter() - start,
                              "load_cpu_s": time.process_time() - cpu}
    if decider:
        start = time.perf_counter()
        policy.decider()
        result["decider_s"] = time.perf_counter() - start
    return result


def _child(path: Path, folder: Path, cache: bool, decider: bool = False) -> dict[str, Any]:
    env = environment(cache=cache) | {"XDG_CACHE_HOME": str(folder)}
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(path)]
    argv += (["--cache"] if cache else []) + (["--decider"] if decider else [])
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the loading child failed: {done.stderr.strip()[-300:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(rules: int = 10_000, runs: int = 3, decider: bool = True) -> dict[str, Any]:
    """Median seconds of `Policy.load` of a generated policy of `rules` rules, from the cache
    and without it, in fresh processes; and once, the first `decider()` after a load."""
    from benchmarks.generate import generate_policy

    with tempfile.TemporaryDirectory(prefix="policy-bench-") as temporary:
        folder = Path(temporary)
        path = folder / f"generated_{rules}.policy"
        path.write_text(generate_policy(rules), encoding="utf-8")
        _child(path, folder, cache=True)  # fills the cache
        runs_of: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
        for _ in range(runs):
            for cache in (False, True):
                runs_of[cache].append(_child(path, folder, cache=cache))
        result: dict[str, Any] = {"rules": rules, "runs": runs}
        for cache, prefix in ((True, "cached"), (False, "uncached")):
            for key, suffix in (("load_s", "_s"), ("load_cpu_s", "_cpu_s")):
                result[prefix + suffix] = statistics.median(run[key] for run in runs_of[cache])
        if decider:
            result["decider_s"] = _child(path, folder, cache=True, decider=True)["decider_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=int, default=10_000, help="rules in the policy")
    parser.add_argument("--runs", type=int, default=3, help="loads of each kind")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cache", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--decider", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.cache, args.decider)))
        return
    print(json.dumps(measure(args.rules, args.runs), indent=2))


if __name__ == "__main__":
    main()
