"""Render: turns scenario results into text (terminal), JSON (tools) or Markdown (pull requests).

Every renderer is a pure function of its input, so the same policy and facts always give
byte-identical output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from engine.explain import CheckTrace, RuleTrace, Trace
from engine.run import ScenarioResult
from engine.valuetypes import format_value, to_json_value

#: The JSON result format; bump the version on any incompatible change (docs/cli.md).
JSON_FORMAT = "policy-engine/result"
JSON_VERSION = 1

_OUTCOME_WORDS = {
    "decided": "decided",
    "agreed": "matched and agreed",
    "did not apply": "did not apply",
    "not reached": "not reached: an earlier rule decided (first match)",
}

# ------------------------------------------------------------------ shared wording


def _policy_line(trace: Trace, path: str | None) -> str:
    policy = trace.policy
    version = f" {policy.version}" if policy.version else ""
    where = f" ({path})" if path else ""
    return f"{policy.name}{version}{where}, resolve {policy.strategy}"


def _values(check: CheckTrace, skip_shown: bool = True) -> str:
    shown = [(name, value) for name, value in check.values
             if not (skip_shown and check.display.startswith(f"{name} = "))]
    return ", ".join(f"{name} = {_value(value)}" for name, value in shown)


def _value(value: object) -> str:
    return "(missing)" if value is None else format_value(value)


def _result_word(result: bool | None) -> str:
    return {True: "holds", False: "fails", None: "unknown"}[result]


def _failed(rule: RuleTrace) -> CheckTrace | None:
    return rule.checks[-1] if rule.checks and rule.checks[-1].result is False else None


# ------------------------------------------------------------------ text


def render_text(results: Sequence[ScenarioResult]) -> str:
    """Renders results for a terminal; one block per scenario, separated by a blank line."""
    return "\n".join(_text_one(result) for result in results)


def _text_one(result: ScenarioResult) -> str:
    decision = result.decision
    trace = decision.trace
    lines = [f"scenario: {result.scenario}"]
    if result.description:
        lines.append(f"  {result.description}")
    lines.append(f"policy:   {_policy_line(trace, trace.policy.source.name)}")
    lines.append("")
    lines.append(f"decision: {decision.decision}")
    rule = trace.decided_by
    if trace.by_default:
        lines.append(f"rule:     otherwise (line {rule.line}): "
                     "no rule applied, the default decided")
    else:
        title = f' "{rule.title}"' if rule.title else ""
        lines.append(f"rule:     {rule.id}{title} (line {rule.line})")
    if rule.reason:
        lines.append(f"because:  {rule.reason}")
    if rule.citation:
        lines.append(f"source:   {rule.citation}")
    if decision.outputs:
        lines.append("outputs:")
        lines.extend(f"  {k} = {format_value(v)}" for k, v in decision.outputs.items())
    if rule.checks:
        lines.append("")
        lines.append("why it applies:")
        lines.extend(_text_check(check) for check in rule.checks)
    others = [r for r in trace.rules if r.id != rule.id]
    if others:
        lines.append("")
        lines.append("other rules:")
        for other in others:
            lines.append(_text_other(other))
    if trace.closest:
        lines.append("")
        lines.append("closest rules:")
        for miss in trace.closest:
            lines.append(f"  {miss.rule.id} (line {miss.rule.line}): {miss.held} of {miss.total} "
                         f"conditions hold; it would decide {miss.rule.decision}")
            lines.extend("  " + _text_check(check) for check in miss.rule.checks)
    lines.append("")
    lines.append("facts:")
    for fact in trace.facts:
        origin = "" if fact.origin == "given" else f"  ({fact.origin})"
        lines.append(f"  {fact.name} = {_value(fact.value)}{origin}" if fact.origin != "missing"
                     else f"  {fact.name}: (missing)")
    if result.expectation is not None:
        lines.append("")
        if result.met:
            lines.append("expect:   met")
        else:
            lines.append("expect:   NOT MET")
            lines.extend(f"  {mismatch}" for mismatch in result.mismatches)
    return "\n".join(lines) + "\n"


def _text_check(check: CheckTrace) -> str:
    values = _values(check)
    suffix = f"   ({values})" if values else ""
    return f"  {_result_word(check.result):<6} {check.display}{suffix}   [line {check.line}]"


def _text_other(rule: RuleTrace) -> str:
    head = f"  {rule.id} (line {rule.line}): {_OUTCOME_WORDS[rule.status]}"
    failed = _failed(rule)
    if failed is None:
        return head
    values = _values(failed)
    suffix = f" ({values})" if values else ""
    return f"{head}: {failed.display} is false{suffix}"


# ------------------------------------------------------------------ JSON


def to_json(result: ScenarioResult) -> dict[str, Any]:
    """The documented JSON result (format `policy-engine/result`, version 1)."""
    decision = result.decision
    trace = decision.trace
    policy = trace.policy
    data: dict[str, Any] = {
        "format": JSON_FORMAT,
        "format_version": JSON_VERSION,
        "scenario": result.scenario,
        "description": result.description,
        "policy": {
            "name": policy.name,
            "title": policy.title,
            "version": policy.version,
            "file": policy.source.name,
            "resolve": policy.strategy,
        },
        "decision": decision.decision,
        "rule": decision.rule,
        "outputs": {k: to_json_value(v) for k, v in decision.outputs.items()},
        "reason": trace.decided_by.reason,
        "citation": trace.decided_by.citation,
        "facts": {f.name: {"value": to_json_value(f.value), "origin": f.origin}
                  for f in trace.facts},
        "trace": {
            "by_default": trace.by_default,
            "decided_by": _json_rule(trace.decided_by),
            "rules": [_json_rule(rule) for rule in trace.rules],
            "closest": [{"rule": _json_rule(m.rule), "held": m.held, "total": m.total}
                        for m in trace.closest],
        },
    }
    if result.expectation is not None:
        expect = result.expectation
        data["expect"] = {
            "decision": expect.decision,
            "rule": expect.rule,
            "outputs": expect.outputs is not None,
            "met": result.met,
            "mismatches": list(result.mismatches),
        }
    return data


def _json_rule(rule: RuleTrace) -> dict[str, Any]:
    return {
        "rule": rule.id,
        "title": rule.title,
        "line": rule.line,
        "status": rule.status,
        "decision": rule.decision,
        "reason": rule.reason,
        "citation": rule.citation,
        "conditions": [
            {
                "condition": check.text,
                "display": check.display,
                "line": check.line,
                "column": check.column,
                "result": check.result,
                "values": {name: to_json_value(value) for name, value in check.values},
            }
            for check in rule.checks
        ],
    }


def render_json(results: Sequence[ScenarioResult]) -> str:
    """One JSON object for one scenario, a JSON array for several."""
    data: Any = to_json(results[0]) if len(results) == 1 else [to_json(r) for r in results]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ Markdown


def _md(text: str) -> str:
    """Escapes text for a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{text.replace('|', '&#124;')}{pad}{fence}"


