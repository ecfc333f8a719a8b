"""cedarpy (Rust Cedar): workload B only, "is a refund permitted?", as permit and forbid policies.

Cedar answers allow or deny, so it states workload B natively: a refund is permitted when the
first matching rule is one of the refund decisions. `forbid` overrides `permit` in Cedar, so
the rules that come before every refund rule (an off-platform offer, a lost dispute, an unpaid
order) are forbids, and each group of refund rules is a permit whose condition includes the
earlier rules it must not match. The amounts are not needed and Cedar has no decimals, so
they stay out of the context.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PACKAGE = "cedarpy"
WORKLOAD = "B"
HOW = "PolicySet and Entities parsed once, is_authorized(request with the facts as context)"

POLICIES = """
permit (principal, action, resource)
when { context.status == "awaiting_shipment" && context.paid };

permit (principal, action, resource)
when { !context.received && context.days_since_ship <= 45
       && context.days_without_tracking > 15 };

permit (principal, action, resource)
when { context.received && context.problem != "none" && context.evidence_count >= 1 };

forbid (principal, action, resource) when { context.off_platform_offer };

forbid (principal, action, resource) when { context.dispute_state == "closed_seller_won" };

forbid (principal, action, resource) when { context.status == "awaiting_payment" };
"""

CONTEXT = ("status", "paid", "received", "days_since_ship", "days_without_tracking", "problem",
           "evidence_count", "dispute_state", "off_platform_offer")


class Cedar:
    def __init__(self) -> None:
        import cedarpy

        self.policies = cedarpy.PolicySet.from_str(POLICIES)
        self.entities = cedarpy.Entities.from_json_str("[]")
        self.is_authorized = cedarpy.is_authorized

    def prepare(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        # the structured form of the entity ids spares Cedar parsing them on every call
        return {"principal": {"type": "User", "id": "buyer"},
                "action": {"type": "Action", "id": "refund"},
                "resource": {"type": "Order", "id": "order"},
                "context": {name: facts[name] for name in CONTEXT}}

    def decide(self, prepared: dict[str, Any]) -> bool:
        allowed: bool = self.is_authorized(prepared, self.policies, self.entities).allowed
        return allowed


def build() -> Cedar:
    return Cedar()
