"""common-expression-language (Rust CEL): the policy as one nested conditional, compiled once."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PACKAGE = "common-expression-language"
WORKLOAD = "A"
HOW = "one compiled program, Program.execute(dict of the facts)"

# First match as nested conditionals, shaped like the hand-written Python (each fact tested
# once) because that is the fastest form; the rule-by-rule chain gives the same answers.
EXPRESSION = """
off_platform_offer ? 'refuse_offer'
: dispute_state == 'closed_seller_won' ? 'contact_support'
: status == 'awaiting_payment' ? 'cancel_no_charge'
: status == 'awaiting_shipment' && paid ? 'cancel_full_refund'
: !received ? (days_since_ship > 45 ? 'deny_protection_expired'
               : days_without_tracking > 15 ? 'dispute_full_refund'
               : status == 'sent' ? 'wait'
               : 'deny')
: problem != 'none' ? (evidence_count >= 1
                       ? (requested_refund < amount ? 'partial_refund' : 'full_refund')
                       : 'request_evidence')
: 'return_at_buyer_cost'
"""


def plain(facts: Mapping[str, Any]) -> dict[str, Any]:
    """The facts as plain JSON-like values: amounts (Decimal) as floats, exact to the cent."""
    return {name: float(value) if name in ("amount", "requested_refund") else value
            for name, value in facts.items()}


class CelRust:
    def __init__(self) -> None:
        import cel

        self.program = cel.compile(EXPRESSION)
        self.execute = self.program.execute

    def prepare(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        return plain(facts)

    def decide(self, prepared: dict[str, Any]) -> str:
        result: str = self.execute(prepared)
        return result


def build() -> CelRust:
    return CelRust()
