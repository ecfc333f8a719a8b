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
from benchmarks.peers.ruleengine import EXPRESSION as RULE_ENGINE_EXPRESSION

PACKAGE = "zen-engine"
WORKLOAD = "A"
VARIANT = "expression API"
HOW = "expression API: compile_expression once, PyExpression.evaluate(dict of the facts)"

# zen's expression language reads the same nested conditional as rule-engine's.
EXPRESSION = RULE_ENGINE_EXPRESSION


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
