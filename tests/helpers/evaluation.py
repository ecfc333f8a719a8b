"""The stages of one evaluation, called directly, for tests that check one stage at a time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy_engine.check.types import Value
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.evaluate.compiler import CompiledPolicy
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import resolve
from policy_engine.evaluate.runtime import Evaluation
from policy_engine.facts.constraints import check_constraints
from policy_engine.facts.validation import FactStage
from policy_engine.policy import Engine, Policy

_COMPILED: dict[int, tuple[Policy, CompiledPolicy]] = {}


def typed_facts(policy: Policy, raw: Any) -> dict[str, Value]:
    """The validated facts, as `Policy.evaluate` validates them (constraints included).

    Raises:
        DiagnosticError: the facts are invalid, or break a `require` or `ensure`.
    """
    typed = FactStage(policy.checked.facts).validate(raw, file="<facts>")
    problems = check_constraints(policy.checked, typed, file="<facts>", locate=None,
                                 prefix=("facts",))
    if problems:
        raise DiagnosticError(problems)
    return typed


def evaluation(policy: Policy, facts: Mapping[str, Value], engine: Engine) -> Evaluation:
    """The evaluation (with every rule's outcome) by one evaluator, on validated facts.

    Raises:
        EvaluationError: the policy refuses to decide.
    """
    if engine == "interpreted":
        return resolve(policy.checked, Interpreter(policy.checked), facts)
    return compiled(policy).evaluate(facts)


def compiled(policy: Policy) -> CompiledPolicy:
    """The compiled evaluator of a policy (with `Verdict` results), built once."""
    found = _COMPILED.get(id(policy))
    if found is None or found[0] is not policy:
        found = _COMPILED[id(policy)] = (policy, CompiledPolicy(policy.checked))
    return found[1]
