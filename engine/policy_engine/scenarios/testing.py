"""Testing: runs every scenario under some paths, like pytest, and measures rule coverage.

Coverage is read off the explanation traces, so it counts exactly what evaluation did: how
often each rule decided and was evaluated, whether each condition was seen both true and
false, and which table rows were used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from xml.etree import ElementTree

from policy_engine.check.checked import CheckedPolicy
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, render_all
from policy_engine.core.files import SCENARIO_SUFFIXES, Confinement, find_files
from policy_engine.explain.trace import CheckTrace, LookupTrace
from policy_engine.policy import Engine
from policy_engine.scenarios.runner import PolicyCache, ScenarioResult, run_scenario
from policy_engine.scenarios.snapshots import SnapshotOutcome, Snapshots, settle

#: Evaluated means the rule's condition was looked at (it may have failed).
_EVALUATED = {"decided", "agreed", "did not apply", "overridden", "added", "matched", "stopped"}
_DECIDED = {"decided", "added"}


@dataclass
class Outcome:
    """One scenario: passed, failed (its `expect` or its snapshot not met), refused (the
    policy refused and the scenario has no `expect` saying it would) or error (could not
    run: the scenario, its policy or its facts are invalid)."""

    path: str
    status: str
    result: ScenarioResult | None = None
    diagnostics: tuple[Diagnostic, ...] = ()
    snapshot: SnapshotOutcome | None = None

    @property
    def mismatches(self) -> tuple[str, ...]:
        """Every way the scenario failed: its `expect`, then its snapshot."""
        found = self.result.mismatches if self.result is not None else ()
        if self.snapshot is not None and self.snapshot.failed:
            found += (self.snapshot.mismatch(),)
        return found


#: The statuses of `Outcome`, in the order summaries count them.
STATUSES = ("passed", "failed", "refused", "error")


@dataclass
class RuleCoverage:
    id: str
    kind: str
    line: int
    decided: int = 0
    evaluated: int = 0
    # per conjunct: [text, line, seen true, seen false]
    conditions: list[list[object]] = field(default_factory=list)


@dataclass
class PolicyCoverage:
    """What the scenarios exercised in one policy."""

    name: str
    file: str
    rules: list[RuleCoverage]
    rows: dict[tuple[str, str], tuple[int, int]]  # (table, row label) -> (line, times used)

    @property
    def decided_percent(self) -> float:
        if not self.rules:
            return 100.0
        return 100.0 * sum(1 for r in self.rules if r.decided) / len(self.rules)

    def condition_counts(self) -> tuple[int, int]:
        conditions = [c for r in self.rules for c in r.conditions]
        both = sum(1 for c in conditions if c[2] and c[3])
        return both, len(conditions)


class Coverage:
    """Coverage for every policy the scenarios ran against."""

    def __init__(self) -> None:
        self.policies: dict[str, PolicyCoverage] = {}

    def _for(self, policy: CheckedPolicy) -> PolicyCoverage:
        key = policy.source.name
        if key not in self.policies:
            rules = [RuleCoverage(r.id, r.kind, r.line,
                                  conditions=[[j.text, policy.source.line_col(j.span.start)[0],
                                               False, False] for j in r.conjuncts])
                     for r in policy.units()]
            rows = {(t.name, row.label()): (row.line, 0) for t in policy.tables for row in t.rows}
            self.policies[key] = PolicyCoverage(policy.name, key, rules, rows)
        return self.policies[key]

    def add(self, result: ScenarioResult) -> None:
        coverage = self._for(result.policy.checked)
        trace = result.decision.trace
        if trace is None:  # invalid facts: nothing was evaluated
            return
        by_line = {(r.id, r.line): r for r in coverage.rules}
        lookups: list[LookupTrace] = [lookup for d in trace.derived for lookup in d.lookups]
        traces = list(trace.rules) + list(trace.advisories)
        if trace.by_default and trace.decided_by is not None:
            traces.append(trace.decided_by)
        for rule_trace in traces:
            rule = by_line.get((rule_trace.id, rule_trace.line))
            if rule is None:
                continue
            if rule_trace.status in _EVALUATED or rule.kind == "otherwise":
                rule.evaluated += 1
            if rule_trace.status in _DECIDED:
                rule.decided += 1
            for position, check in enumerate(rule_trace.checks):
                self._condition(rule, position, check)
                lookups += check.lookups
        for lookup in lookups:
            for key, (line, used) in coverage.rows.items():
                if key == (lookup.table, lookup.row):
                    coverage.rows[key] = (line, used + 1)


    @staticmethod
    def _condition(rule: RuleCoverage, position: int, check: CheckTrace) -> None:
        if position < len(rule.conditions):
            if check.result is True:
                rule.conditions[position][2] = True
            elif check.result is False:
                rule.conditions[position][3] = True


def run_tests(paths: Sequence[str], engine: Engine = "interpreted",
              policy_path: str | None = None, *, allow_outside: bool = False,
              snapshots: Snapshots | None = None) -> tuple[list[Outcome], Coverage]:
    """Runs every scenario found under `paths`; never raises for a bad scenario.

    Scenarios found in the folders, and the policies they name, must stay in the repository
    or the folders given (`core.files.Confinement`), unless `allow_outside`.

    Args:
        snapshots: compare each result with its snapshot, or write it (`Snapshots.update`);
            None: no snapshots.
    """
    cache = PolicyCache()
    outcomes: list[Outcome] = []
    coverage = Coverage()
    confinement = Confinement.here(paths, allow_outside=allow_outside)
    for path in find_files(paths, SCENARIO_SUFFIXES):
        try:
            result = run_scenario(path, policy_path=policy_path, engine=engine, cache=cache,
                                  confinement=confinement, named=path in paths)
            snapshot = settle(result, snapshots) if snapshots is not None else None
        except DiagnosticError as error:
            outcomes.append(Outcome(path, "error", diagnostics=error.diagnostics))
            continue
        coverage.add(result)
        outcome = Outcome(path, "passed", result, snapshot=snapshot)
        if result.refused_unexpectedly:
            outcome.status = "refused"
        elif outcome.mismatches:
            outcome.status = "failed"
        outcomes.append(outcome)
    return outcomes, coverage


def counts(outcomes: Iterable[Outcome]) -> dict[str, int]:
    """How many scenarios had each status, and how many in all."""
    found = dict.fromkeys(STATUSES, 0)
    for outcome in outcomes:
        found[outcome.status] += 1
    return {"scenarios": sum(found.values()), **found}


def summary(outcomes: Iterable[Outcome]) -> str:
    """The closing line: `N passed, M failed` (and the refused and errors when there are)."""
    found = counts(outcomes)
    line = f"{found['passed']} passed, {found['failed']} failed"
    if found["refused"]:
        line += f", {found['refused']} refused"
    if found["error"]:
        line += f", {found['error']} errors"
    return line


def coverage_report(coverage: Coverage) -> str:
    """A text report: per policy, rules decided, conditions seen both ways, what never ran."""
    lines: list[str] = []
    for policy in coverage.policies.values():
        decided = sum(1 for r in policy.rules if r.decided)
        both, conditions = policy.condition_counts()
        lines.append(f"coverage of {policy.name} ({policy.file}):")
        lines.append(f"  rules that decided:   {decided}/{len(policy.rules)} "
                     f"({policy.decided_percent:.0f}%)")
        lines.append(f"  conditions seen both true and false: {both}/{conditions}")
        lines.append("  rule                                  decided  evaluated")
        for rule in policy.rules:
            lines.append(f"  {rule.id + ' (line ' + str(rule.line) + ')':<38} {rule.decided:>7}  "
                         f"{rule.evaluated:>9}")
        never = [r for r in policy.rules if not r.decided]
        if never:
            lines.append("  never decided:")
            lines += [f"    {r.id} ({policy.file}:{r.line})" for r in never]
        one_sided = [(r, c) for r in policy.rules for c in r.conditions if not (c[2] and c[3])]
        if one_sided:
            lines.append("  conditions never seen both true and false:")
            for rule, condition in one_sided:
                seen = "only true" if condition[2] else ("only false" if condition[3]
                                                         else "never evaluated")
                lines.append(f"    {policy.file}:{condition[1]}: {condition[0]}  ({seen}; "
                             f"rule {rule.id})")
        unused = [(key, line) for key, (line, used) in policy.rows.items() if not used]
        if unused:
            lines.append("  table rows never used:")
            lines += [f"    {table}: {row} ({policy.file}:{line})"
                      for (table, row), line in unused]
    return "\n".join(lines)


def coverage_json(coverage: Coverage) -> list[dict[str, object]]:
    return [
        {
            "policy": policy.name,
            "file": policy.file,
            "rules_decided_percent": round(policy.decided_percent, 2),
            "rules": [
                {"rule": r.id, "kind": r.kind, "line": r.line, "decided": r.decided,
                 "evaluated": r.evaluated,
                 "conditions": [{"condition": c[0], "line": c[1], "seen_true": c[2],
                                 "seen_false": c[3]} for c in r.conditions]}
                for r in policy.rules
            ],
            "table_rows": [{"table": t, "row": row, "line": line, "used": used}
                           for (t, row), (line, used) in policy.rows.items()],
        }
        for policy in coverage.policies.values()
    ]


#: Characters XML 1.0 cannot hold at all (most control characters, lone surrogates, U+FFFE
#: and U+FFFF); a fact value or a file name may contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    """Text XML can hold: each character it cannot is written as its escape, `\\x01`."""
    return _NOT_XML.sub(lambda m: ascii(m.group())[1:-1], text)


def junit_xml(outcomes: Sequence[Outcome]) -> str:
    """JUnit XML for CI systems: one testcase per scenario; always well-formed XML 1.0."""
    failures = sum(1 for o in outcomes if o.status in ("failed", "refused"))
    errors = sum(1 for o in outcomes if o.status == "error")
    suite = ElementTree.Element("testsuite", name="policy scenarios", tests=str(len(outcomes)),
                                failures=str(failures), errors=str(errors), skipped="0")
    for outcome in outcomes:
        name = _xml_text(outcome.path)
        case = ElementTree.SubElement(suite, "testcase", classname="scenarios", name=name,
                                      file=name)
        if outcome.status == "failed":
            failure = ElementTree.SubElement(
                case, "failure", message=_xml_text("; ".join(outcome.mismatches)))
            failure.text = _xml_text("\n".join(outcome.mismatches))
        elif outcome.status == "refused" and outcome.result is not None:
            refusal = outcome.result.decision.refusal
            failure = ElementTree.SubElement(case, "failure", message=_xml_text(
                "the policy refused to decide, and the scenario does not expect it"))
            failure.text = _xml_text(render_all(refusal))
        elif outcome.status == "error":
            error = ElementTree.SubElement(case, "error", message=_xml_text(
                outcome.diagnostics[0].message if outcome.diagnostics else "error"))
            error.text = _xml_text(render_all(outcome.diagnostics))
    ElementTree.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        suite, encoding="unicode") + "\n"