def render_markdown(results: Sequence[ScenarioResult]) -> str:
    """Renders results for a pull request comment or a golden file."""
    return "\n".join(_md_one(result) for result in results)


def _md_one(result: ScenarioResult) -> str:
    decision = result.decision
    trace = decision.trace
    rule = trace.decided_by
    out = [f"## {_md(result.scenario)}: `{decision.decision}`", ""]
    if result.description:
        out += [f"> {_md(result.description)}", ""]
    decided = "`otherwise` (no rule applied; the default decided)" if trace.by_default else (
        f"`{rule.id}`" + (f" {_md(rule.title)}" if rule.title else ""))
    out += [
        "| | |",
        "|---|---|",
        f"| Policy | {_md(_policy_line(trace, trace.policy.source.name))} |",
        f"| Decision | `{decision.decision}` |",
        f"| Rule | {decided}, line {rule.line} |",
    ]
    if rule.reason:
        out.append(f"| Because | {_md(rule.reason)} |")
    if rule.citation:
        out.append(f"| Source | {_md(rule.citation)} |")
    if decision.outputs:
        shown = ", ".join(_code(f"{k} = {format_value(v)}") for k, v in decision.outputs.items())
        out.append(f"| Outputs | {shown} |")
    if result.expectation is not None:
        verdict = "met" if result.met else "**not met**: " + "; ".join(
            _md(m) for m in result.mismatches)
        out.append(f"| Expectation | {verdict} |")
    if rule.checks:
        out += ["", "### Why it applies", "", "| | Condition | Values | Line |",
                "|---|---|---|---|"]
        out += [_md_check(check) for check in rule.checks]
    others = [r for r in trace.rules if r.id != rule.id]
    if others:
        out += ["", "### Other rules", "", "| Rule | Line | Outcome | First failing condition |",
                "|---|---|---|---|"]
        for other in others:
            failed = _failed(other)
            detail = ""
            if failed is not None:
                values = _values(failed)
                detail = _code(failed.display) + (f" ({_md(values)})" if values else "")
            out.append(f"| `{other.id}` | {other.line} | {_OUTCOME_WORDS[other.status]} | "
                       f"{detail} |")
    if trace.closest:
        out += ["", "### Closest rules", ""]
        for miss in trace.closest:
            out += [f"`{miss.rule.id}` (line {miss.rule.line}) would decide "
                    f"`{miss.rule.decision}`; {miss.held} of {miss.total} conditions hold:", "",
                    "| | Condition | Values | Line |", "|---|---|---|---|"]
            out += [_md_check(check) for check in miss.rule.checks]
            out.append("")
    out += ["", "### Facts", "", "| Fact | Value | |", "|---|---|---|"]
    for fact in trace.facts:
        value = "" if fact.origin == "missing" else _code(_value(fact.value))
        origin = "" if fact.origin == "given" else fact.origin
        out.append(f"| `{fact.name}` | {value} | {origin} |")
    return "\n".join(out).rstrip("\n") + "\n"


def _md_check(check: CheckTrace) -> str:
    mark = {True: "✅", False: "❌", None: "❔"}[check.result]
    values = _values(check, skip_shown=False)
    return f"| {mark} | {_code(check.display)} | {_md(values)} | {check.line} |"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
