"""Incomplete: the analysis stage's W112 findings, for what it could not finish within its budget.

`lint` and `symbolic_diff` report with these when a rule, a constraint or a finding went over
its share of the budget, or the analysis over the whole budget (see `budget`). Each says
what was left out, so a clean report can never hide an analysis that did not finish.
"""

from __future__ import annotations

from policy_engine.analysis.budget import Budget
from policy_engine.analysis.partition import Constraint, Model, Stop, diagnostic
from policy_engine.check.checked import CheckedPolicy, CheckedRule, RequireInfo
from policy_engine.core.diagnostics import Diagnostic
from policy_engine.core.source import Span

CODE = "W112"

_RAISE = "raise the budget with --analysis-budget STEPS (0: no limit)"


def share(budget: Budget) -> str:
    return f"its share of the budget ({int(budget.share):,} steps)"


def whole(budget: Budget) -> str:
    if budget.exhausted == "time":
        return f"the analysis time limit ({budget.seconds:g} seconds)"
    return f"the analysis budget ({budget.steps:,} steps)"


def raise_limit(budget: Budget) -> str:
    """How to give the analysis more room, for the limit that ran out."""
    if budget.exhausted == "time":
        return ("raise the time limit with --analysis-timeout SECONDS, or leave it off (the "
                "budget in steps still bounds the analysis)")
    return _RAISE


def _name(rule: CheckedRule) -> str:
    return "the default" if rule.kind == "otherwise" else f"{rule.kind} '{rule.id}'"


def _constraint_name(constraint: Constraint) -> str:
    kind = "require" if isinstance(constraint, RequireInfo) else "ensure"
    return f"the {kind} of line {constraint.line}"


def unknown(model: Model, budget: Budget) -> list[Diagnostic]:
    """The rules and constraints whose outcome the partition left open: one finding each, or
    one for each derived value that alone is over a share, naming all that read it."""
    policy = model.policy
    found: list[Diagnostic] = []
    readers: dict[str, list[str]] = {}
    for position, constraint in model.unknown_constraints.items():
        define = model.constraints_too_large.get(position)
        if define is not None:
            readers.setdefault(define, []).append(_constraint_name(constraint))
            continue
        found.append(diagnostic(
            policy, CODE, f"analysis incomplete: {_constraint_name(constraint)} is over "
                          f"{share(budget)}",
            span=constraint.span,
            notes=["which facts it refuses is left open: findings that depend on it may be "
                   "missing or approximate"],
            help=f"simplify its condition, or {_RAISE}"))
    for index, rule in model.unknown_rules.items():
        define = model.rules_too_large.get(index)
        if define is not None:
            readers.setdefault(define, []).append(f"{_name(rule)} (line {rule.line})")
            continue
        found.append(diagnostic(
            policy, CODE, f"analysis incomplete: {_name(rule)} is over {share(budget)}",
            span=rule.span,
            notes=[f"which facts it {'decides' if rule.kind != 'advisory' else 'applies to'} "
                   "is left open: there is no finding about it, and findings about the rules "
                   "after it may be missing or approximate"],
            help="simplify its condition (a long chain of derived values, or an 'or' of many "
                 f"'and's over different facts), or {_RAISE}"))
    defines = {info.name: info for info in policy.defines}
    for name, names in readers.items():
        shown = ", ".join(names[:_NAMED]) + (f" and {len(names) - _NAMED:,} more"
                                              if len(names) > _NAMED else "")
        them = "it" if len(names) == 1 else "them"
        found.append(diagnostic(
            policy, CODE, f"analysis incomplete: derived value '{name}' is over "
                          f"{share(budget)}",
            span=defines[name].span,
            notes=[f"read by {shown}: {'its' if them == 'it' else 'their'} outcome is left "
                   f"open, there is no finding about {them}, and findings about the rules "
                   f"after {them} may be missing or approximate"],
            help="write the value in fewer steps (each 'if' on the value before doubles the "
                 f"cases), or {_RAISE}"))
    return found


#: How many of the rules that read a derived value over its share a finding names.
_NAMED = 5


def checks_over(policy: CheckedPolicy, rule: CheckedRule, budget: Budget) -> Diagnostic:
    """The checks of one rule (can it apply, does it ever decide) went over their share."""
    return diagnostic(
        policy, CODE, f"analysis incomplete: the checks of {_name(rule)} are over "
                      f"{share(budget)}",
        span=rule.span,
        notes=["whether it can apply and whether it ever decides was not checked"],
        help=f"simplify its condition, or {_RAISE}")


def search_over(policy: CheckedPolicy, what: str, span: Span | None,
                budget: Budget) -> Diagnostic:
    """The search for some facts (a gap, a conflict, a rule that stops) went over its share."""
    return diagnostic(
        policy, CODE, f"analysis incomplete: the search for {what} is over {share(budget)}",
        span=span, notes=["such facts may exist: none was looked for to the end"],
        help=_RAISE)


def stopped(policy: CheckedPolicy, stop: Stop, budget: Budget) -> Diagnostic:
    """The whole budget ran out while the partition was built."""
    rules = f"{stop.rules_left:,} rule{'s' if stop.rules_left != 1 else ''}"
    return diagnostic(
        policy, CODE, f"analysis incomplete: the policy is over {whole(budget)} at {stop.at}",
        span=policy.source.line_span(stop.line or 1),
        notes=[f"{rules} from there on were not analysed, and no finding about gaps, "
               "conflicts or rules that stop was looked for"],
        help=f"{raise_limit(budget)}, or analyse a smaller policy")


def checks_stopped(policy: CheckedPolicy, at: str, line: int | None,
                   budget: Budget) -> Diagnostic:
    """The whole budget ran out while findings were checked (the partition is complete)."""
    return diagnostic(
        policy, CODE, f"analysis incomplete: the policy is over {whole(budget)} while "
                      f"checking {at}",
        span=policy.source.line_span(line or 1),
        notes=["the checks from there on were not done"],
        help=f"{raise_limit(budget)}, or analyse a smaller policy")
