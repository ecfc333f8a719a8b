"""Render: turns scenario results into text (terminal), JSON (tools) or Markdown (pull requests).

Every renderer is a pure function of its input, so the same policy and facts always give
byte-identical output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from policy_engine.check.types import format_value, to_json_value
from policy_engine.core.diagnostics import render_all
from policy_engine.explain.trace import CheckTrace, LookupTrace, RuleTrace, Trace
from policy_engine.scenarios.runner import ScenarioResult

#: The JSON result format; bump the version on any incompatible change (docs/cli.md).
JSON_FORMAT = "policy-engine/result"
JSON_VERSION = 1

_OUTCOME_WORDS = {
    "decided": "decided",
    "agreed": "matched and agreed",
    "did not apply": "did not apply",
    "not reached": "not reached: an earlier rule decided (first match)",
    "overridden": "matched, but overridden",
    "not in effect": "not in effect",
    "added": "added",
}


def _outcome(rule: RuleTrace, trace: Trace) -> str:
    words = _OUTCOME_WORDS[rule.status]
    if rule.status == "overridden":
        return f"{words} by exception '{rule.by}'"
    if rule.status == "not in effect":
        day = f" on {format_value(trace.as_of)}" if trace.as_of is not None else ""
        return f"{words}{day} ({rule.effective})"
    return words


def _lookups(check: CheckTrace) -> str:
    return _lookup_text(check.lookups)


def _lookup_text(lookups: tuple[LookupTrace, ...]) -> str:
    parts = []
    for lookup in lookups:
        if lookup.row is None:
            parts.append(f"{lookup.table} for {_value(lookup.key)}: no row")
        else:
            parts.append(f"{lookup.table} for {_value(lookup.key)} = {_value(lookup.value)} "
                         f"(row {lookup.row})")
    return "; ".join(parts)

# ------------------------------------------------------------------ shared wording


def _policy_line(trace: Trace, path: str | None) -> str:
    policy = trace.policy
    version = f" {policy.version}" if policy.version else ""
    where = f" ({path})" if path else ""
    return f"{policy.name}{version}{where}, resolve {policy.strategy}"


def _values(check: CheckTrace, skip_shown: bool = True) -> str:
    shown = [(name, value) for name, value in check.values
             if not (skip_shown and check.display.startswith(f"{name} = "))]
    why = dict(check.derived)
    return ", ".join(f"{name} = {_value(value)}" + (f" [{why[name]}]" if name in why else "")
                     for name, value in shown)


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


def _text_refusal(result: ScenarioResult) -> str:
    lines = [f"scenario: {result.scenario}"]
    if result.description:
        lines.append(f"  {result.description}")
    policy = result.policy.checked
    lines.append(f"policy:   {policy.name}{f' {policy.version}' if policy.version else ''} "
                 f"({policy.source.name})")
    lines.append("")
    lines.append("refused:  the policy does not decide on these facts")
    lines.append(render_all(result.refusal))
    lines.append("")
    lines.append("expect:   met (refusal expected)" if result.met else "expect:   NOT MET")
    lines.extend(f"  {mismatch}" for mismatch in result.mismatches)
    return "\n".join(lines) + "\n"


def _text_one(result: ScenarioResult) -> str:
    if result.decision is None:
        return _text_refusal(result)
    decision = result.decision
    trace = decision.trace
    lines = [f"scenario: {result.scenario}"]
    if result.description:
        lines.append(f"  {result.description}")
    lines.append(f"policy:   {_policy_line(trace, trace.policy.source.name)}")
    if trace.as_of is not None:
        lines.append(f"as of:    {format_value(trace.as_of)}")
    lines.append("")
    lines.append(f"decision: {decision.decision}")
    rule = trace.decided_by
    if trace.by_default:
        lines.append(f"rule:     otherwise (line {rule.line}): "
                     "no rule applied, the default decided")
    else:
        title = f' "{rule.title}"' if rule.title else ""
        lines.append(f"rule:     {rule.id}{title} (line {rule.line})")
    if rule.effective:
        lines.append(f"version:  {rule.effective}")
    if rule.overrides:
        lines.append(f"exception to: {', '.join(rule.overrides)}")
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
    others = [r for r in trace.rules if r is not rule]
    if others:
        lines.append("")
        lines.append("other rules:")
        for other in others:
            lines.append(_text_other(other, trace))
    if trace.advisories:
        lines.append("")
        lines.append("advisories:")
        for advisory in trace.advisories:
            lines.append(_text_advisory(advisory, trace))
    if trace.derived:
        lines.append("")
        lines.append("derived values:")
        for derived in trace.derived:
            shown = "(not computed: it needs a missing fact)" if derived.value is None \
                else format_value(derived.value)
            lookups = "".join(f"; {part}" for part in [_lookup_text(derived.lookups)] if part)
            lines.append(f"  {derived.name} = {shown}   ({derived.text}{lookups})")
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
        if fact.origin != "missing":
            origin = "" if fact.origin == "given" else f"  ({fact.origin})"
            lines.append(f"  {fact.name} = {_value(fact.value)}{origin}")
    missing = [fact.name for fact in trace.facts if fact.origin == "missing"]
    if missing:
        lines.append(f"  not given: {', '.join(missing)}")
    if result.expectation is not None:
        lines.append("")
        if result.met:
            lines.append("expect:   met")
        else:
            lines.append("expect:   NOT MET")
            lines.extend(f"  {mismatch}" for mismatch in result.mismatches)
    return "\n".join(lines) + "\n"


def _text_check(check: CheckTrace) -> str:
    values = "; ".join(part for part in (_values(check), _lookups(check)) if part)
    suffix = f"   ({values})" if values else ""
    return f"  {_result_word(check.result):<6} {check.display}{suffix}   [line {check.line}]"


def _text_other(rule: RuleTrace, trace: Trace) -> str:
    head = f"  {rule.id} (line {rule.line}): {_outcome(rule, trace)}"
    failed = _failed(rule)
    if failed is None:
        return head
    values = "; ".join(part for part in (_values(failed), _lookups(failed)) if part)
    suffix = f" ({values})" if values else ""
    return f"{head}: {failed.display} is false{suffix}"


def _text_advisory(advisory: RuleTrace, trace: Trace) -> str:
    if advisory.status == "added":
        items = ", ".join(format_value(i) for i in advisory.adds)
        reason = f": {advisory.reason}" if advisory.reason else ""
        return f"  {advisory.id} (line {advisory.line}): added {items} to " \
               f"{advisory.decision}{reason}"
    return _text_other(advisory, trace)


# ------------------------------------------------------------------ JSON


def _json_refusal(result: ScenarioResult) -> dict[str, Any]:
    policy = result.policy.checked
    return {
        "format": JSON_FORMAT,
        "format_version": JSON_VERSION,
        "scenario": result.scenario,
        "description": result.description,
        "policy": {"name": policy.name, "title": policy.title, "version": policy.version,
                   "file": policy.source.name, "resolve": policy.strategy},
        "decision": None,
        "refused": [d.to_json() for d in result.refusal],
        "expect": _json_expect(result),
    }


def _json_expect(result: ScenarioResult) -> dict[str, Any] | None:
    if result.expectation is None:
        return None
    expect = result.expectation
    return {
        "decision": expect.decision,
        "rule": expect.rule,
        "outputs": expect.outputs is not None,
        "error": expect.error,
        "met": result.met,
        "mismatches": list(result.mismatches),
    }


def to_json(result: ScenarioResult) -> dict[str, Any]:
    """The documented JSON result (format `policy-engine/result`, version 1)."""
    if result.decision is None:
        return _json_refusal(result)
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
            "advisories": [_json_rule(a) for a in trace.advisories],
            "derived": [{"name": d.name, "expression": d.text,
                         "value": to_json_value(d.value),
                         "lookups": [_json_lookup(lookup) for lookup in d.lookups]}
                        for d in trace.derived],
            "as_of": to_json_value(trace.as_of),
        },
    }
    if result.expectation is not None:
        data["expect"] = _json_expect(result)
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
        "kind": rule.kind,
        "overridden_by": rule.by,
        "overrides": list(rule.overrides),
        "effective": rule.effective,
        "adds": [to_json_value(item) for item in rule.adds],
        "conditions": [
            {
                "condition": check.text,
                "display": check.display,
                "line": check.line,
                "column": check.column,
                "result": check.result,
                "values": {name: to_json_value(value) for name, value in check.values},
                "lookups": [_json_lookup(lookup) for lookup in check.lookups],
                "derived": {name: why for name, why in check.derived},
            }
            for check in rule.checks
        ],
    }


def _json_lookup(lookup: LookupTrace) -> dict[str, Any]:
    return {"table": lookup.table, "key": to_json_value(lookup.key), "row": lookup.row,
            "value": to_json_value(lookup.value)}


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


def _md_refusal(result: ScenarioResult) -> str:
    out = [f"## {_md(result.scenario)}: refused", ""]
    if result.description:
        out += [f"> {_md(result.description)}", ""]
    verdict = "met (refusal expected)" if result.met else "**not met**: " + "; ".join(
        _md(m) for m in result.mismatches)
    policy = result.policy.checked
    out += ["| | |", "|---|---|",
            f"| Policy | {_md(policy.name)} ({_md(policy.source.name)}) |",
            "| Decision | none: the policy refuses to decide on these facts |",
            f"| Expectation | {verdict} |", "", "```text", render_all(result.refusal), "```"]
    return "\n".join(out) + "\n"


def _md_one(result: ScenarioResult) -> str:
    if result.decision is None:
        return _md_refusal(result)
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
    if trace.as_of is not None:
        out.append(f"| As of | {format_value(trace.as_of)} |")
    if rule.effective:
        out.append(f"| Version | {_md(rule.effective)} |")
    if rule.overrides:
        out.append(f"| Exception to | {', '.join(f'`{o}`' for o in rule.overrides)} |")
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
    others = [r for r in trace.rules if r is not rule]
    if others:
        out += ["", "### Other rules", "", "| Rule | Line | Outcome | First failing condition |",
                "|---|---|---|---|"]
        for other in others:
            failed = _failed(other)
            detail = ""
            if failed is not None:
                values = _values(failed)
                detail = _code(failed.display) + (f" ({_md(values)})" if values else "")
            out.append(f"| `{other.id}` | {other.line} | {_md(_outcome(other, trace))} | "
                       f"{detail} |")
    if trace.advisories:
        out += ["", "### Advisories", "", "| Advisory | Line | Outcome | Detail |",
                "|---|---|---|---|"]
        for advisory in trace.advisories:
            if advisory.status == "added":
                items = ", ".join(f"`{format_value(i)}`" for i in advisory.adds)
                detail = f"adds {items} to `{advisory.decision}`" + (
                    f": {_md(advisory.reason)}" if advisory.reason else "")
            else:
                failed = _failed(advisory)
                detail = _code(failed.display) if failed else ""
            out.append(f"| `{advisory.id}` | {advisory.line} | "
                       f"{_md(_outcome(advisory, trace))} | {detail} |")
    if trace.derived:
        out += ["", "### Derived values", "", "| Name | Value | Computed from |", "|---|---|---|"]
        for derived in trace.derived:
            value = "" if derived.value is None else _code(format_value(derived.value))
            lookups = _lookup_text(derived.lookups)
            found = f"; {_md(lookups)}" if lookups else ""
            out.append(f"| `{derived.name}` | {value} | {_code(derived.text)}{found} |")
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
        if fact.origin != "missing":
            origin = "" if fact.origin == "given" else fact.origin
            out.append(f"| `{fact.name}` | {_code(_value(fact.value))} | {origin} |")
    missing = [f"`{fact.name}`" for fact in trace.facts if fact.origin == "missing"]
    if missing:
        out += ["", f"Not given: {', '.join(missing)}"]
    return "\n".join(out).rstrip("\n") + "\n"


def _md_check(check: CheckTrace) -> str:
    mark = {True: "✅", False: "❌", None: "❔"}[check.result]
    values = "; ".join(part for part in (_values(check, skip_shown=False), _lookups(check))
                       if part)
    return f"| {mark} | {_code(check.display)} | {_md(values)} | {check.line} |"


RENDERERS = {"text": render_text, "json": render_json, "markdown": render_markdown}
