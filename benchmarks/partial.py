"""Times partial evaluation (`Policy.residual`) on the AliExpress policy.

    python benchmarks/partial.py          # 5 rounds
    python benchmarks/partial.py 9        # 9 rounds

Each row is a partial fact set. A round times every row once, interleaved with the baseline,
the whole-policy analysis of `policy lint` (`lint(policy.checked)`) run in the same process,
so the ratio holds on a busy machine where the seconds do not. Figures are medians over the
rounds. `irrelevant=False` is the call `policy ask` makes for each question (it skips working
out which facts given do not matter); `policy eval --partial` makes the full call.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policy_engine import Policy  # noqa: E402
from policy_engine.analysis.lint import lint  # noqa: E402

ROWS: list[tuple[str, dict[str, Any], bool]] = [
    ("nothing known", {}, True),
    ("request: goods_not_received, paid (the docs' case)",
     {"request": "goods_not_received", "paid": True, "dispute_state": "none"}, True),
    ("the same, as policy ask asks it",
     {"request": "goods_not_received", "paid": True, "dispute_state": "none"}, False),
    ("+ days_since_sent: 50 (decided)",
     {"request": "goods_not_received", "paid": True, "dispute_state": "none",
      "days_since_sent": 50}, True),
    ("request: goods_problem", {"request": "goods_problem"}, True),
    ("request: refund_status", {"request": "refund_status"}, True),
]


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    rounds = int(argv[0]) if argv else 5
    policy = Policy.load(str(ROOT / "policies" / "aliexpress" / "refund.policy"))
    times: dict[str, list[float]] = {name: [] for name, _, _ in ROWS}
    baseline: list[float] = []
    for _ in range(rounds):
        for name, known, irrelevant in ROWS:
            baseline.append(timed(lambda: lint(policy.checked)))
            times[name].append(timed(lambda k=known, i=irrelevant: policy.residual(
                k, irrelevant=i)))
    lint_s = statistics.median(baseline)
    print(f"AliExpress policy, {rounds} rounds; baseline policy lint (whole analysis): "
          f"{lint_s:.3f} s")
    print("| facts known | residual (s) | residual / lint |")
    print("|---|---:|---:|")
    for name, _, _ in ROWS:
        took = statistics.median(times[name])
        print(f"| {name} | {took:.3f} | {took / lint_s:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
