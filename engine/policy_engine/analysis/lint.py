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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from policy_engine.analysis import incomplete
from policy_engine.analysis.budget import Budget, OverBudget
from policy_engine.analysis.describe import cover, describe
from policy_engine.analysis.formulas import and_
from policy_engine.analysis.partition import Model, Outcome, analyse, diagnostic, refused
from policy_engine.analysis.regions import Region, intersect, simplify, union
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
    """The findings about one policy, and what the analysis spent to find them.

    Args:
        budget: the budget the analysis ran with; its `spent` steps and `largest_item` are
            the same on every machine.
        nodes: the most decision-diagram nodes held at once (each was paid for in steps, so
            their memory is bounded by the budget).
    """

    policy: CheckedPolicy
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    dimensions: int = 0
    allowed: int = 0  # findings silenced by `# lint: allow CODE` comments
    budget: Budget = field(default_factory=Budget)
    nodes: int = 0

    @property
    def complete(self) -> bool:
        """Whether everything was analysed within the budget (no W112)."""
        return not any(f.code == incomplete.CODE for f in self.findings)

    @property
    def warnings(self) -> list[Diagnostic]:
        return [f.diagnostic for f in self.findings
                if f.diagnostic.severity is Severity.WARNING]


def lint(policy: CheckedPolicy, budget: Budget | None = None) -> LintReport:
    """Analyses a checked policy and returns its findings, in policy line order.

    Args:
        budget: the work the analysis may do (the default `Budget()` when None). Whatever
            goes over it is reported as W112 and the rest is still analysed.
    """
    started = time.perf_counter()
    budget = budget if budget is not None else Budget()
    with budget.active():
        model, = analyse([policy], budget)
        report = LintReport(policy, dimensions=len(model.space.dimensions), budget=budget)
        _Linter(model, report).run()
    report.nodes = model.space.peak_nodes
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
        self.budget = report.budget
        self.refused = self.space.nothing()
        self._decided: dict[str, Region] = {}
        self._by_id: dict[str, CheckedRule] = {}
        #: What is being checked, for the finding when the whole budget runs out.
        self._checking: tuple[str, int | None] = ("the findings", None)

    def run(self) -> None:
        for diagnostic_ in incomplete.unknown(self.model, self.budget):
            self.add(Finding(diagnostic_))
        stop = self.model.stopped
        if stop is not None:
            self.add(Finding(incomplete.stopped(self.policy, stop, self.budget)))
        else:
            try:
                # Facts the constraints refuse never reach a rule, so descriptions may
                # include them.
                self.refused = refused(self.model)
                self.rules()
                self.outcomes()
                self.advisories()
            except OverBudget:
                at, line = self._checking
                self.add(Finding(incomplete.checks_stopped(self.policy, at, line,
                                                           self.budget)))
        self.declarations()

    def item(self, step: Callable[[], None], over: Callable[[], Diagnostic],
             at: str, line: int | None) -> None:
        """Runs one check as an item of the budget; over its share, its findings are
        replaced by the W112 finding `over` gives. The whole budget running out ends the
        checks (`OverBudget` goes on)."""
        self._checking = (at, line)
        start, mark, decided = len(self.report.findings), self.space.node_count, self._decided
        try:
            with self.budget.item():
                step()
        except OverBudget as error:
            del self.report.findings[start:]
            self._decided = decided  # it may name nodes that are forgotten now
            self.space.rollback(mark)
            if error.whole:
                raise
            self.add(Finding(over(), anchor=line))

    def add(self, finding: Finding) -> None:
        self.report.findings.append(finding)

    def rule_named(self, rule_id: str) -> CheckedRule:
        """`policy.rule`, from an index (the policy's method reads every rule each time)."""
        if not self._by_id:
            self._by_id = {rule.id: rule for rule in reversed(self.policy.rules)}
            if self.policy.otherwise is not None:
                self._by_id.setdefault("otherwise", self.policy.otherwise)
        return self._by_id[rule_id]

    def region(self, formula: Any) -> Region:
        return self.model.formula_region(formula)

    def decided_by(self, rule: CheckedRule) -> Region:
        if not self._decided:
            decided: dict[str, Region] = {}  # kept only when complete (the budget may stop it)
            for piece in self.model.pieces:
                if piece.outcome.kind == "decision" and piece.outcome.rule:
                    known = decided.get(piece.outcome.rule)
                    decided[piece.outcome.rule] = (
                        piece.region if known is None else known | piece.region)
            self._decided = decided
        return self._decided.get(rule.id, self.space.nothing())

    # ------------------------------------------------------------ rules
    def rules(self) -> None:
        for rule in self.policy.rules:
            if rule.index in self.model.unknown_rules:
                continue  # `incomplete.unknown` says its outcome is left open
            self.item(partial(self.rule, rule), partial(
                incomplete.checks_over, self.policy, rule, self.budget),
                f"rule '{rule.id}' (line {rule.line})", rule.line)

    def rule(self, rule: CheckedRule) -> None:
        """Can the rule apply, to valid facts, and does it ever decide?"""
        three = self.model.conditions[rule.index]
        applies = and_(self.model.effective[rule.index], three.true)
        anywhere = self.region(applies)
        if not anywhere:
            self.never_true(rule, "W101")
            return
        valid = intersect(self.model.valid, anywhere)
        if not valid:
            self.excluded(rule, anywhere)
            return
        if self.decided_by(rule):
            return
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
                    other = self.rule_named(other_id)
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
            what, span = self._sought(outcome)
            line = self.policy.source.line_col(span.start)[0] if span else None
            self.item(partial(self.outcome, outcome, regions), partial(
                incomplete.search_over, self.policy, what, span, self.budget),
                f"the {what}", line)

    def outcome(self, outcome: Outcome, regions: list[Region]) -> None:
        area = union(*regions)
        if outcome.kind == "error" and outcome.name in ("E402", "E403"):
            self.conflict(outcome, area)
        elif outcome.kind == "error" and outcome.name == "E401":
            self.stops(outcome, area)
        else:
            self.gap(outcome, area)

    def _sought(self, outcome: Outcome) -> tuple[str, Span | None]:
        """What the finding about an outcome looks for, in words, and where it points."""
        if outcome.kind == "error" and outcome.name in ("E402", "E403"):
            rules = [self.rule_named(r) for r in (outcome.rule or "").split("+")]
            names = " and ".join(f"'{r.id}' (line {r.line})" for r in rules)
            return f"facts on which rules {names} both match", rules[-1].span
        if outcome.kind == "error" and outcome.name == "E401":
            rule = self.rule_named(outcome.rule) if outcome.rule else None
            return (f"facts on which {rule.kind} '{rule.id}' stops" if rule
                    else "facts on which evaluation stops"), rule.span if rule else None
        return "facts that no rule decides", self._gap_span(outcome)

    def _gap_span(self, outcome: Outcome) -> Span | None:
        if outcome.kind == "error":  # E404: no rule, no default
            return self.policy.source.line_span(1)
        line = (self.policy.otherwise.line if self.policy.otherwise is not None
                else self.policy.refusal.line if self.policy.refusal else None)
        return self.policy.source.line_span(line) if line else None

    def conflict(self, outcome: Outcome, area: Region) -> None:
        rules = [self.rule_named(r) for r in (outcome.rule or "").split("+")]
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
        rule = self.rule_named(outcome.rule) if outcome.rule else None
        if rule is not None and rule.index in self.model.unknown_rules:
            return  # its outcome is left open: W112 says so, and no finding is about it
        label = f"{rule.kind} '{rule.id}'" if rule else "evaluation"
        witness = self.witness(area, f"{label} stops: a fact it needs is missing",
                               f"stops-{outcome.rule}", expected=outcome)
        if witness is None:
            self.approximate(f"{label} may stop on a missing fact", area,
                             rule.span if rule else None)
            return
        message = "it reads a fact that can be missing"
        help = "guard the condition with 'FACT is present and ...', or 'require' the fact"
        if witness.expect.get("error") == "E408":
            # A date it shifts leaves the calendar: evaluation refuses, and so the analysis.
            witness = replace(witness, description=f"{label} stops: a value it computes is "
                                                   "out of the engine's range")
            message = "a value it computes can be out of the engine's range (E408)"
            help = ("the engine's dates run from 0001-01-01 to 9999-12-31: bound the dates it "
                    "shifts with an 'ensure', or change the calculation")
        self.add(Finding(diagnostic(
            self.policy, "W106", f"{label} can stop without a decision: {message}",
            span=rule.span if rule else None,
            notes=[f"when {t}" for t in self.shown(area)] + self._witness_note(witness),
            help=help), witness, rule.line if rule else None))

    def gap(self, outcome: Outcome, area: Region) -> None:
        span: Span | None
        span = self._gap_span(outcome)
        if outcome.kind == "error":  # E404: no rule, no default
            if not self.policy.rules:
                return  # W003 already says there is no default, and there is nothing else
            severity, code = Severity.WARNING, "W106"
            message = "facts that no rule decides reach no decision (there is no 'otherwise')"
        else:
            severity, code = Severity.NOTE, "N107"
            default = (f"the default '{outcome.name}'" if outcome.kind == "decision"
                       else f"the refusal ({outcome.name})")
            message = f"facts that no rule decides reach {default}"
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
        if not self.policy.advisories:
            return
        self._checking = ("the advisories", None)
        decided = union(self.space.nothing(), *(
            p.region for p in self.model.pieces if p.outcome.kind == "decision"))
        for advisory in self.policy.advisories:
            if advisory.index in self.model.unknown_rules:
                continue  # `incomplete.unknown` says its outcome is left open
            self.item(partial(self.advisory, advisory, decided), partial(
                incomplete.checks_over, self.policy, advisory, self.budget),
                f"advisory '{advisory.id}' (line {advisory.line})", advisory.line)

    def advisory(self, advisory: CheckedRule, decided: Region) -> None:
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
        # The earlier rows of each key (None: the default rows), so that a table of many rows
        # is read once, not once per row.
        earlier: dict[str | None, list[c.Effective | None]] = {}
        undated = {key for row in table.rows if row.effective is None for key in row.keys}
        every_value = all(value in undated for value in _key_values(self.policy, table))
        for row in table.rows:
            keys: tuple[str | None, ...] = row.keys or (None,)
            dead = [any(_covers(other, row.effective) for other in earlier.get(key, ()))
                    for key in keys]
            for key in keys:
                earlier.setdefault(key, []).append(row.effective)
            if not row.keys and every_value:
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
        why = ("the condition involves arithmetic between facts or a function, which the "
               "analysis does not model exactly")
        if self._left_open(area):
            why = "the region depends on an outcome the analysis left open (W112)"
        self.add(Finding(diagnostic(
            self.policy, "N111", f"approximate: {message}, but no witness confirms it",
            severity=Severity.NOTE, span=span,
            notes=[f"when {t}" for t in self.shown(area)[:3]] + [why])))

    def _left_open(self, area: Region) -> bool:
        """Whether the region's description depends on an outcome left open (over budget)."""
        if not (self.model.unknown_rules or self.model.unknown_constraints):
            return False
        positions = [i for i, d in enumerate(self.space.dimensions) if d.kind == "unknown"]
        return any(cube[i] != self.space.top[i]
                   for cube in cover(self.space, area, area | self.refused) for i in positions)

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


