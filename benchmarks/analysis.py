"""Times the static analysis (`policy lint`) on the AliExpress policy and on generated policies.

    python benchmarks/analysis.py            # AliExpress, 100 and 1,000 generated rules, and
                                             # the policies of the budget's adversarial trial
    python benchmarks/analysis.py 10 100     # other sizes of generated policies only

Each figure is the median of a few runs in this process; the analysis is rebuilt each time.
The steps and nodes are the budget's counters (see docs/analysis.md): they are the same on
every machine, the seconds are not.
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
from policy_engine.analysis.lint import LintReport, lint  # noqa: E402
from tests.analysis.generated import (  # noqa: E402
    TRIAL_RULES,
    chained_defines,
    pairs,
    simple_rules,
)


def seconds(policy: Policy, runs: int) -> tuple[float, LintReport]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        report = lint(policy.checked)
        times.append(time.perf_counter() - started)
    return statistics.median(times), report


def main(argv: list[str]) -> None:
    sizes = [int(a) for a in argv] or [100, 1000]
    rows = [] if argv else [
        ("AliExpress refund policy", Policy.load(str(ROOT / "policies/aliexpress/refund.policy")))]
    rows += [(f"generated, {n} rules",
              Policy.from_text(generate_policy(n), f"generated-{n}.policy")) for n in sizes]
    if not argv:
        rows += [
            ("7 chained `define`s", Policy.from_text(chained_defines(7), "chained-7.policy")),
            ("20 chained `define`s", Policy.from_text(chained_defines(20), "chained-20.policy")),
            ("20 pairs `(x and y) or ...`", Policy.from_text(pairs(20), "pairs-20.policy")),
            (f"{TRIAL_RULES:,} one-line rules (1.9 MB)",
             Policy.from_text(simple_rules(TRIAL_RULES), "simple.policy")),
        ]
    print("| policy | rules | dimensions | findings | W112 | steps | nodes | analysis (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, policy in rows:
        runs = 3 if len(policy.checked.rules) <= 300 else 1
        took, report = seconds(policy, runs)
        incomplete = sum(1 for f in report.findings if f.code == "W112")
        print(f"| {name} | {len(policy.checked.rules):,} | {report.dimensions} | "
              f"{len(report.findings)} | {incomplete} | {report.budget.spent:,} | "
              f"{report.nodes:,} | {took:.2f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
