"""Diff: what a policy change does, scenario by scenario and rule by rule.

Both versions of a policy evaluate the same scenarios; every scenario whose decision, deciding
rule or outputs change is reported with both traces, and rules added, removed or changed are
listed. A version is a file, or a git revision and path such as `main:policies/x.policy`.
"""

from __future__ import annotations

import html
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from policy_engine.check.types import format_value
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, render_all
from policy_engine.core.files import SCENARIO_SUFFIXES, Confinement, display_path, find_files
from policy_engine.explain.render import (
    markdown_code,
    markdown_text,
    render_markdown,
    render_text,
    to_json,
)
from policy_engine.policy import MAX_POLICY_BYTES, Policy
from policy_engine.scenarios.runner import ScenarioResult, run_scenario
from policy_engine.scenarios.scenario_file import load_scenario


def load_version(spec: str, *, check_file: Callable[[str], None] | None = None) -> Policy:
    """Loads a policy from a path, or from `REVISION:PATH` in the current git repository.

    A spec is a revision only when git knows the revision (asked with `git rev-parse`, never
    guessed from the text), and a file only when it exists; when both hold, it is refused
    (E311), since a folder named like a revision must never stand in for it. Nothing in a
    spec ever reaches git as an option (`--end-of-options`).

    Args:
        check_file: called with the path before a file is read (the CLI checks it is a policy
            file and not a link out of the repository).

    Raises:
        DiagnosticError: the file or revision cannot be read, is ambiguous, or the policy is
            invalid.
    """
    revision, separator, path = spec.partition(":")
    is_revision = bool(separator and revision and path) and _git_knows(revision)
    is_file = os.path.lexists(spec)
    if is_revision and is_file:
        raise DiagnosticError([Diagnostic(
            "E311", f"'{spec}' is both a file and the git revision {revision} with the path "
                    f"{path}", file=spec,
            help=f"write ./{spec} for the file; for the revision, rename the file, or name "
                 "the revision another way (its commit hash, or refs/heads/NAME)")])
    if not is_revision:
        if not is_file and separator and revision and path:
            raise DiagnosticError([Diagnostic(
                "E311", f"'{spec}' is neither a file nor a revision git knows", file=spec,
                help="write REVISION:PATH with a revision of this repository, or the path of "
                     "a policy file")])
        if check_file is not None:
            check_file(spec)
        return Policy.load(spec)
    shown = _git("show", f"{revision}:{path}", spec=spec)
    if shown.returncode != 0:
        reason = shown.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DiagnosticError([Diagnostic(
            "E301", f"git cannot show it: {reason[-1] if reason else 'unknown error'}",
            file=spec, help="write REVISION:PATH with the path from the repository root")])
    if len(shown.stdout) > MAX_POLICY_BYTES:
        raise DiagnosticError([Diagnostic("E307", "the policy is too large", file=spec)])
    try:
        text = shown.stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise DiagnosticError([Diagnostic("E301", "not UTF-8 text", file=spec)]) from None
    return Policy.from_text(text, spec)


def _git(command: str, argument: str, *, spec: str) -> subprocess.CompletedProcess[bytes]:
    """Runs `git COMMAND --end-of-options ARGUMENT`: the argument can never be an option."""
    try:
        return subprocess.run(["git", command, "--end-of-options", argument],
                              capture_output=True, check=False, timeout=60,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DiagnosticError([Diagnostic("E301", f"cannot run git: {error}", file=spec)]) \
            from None


def _git_knows(revision: str) -> bool:
    """Whether git names a commit `revision` in the current repository."""
    try:
        found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", "--end-of-options",
                                f"{revision}^{{commit}}"], capture_output=True, check=False,
                               timeout=60, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return found.returncode == 0


@dataclass(frozen=True)
class Side:
    """One scenario under one policy version: a decision, a refusal, or an error."""

    result: ScenarioResult | None
    problems: tuple[Diagnostic, ...] = ()

    def summary(self) -> str:
        if self.result is None:
            return "error: " + ", ".join(d.code for d in self.problems)
        if self.result.decision.refused:
            return "refused: " + ", ".join(d.label or d.code
                                           for d in self.result.decision.refusal)
        decision = self.result.decision
        outputs = ", ".join(f"{k} = {format_value(v)}" for k, v in decision.outputs.items())
        return f"{decision.decision} by {decision.rule}" + (f" ({outputs})" if outputs else "")


