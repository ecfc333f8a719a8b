"""The reference refund policy written by hand in plain Python: the baseline of every ratio.

`decide` is workload A (which decision), `permitted` workload B (is a refund permitted?). Both
read the typed facts `Policy.validate` returns (amounts as `Decimal`), the same dicts the
engine decides on, and are written the way a careful programmer would make them fast: each
fact read once, the tests ordered so that no condition is evaluated twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The decisions that mean "a refund is permitted" (workload B).
PERMITTED = frozenset({"cancel_full_refund", "dispute_full_refund", "partial_refund",
                       "full_refund"})


def decide(facts: Mapping[str, Any]) -> str:
    """Workload A: the decision of the reference policy, first match in rule order."""
    if facts["off_platform_offer"]:
        return "refuse_offer"
    if facts["dispute_state"] == "closed_seller_won":
        return "contact_support"
    status = facts["status"]
    if status == "awaiting_payment":
        return "cancel_no_charge"
    if status == "awaiting_shipment" and facts["paid"]:
        return "cancel_full_refund"
    if not facts["received"]:
        if facts["days_since_ship"] > 45:
            return "deny_protection_expired"
        if facts["days_without_tracking"] > 15:
            return "dispute_full_refund"
        if status == "sent":
            return "wait"
        return "deny"
    if facts["problem"] != "none":
        if facts["evidence_count"] >= 1:
            if facts["requested_refund"] < facts["amount"]:
                return "partial_refund"
            return "full_refund"
        return "request_evidence"
    return "return_at_buyer_cost"


def permitted(facts: Mapping[str, Any]) -> bool:
    """Workload B: whether the decision permits a refund, without naming the decision."""
    if facts["off_platform_offer"] or facts["dispute_state"] == "closed_seller_won":
        return False
    status = facts["status"]
    if status == "awaiting_payment":
        return False
    if status == "awaiting_shipment" and facts["paid"]:
        return True
    if not facts["received"]:
        return facts["days_since_ship"] <= 45 and facts["days_without_tracking"] > 15  # type: ignore[no-any-return]
    return facts["problem"] != "none" and facts["evidence_count"] >= 1  # type: ignore[no-any-return]
