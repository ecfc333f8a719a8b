"""SQL constraints: `require` and `ensure` as SQL, each violation with its code, label and field.

The same semantics as `facts.constraints`: a check applies when its `when` holds (a `when`
that stops the evaluation, on a missing fact or a division by zero, does not hold); a
`require` is broken by each listed fact that is missing, an `ensure` when its condition is
false (a condition that stops the evaluation does not break it). The first violation in the
policy's order is the row's refusal, worded as `check_constraints` words it.
"""

from __future__ import annotations

from dataclasses import dataclass

from policy_engine.check.checked import CheckedPolicy
from policy_engine.sql import trees as t
from policy_engine.sql.expressions import Scope
from policy_engine.sql.rendering import json_text, plain_text, quoted
from policy_engine.sql.trees import Sql


@dataclass(frozen=True)
class Violation:
    """One way the facts can break a constraint.

    Args:
        broken: TRUE when this violation happens in the row.
        message: the refusal's message as JSON text, or None when SQL leaves the wording to
            the reference engine.
    """

    code: str
    label: str | None
    field: str | None
    broken: Sql
    message: Sql | None


def _holds(scope: Scope, expr: object) -> Sql:
    """TRUE when the expression evaluates, without stopping, to true."""
    value = scope.translator.condition(expr)  # type: ignore[arg-type]
    if value.fault is None:
        return value.sql
    return t.and_([t.is_null(value.fault), value.sql])


def violations(scope: Scope) -> list[Violation]:
    policy: CheckedPolicy = scope.policy
    found: list[Violation] = []
    for require in policy.requires:
        applies = _holds(scope, require.when) if require.when is not None else t.true()
        condition = f" when {require.when_text}" if require.when_text else ""
        for fact in require.facts:
            info = scope.facts[fact]
            if not info.optional or info.default is not None:
                continue  # never missing after validation
            message = json_text(f"fact '{fact}' is required{condition}")
            found.append(Violation("E309", require.label, fact,
                                   t.and_([applies, t.is_null(scope.column(fact))]),
                                   t.lit(message)))
    for ensure in policy.ensures:
        applies = _holds(scope, ensure.when) if ensure.when is not None else t.true()
        value = scope.translator.condition(ensure.condition)
        false = t.not_(value.sql) if value.fault is None else \
            t.and_([t.is_null(value.fault), t.not_(value.sql)])
        shown = [name for name in ensure.facts if name in scope.facts]
        found.append(Violation("E308", ensure.label, shown[0] if shown else None,
                               t.and_([applies, false]), _ensure_message(scope, ensure.text,
                                                                         shown)))
    return found


def _ensure_message(scope: Scope, text: str, shown: list[str]) -> Sql | None:
    """`the facts must satisfy 'TEXT' (a = 1, b = 2)`, listing the facts it reads that the row
    has; None when a value is free text, which the reference engine writes."""
    parts: list[Sql] = []
    for name in shown:
        info = scope.facts[name]
        value = scope.fact(name)
        written = plain_text(info.type, value)
        if written is None:
            return None
        part = t.concat([t.lit(f"{name} = "), written])
        if info.optional and info.default is None:
            part = t.when(t.not_null(scope.column(name)), part)
        parts.append(part)
    if not parts:
        return t.lit(json_text(f"the facts must satisfy '{text}'"))
    # The list is written once: DuckDB hoists an expression written twice in a stage out of
    # the CASE that guards it, and would list the values of every row, refused here or not.
    listed = t.func("NULLIF", t.concat_ws(", ", parts), t.lit(""))
    values = t.coalesce([t.concat([t.lit(" ("), listed, t.lit(")")]), t.lit("")])
    return quoted([f"the facts must satisfy '{text}'", values])
