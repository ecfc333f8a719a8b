"""The correctness half of benchmarks/partial.py: its rows are valid partial fact sets and
say what their labels say (no timing here; speed is what the script reports)."""

from __future__ import annotations

from benchmarks.partial import ROOT, ROWS
from policy_engine import Policy


def test_every_row_is_a_valid_partial_fact_set_and_the_decided_one_is_decided() -> None:
    policy = Policy.load(str(ROOT / "policies" / "aliexpress" / "refund.policy"))
    for name, known, _ in ROWS:
        if not known:
            continue  # nothing known: the slowest row, and valid by construction
        residual = policy.residual(known, irrelevant=False)  # raises on an invalid fact
        assert residual.decided == ("(decided)" in name), name
