"""Times the static analysis (`policy lint`) on the AliExpress policy and on generated policies.

    python benchmarks/analysis.py            # AliExpress, then 100 and 1,000 generated rules
    python benchmarks/analysis.py 10 100     # other sizes

Each figure is the median of a few runs in this process; the analysis is rebuilt each time.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.generate import generate_policy  # noqa: E402
from policy_engine import Policy  # noqa: E402
from policy_engine.analysis.lint import lint  # noqa: E402


def seconds(policy: Policy, runs: int) -> tuple[float, int, int]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        report = lint(policy.checked)
        times.append(time.perf_counter() - started)
    return statistics.median(times), report.dimensions, len(report.findings)


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [100, 1000]
    aliexpress = Policy.load(str(ROOT / "policies/aliexpress/refund.policy"))
    rows = [("AliExpress refund policy", aliexpress)]
    rows += [(f"generated, {n} rules",
              Policy.from_text(generate_policy(n), f"generated-{n}.policy")) for n in sizes]
    print("| policy | rules | dimensions | findings | analysis (s) |")
    print("|---|---:|---:|---:|---:|")
    for name, policy in rows:
        runs = 3 if len(policy.checked.rules) <= 300 else 1
        took, dimensions, findings = seconds(policy, runs)
        print(f"| {name} | {len(policy.checked.rules)} | {dimensions} | {findings} | {took:.2f} |",
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
