"""Decision: the one result of deciding a fact set: what was decided, or why the policy refused.

Every way of deciding returns a `Decision`: `Policy.evaluate` (interpreted or compiled), the
hot-loop function of `Policy.decider`, `policy batch` and the scenario runner. A refusal is a
`Decision` too, with `refusal` set. The explanation (`trace`) is worked out only when read,
and only a decision made by `Policy.evaluate` has one: the hot-loop function keeps no facts.
`to_json` gives the documented JSON form (docs/cli.md), amounts and dates exact.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

from policy_engine.check.checked import CheckedPolicy, CheckedRule
from policy_engine.check.types import Value, to_json_value
from policy_engine.core.diagnostics import Diagnostic
from policy_engine.evaluate.runtime import Evaluation, Outputs, RuleOutcome
from policy_engine.explain.expand import expand
from policy_engine.explain.trace import CheckTrace, LookupTrace, RuleTrace, Trace

#: The JSON result format; bump the version on any incompatible change (docs/cli.md).
JSON_FORMAT = "policy-engine/result"
JSON_VERSION = 2


class Decision:
    """What a policy decided for one fact set, or why it refused.

    Attributes:
        decision: the decision's name; None when the policy refused.
        rule: the deciding rule's id, `otherwise` when the default decided; None when refused.
        outputs: the outputs the deciding rule set (with the items advisories added), in the
            policy's declaration order. A decision the hot loop shares between calls has
            read-only outputs; do not change those of any decision.
        refusal: why the policy refused to decide: one diagnostic (E401 to E408: a needed fact
            is missing, rules conflict, no rule applies...), or one per violated `require` or
            `ensure` (E308, E309); empty when it decided.
        policy: the checked policy that decided.
    """

    __slots__ = ("decision", "rule", "outputs", "refusal", "policy", "_index", "_facts",
                 "_given", "_evaluation", "_trace")

    decision: str | None
    rule: str | None
    outputs: Mapping[str, Value]  # a dict, or a read-only view of one when shared
    refusal: tuple[Diagnostic, ...]
    policy: CheckedPolicy
    _index: int
    _facts: Mapping[str, Value] | None
    _given: frozenset[str] | None
    _evaluation: Evaluation | None
    _trace: Trace | None

    def __init__(self, policy: CheckedPolicy, decision: str | None, rule: str | None,
                 outputs: Outputs, index: int = -1, *,
                 refusal: tuple[Diagnostic, ...] = (),
                 facts: Mapping[str, Value] | None = None,
                 given: frozenset[str] | None = None,
                 evaluation: Evaluation | None = None) -> None:
        self.policy = policy
        self.decision = decision
        self.rule = rule
        self.outputs = dict(outputs)
        self.refusal = refusal
        self._index = index
        self._facts = facts
        self._given = given
        self._evaluation = evaluation
        self._trace = None

    # ------------------------------------------------------------ making one
    @classmethod
    def of(cls, policy: CheckedPolicy, evaluation: Evaluation, facts: Mapping[str, Value],
           given: frozenset[str] | None) -> Decision:
        """The decision of an evaluation, explained when `trace` is read.

        Args:
            facts: the validated facts, defaults filled in.
            given: the facts the caller supplied (the others came from defaults); None when
                the caller supplied every fact in `facts`.
        """
        # As `__init__` sets them, without its keyword arguments: one per `evaluate`.
        made = object.__new__(cls)
        made.policy = policy
        made.decision = evaluation.decision
        made.rule = evaluation.rule
        made.outputs = dict(evaluation.outputs)
        made.refusal = ()
        made._index = evaluation.index
        made._facts = facts
        made._given = given
        made._evaluation = evaluation
        made._trace = None
        return made

    @classmethod
    def shared(cls, policy: CheckedPolicy, decision: str, rule: str, outputs: Outputs,
               index: int) -> Decision:
        """A decision returned to every caller whose facts lead to it (a rule whose outputs
        are constants): its outputs cannot be changed."""
        made = cls(policy, decision, rule, (), index)
        made.outputs = types.MappingProxyType(dict(outputs))
        return made

    @classmethod
    def refusing(cls, policy: CheckedPolicy, refusal: tuple[Diagnostic, ...] | list[Diagnostic],
                 facts: Mapping[str, Value] | None = None,
                 given: frozenset[str] | None = None) -> Decision:
        """A refusal to decide, for the reasons in `refusal`; explained (`trace`) when the
        validated `facts` it refused are known."""
        return cls(policy, None, None, (), refusal=tuple(refusal), facts=facts, given=given)

    # ------------------------------------------------------------ reading it
    @property
    def refused(self) -> bool:
        """Whether the policy refused to decide (see `refusal`)."""
        return bool(self.refusal)

    @property
    def reason(self) -> str | None:
        """The deciding rule's `because` text."""
        deciding = self._deciding()
        return deciding.reason if deciding is not None else None

    @property
    def citation(self) -> str | None:
        """The deciding rule's `source` text."""
        deciding = self._deciding()
        return deciding.citation if deciding is not None else None

    @property
    def facts(self) -> Mapping[str, Value] | None:
        """The validated facts it decided on, defaults filled in (None from the hot loop)."""
        return self._facts

    @property
    def trace(self) -> Trace | None:
        """The explanation: which rule decided with the value behind each condition, and why
        every other rule did not apply; for a refusal, how far evaluation got and why it
        stopped (or the `require`/`ensure` the facts break). None for a decision of the
        hot-loop function, which keeps no facts; worked out when first read."""
        if self._trace is None and self._facts is not None:
            if self._evaluation is not None and self._evaluation.record is not None:
                # A compiled first-match decision: made from the walk's record in one pass.
                self._trace = expand(self.policy, self._facts, self._given, self._evaluation)
            elif self._evaluation is not None:
                self._trace = Trace(self.policy, self._facts, self._given, self._evaluation)
            elif self.refusal:
                self._trace = Trace(self.policy, self._facts, self._given, None, self.refusal)
        return self._trace

    @property
    def outcomes(self) -> tuple[RuleOutcome, ...]:
        """Each rule's fate (decided, did not apply, not reached...), in file order, without
        working out the trace: what a decision log's summary needs. Empty for a refusal and
        for a decision of the hot-loop function."""
        return self._evaluation.outcomes if self._evaluation is not None else ()

    def _deciding(self) -> CheckedRule | None:
        if self.decision is None or self._index < 0:
            return None
        return self.policy.units()[self._index]

    def __repr__(self) -> str:
        if self.refusal:
            return f"Decision(refused={[d.label or d.code for d in self.refusal]!r})"
        return (f"Decision(decision={self.decision!r}, rule={self.rule!r}, "
                f"outputs={dict(self.outputs)!r})")

    # ------------------------------------------------------------ JSON
    def to_json(self, *, explain: bool = True) -> dict[str, Any]:
        """The documented JSON form (format `policy-engine/result`, version 2, docs/cli.md):
        amounts as decimal strings, dates as ISO text; the same keys for a decision and a
        refusal (`refused` lists why, empty when it decided); `facts` and `trace` when the
        explanation is known and `explain` asks for it (a decision log leaves them out)."""
        policy = self.policy
        data: dict[str, Any] = {
            "format": JSON_FORMAT,
            "format_version": JSON_VERSION,
            "policy": {"name": policy.name, "title": policy.title, "version": policy.version,
                       "file": policy.source.name, "resolve": policy.strategy},
            "decision": self.decision,
        }
        data["rule"] = self.rule
        data["outputs"] = {k: to_json_value(v) for k, v in self.outputs.items()}
        data["reason"] = self.reason
        data["citation"] = self.citation
        data["refused"] = [d.to_json() for d in self.refusal]
        trace = self.trace if explain else None
        if trace is not None:
            data["facts"] = {f.name: {"value": to_json_value(f.value), "origin": f.origin}
                             for f in trace.facts}
            data["trace"] = trace_json(trace)
        return data