@dataclass(frozen=True)
class Change:
    scenario: str
    description: str | None
    old: Side
    new: Side
    what: tuple[str, ...]  # 'decision', 'rule', 'outputs', 'refusal', 'error'


@dataclass(frozen=True)
class RuleChange:
    id: str
    status: str  # 'added', 'removed', 'changed'
    old_line: int | None
    new_line: int | None


@dataclass(frozen=True)
class PolicyDiff:
    old_name: str
    new_name: str
    scenarios: int
    changes: tuple[Change, ...]
    rules: tuple[RuleChange, ...]


def _side(path: str, policy: Policy, confinement: Confinement, named: bool) -> Side:
    try:
        return Side(run_scenario(path, policy=policy, ignore_expect=True,
                                 confinement=confinement, named=named))
    except DiagnosticError as error:
        return Side(None, error.diagnostics)


def _what(old: Side, new: Side) -> tuple[str, ...]:
    if old.result is None or new.result is None:
        return ("error",) if old.summary() != new.summary() else ()
    a, b = old.result.decision, new.result.decision
    if a.refused or b.refused:
        return ("refusal",) if old.summary() != new.summary() else ()
    what = []
    if a.decision != b.decision:
        what.append("decision")
    if a.rule != b.rule:
        what.append("rule")
    if a.outputs != b.outputs:
        what.append("outputs")
    return tuple(what)


def _rule_texts(policy: Policy) -> dict[str, tuple[int, str]]:
    """Every rule and declaration by a readable key, with its line and its text."""
    checked = policy.checked
    source = checked.source
    texts: dict[str, tuple[int, str]] = {}

    def add(key: str, span: object) -> None:
        start = getattr(span, "start", 0)
        texts[key] = (source.line_col(start)[0], " ".join(source.snippet(span).split()))  # type: ignore[arg-type]

    for unit in checked.units():
        key = unit.id if unit.kind == "rule" else f"{unit.kind} {unit.id}"
        if unit.kind == "otherwise":
            key = "otherwise"
        if unit.effective is not None:
            key += f" ({unit.effective.describe()})"
        add(key, unit.span)
    for define in checked.defines:
        add(f"define {define.name}", define.span)
    for table in checked.tables:
        add(f"table {table.name}", table.span)
    for fact in checked.facts:
        add(f"fact {fact.name}", fact.span)
    for position, require in enumerate(checked.requires):
        add(f"require {', '.join(require.facts)} #{position + 1}", require.span)
    for ensure in checked.ensures:
        add(f"ensure {ensure.text}", ensure.span)
    return texts


def scenarios_of(paths: list[str], policy_file: str) -> list[str]:
    """The scenario files under `paths` whose own `policy:` is `policy_file`."""
    wanted = os.path.realpath(policy_file)
    chosen = []
    for path in find_files(paths, SCENARIO_SUFFIXES):
        try:
            named = load_scenario(path).policy
        except DiagnosticError:
            chosen.append(path)  # reported under both versions
            continue
        if named is not None and os.path.realpath(named) == wanted:
            chosen.append(path)
    return chosen


