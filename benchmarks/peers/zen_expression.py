"""zen-engine (GoRules, Rust), its expression API: the policy as one nested conditional.

The same nested conditional CEL gets (each fact tested once), compiled once with
`zen.compile_expression` and called with `PyExpression.evaluate(dict)`: the fastest call
zen-engine offers, listed beside its decision table (`zen_jdm`), which is how a JDM graph
from its editor runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.peers.cel_rust import plain

PACKAGE = "zen-engine"
WORKLOAD = "A"
VARIANT = "expression API"
HOW = "expression API: compile_expression once, PyExpression.evaluate(dict of the facts)"

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


class ZenExpression:
    def __init__(self) -> None:
        import zen

        self.evaluate = zen.compile_expression(" ".join(EXPRESSION.split())).evaluate

    def prepare(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        return plain(facts)

    def decide(self, prepared: dict[str, Any]) -> str:
        decision: str = self.evaluate(prepared)
        return decision


def build() -> ZenExpression:
    return ZenExpression()
