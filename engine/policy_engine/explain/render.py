"""Render: decisions as text (terminal), JSON (tools) or Markdown (pull requests, golden files).

A renderer takes `Report`s: a `Decision` and, when it answers a scenario file, the scenario's
name, description and how the decision compares with its `expect`. Every renderer is a pure
function of its input, so the same policy and facts always give byte-identical output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from policy_engine.check.types import format_value
from policy_engine.core.diagnostics import Diagnostic, render_all
from policy_engine.core.records import record
from policy_engine.explain.decision import Decision
from policy_engine.explain.trace import (
    CheckTrace,
    ConstraintTrace,
    LookupTrace,
    RuleTrace,
    Trace,
)


@record
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


@record
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


@record
class InvalidScenario:
    """A scenario that could not be decided: it, its policy or its facts are invalid."""

    scenario: str
    diagnostics: tuple[Diagnostic, ...]


#: What a renderer takes: in order, each scenario's result, or why it has none.
Entry = Report | InvalidScenario

#: The JSON of `policy eval`; bump a version on any incompatible change (docs/cli.md).
EVAL_FORMAT = "policy-engine/eval"
EVAL_VERSION = 1
INVALID_FORMAT = "policy-engine/invalid"
INVALID_VERSION = 1

_OUTCOME_WORDS = {
    "decided": "decided",
    "agreed": "matched and agreed",
    "did not apply": "did not apply",
    "not reached": "not reached: an earlier rule decided (first match)",
    "overridden": "matched, but overridden",
    "not in effect": "not in effect",
    "added": "added",
    "matched": "matched",
    "stopped": "evaluation stopped here",
    "not tried": "not tried: evaluation stopped before it",
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


def condition_values(check: CheckTrace, skip_shown: bool = True) -> str:
    """The values a condition read, each once: a derived value is explained in its own
    section, and a value already written into the condition is not repeated."""
    return ", ".join(f"{name} = {_value(value)}" for name, value in check.values
                     if not (skip_shown and check.display.startswith(f"{name} = ")))


def _value(value: object) -> str:
    return "(missing)" if value is None else format_value(value)


def _result_word(result: bool | None) -> str:
    return {True: "holds", False: "fails", None: "unknown"}[result]


def _trace(decision: Decision) -> Trace:
    trace = decision.trace
    if trace is None:
        raise ValueError("only a decision made by Policy.evaluate has a trace to render")
    return trace


def _stopping(rule: RuleTrace) -> CheckTrace | None:
    """The condition that kept a rule from applying: the first false one, or the first that
    could not be computed."""
    if rule.checks and rule.checks[-1].result is not True and rule.status in (
            "did not apply", "stopped"):
        return rule.checks[-1]
    return None


def _needs(check: CheckTrace) -> str:
    """Why a rule did not apply, said positively: what it needs, and the values it found
    (`needs not in_time (in_time = yes)`, never `not in_time is false`)."""
    values = "; ".join(part for part in (condition_values(check, skip_shown=False), _lookups(check))
                       if part)
    found = f" ({values})" if values else ""
    if check.result is None:
        return f"needs {check.text}, which cannot be computed{found}"
    return f"needs {check.text}{found}"


def _refusal_title(decision: Decision) -> str:
    first = decision.refusal[0]
    title = f"{first.label} ({first.code})" if first.label else first.code
    more = f" and {len(decision.refusal) - 1} more" if len(decision.refusal) > 1 else ""
    return f"{title}{more}"


# ------------------------------------------------------------------ text


def render_text(results: Sequence[Entry]) -> str:
    """Renders results for a terminal; one block per scenario, separated by a blank line. A
    scenario that could not be decided has no block: its diagnostics go to standard error."""
    return "\n".join(_text_one(result) for result in results if isinstance(result, Report))


def _text_head(result: Report) -> list[str]:
    lines = [f"scenario: {result.scenario}"] if result.scenario is not None else []
    if result.description:
        lines.append(f"  {result.description}")
    return lines


def _text_one(result: Report) -> str:
    decision = result.decision
    trace = decision.trace
    if decision.refused:
        lines = _text_refusal(result, trace)
    else:
        lines = _text_decision(result, _trace(decision))
    if trace is not None:
        lines += _text_explanation(trace)
    if result.expected is not None:
        lines.append("")
        if result.met:
            lines.append("expect:   met" + (" (refusal expected)" if decision.refused else ""))
        else:
            lines.append("expect:   NOT MET")
            lines.extend(f"  {mismatch}" for mismatch in result.mismatches)
    return "\n".join(lines) + "\n"


def _text_refusal(result: Report, trace: Trace | None) -> list[str]:
    decision = result.decision
    policy = decision.policy
    lines = _text_head(result)
    if trace is not None:
        lines.append(f"policy:   {_policy_line(trace, policy.source.name)}")
        if trace.as_of is not None:
            lines.append(f"as of:    {format_value(trace.as_of)}")
    else:
        lines.append(f"policy:   {policy.name}{f' {policy.version}' if policy.version else ''} "
                     f"({policy.source.name})")
    lines += ["", f"refused:  {_refusal_title(decision)}: the policy does not decide on "
                  "these facts", render_all(decision.refusal)]
    if trace is None:
        return lines
    if trace.constraints:
        lines += ["", "broken constraints:"]
        for constraint in trace.constraints:
            lines.append(f"  {_constraint_text(constraint)}")
    if trace.rules:
        lines += ["", "rules:"]
        lines += [line for rule in trace.rules for line in _text_rule(rule, trace)]
    return lines


def _constraint_text(constraint: ConstraintTrace) -> str:
    label = f" [{constraint.label}]" if constraint.label else ""
    when = f" when {constraint.when}" if constraint.when else ""
    values = ", ".join(f"{name} = {_value(value)}" for name, value in constraint.values)
    found = f"   ({values})" if values else ""
    return f"{constraint.kind} {constraint.text}{when}{label}   [line {constraint.line}]{found}"


def _text_decision(result: Report, trace: Trace) -> list[str]:
    decision = result.decision
    lines = _text_head(result)
    lines.append(f"policy:   {_policy_line(trace, trace.policy.source.name)}")
    if trace.as_of is not None:
        lines.append(f"as of:    {format_value(trace.as_of)}")
    lines.append("")
    lines.append(f"decision: {decision.decision}")
    rule = trace.decided_by
    assert rule is not None
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
        lines += [line for other in others for line in _text_rule(other, trace)]
    return lines


def _text_explanation(trace: Trace) -> list[str]:
    """What a decision and a refusal both show: advisories, derived values, the closest
    rules and the facts."""
    lines: list[str] = []
    if trace.advisories:
        lines.append("")
        lines.append("advisories:")
        for advisory in trace.advisories:
            lines += _text_advisory(advisory, trace)
    if trace.derived:
        lines.append("")
        lines.append("derived values:")
        for derived in trace.derived:
            lookups = _lookup_text(derived.lookups)
            how = "; ".join(part for part in (derived.explanation, lookups) if part)
            if derived.value is None:
                lines.append(f"  {derived.name}: not computed: {derived.problem}   ({how})")
            else:
                lines.append(f"  {derived.name} = {format_value(derived.value)}   ({how})")
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
    return lines


def _text_check(check: CheckTrace) -> str:
    values = "; ".join(part for part in (condition_values(check), _lookups(check)) if part)
    suffix = f"   ({values})" if values else ""
    return f"  {_result_word(check.result):<6} {check.display}{suffix}   [line {check.line}]"


def _text_rule(rule: RuleTrace, trace: Trace) -> list[str]:
    """A rule that did not decide: its fate, and the condition that settled it."""
    head = f"  {rule.id} (line {rule.line}): {_outcome(rule, trace)}"
    stopping = _stopping(rule)
    if stopping is not None:
        return [f"{head}: {_needs(stopping)}"]
    if rule.status == "stopped" and rule.checks:
        return [f"{head}: its conditions hold, but its outputs cannot be computed",
                *("  " + _text_check(check) for check in rule.checks)]
    if rule.status == "matched":
        return [head, *("  " + _text_check(check) for check in rule.checks)]
    return [head]


def _text_advisory(advisory: RuleTrace, trace: Trace) -> list[str]:
    if advisory.status == "added":
        items = ", ".join(format_value(i) for i in advisory.adds)
        reason = f": {advisory.reason}" if advisory.reason else ""
        return [f"  {advisory.id} (line {advisory.line}): added {items} to "
                f"{advisory.decision}{reason}"]
    return _text_rule(advisory, trace)


# ------------------------------------------------------------------ JSON


def to_json(result: Report) -> dict[str, Any]:
    """The documented JSON result (`Decision.to_json`), with the scenario's name, description
    and how the decision compares with its `expect` (null when it has none)."""
    decision = result.decision.to_json()
    data: dict[str, Any] = {"format": decision.pop("format"),
                            "format_version": decision.pop("format_version"),
                            "scenario": result.scenario, "description": result.description}
    data.update(decision)
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


def invalid_json(entry: InvalidScenario) -> dict[str, Any]:
    """A scenario that could not be decided, as one JSON object."""
    return {"format": INVALID_FORMAT, "format_version": INVALID_VERSION,
            "scenario": entry.scenario,
            "diagnostics": [d.to_json() for d in entry.diagnostics]}


def summary_json(entries: Sequence[Entry]) -> dict[str, int]:
    """How many scenarios were decided, refused, invalid, and did not meet their `expect`."""
    reports = [e for e in entries if isinstance(e, Report)]
    return {
        "scenarios": len(entries),
        "decided": sum(1 for r in reports if not r.decision.refused),
        "refused": sum(1 for r in reports if r.decision.refused),
        "invalid": len(entries) - len(reports),
        "refused_unexpectedly": sum(1 for r in reports
                                    if r.decision.refused and r.expected is None),
        "expectations_not_met": sum(1 for r in reports if not r.met),
    }


def render_json(results: Sequence[Entry]) -> str:
    """`policy eval --format json`: one object of one shape, whatever the outcomes: every
    result (decisions and refusals), every scenario that could not be decided, and counts."""
    data = {
        "format": EVAL_FORMAT,
        "format_version": EVAL_VERSION,
        "results": [to_json(e) for e in results if isinstance(e, Report)],
        "invalid": [invalid_json(e) for e in results if isinstance(e, InvalidScenario)],
        "summary": summary_json(results),
    }
    import json  # `json` is imported when output is JSON: not by every `policy eval`
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def render_jsonl(results: Sequence[Entry]) -> str:
    """`policy eval --format jsonl`: one JSON object per line per scenario, in order: a result,
    or (format `policy-engine/invalid`) the diagnostics of a scenario that was not decided."""
    import json
    lines = [json.dumps(to_json(e) if isinstance(e, Report) else invalid_json(e),
                        ensure_ascii=False, separators=(",", ":")) for e in results]
    return "".join(line + "\n" for line in lines)


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
    """Text as a code span in a table cell: its fence is longer than any run of backticks
    inside it, and a `|` is escaped so that it stays in the cell (GitHub and CommonMark's
    table extension show `\\|` in a code span in a table as `|`)."""
    run = _longest_backtick_run(text)
    fence = "`" * (run + 1)
    pad = " " if run else ""
    return f"{fence}{pad}{text.replace('|', chr(92) + '|').replace(chr(10), ' ')}{pad}{fence}"


_code = markdown_code


def render_markdown(results: Sequence[Entry]) -> str:
    """Renders results for a pull request comment or a golden file; a scenario that could
    not be decided shows its diagnostics."""
    return "\n".join(_md_one(result) if isinstance(result, Report) else _md_invalid(result)
                     for result in results)


def _md_invalid(entry: InvalidScenario) -> str:
    out = [f"## {_md(entry.scenario)}: invalid", "",
           *markdown_fence(render_all(entry.diagnostics), "text")]
    return "\n".join(out) + "\n"


def _md_one(result: Report) -> str:
    decision = result.decision
    trace = decision.trace
    if decision.refused:
        out = _md_refusal(result, trace)
    else:
        out = _md_decision(result, _trace(decision))
    if trace is not None:
        out += _md_explanation(trace)
    return "\n".join(out).rstrip("\n") + "\n"


def _md_expectation(result: Report) -> str:
    if result.met:
        return "met" + (" (refusal expected)" if result.decision.refused else "")
    return "**not met**: " + "; ".join(_md(m) for m in result.mismatches)


def _md_refusal(result: Report, trace: Trace | None) -> list[str]:
    decision = result.decision
    out = [f"## {_heading(result)}refused: {_md(_refusal_title(decision))}", ""]
    if result.description:
        out += [f"> {_md(result.description)}", ""]
    policy = decision.policy
    shown = _policy_line(trace, policy.source.name) if trace is not None else (
        f"{policy.name} ({policy.source.name})")
    out += ["| | |", "|---|---|",
            f"| Policy | {_md(shown)} |"]
    if trace is not None and trace.as_of is not None:
        out.append(f"| As of | {format_value(trace.as_of)} |")
    out.append("| Decision | none: the policy refuses to decide on these facts |")
    if result.expected is not None:
        out.append(f"| Expectation | {_md_expectation(result)} |")
    out += ["", *markdown_fence(render_all(decision.refusal), "text")]
    if trace is None:
        return out
    if trace.constraints:
        out += ["", "### Broken constraints", "", "| Constraint | Line | Values |",
                "|---|---|---|"]
        for constraint in trace.constraints:
            label = f" `{_md(constraint.label)}`" if constraint.label else ""
            when = f" when {_code(constraint.when)}" if constraint.when else ""
            values = ", ".join(f"{name} = {_value(value)}" for name, value in constraint.values)
            out.append(f"| {constraint.kind} {_code(constraint.text)}{when}{label} | "
                       f"{constraint.line} | {_md(values)} |")
    if trace.rules:
        out += _md_rules("Rules", list(trace.rules), trace)
    return out


def _md_decision(result: Report, trace: Trace) -> list[str]:
    decision = result.decision
    rule = trace.decided_by
    assert rule is not None
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
        out.append(f"| Expectation | {_md_expectation(result)} |")
    if rule.checks:
        out += ["", "### Why it applies", "", "| | Condition | Values | Line |",
                "|---|---|---|---|"]
        out += [_md_check(check) for check in rule.checks]
    others = [r for r in trace.rules if r is not rule]
    if others:
        out += _md_rules("Other rules", others, trace)
    return out


def _md_rules(title: str, rules: list[RuleTrace], trace: Trace) -> list[str]:
    out = ["", f"### {title}", "", "| Rule | Line | Outcome | Detail |", "|---|---|---|---|"]
    for rule in rules:
        out.append(f"| `{rule.id}` | {rule.line} | {_md(_outcome(rule, trace))} | "
                   f"{_md_detail(rule)} |")
    return out


def _md_detail(rule: RuleTrace) -> str:
    stopping = _stopping(rule)
    if stopping is not None:
        values = "; ".join(part for part in (condition_values(stopping, skip_shown=False),
                                             _lookups(stopping)) if part)
        unknown = ", which cannot be computed" if stopping.result is None else ""
        return f"needs {_code(stopping.text)}{unknown}" + (f" ({_md(values)})" if values else "")
    if rule.status in ("matched", "stopped") and rule.checks:
        held = "; ".join(_code(check.display) for check in rule.checks)
        note = ": its outputs cannot be computed" if rule.status == "stopped" else ""
        return f"all hold{note}: {held}"
    return ""


def _md_explanation(trace: Trace) -> list[str]:
    out: list[str] = []
    if trace.advisories:
        out += ["", "### Advisories", "", "| Advisory | Line | Outcome | Detail |",
                "|---|---|---|---|"]
        for advisory in trace.advisories:
            if advisory.status == "added":
                items = ", ".join(_code(format_value(i)) for i in advisory.adds)
                detail = f"adds {items} to `{advisory.decision}`" + (
                    f": {_md(advisory.reason)}" if advisory.reason else "")
            else:
                detail = _md_detail(advisory)
            out.append(f"| `{advisory.id}` | {advisory.line} | "
                       f"{_md(_outcome(advisory, trace))} | {detail} |")
    if trace.derived:
        out += ["", "### Derived values", "", "| Name | Value | Computed from |", "|---|---|---|"]
        for derived in trace.derived:
            value = _md(f"not computed: {derived.problem}") if derived.value is None \
                else _code(format_value(derived.value))
            lookups = _lookup_text(derived.lookups)
            found = f"; {_md(lookups)}" if lookups else ""
            read = ", ".join(f"{name} = {_value(v)}" for name, v in derived.values)
            shown = _code(derived.shown) + (f"; {_md(read)}" if read else "")
            out.append(f"| `{derived.name}` | {value} | {shown}{found} |")
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
    return out


def _md_check(check: CheckTrace) -> str:
    mark = {True: "✅", False: "❌", None: "❔"}[check.result]
    values = "; ".join(part for part in (condition_values(check), _lookups(check)) if part)
    return f"| {mark} | {_code(check.display)} | {_md(values)} | {check.line} |"


RENDERERS = {"text": render_text, "json": render_json, "jsonl": render_jsonl,
             "markdown": render_markdown}
