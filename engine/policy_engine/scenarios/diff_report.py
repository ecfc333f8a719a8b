"""How `policy diff` shows a `PolicyDiff`: compact text, a pull-request comment, and JSON.

Each changed scenario is one line before → after and the first condition whose value changed;
the explanations behind it are shown as a diff of the two traces that ignores shifted line
numbers, so a reviewer sees only what really changed. The Markdown always fits a GitHub
comment (`MARKDOWN_LIMIT`): what does not fit is cut with a line that says how much was left
out and how to see it, and every changed scenario is named before any explanation is shown.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Sequence
from typing import Any

from policy_engine.core.diagnostics import Diagnostic, render_all
from policy_engine.explain.decision import check_json
from policy_engine.explain.render import (
    condition_values,
    markdown_code,
    markdown_fence,
    markdown_text,
    render_text,
    to_json,
)
from policy_engine.scenarios.diff import Change, Difference, Invalid, PolicyDiff, Side, Version

#: The JSON of `policy diff` (schema in policy_engine/schemas/diff.schema.json).
DIFF_FORMAT = "policy-engine/diff"
DIFF_FORMAT_VERSION = 1

#: GitHub refuses a comment body over 65,536 characters; this leaves room for a header that
#: a CI job adds.
MARKDOWN_LIMIT = 60_000

_LINE_NUMBER = re.compile(r"\b(line \d+|\[line \d+\])")


def _count(diff: PolicyDiff) -> str:
    counts = (f"{diff.read} scenarios read, {diff.compared} compared, {len(diff.changes)} changed "
              f"({diff.new_decisions} with a new decision)")
    if diff.invalid:
        counts += f", {len(diff.invalid)} invalid"
    return (f"{counts}; refused: {diff.refused_before} before, {diff.refused_after} after; "
            f"{len(diff.rules)} rules or declarations added, removed or changed")


def _header_changes(diff: PolicyDiff) -> list[tuple[str, str | None, str | None]]:
    old, new = diff.old, diff.new
    return [(name, before, after) for name, before, after in
            (("name", old.name, new.name), ("title", old.title, new.title),
             ("version", old.version, new.version)) if before != after]


def _condition(check: Any) -> str:
    values = condition_values(check)
    return f"{check.display}" + (f" ({values})" if values else "")


def _word(result: bool | None) -> str:
    return {True: "holds", False: "fails", None: "unknown"}[result]


def difference_text(first: Difference) -> str:
    """`RULE (line N): fails COND (values) -> holds COND (values)`."""
    return (f"{first.rule} (line {first.line}): {_word(first.before.result)}  "
            f"{_condition(first.before)}  ->  {_word(first.after.result)}  "
            f"{_condition(first.after)}")


def _trace_text(side: Side) -> list[str]:
    if side.result is None:
        return render_all(side.problems).splitlines()
    return render_text([side.result.report()]).splitlines()


def _same(line: str) -> str:
    """A trace line as compared: without line numbers, and the `policy:` line (which names
    the version, shown once at the top) always equal."""
    return "policy:" if line.startswith("policy:   ") else _LINE_NUMBER.sub("line", line)


def trace_diff(change: Change) -> list[str]:
    """The two explanations as a unified diff with one line of context, where a line that
    differs only in its line numbers (the policy grew or shrank above it) counts as the same
    line and is shown as it is in the new version."""
    before, after = _trace_text(change.old), _trace_text(change.new)
    matcher = difflib.SequenceMatcher(None, [_same(line) for line in before],
                                      [_same(line) for line in after], autojunk=False)
    out: list[str] = []
    for group in matcher.get_grouped_opcodes(1):
        first, last = group[0], group[-1]
        out.append(f"@@ -{first[1] + 1},{last[2] - first[1]} +{first[3] + 1},"
                   f"{last[4] - first[3]} @@")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [" " + line for line in after[j1:j2]]
                continue
            out += ["-" + line for line in before[i1:i2]]
            out += ["+" + line for line in after[j1:j2]]
    return out


# ---------------------------------------------------------------- text


def render_diff_text(diff: PolicyDiff, *, traces: bool = False) -> str:
    """The terminal's view: counts, changed rules, one entry per changed scenario (with
    `traces`, the diff of its two explanations), the invalid and skipped scenarios."""
    lines = [f"policy diff: {diff.old.file} -> {diff.new.file}"]
    lines += [f"policy {name}: {before} -> {after}"
              for name, before, after in _header_changes(diff)]
    lines += [_count(diff), ""]
    if diff.rules:
        lines.append("rules:")
        for rule in diff.rules:
            where = f"line {rule.new_line}" if rule.new_line else f"was line {rule.old_line}"
            lines.append(f"  {rule.status:<8} {rule.id} ({where})")
        lines.append("")
    for change in diff.changes:
        lines.append(f"changed: {change.scenario} ({', '.join(change.what)})")
        if change.description:
            lines.append(f"  {change.description}")
        lines.append(f"  before: {change.old.summary()}")
        lines.append(f"  after:  {change.new.summary()}")
        if change.first is not None:
            lines.append(f"  first difference: {difference_text(change.first)}")
        if traces:
            lines += ["  " + line for line in trace_diff(change)]
        lines.append("")
    for invalid in diff.invalid:  # the diagnostics themselves are on standard error
        lines.append(f"invalid: {invalid.scenario} ({_invalid_where(invalid)})")
    if diff.invalid:
        lines.append("")
    if diff.skipped:
        lines.append(f"skipped: {len(diff.skipped)} scenarios that name another policy")
        lines += [f"  {path}" for path in diff.skipped]
    return "\n".join(lines).rstrip("\n") + "\n"


def _invalid_where(invalid: Invalid) -> str:
    codes = {side: ", ".join(dict.fromkeys(d.code for d in problems))
             for side, problems in (("old", invalid.old), ("new", invalid.new)) if problems}
    if len(codes) == 2 and codes["old"] == codes["new"]:
        return f"{codes['old']} under both versions"
    return "; ".join(f"{code} under the {side} version" for side, code in codes.items())


def invalid_diagnostics(invalid: Invalid) -> tuple[Diagnostic, ...]:
    """What to report on standard error: each problem once, though both versions found it."""
    return tuple(dict.fromkeys((*invalid.old, *invalid.new)))


# ---------------------------------------------------------------- Markdown


def _summary_cell(side: Side) -> str:
    return markdown_text(side.summary())


def _difference_cell(first: Difference | None) -> str:
    if first is None:
        return ""
    return (f"{markdown_code(first.rule)} line {first.line}: "
            f"{markdown_code(_condition(first.before))} {_word(first.before.result)} → "
            f"{markdown_code(_condition(first.after))} {_word(first.after.result)}")


def _invalid_cell(problems: tuple[Diagnostic, ...]) -> str:
    return markdown_text("; ".join(f"{d.code}: {d.message}" for d in problems)) or "ok"


class _Budget:
    """Adds blocks of lines while they fit in `limit` characters, keeping room for the lines
    that say what was cut."""

    def __init__(self, limit: int) -> None:
        self.lines: list[str] = []
        self.left = limit - 1_000  # room for the cut lines and a closing newline

    def add(self, block: Sequence[str]) -> bool:
        size = sum(len(line) + 1 for line in block)
        if size > self.left:
            return False
        self.lines += block
        self.left -= size
        return True

    def force(self, block: Sequence[str]) -> None:
        self.lines += block
        self.left -= sum(len(line) + 1 for line in block)


def render_diff_markdown(diff: PolicyDiff, *, limit: int = MARKDOWN_LIMIT) -> str:
    """A pull-request comment under `limit` characters: the counts, the policy's title and
    version changes, changed rules, one row per changed scenario (before, after, first
    difference), the invalid scenarios, then the trace diffs folded in `<details>`."""
    out = _Budget(limit)
    out.force([f"### Policy diff: {markdown_code(diff.old.file)} → "
               f"{markdown_code(diff.new.file)}", "", f"**{markdown_text(_count(diff))}.**", ""])
    header = _header_changes(diff)
    if header:
        out.force(["| Policy | Before | After |", "|---|---|---|"]
                  + [f"| {name} | {markdown_text(str(before))} | {markdown_text(str(after))} |"
                     for name, before, after in header] + [""])
    _table(out, "Rule | Change | Line", [
        f"| {markdown_code(rule.id)} | {rule.status} | "
        f"{rule.new_line if rule.new_line else f'was {rule.old_line}'} |"
        for rule in diff.rules], "rule changes", "policy diff")
    _table(out, "Scenario | Before | After | First difference", [
        f"| {markdown_code(change.scenario)} | {_summary_cell(change.old)} | "
        f"{_summary_cell(change.new)} | {_difference_cell(change.first)} |"
        for change in diff.changes], "changed scenarios", "policy diff")
    _table(out, "Invalid scenario | Under the old version | Under the new version", [
        f"| {markdown_code(invalid.scenario)} | {_invalid_cell(invalid.old)} | "
        f"{_invalid_cell(invalid.new)} |" for invalid in diff.invalid],
        "invalid scenarios", "policy diff")
    if not diff.changes and not diff.invalid:
        out.force(["No scenario changes its decision, rule, outputs, reason or citation.", ""])
    _details(out, diff.changes)
    if diff.skipped:
        out.force([f"{len(diff.skipped)} scenarios beside the policy name another policy and "
                   "were skipped.", ""])
    return "\n".join(out.lines).rstrip("\n") + "\n"


def _table(out: _Budget, columns: str, rows: list[str], what: str, command: str) -> None:
    if not rows:
        return
    out.force([f"| {columns} |", "|" + "---|" * (columns.count("|") + 1)])
    shown = 0
    for row in rows:
        if not out.add([row]):
            break
        shown += 1
    out.force([""])
    if shown < len(rows):
        out.force([f"**{len(rows) - shown} more {what}: run `{command}` locally.**", ""])


def _details(out: _Budget, changes: Sequence[Change]) -> None:
    for position, change in enumerate(changes):
        block = [f"<details><summary><code>{html.escape(change.scenario)}</code>: "
                 f"{', '.join(change.what)} changed</summary>", "",
                 *markdown_fence("\n".join(trace_diff(change)), "diff"), "", "</details>", ""]
        if not out.add(block):
            out.force([f"The explanations of {len(changes) - position} more changed scenarios "
                       "are left out to keep this comment short: run `policy diff --traces` "
                       "locally.", ""])
            return


# ---------------------------------------------------------------- JSON


def _version_json(version: Version) -> dict[str, Any]:
    return {"file": version.file, "name": version.name, "title": version.title,
            "version": version.version}


def _side_json(side: Side) -> dict[str, Any]:
    assert side.result is not None
    return to_json(side.result.report())


def _first_json(first: Difference | None) -> dict[str, Any] | None:
    if first is None:
        return None
    return {"rule": first.rule, "line": first.line, "before": check_json(first.before),
            "after": check_json(first.after)}


def _invalid_json(invalid: Invalid) -> dict[str, Any]:
    return {"scenario": invalid.scenario, "old": [d.to_json() for d in invalid.old],
            "new": [d.to_json() for d in invalid.new]}


def diff_json(diff: PolicyDiff) -> dict[str, Any]:
    """The documented JSON of `policy diff` (docs/cli.md)."""
    return {
        "format": DIFF_FORMAT, "format_version": DIFF_FORMAT_VERSION,
        "old": _version_json(diff.old), "new": _version_json(diff.new),
        "summary": {"read": diff.read, "compared": diff.compared,
                    "changed": len(diff.changes), "new_decisions": diff.new_decisions,
                    "refused_before": diff.refused_before, "refused_after": diff.refused_after,
                    "invalid": len(diff.invalid), "skipped": len(diff.skipped),
                    "rules_changed": len(diff.rules)},
        "rules": [{"rule": r.id, "status": r.status, "old_line": r.old_line,
                   "new_line": r.new_line} for r in diff.rules],
        "changes": [{"scenario": c.scenario, "description": c.description,
                     "what": list(c.what), "before": _side_json(c.old),
                     "after": _side_json(c.new), "first_difference": _first_json(c.first)}
                    for c in diff.changes],
        "invalid": [_invalid_json(invalid) for invalid in diff.invalid],
        "skipped": list(diff.skipped),
    }
