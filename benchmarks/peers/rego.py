"""regopy (Rego, Microsoft's rego-cpp): the policy as one rule with an `else` chain, in a bundle.

Rego's `else` gives first match directly: each branch is one rule of the reference policy, in
order, and `default` is the `otherwise`. The module is built once into a bundle with the rule
as its entry point; each decision sets the input and queries that entry point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.peers.cel_rust import plain

PACKAGE = "regopy"
WORKLOAD = "A"
HOW = "module built once into a bundle; set_input then query_bundle_entrypoint"

MODULE = """
package refund

problems := {"defective", "damaged", "wrong_item", "wrong_quantity"}

default decision := "deny"

decision := "refuse_offer" if {
  input.off_platform_offer
} else := "contact_support" if {
  input.dispute_state == "closed_seller_won"
} else := "cancel_no_charge" if {
  input.status == "awaiting_payment"
} else := "cancel_full_refund" if {
  input.status == "awaiting_shipment"
  input.paid
} else := "deny_protection_expired" if {
  not input.received
  input.days_since_ship > 45
} else := "dispute_full_refund" if {
  not input.received
  input.days_without_tracking > 15
} else := "wait" if {
  not input.received
  input.status == "sent"
} else := "partial_refund" if {
  input.received
  problems[input.problem]
  input.evidence_count >= 1
  input.requested_refund < input.amount
} else := "full_refund" if {
  input.received
  problems[input.problem]
  input.evidence_count >= 1
} else := "request_evidence" if {
  input.received
  input.problem != "none"
} else := "return_at_buyer_cost" if {
  input.received
  input.problem == "none"
}
"""

ENTRYPOINT = "refund/decision"


class Rego:
    def __init__(self) -> None:
        import regopy

        self.interpreter = regopy.Interpreter()
        self.interpreter.add_module("refund", MODULE)
        self.bundle = self.interpreter.build(None, [ENTRYPOINT])
        self.set_input = self.interpreter.set_input
        self.query = self.interpreter.query_bundle_entrypoint

    def prepare(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        return plain(facts)

    def decide(self, prepared: dict[str, Any]) -> str:
        self.set_input(prepared)
        decision: str = self.query(self.bundle, ENTRYPOINT).results[0].expressions[0]
        return decision


def build() -> Rego:
    return Rego()
