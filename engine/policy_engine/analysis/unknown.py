"""Unknown outcomes: the analysis stage's free dimensions for rules and constraints over budget.

A rule whose condition the analysis could not translate or partition within its share of the
budget gets a dimension of its own, with one cell per outcome the rule can have: its condition
is false, true, stops, or is true and its outputs stop. Every fact set lies at the cell of the
outcome the rule really has, so the partition stays a partition and every region still holds
the fact sets it should: findings that no fact set exists stay sound, and the others are
confirmed by a witness, as for any approximation. A constraint gets a yes/no dimension.
"""

from __future__ import annotations

from collections.abc import Mapping

from policy_engine.analysis.formulas import Atom, Formula, Three
from policy_engine.analysis.regions import Cell, Dimension
from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, CheckedRule, EnsureInfo, RequireInfo
from policy_engine.check.types import BoolType, Value
from policy_engine.evaluate.interpreter import Interpreter

Constraint = RequireInfo | EnsureInfo

#: The outcomes of a rule, in cell order (`describe` words them).
RULE_CELLS = ("false", "true", "error", "broken")
#: Whether a constraint refuses.
CONSTRAINT_CELLS = ("false", "true")


def _is(key: tuple[object, ...], *values: str) -> Formula:
    return Atom(key, ("in", values))


def rule_dimension(key: tuple[object, ...], rule: CheckedRule, version: str = "") -> Dimension:
    """The dimension of a rule's outcome; `version` tells two policies apart in a diff."""
    name = "the default" if rule.kind == "otherwise" else f"{rule.kind} '{rule.id}'"
    return Dimension(key, "unknown", tuple(Cell("value", v) for v in RULE_CELLS),
                     name + version)


def rule_formulas(key: tuple[object, ...]) -> tuple[Three, Formula]:
    """A rule's condition (true, false, error) and where its outputs stop, on its dimension."""
    return Three(_is(key, "true", "broken"), _is(key, "false"), _is(key, "error")), \
        _is(key, "broken")


def constraint_dimension(key: tuple[object, ...], constraint: Constraint,
                         version: str = "") -> Dimension:
    kind = "require" if isinstance(constraint, RequireInfo) else "ensure"
    return Dimension(key, "unknown", tuple(Cell("value", v) for v in CONSTRAINT_CELLS),
                     f"the {kind} of line {constraint.line}{version}")


def constraint_formula(key: tuple[object, ...]) -> Formula:
    """Where a constraint refuses, on its dimension."""
    return _is(key, "true")


def same_meaning(a: CheckedRule, old: CheckedPolicy, b: CheckedRule, new: CheckedPolicy) -> bool:
    """Whether a rule has the same outcome on every fact set in two versions of a policy: the
    same conditions, outputs and dates, over the same facts, derived values and tables.

    A symbolic diff then gives both versions one unknown dimension for it, so a rule left
    open in both does not show as a change.
    """
    if (a.kind, a.conjuncts, a.outputs, a.effective) != (b.kind, b.conjuncts, b.outputs,
                                                         b.effective):
        return False
    if a.effective is not None and old.as_of != new.as_of:
        return False
    defines_old = {d.name: d for d in old.defines}
    defines_new = {d.name: d for d in new.defines}
    facts_old = {info.name: info for info in reversed(old.facts)}  # the first wins, as `fact`
    facts_new = {info.name: info for info in reversed(new.facts)}
    stack = [j.expr for j in a.conjuncts] + [expr for _, expr in a.outputs]
    seen: set[str] = set()
    while stack:
        for node in c.walk(stack.pop()):
            names = [node.name] if isinstance(node, c.FactRef) else (
                [node.fact] if isinstance(node, c.Presence) else [])
            for name in names:
                if name in seen:
                    continue
                seen.add(name)
                if (name in defines_old) != (name in defines_new):
                    return False
                if name in defines_old:
                    before, after = defines_old[name], defines_new[name]
                    if (before.type, before.expr) != (after.type, after.expr):
                        return False
                    stack.append(before.expr)
                elif name not in facts_old or facts_old[name] != facts_new.get(name):
                    return False
            if isinstance(node, c.Lookup) and not _same_table(old, new, node.table):
                return False
    return True


def _same_table(old: CheckedPolicy, new: CheckedPolicy, name: str) -> bool:
    try:
        before, after = old.table(name), new.table(name)
    except KeyError:
        return False
    return before == after and (not before.dated or old.as_of == new.as_of)


# ---------------------------------------------------------------- the real outcome


def rule_outcome(rule: CheckedRule, interpreter: Interpreter, env: Mapping[str, Value]) -> str:
    """The cell of the outcome a rule really has on some facts (for `partition.predicted`).

    The outputs that can stop are those `Translator.outputs_error` models.
    """
    try:
        if interpreter.condition(rule.index, env) != -1:
            return "false"
    except Exception:  # noqa: BLE001 - evaluation stops in the condition
        return "error"
    try:
        for _, expr in rule.outputs:
            if not isinstance(expr, c.ListExpr) and not isinstance(expr.type, BoolType):
                interpreter.value(expr, env)
    except Exception:  # noqa: BLE001 - evaluation stops in an output
        return "broken"
    return "true"


def constraint_outcome(constraint: Constraint, interpreter: Interpreter,
                       env: Mapping[str, Value]) -> str:
    """Whether a constraint refuses some facts, as the translation models it: a constraint
    whose test stops does not refuse."""
    try:
        if constraint.when is not None and not interpreter.value(
                constraint.when, env):
            return "false"
        if isinstance(constraint, RequireInfo):
            return "true" if any(name not in env for name in constraint.facts) else "false"
        return "false" if interpreter.value(constraint.condition,
                                            env) else "true"
    except Exception:  # noqa: BLE001 - evaluation stops: the constraint does not refuse
        return "false"
