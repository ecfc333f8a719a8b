"""rule-engine: the policy as one nested conditional expression, parsed once into a `Rule`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PACKAGE = "rule-engine"
WORKLOAD = "A"
HOW = "one Rule (nested ?:), Rule.evaluate(dict of the facts)"

# rule-engine keeps numbers as Decimal, so the amounts go in exactly as validated.
EXPRESSION = """
off_platform_offer ? 'refuse_offer'
: dispute_state == 'closed_seller_won' ? 'contact_support'
: status == 'awaiting_payment' ? 'cancel_no_charge'
: status == 'awaiting_shipment' and paid ? 'cancel_full_refund'
: not received ? (days_since_ship > 45 ? 'deny_protection_expired'
                  : days_without_tracking > 15 ? 'dispute_full_refund'
                  : status == 'sent' ? 'wait'
                  : 'deny')
: problem != 'none' ? (evidence_count >= 1
                       ? (requested_refund < amount ? 'partial_refund' : 'full_refund')
                       : 'request_evidence')
: 'return_at_buyer_cost'
"""


class RuleEngine:
    def __init__(self) -> None:
        import rule_engine

        self.evaluate = rule_engine.Rule(EXPRESSION).evaluate

    def prepare(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        return dict(facts)

    def decide(self, prepared: dict[str, Any]) -> str:
        decision: str = self.evaluate(prepared)
        return decision


def build() -> RuleEngine:
    return RuleEngine()
