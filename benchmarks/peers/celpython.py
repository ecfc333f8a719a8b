"""cel-python (pure Python CEL): the Rust CEL adapter's expression, compiled once into a runner."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmarks.peers.cel_rust import EXPRESSION, plain

PACKAGE = "cel-python"
WORKLOAD = "A"
HOW = "CompiledRunner (transpiled once), evaluate(json_to_cel(facts))"


class CelPython:
    def __init__(self) -> None:
        import celpy
        from celpy.celparser import CELParser
        from celpy.evaluation import TranspilerTree

        self.json_to_cel = celpy.json_to_cel
        # the compiled runner transpiles the expression to Python once; it needs a parser that
        # builds its own tree class, which the default (shared, cached) parser may not
        environment = celpy.Environment(runner_class=celpy.CompiledRunner)
        environment.cel_parser = CELParser(tree_class=TranspilerTree)
        self.evaluate = environment.program(environment.compile(EXPRESSION)).evaluate

    def prepare(self, facts: Mapping[str, Any]) -> dict[str, Any]:
        return plain(facts)

    def decide(self, prepared: dict[str, Any]) -> str:
        return str(self.evaluate(self.json_to_cel(prepared)))


def build() -> CelPython:
    return CelPython()
