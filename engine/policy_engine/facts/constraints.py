"""Constraints: checks a policy's `require` and `ensure` declarations on facts, before any rule.

A violation refuses to decide, reported like a schema error: the file, the JSON path of the
fact, and what the policy requires. A constraint whose guard (`when ...`) or condition reads
a fact that is absent does not apply: presence is what `require` is for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import Value, format_value
from policy_engine.core.data import Locator, json_path
from policy_engine.core.diagnostics import Diagnostic
from policy_engine.evaluate.errors import (
    CalendarProblem,
    DivisionByZero,
    MissingFact,
    NoRow,
    OutOfRange,
)
from policy_engine.evaluate.interpreter import Interpreter
from policy_engine.evaluate.resolution import environment

_SKIP = (MissingFact, DivisionByZero, NoRow, CalendarProblem, OutOfRange)
#: The errors that make a constraint not apply (`compiled_validator` catches the same ones).
SKIPPED = _SKIP


def value_reader(policy: CheckedPolicy) -> Callable[[object, Mapping[str, Value]], Value]:
    """A function giving the value of one expression of `policy` on typed facts, the way
    `check_constraints` computes it (derived values included); its errors are not caught."""
    interpreter = Interpreter(policy)

    def value(expr: object, facts: Mapping[str, Value]) -> Value:
        env = environment(policy, interpreter, facts)
        return interpreter.value(expr, env)  # type: ignore[arg-type]

    return value


def check_constraints(policy: CheckedPolicy, facts: Mapping[str, Value], *, file: str,
                      locate: Locator | None, prefix: tuple[str | int, ...]) -> list[Diagnostic]:
    """Returns one diagnostic per violated constraint, in the policy's order."""
    if not policy.requires and not policy.ensures:
        return []
    interpreter = Interpreter(policy)
    env = environment(policy, interpreter, facts)

    def holds(expr: object) -> bool | None:
        try:
            return bool(interpreter.value(expr, env))  # type: ignore[arg-type]
        except _SKIP:
            return None

    found: list[Violation] = []
    for index, require in enumerate(policy.requires):
        if require.when is not None and not holds(require.when):
            continue
        found += [(REQUIRE, index, fact) for fact in require.facts if fact not in facts]
    for index, ensure in enumerate(policy.ensures):
        if ensure.when is not None and not holds(ensure.when):
            continue
        if holds(ensure.condition) is not False:
            continue
        found.append((ENSURE, index, None))
    return word_violations(policy, found, facts, file=file, locate=locate, prefix=prefix)


#: A violated constraint: `require` (its index, the missing fact) or `ensure` (its index).
Violation = tuple[str, int, str | None]
REQUIRE = "require"
ENSURE = "ensure"


def word_violations(policy: CheckedPolicy, found: list[Violation], facts: Mapping[str, Value],
                    *, file: str, locate: Locator | None,
                    prefix: tuple[str | int, ...]) -> list[Diagnostic]:
    """The diagnostics of violated constraints (found by `check_constraints` or by the
    compiled checks of `compiled_validator`), worded from the typed facts."""

    def where(fact: str | None) -> dict[str, object]:
        path = prefix + ((fact,) if fact else ())
        position = locate(path) if locate else None
        if position is None and locate is not None:
            position = locate(prefix)
        return {"file": file, "path": json_path(path),
                "line": position[0] if position else None,
                "column": position[1] if position else None}

    problems: list[Diagnostic] = []
    for kind, index, missing in found:
        if kind == REQUIRE:
            require = policy.requires[index]
            assert missing is not None
            condition = f" when {require.when_text}" if require.when_text else ""
            problems.append(Diagnostic(
                "E309", f"fact '{missing}' is required{condition}", label=require.label,
                help=require.reason or f"give '{missing}' (policy line {require.line})",
                **where(None)))  # type: ignore[arg-type]
            continue
        ensure = policy.ensures[index]
        values = ", ".join(f"{name} = {format_value(facts[name])}" for name in ensure.facts
                           if name in facts)
        shown = f" ({values})" if values else ""
        first = next((name for name in ensure.facts if name in facts), None)
        problems.append(Diagnostic(
            "E308", f"the facts must satisfy '{ensure.text}'{shown}", label=ensure.label,
            help=ensure.reason or f"see the 'ensure' on policy line {ensure.line}",
            **where(first)))  # type: ignore[arg-type]
    return problems
