"""business-rules (Venmo): the policy as rules over a variables class; the first to fire decides.

business-rules compares a variable with a constant, never two variables, so the one comparison
between two facts (`requested_refund < amount`) is a derived boolean variable. A rule needs at
least one condition, so the `otherwise` is the value the decision has when no rule fires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

PACKAGE = "business-rules"
WORKLOAD = "A"
HOW = "rules as data, run_all(stop_on_first_trigger=True) over a variables object per case"

PROBLEMS = ("defective", "damaged", "wrong_item", "wrong_quantity")


def _is(name: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"name": name, "operator": operator, "value": value}


_ANY_PROBLEM = {"any": [_is("problem", "equal_to", problem) for problem in PROBLEMS]}
_NOT_RECEIVED = _is("received", "is_false")
_RECEIVED = _is("received", "is_true")

RULES: list[dict[str, Any]] = [
    {"conditions": {"all": conditions},
     "actions": [{"name": "decide", "params": {"decision": decision}}]}
    for conditions, decision in (
        ([_is("off_platform_offer", "is_true")], "refuse_offer"),
        ([_is("dispute_state", "equal_to", "closed_seller_won")], "contact_support"),
        ([_is("status", "equal_to", "awaiting_payment")], "cancel_no_charge"),
        ([_is("status", "equal_to", "awaiting_shipment"), _is("paid", "is_true")],
         "cancel_full_refund"),
        ([_NOT_RECEIVED, _is("days_since_ship", "greater_than", 45)],
         "deny_protection_expired"),
        ([_NOT_RECEIVED, _is("days_without_tracking", "greater_than", 15)],
         "dispute_full_refund"),
        ([_NOT_RECEIVED, _is("status", "equal_to", "sent")], "wait"),
        ([_RECEIVED, _ANY_PROBLEM, _is("evidence_count", "greater_than_or_equal_to", 1),
          _is("refund_below_amount", "is_true")], "partial_refund"),
        ([_RECEIVED, _ANY_PROBLEM, _is("evidence_count", "greater_than_or_equal_to", 1)],
         "full_refund"),
        ([_RECEIVED, _ANY_PROBLEM], "request_evidence"),
        ([_RECEIVED, _is("problem", "equal_to", "none")], "return_at_buyer_cost"),
    )
]


class BusinessRules:
    def __init__(self) -> None:
        from business_rules import engine
        from business_rules.actions import BaseActions, rule_action
        from business_rules.fields import FIELD_TEXT
        from business_rules.variables import (
            BaseVariables,
            boolean_rule_variable,
            numeric_rule_variable,
            string_rule_variable,
        )

        class Variables(BaseVariables):
            def __init__(self, facts: Mapping[str, Any]) -> None:
                self.facts = facts

            @boolean_rule_variable
            def off_platform_offer(self) -> bool:
                return bool(self.facts["off_platform_offer"])

            @string_rule_variable
            def dispute_state(self) -> str:
                return str(self.facts["dispute_state"])

            @string_rule_variable
            def status(self) -> str:
                return str(self.facts["status"])

            @boolean_rule_variable
            def paid(self) -> bool:
                return bool(self.facts["paid"])

            @boolean_rule_variable
            def received(self) -> bool:
                return bool(self.facts["received"])

            @numeric_rule_variable
            def days_since_ship(self) -> int:
                return int(self.facts["days_since_ship"])

            @numeric_rule_variable
            def days_without_tracking(self) -> int:
                return int(self.facts["days_without_tracking"])

            @string_rule_variable
            def problem(self) -> str:
                return str(self.facts["problem"])

            @numeric_rule_variable
            def evidence_count(self) -> int:
                return int(self.facts["evidence_count"])

            @boolean_rule_variable
            def refund_below_amount(self) -> bool:
                return bool(self.facts["requested_refund"] < self.facts["amount"])

        class Actions(BaseActions):
            def __init__(self) -> None:
                self.decision = "deny"  # the otherwise

            @rule_action(params={"decision": FIELD_TEXT})
            def decide(self, decision: str) -> None:
                self.decision = decision

        self.variables = Variables
        self.actions = Actions
        self.run_all = engine.run_all

    def prepare(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        return dict(facts)

    def decide(self, prepared: dict[str, Any]) -> str:
        actions = self.actions()
        self.run_all(RULES, self.variables(prepared), actions, stop_on_first_trigger=True)
        decision: str = actions.decision
        return decision


def build() -> BusinessRules:
    return BusinessRules()
