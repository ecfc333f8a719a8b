"""Render: decisions as text (terminal), JSON (tools) or Markdown (pull requests, golden files).

A renderer takes `Report`s: a `Decision` and, when it answers a scenario file, the scenario's
name, description and how the decision compares with its `expect`. Every renderer is a pure
function of its input, so the same policy and facts always give byte-identical output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from policy_engine.check.types import format_value
from policy_engine.core.diagnostics import render_all
from policy_engine.explain.decision import Decision
from policy_engine.explain.trace import CheckTrace, LookupTrace, RuleTrace, Trace


@dataclass(frozen=True)
class Expected:
    """How a decision compares with a scenario's `expect`.

    Args:
        decision, rule, error: what `expect` names (None when it leaves one out).
        outputs: whether `expect` gives outputs.
        mismatches: one line per difference; empty when met.
    """

    decision: str | None
    rule: str | None
    outputs: bool
    error: str | None
    mismatches: tuple[str, ...]

    @property
    def met(self) -> bool:
        return not self.mismatches


@dataclass(frozen=True)
class Report:
    """One decision as the renderers show it.

    Args:
        decision: the decision, or the refusal.
        scenario: the scenario file it answers, as shown (its path); None for facts that do
            not come from a scenario file.
        description: the scenario's description.
        expected: how it compares with the scenario's `expect`, when the scenario has one.
    """

    decision: Decision
    scenario: str | None = None
    description: str | None = None
    expected: Expected | None = None

    @property
    def met(self) -> bool:
        return self.expected is None or self.expected.met

    @property
    def mismatches(self) -> tuple[str, ...]:
        return self.expected.mismatches if self.expected is not None else ()

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


def _trace(decision: Decision) -> Trace:
    trace = decision.trace
    if trace is None:
        raise ValueError("only a decision made by Policy.evaluate has a trace to render")
    return trace


def _failed(rule: RuleTrace) -> CheckTrace | None:
    return rule.checks[-1] if rule.checks and rule.checks[-1].result is False else None


# ------------------------------------------------------------------ text


def render_text(results: Sequence[Report]) -> str:
    """Renders results for a terminal; one block per scenario, separated by a blank line."""
    return "\n".join(_text_one(result) for result in results)


def _text_refusal(result: Report) -> str:
    lines = [f"scenario: {result.scenario}"] if result.scenario is not None else []
    if result.description:
        lines.append(f"  {result.description}")
    policy = result.decision.policy
    lines.append(f"policy:   {policy.name}{f' {policy.version}' if policy.version else ''} "
                 f"({policy.source.name})")
    lines.append("")
    lines.append("refused:  the policy does not decide on these facts")
    lines.append(render_all(result.decision.refusal))
    lines.append("")
    lines.append("expect:   met (refusal expected)" if result.met else "expect:   NOT MET")
    lines.extend(f"  {mismatch}" for mismatch in result.mismatches)
    return "\n".join(lines) + "\n"


def _text_one(result: Report) -> str:
    decision = result.decision
    if decision.refused:
        return _text_refusal(result)
    trace = _trace(decision)
    lines = [f"scenario: {result.scenario}"] if result.scenario is not None else []
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
    if result.expected is not None:
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


def to_json(result: Report) -> dict[str, Any]:
    """The documented JSON result (`Decision.to_json`), with the scenario's name, description
    and, when it has an `expect`, how the decision compares with it."""
    decision = result.decision.to_json()
    data: dict[str, Any] = {"format": decision.pop("format"),
                            "format_version": decision.pop("format_version"),
                            "scenario": result.scenario, "description": result.description}
    data.update(decision)
    if result.expected is not None or result.decision.refused:
        data["expect"] = _json_expect(result.expected)
    return data


def _json_expect(expected: Expected | None) -> dict[str, Any] | None:
    if expected is None:
        return None
    return {
        "decision": expected.decision,
        "rule": expected.rule,
        "outputs": expected.outputs,
        "error": expected.error,
        "met": expected.met,
        "mismatches": list(expected.mismatches),
    }


def render_json(results: Sequence[Report]) -> str:
    """One JSON object for one scenario, a JSON array for several."""
    data: Any = to_json(results[0]) if len(results) == 1 else [to_json(r) for r in results]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ------------------------------------------------------------------ Markdown


def _heading(result: Report) -> str:
    return f"{_md(result.scenario)}: " if result.scenario is not None else ""


def markdown_text(text: str) -> str:
    """Text as it may stand in Markdown, a table cell included: no HTML (a `<` or `&` from a
    policy or a scenario could open a tag, a comment or an entity in a pull-request comment),
    no cell or line break."""
    return (text.replace("\\", "\\\\").replace("&", "&amp;").replace("<", "&lt;")
            .replace("|", "\\|").replace("\n", " "))


_md = markdown_text


def markdown_fence(text: str, info: str = "") -> list[str]:
    """Text as a fenced block whose fence no run of backticks inside it can close."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return [fence + info, text, fence]


def _longest_backtick_run(text: str) -> int:
    longest = current = 0
    for char in text:
        current = current + 1 if char == "`" else 0
        longest = max(longest, current)
    return longest


def markdown_code(text: str) -> str:
    """Text as a code span: its fence is longer than any run of backticks inside it."""
    run = _longest_backtick_run(text)
    fence = "`" * (run + 1)
    pad = " " if run else ""
    return f"{fence}{pad}{text.replace('|', '&#124;').replace(chr(10), ' ')}{pad}{fence}"


_code = markdown_code


def render_markdown(results: Sequence[Report]) -> str:
    """Renders results for a pull request comment or a golden file."""
    return "\n".join(_md_one(result) for result in results)


def _md_refusal(result: Report) -> str:
    out = [f"## {_heading(result)}refused", ""]
    if result.description:
        out += [f"> {_md(result.description)}", ""]
    verdict = "met (refusal expected)" if result.met else "**not met**: " + "; ".join(
        _md(m) for m in result.mismatches)
    policy = result.decision.policy
    out += ["| | |", "|---|---|",
            f"| Policy | {_md(policy.name)} ({_md(policy.source.name)}) |",
            "| Decision | none: the policy refuses to decide on these facts |",
            f"| Expectation | {verdict} |", "",
            *markdown_fence(render_all(result.decision.refusal), "text")]
    return "\n".join(out) + "\n"


def _md_one(result: Report) -> str:
    decision = result.decision
    if decision.refused:
        return _md_refusal(result)
    trace = _trace(decision)
    rule = trace.decided_by
    out = [f"## {_heading(result)}`{decision.decision}`", ""]
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
    if result.expected is not None:
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