def diff_policies(old: Policy, new: Policy, scenario_paths: list[str],
                  only_for: str | None = None, *, allow_outside: bool = False) -> PolicyDiff:
    """Evaluates every scenario under both versions and compares rules.

    Args:
        only_for: keep only the scenarios whose `policy:` names this file (used when the
            scenarios come from the folder beside the policy, which may serve several).
        allow_outside: read scenarios outside the repository and the folders given.
    """
    changes = []
    confinement = Confinement.here(scenario_paths, allow_outside=allow_outside)
    files = (scenarios_of(scenario_paths, only_for) if only_for
             else find_files(scenario_paths, SCENARIO_SUFFIXES))
    for path in files:
        named = path in scenario_paths
        before = _side(path, old, confinement, named)
        after = _side(path, new, confinement, named)
        what = _what(before, after)
        if what:
            result = after.result or before.result
            changes.append(Change(display_path(path), result.description if result else None,
                                  before, after, what))
    old_rules, new_rules = _rule_texts(old), _rule_texts(new)
    rules = []
    for key in sorted(old_rules.keys() | new_rules.keys(),
                      key=lambda k: (new_rules.get(k, old_rules.get(k, (0, "")))[0], k)):
        if key not in new_rules:
            rules.append(RuleChange(key, "removed", old_rules[key][0], None))
        elif key not in old_rules:
            rules.append(RuleChange(key, "added", None, new_rules[key][0]))
        elif old_rules[key][1] != new_rules[key][1]:
            rules.append(RuleChange(key, "changed", old_rules[key][0], new_rules[key][0]))
    return PolicyDiff(old.checked.source.name, new.checked.source.name, len(files),
                      tuple(changes), tuple(rules))


def default_scenarios(new_path: str) -> str:
    """The `scenarios` folder beside the policy file."""
    path = new_path.partition(":")[2] if not os.path.exists(new_path) and ":" in new_path \
        else new_path
    return os.path.join(os.path.dirname(path) or ".", "scenarios")


# ---------------------------------------------------------------- rendering


def _count(diff: PolicyDiff) -> str:
    decisions = sum(1 for c in diff.changes if "decision" in c.what)
    return (f"{diff.scenarios} scenarios, {len(diff.changes)} changed ({decisions} with a new "
            f"decision); {len(diff.rules)} rules or declarations added, removed or changed")


def _trace(side: Side, markdown: bool) -> str:
    if side.result is None:
        return render_all(side.problems)
    report = [side.result.report()]
    return render_markdown(report) if markdown else render_text(report)


def render_diff_text(diff: PolicyDiff) -> str:
    lines = [f"policy diff: {diff.old_name} -> {diff.new_name}", _count(diff), ""]
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
        lines.append("")
        lines.append("  --- trace before ---")
        lines += ["  " + line for line in _trace(change.old, False).splitlines()]
        lines.append("  --- trace after ---")
        lines += ["  " + line for line in _trace(change.new, False).splitlines()]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


_cell = markdown_text


def render_diff_markdown(diff: PolicyDiff) -> str:
    """A pull-request comment: a summary table, then both traces of each change, folded."""
    out = [f"### Policy diff: `{diff.old_name}` → `{diff.new_name}`", "", _count(diff) + ".", ""]
    if diff.rules:
        out += ["| Rule | Change | Line |", "|---|---|---|"]
        for rule in diff.rules:
            line = rule.new_line if rule.new_line else f"was {rule.old_line}"
            out.append(f"| `{rule.id}` | {rule.status} | {line} |")
        out.append("")
    if diff.changes:
        out += ["| Scenario | Before | After |", "|---|---|---|"]
        for change in diff.changes:
            out.append(f"| {markdown_code(change.scenario)} | {_cell(change.old.summary())} | "
                       f"{_cell(change.new.summary())} |")
        out.append("")
        for change in diff.changes:
            out += [f"<details><summary><code>{html.escape(change.scenario)}</code>: "
                    f"{', '.join(change.what)} changed</summary>", "",
                    "<table><tr><th>Before</th><th>After</th></tr><tr><td>", "",
                    _trace(change.old, True), "</td><td>", "", _trace(change.new, True),
                    "</td></tr></table>", "", "</details>", ""]
    else:
        out.append("No scenario changes its decision, rule or outputs.")
    return "\n".join(out).rstrip("\n") + "\n"


def diff_json(diff: PolicyDiff) -> dict[str, object]:
    def side(s: Side) -> object:
        if s.result is None:
            return {"errors": [d.to_json() for d in s.problems]}
        return to_json(s.result.report())

    return {
        "old": diff.old_name, "new": diff.new_name, "scenarios": diff.scenarios,
        "rules": [{"rule": r.id, "status": r.status, "old_line": r.old_line,
                   "new_line": r.new_line} for r in diff.rules],
        "changes": [{"scenario": c.scenario, "what": list(c.what), "before": side(c.old),
                     "after": side(c.new)} for c in diff.changes],
    }