def trace_json(trace: Trace) -> dict[str, Any]:
    """The `trace` object of the JSON result."""
    decided_by = trace.decided_by
    return {
        "by_default": trace.by_default,
        "decided_by": _rule_json(decided_by) if decided_by is not None else None,
        "rules": [_rule_json(rule) for rule in trace.rules],
        "closest": [{"rule": _rule_json(m.rule), "held": m.held, "total": m.total}
                    for m in trace.closest],
        "advisories": [_rule_json(a) for a in trace.advisories],
        "constraints": [{"kind": k.kind, "text": k.text, "line": k.line, "label": k.label,
                         "when": k.when,
                         "values": {name: to_json_value(value) for name, value in k.values}}
                        for k in trace.constraints],
        "derived": [{"name": d.name, "expression": d.text, "value": to_json_value(d.value),
                     "explanation": d.explanation,
                     "values": {name: to_json_value(value) for name, value in d.values},
                     "problem": d.problem,
                     "lookups": [_lookup_json(lookup) for lookup in d.lookups]}
                    for d in trace.derived],
        "as_of": to_json_value(trace.as_of),
    }


def _rule_json(rule: RuleTrace) -> dict[str, Any]:
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
        "conditions": [check_json(check) for check in rule.checks],
    }


def check_json(check: CheckTrace) -> dict[str, Any]:
    return {
        "condition": check.text,
        "display": check.display,
        "line": check.line,
        "column": check.column,
        "result": check.result,
        "values": {name: to_json_value(value) for name, value in check.values},
        "lookups": [_lookup_json(lookup) for lookup in check.lookups],
    }


def _lookup_json(lookup: LookupTrace) -> dict[str, Any]:
    return {"table": lookup.table, "key": to_json_value(lookup.key), "row": lookup.row,
            "value": to_json_value(lookup.value)}
