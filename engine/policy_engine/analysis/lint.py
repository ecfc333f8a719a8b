"""Lint: the analysis stage's findings about one policy, each with a witness scenario.

Findings that say some fact set exists (a gap, a conflict, a shadowed rule's cases) are
reported only when a witness confirms them on the reference interpreter; a region the
analysis could not confirm (it involves a condition beyond what the analysis models exactly)
is listed as approximate. Findings that say no fact set exists (a condition that is never
true, a rule that never decides) are exact: the regions over-approximate, so empty is empty.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from policy_engine.analysis.describe import cover, describe
from policy_engine.analysis.partition import Model, Outcome, analyse, diagnostic, refused
from policy_engine.analysis.regions import Region, intersect, simplify, union
from policy_engine.analysis.symbolic import and_
from policy_engine.analysis.witnesses import Witness, rule_holds, witness_for
from policy_engine.analysis.witnesses import write_witnesses as write_scenarios
from policy_engine.check import checked as c
from policy_engine.check.checked import CheckedPolicy, CheckedRule
from policy_engine.check.types import EnumType
from policy_engine.core.diagnostics import Diagnostic, Severity
from policy_engine.core.source import Span


@dataclass(frozen=True)
class Finding:
    """One lint finding: a diagnostic for people, a witness scenario for `policy eval`."""

    diagnostic: Diagnostic
    witness: Witness | None = None
    anchor: int | None = None  # the first line of the declaration the finding is about

    @property
    def code(self) -> str:
        return self.diagnostic.code


@dataclass
class LintReport:
    policy: CheckedPolicy
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    dimensions: int = 0
    allowed: int = 0  # findings silenced by `# lint: allow CODE` comments

    @property
    def warnings(self) -> list[Diagnostic]:
        return [f.diagnostic for f in self.findings
                if f.diagnostic.severity is Severity.WARNING]


def lint(policy: CheckedPolicy) -> LintReport:
    """Analyses a checked policy and returns its findings, in policy line order."""
    started = time.perf_counter()
    model, = analyse([policy])
    report = LintReport(policy, dimensions=len(model.space.dimensions))
    linter = _Linter(model, report)
    linter.rules()
    linter.outcomes()
    linter.advisories()
    linter.declarations()
    report.findings.sort(key=lambda f: (f.diagnostic.location()[1] or 0, f.code))
    kept = [f for f in report.findings if not _allowed(policy, f)]
    report.allowed = len(report.findings) - len(kept)
    report.findings = kept
    report.seconds = time.perf_counter() - started
    return report


_ALLOW = re.compile(r"^\s*#.*\blint:\s*allow\s+([A-Z0-9, ]+)")


def _allowed(policy: CheckedPolicy, finding: Finding) -> bool:
    """A comment line `# lint: allow CODE` right above the finding's line, or above the first
    line of the rule or declaration it is about, silences it.

    Only whole comment lines count, so a comment cannot silence the next declaration from the
    end of a line, and text inside quotes never counts.
    """
    lines = {finding.diagnostic.location()[1], finding.anchor} - {None}
    for line in lines:
        assert line is not None
        above = line - 1
        while above >= 1 and _ALLOW.match(policy.source.line_text(above)) is None \
                and policy.source.line_text(above).lstrip().startswith("#"):
            above -= 1  # a block of comments above the line: any of them may allow
        found = _ALLOW.match(policy.source.line_text(above)) if above >= 1 else None
        if found and finding.code in re.split(r"[ ,]+", found.group(1).strip()):
            return True
    return False


def write_witnesses(report: LintReport, directory: str, policy_path: str | None) -> list[str]:
    """Writes each finding's witness as a scenario file; returns the paths written."""
    named = [(f"{f.code}-{_slug(f.witness.name) if f.witness else ''}", f.witness)
             for f in report.findings]
    return write_scenarios(named, directory, policy_path)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "-", text).strip("-")[:60] or "witness"


def report_json(report: LintReport) -> list[dict[str, Any]]:
    """The findings in JSON form: each diagnostic with its witness facts and expectation."""
    out = []
    for finding in report.findings:
        item = finding.diagnostic.to_json()
        item["notes"] = list(finding.diagnostic.notes)
        item["witness"] = ({"facts": finding.witness.facts, "expect": finding.witness.expect}
                           if finding.witness else None)
        out.append(item)
    return out


