"""Diff: what a policy change does, scenario by scenario and rule by rule.

Both versions of a policy decide the same scenarios; every scenario whose decision, deciding
rule, outputs, reason, citation or refusal changes is a change, with the first condition whose
value changed. Rules and declarations added, removed or changed are listed, and so are changes
of the policy's title and version. A diff is a gate for CI, so it never passes on nothing: a
scenario that cannot be read or decided under either version is `invalid` (never "unchanged"),
and the caller fails on it. A version is a file, or a git revision and path such as
`main:policies/x.policy`. Rendering is in `scenarios.diff_report`.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from policy_engine.check.types import format_value
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.files import SCENARIO_SUFFIXES, Confinement, display_path, find_files
from policy_engine.explain.trace import CheckTrace, RuleTrace, Trace
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


#: Refusal codes that say the input, not the policy, is wrong: a scenario with these under
#: a version was not decided by it, so it is invalid rather than refused.
_INVALID_CODES = frozenset({"E301", "E302", "E303", "E304", "E305", "E306", "E307", "E310",
                            "E312", "E313"})


@dataclass(frozen=True)
class Side:
    """One scenario under one policy version: a decision, a refusal, or invalid.

    Args:
        expected_error: the scenario's `expect: error:`, if any: a scenario of bad facts that
            says so is a test of the checks on the facts, and its refusal is an answer.
    """

    result: ScenarioResult | None
    problems: tuple[Diagnostic, ...] = ()
    expected_error: str | None = None

    @property
    def invalid(self) -> bool:
        """The scenario could not be read, or its facts do not fit this version (and it does
        not expect that)."""
        if self.result is None:
            return True
        refusal = self.result.decision.refusal
        expected = self.expected_error
        return any(d.code in _INVALID_CODES for d in refusal) and not (
            expected is not None and any(expected in (d.code, d.label) for d in refusal))

    @property
    def diagnostics(self) -> tuple[Diagnostic, ...]:
        if self.result is None:
            return self.problems
        return tuple(self.result.decision.refusal)

    @property
    def refused(self) -> bool:
        return self.result is not None and self.result.decision.refused and not self.invalid

    @property
    def trace(self) -> Trace | None:
        return None if self.result is None else self.result.decision.trace

    def summary(self) -> str:
        """One line: `decision by rule (outputs)`, `refused: LABEL`, or `invalid: CODES`."""
        if self.invalid:
            return "invalid: " + ", ".join(dict.fromkeys(d.code for d in self.diagnostics))
        assert self.result is not None
        decision = self.result.decision
        if decision.refused:
            return "refused: " + ", ".join(d.label or d.code for d in decision.refusal)
        outputs = ", ".join(f"{k} = {format_value(v)}" for k, v in decision.outputs.items())
        return f"{decision.decision} by {decision.rule}" + (f" ({outputs})" if outputs else "")


@dataclass(frozen=True)
class Difference:
    """The first condition whose value changed: in rule order of the new version, the first
    part of a condition that both versions evaluated and that reads or holds differently."""

    rule: str
    line: int
    before: CheckTrace
    after: CheckTrace


@dataclass(frozen=True)
class Change:
    """A scenario whose answer changed; `what` lists 'decision', 'rule', 'outputs', 'reason',
    'citation', 'refusal' (refused by one version, or for another reason)."""

    scenario: str
    description: str | None
    old: Side
    new: Side
    what: tuple[str, ...]
    first: Difference | None


@dataclass(frozen=True)
class RuleChange:
    id: str
    status: str  # 'added', 'removed', 'changed'
    old_line: int | None
    new_line: int | None


@dataclass(frozen=True)
class Invalid:
    """A scenario that cannot be compared: it could not be read, or one version could not
    decide it because its facts do not fit (`old` or `new` holds why)."""

    scenario: str
    old: tuple[Diagnostic, ...]
    new: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class Version:
    file: str
    name: str
    title: str | None
    version: str | None


@dataclass(frozen=True)
class PolicyDiff:
    """Everything `policy diff` reports.

    Args:
        read: the scenario files found.
        skipped: scenario files found beside NEW that name neither version as their policy.
    """

    old: Version
    new: Version
    read: int
    changes: tuple[Change, ...]
    rules: tuple[RuleChange, ...]
    invalid: tuple[Invalid, ...]
    refused_before: int
    refused_after: int
    skipped: tuple[str, ...] = ()

    @property
    def compared(self) -> int:
        return self.read - len(self.invalid)

    @property
    def new_decisions(self) -> int:
        return sum(1 for change in self.changes if "decision" in change.what)


def _side(path: str, policy: Policy, confinement: Confinement, named: bool) -> Side:
    try:
        expect = load_scenario(path).expect
        return Side(run_scenario(path, policy=policy, ignore_expect=True,
                                 confinement=confinement, named=named),
                    expected_error=expect.error if expect else None)
    except DiagnosticError as error:
        return Side(None, error.diagnostics)


def _what(old: Side, new: Side) -> tuple[str, ...]:
    assert old.result is not None and new.result is not None
    a, b = old.result.decision, new.result.decision
    if a.refused or b.refused:
        return ("refusal",) if old.summary() != new.summary() else ()
    pairs = (("decision", a.decision, b.decision), ("rule", a.rule, b.rule),
             ("outputs", a.outputs, b.outputs), ("reason", a.reason, b.reason),
             ("citation", a.citation, b.citation))
    return tuple(name for name, before, after in pairs if before != after)


def _checks(rule: RuleTrace) -> tuple[CheckTrace, ...]:
    return rule.checks if rule.status not in ("not reached", "not in effect", "not tried") \
        else ()


def first_difference(old: Trace | None, new: Trace | None) -> Difference | None:
    """The first part of a condition, in the new version's rule order, that both versions
    evaluated and that reads or holds differently; None when no evaluated part differs (the
    change is then in which rules were reached, or in a table or a derived value)."""
    if old is None or new is None:
        return None
    before_rules: dict[tuple[str, str], list[RuleTrace]] = {}
    for rule in (*old.rules, *old.advisories):
        before_rules.setdefault((rule.kind, rule.id), []).append(rule)
    seen: dict[tuple[str, str], int] = {}
    for rule in (*new.rules, *new.advisories):
        key = (rule.kind, rule.id)
        index = seen.get(key, 0)
        seen[key] = index + 1
        versions = before_rules.get(key, [])
        if index >= len(versions):
            continue
        for before, after in zip(_checks(versions[index]), _checks(rule), strict=False):
            if before.result != after.result or before.display != after.display \
                    or before.values != after.values:
                return Difference(rule.id, rule.line, before, after)
    return None


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
    for decision in checked.decisions:
        add(f"decision {decision.name}", decision.span)
    for output in checked.outputs:
        add(f"output {output.name}", output.span)
    for position, require in enumerate(checked.requires):
        add(f"require {', '.join(require.facts)} #{position + 1}", require.span)
    for ensure in checked.ensures:
        add(f"ensure {ensure.text}", ensure.span)
    return texts


def _rule_changes(old: Policy, new: Policy) -> tuple[RuleChange, ...]:
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
    return tuple(rules)


def _version(policy: Policy) -> Version:
    checked = policy.checked
    return Version(checked.source.name, checked.name, checked.title, checked.version)


def discover(paths: Sequence[str], versions: Sequence[str]) -> tuple[list[str], list[str]]:
    """The scenarios beside a policy that belong to it: (chosen, skipped).

    A folder beside a policy may hold scenarios of several policies, so a scenario found there
    is chosen when its `policy:` names one of `versions` (the files of OLD and NEW that exist
    here), or names no policy; a scenario that cannot be read is chosen too, so that it is
    reported as invalid, never passed over.
    """
    wanted = {os.path.realpath(path) for path in versions}
    chosen, skipped = [], []
    for path in find_files(paths, SCENARIO_SUFFIXES):
        try:
            named = load_scenario(path).policy
        except DiagnosticError:
            chosen.append(path)
            continue
        if named is None or os.path.realpath(named) in wanted:
            chosen.append(path)
        else:
            skipped.append(path)
    return chosen, skipped


def diff_policies(old: Policy, new: Policy, scenario_paths: Sequence[str],
                  belonging_to: Sequence[str] | None = None, *,
                  allow_outside: bool = False) -> PolicyDiff:
    """Decides every scenario under both versions and compares them, and their rules.

    Args:
        scenario_paths: scenario files and folders (every `.yaml`/`.yml` file under a folder).
        belonging_to: when the scenarios are the folder beside NEW rather than paths the user
            named, the policy files whose scenarios count (see `discover`); None takes every
            scenario found, decided against both versions whatever its own `policy:` says.
        allow_outside: read scenarios outside the repository and the folders given.
    """
    confinement = Confinement.here(list(scenario_paths), allow_outside=allow_outside)
    if belonging_to is None:
        files, skipped = find_files(scenario_paths, SCENARIO_SUFFIXES), list[str]()
    else:
        files, skipped = discover(scenario_paths, belonging_to)
    changes, invalid = [], []
    refused_before = refused_after = 0
    for path in files:
        named = path in scenario_paths
        before = _side(path, old, confinement, named)
        after = _side(path, new, confinement, named)
        shown = display_path(path)
        if before.invalid or after.invalid:
            invalid.append(Invalid(shown, before.diagnostics if before.invalid else (),
                                   after.diagnostics if after.invalid else ()))
            continue
        refused_before += before.refused
        refused_after += after.refused
        what = _what(before, after)
        if what:
            assert after.result is not None
            changes.append(Change(shown, after.result.description, before, after, what,
                                  first_difference(before.trace, after.trace)))
    return PolicyDiff(_version(old), _version(new), len(files), tuple(changes),
                      _rule_changes(old, new), tuple(invalid), refused_before, refused_after,
                      tuple(display_path(path) for path in skipped))


def default_scenarios(new_path: str) -> str:
    """The `scenarios` folder beside the policy file."""
    path = new_path.partition(":")[2] if not os.path.exists(new_path) and ":" in new_path \
        else new_path
    return os.path.join(os.path.dirname(path) or ".", "scenarios")
