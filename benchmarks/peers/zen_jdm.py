"""zen-engine (GoRules, Rust): the policy as a first-hit decision table in a JDM graph.

The table has one column per fact the rules test, plus one computed column for the one
comparison between two facts (`requested_refund < amount`), and one row per rule; an empty cell
matches anything. The graph is parsed once into a `ZenDecisionContent` that a loader hands to
the engine, the fastest way to call it found (`create_decision(...).evaluate` is close).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from benchmarks.peers.cel_rust import plain

PACKAGE = "zen-engine"
WORKLOAD = "A"
VARIANT = "decision table"
HOW = "first-hit decision table, ZenEngine.evaluate with a loader of parsed content"

KEY = "reference.json"
COLUMNS = ("off_platform_offer", "dispute_state", "status", "paid", "received",
           "days_since_ship", "days_without_tracking", "problem", "evidence_count",
           "requested_refund < amount")
ANY_PROBLEM = '"defective", "damaged", "wrong_item", "wrong_quantity"'
# one row per rule: the cells that are not empty, then the decision
ROWS: tuple[tuple[dict[str, str], str], ...] = (
    ({"off_platform_offer": "true"}, "refuse_offer"),
    ({"dispute_state": '"closed_seller_won"'}, "contact_support"),
    ({"status": '"awaiting_payment"'}, "cancel_no_charge"),
    ({"status": '"awaiting_shipment"', "paid": "true"}, "cancel_full_refund"),
    ({"received": "false", "days_since_ship": "> 45"}, "deny_protection_expired"),
    ({"received": "false", "days_without_tracking": "> 15"}, "dispute_full_refund"),
    ({"received": "false", "status": '"sent"'}, "wait"),
    ({"received": "true", "problem": ANY_PROBLEM, "evidence_count": ">= 1",
      "requested_refund < amount": "true"}, "partial_refund"),
    ({"received": "true", "problem": ANY_PROBLEM, "evidence_count": ">= 1"}, "full_refund"),
    ({"received": "true", "problem": '!= "none"'}, "request_evidence"),
    ({"received": "true", "problem": '"none"'}, "return_at_buyer_cost"),
    ({}, "deny"),
)


def graph() -> dict[str, Any]:
    """The JDM graph: input node -> decision table -> output node."""
    inputs = [{"id": f"in{index}", "name": column, "type": "expression", "field": column}
              for index, column in enumerate(COLUMNS)]
    rules = []
    for number, (cells, decision) in enumerate(ROWS, start=1):
        row = {"_id": f"rule{number}", "out": json.dumps(decision)}
        for index, column in enumerate(COLUMNS):
            row[f"in{index}"] = cells.get(column, "")
        rules.append(row)
    table = {"hitPolicy": "first", "inputs": inputs,
             "outputs": [{"id": "out", "name": "decision", "type": "expression",
                          "field": "decision"}],
             "rules": rules}
    return {
        "contentType": "application/vnd.gorules.decision",
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "Request",
             "position": {"x": 0, "y": 0}},
            {"id": "table", "type": "decisionTableNode", "name": "Refund",
             "position": {"x": 200, "y": 0}, "content": table},
            {"id": "response", "type": "outputNode", "name": "Response",
             "position": {"x": 400, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "response", "type": "edge"},
        ],
    }


class Zen:
    def __init__(self) -> None:
        import zen

        content = zen.ZenDecisionContent(json.dumps(graph()))
        self.engine = zen.ZenEngine({"loader": lambda key: content})
        self.evaluate = self.engine.evaluate

    def prepare(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        return plain(facts)

    def decide(self, prepared: dict[str, Any]) -> str:
        decision: str = self.evaluate(KEY, prepared)["result"]["decision"]
        return decision


def build() -> Zen:
    return Zen()