class _Linter:
    def __init__(self, model: Model, report: LintReport) -> None:
        self.model = model
        self.policy = model.policy
        self.space = model.space
        self.report = report
        # Facts the constraints refuse never reach a rule, so descriptions may include them.
        self.refused = refused(model)
        self._decided: dict[str, Region] = {}

    def add(self, finding: Finding) -> None:
        self.report.findings.append(finding)

    def region(self, formula: Any) -> Region:
        return self.model.formula_region(formula)

    def decided_by(self, rule: CheckedRule) -> Region:
        if not self._decided:
            for piece in self.model.pieces:
                if piece.outcome.kind == "decision" and piece.outcome.rule:
                    known = self._decided.get(piece.outcome.rule)
                    self._decided[piece.outcome.rule] = (
                        piece.region if known is None else known | piece.region)
        return self._decided.get(rule.id, self.space.nothing())

    # ------------------------------------------------------------ rules
    def rules(self) -> None:
        for rule in self.policy.rules:
            three = self.model.conditions[rule.index]
            applies = and_(self.model.effective[rule.index], three.true)
            anywhere = self.region(applies)
            if not anywhere:
                self.never_true(rule, "W101")
                continue
            valid = intersect(self.model.valid, anywhere)
            if not valid:
                self.excluded(rule, anywhere)
                continue
            if self.decided_by(rule):
                continue
            self.never_decides(rule, valid)

    def never_true(self, rule: CheckedRule, code: str) -> None:
        """A condition no fact set satisfies: name the conjuncts that exclude each other."""
        count = len(rule.conjuncts)
        cut = next((k for k in range(1, count + 1)
                    if not self.region(and_(self.model.effective[rule.index],
                                            self.model.translator.rule(rule, k).true))), count)
        last = rule.conjuncts[cut - 1]
        partner = None
        single = self.region(self.model.translator.condition(last.expr).true)
        if not single:
            why = f"'{last.text}' is never true"
        else:
            for conjunct in rule.conjuncts[:cut - 1]:
                both = and_(self.model.translator.condition(conjunct.expr).true,
                            self.model.translator.condition(last.expr).true)
                if not self.region(both):
                    partner = conjunct
                    break
            why = (f"'{partner.text}' and '{last.text}' cannot both be true" if partner
                   else f"'{last.text}' contradicts the conditions before it")
        if cut == 1 or rule.effective is not None and not self.region(
                self.model.effective[rule.index]):
            witness = None
        else:
            before = intersect(self.model.valid, self.region(and_(
                self.model.effective[rule.index], self.model.translator.rule(rule, cut - 1).true)))
            witness = self.witness(
                before, f"{rule.kind} '{rule.id}' can never apply: {why}; these facts meet "
                        f"the conditions before '{last.text}', which then fails",
                f"never-{rule.id}", extra=lambda raw: rule_holds(
                    self.policy, rule, raw) == cut - 1)
        kind = "advisory" if rule.kind == "advisory" else "rule"
        self.add(Finding(diagnostic(
            self.policy, code, f"{kind} '{rule.id}' can never apply: {why}",
            span=last.span, help=f"remove the {kind}, or correct its condition",
            notes=self._witness_note(
                witness, f"the conditions before '{last.text}' hold, and it is false")),
            witness, rule.line))

    def excluded(self, rule: CheckedRule, anywhere: Region) -> None:
        """A condition that only invalid facts satisfy: the constraints refuse them first."""
        lines = []
        for violated, outcome in self.model.constraint_steps:
            if intersect(anywhere, self.region(violated)):
                lines.append(outcome.name)
        witness = self.witness(
            anywhere, f"rule '{rule.id}' applies only to facts the policy refuses",
            f"excluded-{rule.id}", extra=lambda raw: rule_holds(self.policy, rule, raw) == -1)
        labels = ", ".join(dict.fromkeys(lines)) or "constraints"
        self.add(Finding(diagnostic(
            self.policy, "W102", f"rule '{rule.id}' can never decide: every fact set it "
                                 f"applies to is refused by the policy's constraints ({labels})",
            span=rule.span, help="check the rule's condition against the 'require' and "
                                 "'ensure' declarations",
            notes=self._witness_note(witness, "the rule's condition holds, and the facts are "
                                              "refused")), witness, rule.line))

    def never_decides(self, rule: CheckedRule, valid: Region) -> None:
        takers: list[CheckedRule] = []
        for piece in self.model.pieces:
            if piece.outcome.rule and piece.outcome.rule != rule.id and intersect(
                    piece.region, valid):
                for other_id in piece.outcome.rule.split("+"):
                    other = self.policy.rule(other_id)
                    if other not in takers:
                        takers.append(other)
        exceptions = [t for t in takers if rule.index in self.policy.overridden_by[t.index]]
        names = ", ".join(f"'{t.id}' (line {t.line})" for t in takers)
        if takers and len(exceptions) == len(takers):
            code, message = "W104", (f"rule '{rule.id}' never decides: its exceptions "
                                     f"{names} always override it")
        else:
            code, message = "W103", (f"rule '{rule.id}' never decides: earlier rules take "
                                     f"all its cases: {names}")
        decider = takers[0].label if takers else "another rule"
        witness = self.witness(
            valid, f"rule '{rule.id}' applies to these facts, but {decider} decides",
            f"shadowed-{rule.id}", extra=lambda raw: rule_holds(self.policy, rule, raw) == -1)
        help = ("remove the rule, or narrow an exception so that some cases are left to it"
                if code == "W104" else
                "move the rule above the rules that take its cases, narrow them, or remove it")
        self.add(Finding(diagnostic(
            self.policy, code, message, span=rule.span, help=help,
            notes=self._witness_note(witness, f"'{rule.id}' holds too")), witness, rule.line))

    # ------------------------------------------------------------ outcomes
    def outcomes(self) -> None:
        groups: dict[Outcome, list[Region]] = {}
        for piece in self.model.pieces:
            outcome = piece.outcome
            if outcome.kind == "error" or (outcome.kind == "decision"
                                           and outcome.rule == "otherwise") or (
                    outcome.kind == "refused" and outcome.rule is None):
                groups.setdefault(outcome, []).append(piece.region)
        for outcome, regions in sorted(groups.items(), key=lambda item: repr(item[0])):
            area = union(*regions)
            if outcome.kind == "error" and outcome.name in ("E402", "E403"):
                self.conflict(outcome, area)
            elif outcome.kind == "error" and outcome.name == "E401":
                self.stops(outcome, area)
            else:
                self.gap(outcome, area)

    def conflict(self, outcome: Outcome, area: Region) -> None:
        rules = [self.policy.rule(r) for r in (outcome.rule or "").split("+")]
        names = " and ".join(f"'{r.id}' (line {r.line})" for r in rules)
        decisions = " against ".join(r.decision for r in rules)
        witness = self.witness(area, f"rules {names} both match", "conflict-" + "-".join(
            r.id for r in rules), expected=outcome)
        if witness is None:
            self.approximate(f"rules {names} may both match", area, rules[-1].span)
            return
        if outcome.name == "E402":
            message = f"rules {names} can match the same facts ({decisions}); the policy " \
                      "resolves with 'unique'"
        else:
            message = f"rules {names} can match the same facts and disagree ({decisions})"
        self.add(Finding(diagnostic(
            self.policy, "W105", message, span=rules[-1].span,
            notes=[f"both match when {t}" for t in self.shown(area)]
            + self._witness_note(witness),
            help="make the conditions exclude each other, or declare one an exception "
                 "('overrides')"), witness, rules[-1].line))

    def stops(self, outcome: Outcome, area: Region) -> None:
        rule = self.policy.rule(outcome.rule) if outcome.rule else None
        label = f"{rule.kind} '{rule.id}'" if rule else "evaluation"
        witness = self.witness(area, f"{label} stops: a fact it needs is missing",
                               f"stops-{outcome.rule}", expected=outcome)
        if witness is None:
            self.approximate(f"{label} may stop on a missing fact", area,
                             rule.span if rule else None)
            return
        self.add(Finding(diagnostic(
            self.policy, "W106", f"{label} can stop without a decision: it reads a fact "
                                 "that can be missing",
            span=rule.span if rule else None,
            notes=[f"when {t}" for t in self.shown(area)] + self._witness_note(witness),
            help="guard the condition with 'FACT is present and ...', or 'require' the fact"),
            witness, rule.line if rule else None))

    def gap(self, outcome: Outcome, area: Region) -> None:
        span: Span | None
        if outcome.kind == "error":  # E404: no rule, no default
            if not self.policy.rules:
                return  # W003 already says there is no default, and there is nothing else
            severity, code = Severity.WARNING, "W106"
            message = "facts that no rule decides reach no decision (there is no 'otherwise')"
            span = self.policy.source.line_span(1)
        else:
            severity, code = Severity.NOTE, "N107"
            default = (f"the default '{outcome.name}'" if outcome.kind == "decision"
                       else f"the refusal ({outcome.name})")
            line = (self.policy.otherwise.line if self.policy.otherwise is not None
                    else self.policy.refusal.line if self.policy.refusal else None)
            message = f"facts that no rule decides reach {default}"
            span = self.policy.source.line_span(line) if line else None
        witness = self.witness(area, message, "gap", expected=outcome)
        if witness is None:
            self.approximate(message.replace(" reach ", " may reach ", 1), area, span)
            return
        self.add(Finding(diagnostic(
            self.policy, code, message, span=span, severity=severity,
            notes=[f"when {t}" for t in self.shown(area)] + self._witness_note(witness),
            help=None if severity is Severity.NOTE else
            "add rules for these facts, or an 'otherwise' default"), witness,
            self.policy.source.line_col(span.start)[0] if span else None))

    # ------------------------------------------------------------ advisories
    def advisories(self) -> None:
        decided = union(self.space.nothing(), *(
            p.region for p in self.model.pieces if p.outcome.kind == "decision"))
        for advisory in self.policy.advisories:
            applies = self.region(and_(self.model.effective[advisory.index],
                                       self.model.conditions[advisory.index].true))
            if not applies:
                self.never_true(advisory, "W109")
            elif not intersect(applies, decided):
                self.add(Finding(diagnostic(
                    self.policy, "W109", f"advisory '{advisory.id}' can never apply: no fact "
                                         "set that meets its condition gets a decision",
                    span=advisory.span,
                    help="check its condition against the 'require' and 'ensure' declarations "
                         "and the rules: facts that meet it are refused or stop"),
                    anchor=advisory.line))

    # ------------------------------------------------------------ declarations
    def declarations(self) -> None:
        read: set[str] = set()
        translator = self.model.translator
        exprs: list[c.CExpr] = []
        for rule in self.policy.units():
            exprs.extend(j.expr for j in rule.conjuncts)
            exprs.extend(e for _, e in rule.outputs)
        for require in self.policy.requires:
            read.update(require.facts)
            exprs.extend([require.when] if require.when is not None else [])
        for ensure in self.policy.ensures:
            exprs.append(ensure.condition)
            exprs.extend([ensure.when] if ensure.when is not None else [])
        for expr in exprs:
            read.update(translator.reads(expr))
        if self.policy.as_of:
            read.add(self.policy.as_of)
        for info in self.policy.facts:
            if info.name not in read and not info.required:
                self.add(Finding(diagnostic(
                    self.policy, "W110", f"fact '{info.name}' is declared but never read",
                    span=info.span, help="remove it, use it in a condition, or say why it stays "
                                         "with a '# lint: allow W110' comment line above it")))
        for table in self.policy.tables:
            self.table_rows(table)

    def table_rows(self, table: c.TableInfo) -> None:
        for position, row in enumerate(table.rows):
            earlier = table.rows[:position]
            keys = row.keys or ("default",)
            dead = []
            for key in keys:
                covered = any(
                    (key in other.keys if row.keys else not other.keys)
                    and _covers(other.effective, row.effective) for other in earlier)
                dead.append(covered)
            if not row.keys and all(
                    any(v in other.keys and other.effective is None for other in table.rows)
                    for v in _key_values(self.policy, table)):
                dead = [True]
            if all(dead):
                self.add(Finding(diagnostic(
                    self.policy, "W108",
                    f"row '{row.label()}' of table '{table.name}' never applies: earlier rows "
                    "cover it" if row.keys else f"the default row of table '{table.name}' "
                    "never applies: every value has a row",
                    span=self.policy.source.line_span(row.line), help="remove the row"),
                    anchor=row.line))

    # ------------------------------------------------------------ helpers
    def witness(self, area: Region, description: str, name: str, *,
                expected: Outcome | None = None, extra: Any = None) -> Witness | None:
        wide = cover(self.space, area, area | self.refused)
        exact = [cube for w in wide for cube in simplify(self.space.cube(w) & area, 4)]
        found, _ = witness_for([self.model], exact, name, description, [expected], extra)
        return found

    def shown(self, area: Region) -> list[str]:
        return describe(self.space, area, area | self.refused)

    def approximate(self, message: str, area: Region, span: Any = None) -> None:
        self.add(Finding(diagnostic(
            self.policy, "N111", f"approximate: {message}, but no witness confirms it",
            severity=Severity.NOTE, span=span,
            notes=[f"when {t}" for t in self.shown(area)[:3]]
            + ["the condition involves arithmetic between facts or a function, which the "
               "analysis does not model exactly"])))

    @staticmethod
    def _witness_note(witness: Witness | None, shows: str | None = None) -> list[str]:
        if witness is None:
            return []
        facts = ", ".join(f"{k}: {json.dumps(v)}" for k, v in witness.facts.items())
        expect = ", ".join(f"{k} {v}" for k, v in witness.expect.items())
        return [f"witness: {{{facts}}} -> {expect}" + (f" ({shows})" if shows else "")]


def _covers(outer: c.Effective | None, inner: c.Effective | None) -> bool:
    if outer is None:
        return True
    if inner is None:
        return False
    starts = outer.start is None or (inner.start is not None and outer.start <= inner.start)
    ends = outer.end is None or (inner.end is not None and inner.end <= outer.end)
    return starts and ends


def _key_values(policy: CheckedPolicy, table: c.TableInfo) -> Sequence[str]:
    t = policy.fact(table.key_fact).type
    return t.values if isinstance(t, EnumType) else ()


