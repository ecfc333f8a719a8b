"""Memory: how much the engine with a loaded policy adds to a bare Python process.

`engine_memory_mib()` starts a fresh interpreter that loads a policy, decides one fact set
and reads its own peak resident set size (`getrusage(RUSAGE_SELF).ru_maxrss`) at its end; a
bare interpreter started the same way (`import resource` and nothing else) gives the baseline.
The difference of the two children's own peaks, in MiB, is what the engine costs. Both run
with the cache of checked policies off, so the figure includes parsing and checking.

A fresh process, not a child of this one: Linux keeps a process's peak across `exec`, and a
child forked (or vforked, as `subprocess` does) from a parent holding 100 MiB starts with that
peak, so both children would report the parent's size. Each child is therefore forked by a
small `/bin/sh` (`benchmarks/processes.py`), whose own peak is a megabyte or two; the child
also reports the peak of its own address space (`VmHWM`), and a disagreement between the two
is an error, not a figure.

    python benchmarks/memory.py [POLICY]
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.processes import FRESH, environment  # noqa: E402

ALIEXPRESS_POLICY = ROOT / "policies" / "aliexpress" / "refund.policy"
ALIEXPRESS_SCENARIO = (ROOT / "policies" / "aliexpress" / "scenarios" / "goods_problem"
                       / "damaged_photo_video_and_other.yaml")

_PEAK = """
import resource
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    with open("/proc/self/status", encoding="ascii") as status:
        hwm = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
except (OSError, StopIteration):
    hwm = peak
print(peak, hwm)
"""
#: How far (KiB) the two readings of a child's peak may differ before the figure is refused.
_TOLERANCE_KIB = 1024

_LOAD_AND_DECIDE = """
import sys
from policy_engine import Policy
from policy_engine.scenarios.runner import run_scenario
policy = Policy.load(sys.argv[1])
result = run_scenario(sys.argv[2], policy=policy)
assert not result.decision.refused
""" + _PEAK


def _peak_kib(code: str, *args: str, cache: bool) -> int:
    done = subprocess.run([*FRESH, sys.executable, "-c", code, *args], capture_output=True,
                          text=True, check=True, cwd=ROOT, env=environment(cache=cache))
    peak, hwm = (int(part) for part in done.stdout.strip().splitlines()[-1].split())
    if peak - hwm > _TOLERANCE_KIB:
        raise RuntimeError(f"the child's peak ({peak} KiB) is not its own ({hwm} KiB): it "
                           "inherited its parent's; the memory figure would be wrong")
    return peak


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
