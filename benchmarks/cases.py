"""Random fact sets for the benchmarks: the reference policy's, and the AliExpress policy's.

Every function returns raw facts (JSON-like: amounts as decimal text), seeded, so the same
arguments always give the same cases; `Policy.validate` turns them into typed facts.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
REFERENCE_POLICY = ROOT / "benchmarks" / "reference.policy"
ALIEXPRESS_POLICY = ROOT / "policies" / "aliexpress" / "refund.policy"

STATUSES = ("awaiting_payment", "awaiting_shipment", "sent", "delivered", "completed")
PROBLEMS = ("none", "defective", "damaged", "wrong_item", "wrong_quantity")
DISPUTES = ("none", "open", "closed_seller_won")


def _cents(rng: random.Random, low: int, high: int) -> str:
    cents = rng.randint(low, high)
    return f"{cents // 100}.{cents % 100:02d}"


def reference_cases(count: int, seed: int) -> list[dict[str, Any]]:
    """Raw fact sets for benchmarks/reference.policy, spread so that every rule decides some.

    The first rules (an off-platform offer, a lost dispute) would decide almost every case if
    their facts were drawn evenly, so they are made rare; the rest are drawn within the
    bounds of the reference table, with the requested refund at most the amount.
    """
    rng = random.Random(seed)
    cases: list[dict[str, Any]] = []
    for _ in range(count):
        amount_cents = rng.randint(100, 50_000)
        if rng.random() < 0.3:
            requested = _cents(rng, amount_cents, amount_cents)  # the whole amount
        else:
            requested = _cents(rng, 0, amount_cents)
        cases.append({
            "status": rng.choice(STATUSES),
            "paid": rng.random() < 0.8,
            "received": rng.random() < 0.5,
            "days_since_ship": rng.randint(0, 90),
            "days_without_tracking": rng.randint(0, 60) if rng.random() < 0.3 else
            rng.randint(0, 15),
            "problem": rng.choice(PROBLEMS),
            "evidence_count": rng.randint(0, 5),
            "dispute_state": rng.choices(DISPUTES, weights=(80, 15, 5))[0],
            "off_platform_offer": rng.random() < 0.05,
            "amount": _cents(rng, amount_cents, amount_cents),
            "requested_refund": requested,
        })
    return cases


def aliexpress_cases(count: int, seed: int) -> list[dict[str, Any]]:
    """Raw fact sets for the AliExpress policy: the shipped scenarios' facts, varied.

    Uses `load_templates` and `vary` from benchmarks/batch_input.py (the `policy batch`
    benchmark's input generator), drawing only from the scenarios that decide. Some varied
    fact sets may still be refused by the policy; the caller keeps those that validate and
    decide.
    """
    from benchmarks.batch_input import load_templates, vary

    decided, _refused = load_templates()
    rng = random.Random(seed)
    return [vary(rng.choice(decided), rng) for _ in range(count)]
