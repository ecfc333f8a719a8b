"""Memory: how much the engine with a loaded policy adds to a bare Python process.

`engine_memory_mib()` starts a fresh interpreter that loads a policy, decides one fact set
and reports its peak resident set size; a second bare interpreter (`python -c pass`) gives the
baseline. The difference, in MiB, is what the engine costs. Both run with the cache of
checked policies off, so the figure includes parsing and checking.

    python benchmarks/memory.py [POLICY]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALIEXPRESS_POLICY = ROOT / "policies" / "aliexpress" / "refund.policy"
ALIEXPRESS_SCENARIO = (ROOT / "policies" / "aliexpress" / "scenarios" / "goods_problem"
                       / "damaged_photo_video_and_other.yaml")

_PEAK = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"

_LOAD_AND_DECIDE = """
import sys
from policy_engine import Policy
from policy_engine.scenarios.runner import run_scenario
policy = Policy.load(sys.argv[1])
result = run_scenario(sys.argv[2], policy=policy)
assert not result.decision.refused
""" + _PEAK


def _peak_kib(code: str, *args: str, cache: bool) -> int:
    env = dict(os.environ)
    env["POLICY_ENGINE_CACHE"] = "1" if cache else "0"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, cwd=ROOT, env=env)
    return int(done.stdout.strip().splitlines()[-1])


def engine_memory_mib(policy: Path = ALIEXPRESS_POLICY, scenario: Path = ALIEXPRESS_SCENARIO,
                      *, cache: bool = False) -> float:
    """Peak RSS of a process that loads `policy` and decides `scenario`, minus a bare one's.

    Args:
        policy: the policy file to load.
        scenario: a scenario file for that policy, decided once (with its explanation).
        cache: whether the cache of checked policies may be used (off: parse and check).

    Returns:
        The difference in MiB (Linux reports the peak in KiB).
    """
    bare = _peak_kib(_PEAK, cache=cache)
    loaded = _peak_kib(_LOAD_AND_DECIDE, str(policy), str(scenario), cache=cache)
    return (loaded - bare) / 1024


if __name__ == "__main__":
    chosen = Path(sys.argv[1]) if len(sys.argv) > 1 else ALIEXPRESS_POLICY
    print(f"engine with {chosen.name} loaded and one decision: "
          f"{engine_memory_mib(chosen):.1f} MiB over a bare Python "
          f"(cache hit: {engine_memory_mib(chosen, cache=True):.1f} MiB)")
