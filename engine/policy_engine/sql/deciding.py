"""SQL deciding: the policy's strategy, exceptions, `otherwise`, outputs and advisories as SQL.

`Deciding` turns the translated units into the columns of the query's last two stages: which
unit the scan stops at (first match, with an index on enumeration facts for big policies) or
which rules win (unique), then each row's status, code, label, field, decision, rule and
outputs, in the order the interpreter refuses: invalid facts, constraints, the as-of day, the
rules, the deciding rule's outputs, the advisories. Where the query can word the row's output
line exactly it does (`_text`); otherwise it leaves it NULL for the reference engine.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp

from policy_engine.check.checked import CheckedPolicy, CheckedRule, FactRef, walk
from policy_engine.check.types import AmountType, ListType, Type
from policy_engine.evaluate.errors import EvaluationError
from policy_engine.evaluate.resolution import as_of_date, no_decision
from policy_engine.sql import amounts, indexing
from policy_engine.sql import trees as t
from policy_engine.sql.constraints import Violation
from policy_engine.sql.expressions import Scope
from policy_engine.sql.rendering import decided_line, json_text, json_value, refused_line
from policy_engine.sql.rules import Unit, missing_message, zero_message
from policy_engine.sql.trees import Sql
from policy_engine.sql.values import Digits, Untranslatable, Val

NONE = -1


class Deciding:
    """The decision stages of the query for one policy."""

    def __init__(self, scope: Scope, units: dict[int, Unit], violations: list[Violation],
                 trail: bool) -> None:
        self.scope = scope
        self.policy: CheckedPolicy = scope.policy
        self.units = units
        self.violations = violations
        self.trail = trail
        self.output_digits: dict[str, Digits] = {}
        #: Each outcome branch's line when it is a constant (by `_branch` + 1), else None.
        self.lines: list[str | None] = []
        #: Each outcome branch's status (by `_branch` + 1).
        self.statuses: list[str] = []
        if self.policy.strategy == "agreeing":
            raise Untranslatable("'resolve agreeing'", None,
                                 help="SQL translates 'resolve first match' and "
                                      "'resolve unique'; decide with --engine python")

    # ------------------------------------------------------------ the evaluated stage
    def evaluated_columns(self) -> list[Sql]:
        """Columns computed from the facts: where the scan stops (`_stop`, the unit index or
        -1), the violations, the advisories, and with `trail` each unit's first conjunct that
        is not true (`_at_N`)."""
        policy = self.policy
        columns: list[Sql] = []
        if policy.strategy == "first match":
            columns.append(t.alias(indexing.first_hit(self.scope, policy.first_match_order,
                                                      self.units), "_stop"))
        else:
            stop, winners = self._unique()
            columns += [t.alias(stop, "_stop"), t.alias(winners, "_winners")]
        for number, violation in enumerate(self.violations):
            columns.append(t.alias(violation.broken, f"_violation_{number}"))
        for advisory in policy.advisories:
            unit = self.units[advisory.index]
            columns.append(t.alias(self._guarded(unit, unit.fault) if unit.fault is not None
                                   else t.null(), f"_advice_fault_{advisory.index}"))
            added = t.and_([unit.applies] + ([t.is_null(unit.fault)] if unit.fault is not None
                                             else []))
            columns.append(t.alias(self._guarded(unit, added, t.false()),
                                   f"_advice_{advisory.index}"))
        if self.trail:
            columns.append(t.alias(self._trail(), "_trail"))
        return columns

    def _trail(self) -> Sql:
        """Each tried unit's first conjunct that is not true (`indexing.trail`)."""
        policy = self.policy
        advisories = indexing.entries([self.units[a.index] for a in policy.advisories])
        if policy.strategy == "first match":
            scan = indexing.trail(self.scope, policy.first_match_order, self.units)
            if not advisories:
                return scan
            return t.concat_ws(",", [t.func("NULLIF", scan, t.lit("")), *advisories])
        tried = indexing.entries([self.units[r.index] for r in policy.first_match_order])
        return t.concat_ws(",", tried + advisories) if tried + advisories else t.lit("")

    def _guarded(self, unit: Unit, value: Sql, otherwise: Sql | None = None) -> Sql:
        if unit.in_effect is None:
            return value
        return t.when(unit.in_effect, value, otherwise)

    def _unique(self) -> tuple[Sql, Sql]:
        """Under `resolve unique`: the first rule (in evaluation order) whose evaluation
        stops, else the first winner (a rule that applies and no applying exception sets
        aside); and how many winners there are."""
        policy = self.policy
        order = policy.first_match_order
        faults = [(self._guarded(u, t.not_null(u.fault), t.false()), t.num(u.rule.index))
                  for u in (self.units[rule.index] for rule in order) if u.fault is not None]
        matched = {rule.index: self._guarded(self.units[rule.index],
                                             self.units[rule.index].applies, t.false())
                   for rule in order}
        wins: list[tuple[Sql, Sql]] = []
        count = t.num(0)
        for rule in order:
            beaten = [matched[other.index] for other in policy.rules
                      if rule.index in policy.overridden_by.get(other.index, frozenset())]
            won = matched[rule.index] if not beaten else t.and_([matched[rule.index],
                                                                 t.not_(t.or_(beaten))])
            wins.append((won, t.num(rule.index)))
            count = t.arith("+", count, t.when(won, t.num(1), t.num(0)))
        return t.case(faults + wins, t.num(NONE)), count

    def stop_columns(self) -> list[Sql]:
        """`_stop_fault` (why the unit the scan stopped at stopped, if it did) and `_decider`
        (the unit whose outputs are the decision's: the stop, or `otherwise`)."""
        policy = self.policy
        stop = t.col("_stop")
        faulty = [u for u in self.units.values() if u.fault is not None
                  and u.rule.kind == "rule"]
        fault = indexing.by_unit(stop, [(u.rule.index, u.fault) for u in faulty
                                        if u.fault is not None]) if faulty else t.null()
        otherwise = policy.otherwise
        if otherwise is not None and policy.refusal is None:
            decider = t.when(t.compare("==", stop, t.num(NONE)), t.num(otherwise.index), stop)
        else:
            decider = stop
        return [t.alias(fault, "_stop_fault"), t.alias(decider, "_decider")]

    # ------------------------------------------------------------ the decided stage
    def output_columns(self) -> list[Sql]:
        """The decider's outputs with the advisories' items, and each output's fault."""
        policy = self.policy
        columns: list[Sql] = []
        for output in policy.outputs:
            value, fault = self._output(output.name, output.type)
            columns += value
            columns.append(t.alias(fault, f"_output_fault_{output.name}"))
        return columns

    def deciders(self) -> list[Unit]:
        found = [self.units[rule.index] for rule in self.policy.rules]
        if self.policy.otherwise is not None and self.policy.refusal is None:
            found.append(self.units[self.policy.otherwise.index])
        return found

    def _output(self, name: str, kind: Type) -> tuple[list[Sql], Sql]:
        """The value columns of one output (`_out_NAME`, with `__scale` and `__negative` for an
        amount) and its fault, from the decider's assignment, then the advisories' items."""
        decider = t.col("_decider")
        branches = [(u.rule.index, v) for u in self.deciders() for n, v in u.outputs
                    if n == name]
        fault = indexing.by_unit(decider, [(i, v.fault) for i, v in branches
                                           if v.fault is not None]) \
            if any(v.fault is not None for _, v in branches) else t.null()
        if isinstance(kind, AmountType):
            values = [(i, amounts.as_amount(v)) for i, v in branches]
            digits = Digits(max((v.digits.whole for _, v in values if v.digits), default=1),
                            max((v.digits.scale for _, v in values if v.digits), default=0))
            value = indexing.by_unit(decider, [
                (i, t.decimal(v.sql, digits.total, digits.scale)) for i, v in values])
            scale = indexing.by_unit(decider, [(i, v.scale) for i, v in values
                                               if v.scale is not None])
            negative = indexing.by_unit(decider, [(i, v.negative) for i, v in values
                                                  if v.negative is not None])
            self.output_digits[name] = digits
            return ([t.alias(t.cast(value, digits.sql_type), f"_out_{name}"),
                     t.alias(scale, f"_out_{name}__scale"),
                     t.alias(negative, f"_out_{name}__negative")], fault)
        value = indexing.by_unit(decider, [(i, v.sql) for i, v in branches])
        if isinstance(kind, ListType):
            value = self._advised(name, value, bool(branches))
        return [t.alias(value, f"_out_{name}")], fault

    def _advised(self, name: str, value: Sql, set_by_rules: bool) -> Sql:
        """A list output with the items advisories add: each item once, in the order added,
        after the decider's own items (`resolution.add_advice`)."""
        items: list[tuple[CheckedRule, str]] = []
        for advisory in self.policy.advisories:
            unit = self.units[advisory.index]
            (target, _), = unit.outputs
            if target != name:
                continue
            for item in _items(advisory):
                items.append((advisory, item))
        if not items:
            return value
        current = t.coalesce([value, t.cast(t.array([]), "ARRAY<VARCHAR>")]) if set_by_rules \
            else t.cast(t.array([]), "ARRAY<VARCHAR>")
        extras: list[Sql] = []
        for number, (advisory, item) in enumerate(items):
            earlier = [t.col(f"_advice_{other.index}") for other, other_item in items[:number]
                       if other_item == item and other.index != advisory.index]
            tests = [t.col(f"_advice_{advisory.index}"),
                     t.not_(t.contains(current, t.lit(item)))]
            if earlier:
                tests.append(t.not_(t.or_(earlier)))
            extras.append(t.when(t.and_(tests), t.lit(item)))
        added = t.filter_(t.array(extras), "x", t.not_null(t.var("x")))
        any_added = t.or_([t.col(f"_advice_{a.index}") for a in
                           {a.index: a for a, _ in items}.values()])
        merged = t.array_concat(current, added)
        if set_by_rules:
            return t.when(t.or_([t.not_null(value), any_added]), merged)
        return t.when(any_added, merged)

    # ------------------------------------------------------------ the row's outcome
    def fault_columns(self) -> list[Sql]:
        """`_fault` and `_fault_unit`: the first fault of the scan, the decider's outputs and
        the advisories, in the order the interpreter meets them, and whose it is."""
        sources: list[tuple[Sql, Sql]] = [(t.col("_stop_fault"), t.col("_stop"))]
        for output in self.policy.outputs:
            sources.append((t.col(f"_output_fault_{output.name}"), t.col("_decider")))
        for advisory in self.policy.advisories:
            sources.append((t.col(f"_advice_fault_{advisory.index}"), t.num(advisory.index)))
        fault = t.coalesce([column for column, _ in sources])
        unit = t.case([(t.not_null(column), index) for column, index in sources])
        return [t.alias(fault, "_fault"), t.alias(unit, "_fault_unit")]

    def outcome(self, validation: list[Sql], constant_lines: bool = False,
                lean: bool = False) -> tuple[Sql, dict[str, Sql]]:
        """The row's outcome: `_branch`, which of the ways a row can end is the first that
        applies (in the interpreter's order: invalid facts, constraints, the as-of day, the
        scan, the strategy, the outputs, the advisories), and from it status, code, label,
        field and the output line's text (after `{"line": N, `). With `lean`, only the text:
        each branch's status is a constant (`statuses`), looked up by the caller."""
        policy = self.policy
        invalid_code, deferred = validation
        branches: list[tuple[Sql, tuple[Sql, Sql, Sql, Sql, Sql]]] = []
        null = t.null()
        branches.append((t.not_null(invalid_code),
                         (t.lit("invalid"), invalid_code, null, t.col("_invalid_path"), null)))
        branches.append((deferred, (t.lit("deferred"), null, null, null, null)))
        for number, violation in enumerate(self.violations):
            text = refused_line(violation.code, violation.label, violation.message) \
                if violation.message is not None else null
            branches.append((t.col(f"_violation_{number}"),
                             (t.lit("refused"), t.lit(violation.code), _maybe(violation.label),
                              _maybe(violation.field), text)))
        as_of = self._as_of_refusal()
        if as_of is not None:
            branches.append(as_of)
        fault = self._fault_outcome(t.col("_fault"), t.col("_fault_unit"))
        branches.append((t.not_null(t.col("_stop_fault")), fault))
        if policy.strategy == "unique":
            branches.append((t.compare(">", t.col("_winners"), t.num(1)),
                             (t.lit("refused"), t.lit("E402"), null, null, null)))
        if policy.otherwise is None or policy.refusal is not None:
            error = no_decision(policy)
            branches.append((t.compare("==", t.col("_decider"), t.num(NONE)), (
                t.lit("refused"), t.lit("E404"), _maybe(error.label), null,
                refused_line("E404", error.label, t.lit(json_text(error.message))))))
        branches.append((t.not_null(t.col("_fault")), fault))
        decided = (t.lit("decided"), null, null, null, self._decided_text())
        branch = t.case([(test, t.num(number)) for number, (test, _) in enumerate(branches)],
                        t.num(NONE))
        # With `constant_lines`, a branch whose line is the same on every row (most
        # refusals) is not written by the query: its line is `lines[branch + 1]`, filled in
        # after, from the row's `_branch`.
        self.lines = [None, *(constant_text(values[4]) for _, values in branches)]
        statuses = [constant_text(decided[0]), *(constant_text(v[0]) for _, v in branches)]
        assert all(status is not None for status in statuses)
        self.statuses = [str(status) for status in statuses]
        names = ("_status", "_code", "_label", "_field", "_text")
        chosen = t.col("_branch")
        columns = {name: t.case([(t.eq(chosen, t.num(NONE)), decided[i])]
                                + [(t.eq(chosen, t.num(number)), values[i])
                                   for number, (_, values) in enumerate(branches)
                                   if not isinstance(values[i], exp.Null)
                                   and not (name == "_text" and constant_lines
                                            and self.lines[number + 1] is not None)])
                   for i, name in enumerate(names) if not lean or name == "_text"}
        if not constant_lines:
            self.lines = [None] * len(self.lines)
        return branch, columns

    def _as_of_refusal(self) -> tuple[Sql, tuple[Sql, Sql, Sql, Sql, Sql]] | None:
        policy = self.policy
        if policy.as_of is None or not any(u.effective for u in policy.units()):
            return None
        info = self.scope.facts[policy.as_of]
        if not info.optional or info.default is not None:
            return None
        try:
            as_of_date(policy, {})
        except EvaluationError as error:
            return (t.is_null(self.scope.column(policy.as_of)), (
                t.lit("refused"), t.lit("E401"), t.null(), t.lit(policy.as_of),
                refused_line("E401", None, t.lit(json_text(error.message)))))
        return None

    def _fault_outcome(self, fault: Sql, unit_index: Sql) -> tuple[Sql, Sql, Sql, Sql, Sql]:
        """A refusal for a fault of some unit: E401 and E405 worded here, the rest by the
        reference engine."""
        code = t.substring(fault, t.num(1), t.num(4))
        fact = t.substring(fault, t.num(6), t.length(fault))
        missing_branches = []
        zero_branches = []
        defines = {define.name for define in self.policy.defines}
        for unit in self.units.values():
            if unit.fault is None and not any(v.fault is not None for _, v in unit.outputs):
                continue
            if not _reads_a_define(unit.rule, defines):
                # A missing fact read through a derived value is named with that value
                # (E401 "... for derived value 'x'"), which the fault does not carry: no
                # branch, so the text is NULL and the reference engine words that row.
                before, after = missing_message(self.policy, unit.rule)
                missing_branches.append((unit.rule.index,
                                         t.concat([t.lit(json_text(before)[:-1]), fact,
                                                   t.lit(json_text(after)[1:])])))
            zero_branches.append((unit.rule.index,
                                  t.lit(json_text(zero_message(self.policy, unit.rule)))))
        message = t.case([(t.eq(code, t.lit("E401")), indexing.by_unit(unit_index,
                                                                       missing_branches)),
                          (t.eq(code, t.lit("E405")), indexing.by_unit(unit_index,
                                                                       zero_branches))])
        text = t.concat([t.lit('"refused": {"code": "'), code,
                         t.lit('", "label": null, "message": '), message, t.lit("}}")])
        field = t.when(t.eq(code, t.lit("E401")), fact)
        return t.lit("refused"), code, t.null(), field, text

    def _decided_text(self) -> Sql:
        policy = self.policy
        # The names are columns of the stage before (`decision_columns`), written once.
        decision, rule = t.col("_decision"), t.col("_rule")
        parts = []
        for output in policy.outputs:
            value = self.output_val(output.name, output.type)
            written = json_value(output.type, value)
            if written is None:
                return t.null()  # free text: the reference engine writes the line
            parts.append(t.concat([t.lit(f'{json_text(output.name)}: '), written]))
        return decided_line(decision, rule, parts)

    def output_val(self, name: str, kind: Type) -> Val:
        """An output's value columns as a `Val` (NULL when the decider does not set it)."""
        column = t.col(f"_out_{name}")
        if isinstance(kind, AmountType):
            return Val(column, digits=self.output_digits[name],
                       scale=t.col(f"_out_{name}__scale"),
                       negative=t.col(f"_out_{name}__negative"))
        return Val(column)

    def names(self, source: str) -> exp.Select:
        """`source` with the decider's decision and rule name (`_decision`, `_rule`): for a
        big policy from a table of the units joined on the decider's number (a hash lookup,
        where a CASE of thousands of branches costs the optimiser seconds), else a CASE."""
        decider = t.col("_decider")
        units = self.deciders()
        if len(units) <= indexing.GROUPED:
            return exp.select(exp.Star(), *[
                t.alias(indexing.by_unit(decider, [(u.rule.index, t.lit(u.rule.decision))
                                                   for u in units]), "_decision"),
                t.alias(indexing.by_unit(decider, [(u.rule.index, t.lit(u.rule.id))
                                                   for u in units]), "_rule")]
            ).from_(source, copy=False)
        table = exp.values([(u.rule.index, u.rule.decision, u.rule.id) for u in units],
                           alias="_units", columns=["_unit", "_decision", "_rule"])
        # `source.*`: only the table's two names come along, never its key.
        return exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(source)),
                          t.col("_decision", "_units"), t.col("_rule", "_units")) \
            .from_(source, copy=False) \
            .join(table, on=t.eq(t.col("_decider", source), t.col("_unit", "_units")),
                  join_type="LEFT", copy=False)


def _items(rule: CheckedRule) -> Sequence[str]:
    """The items an advisory adds (constants, checked)."""
    (_, items), = rule.outputs
    return [str(item.value) for item in getattr(items, "items", ())]


def constant_text(value: Sql) -> str | None:
    """The text of a string expression made of literals only (`'a' || 'b'`), else None."""
    while isinstance(value, exp.Paren):
        value = value.this
    if isinstance(value, exp.Literal) and value.is_string:
        return str(value.this)
    if isinstance(value, exp.DPipe):
        left, right = constant_text(value.this), constant_text(value.expression)
        return None if left is None or right is None else left + right
    return None


def _maybe(text: str | None) -> Sql:
    return t.lit(text) if text is not None else t.null()


def _reads_a_define(rule: CheckedRule, defines: set[str]) -> bool:
    """Whether the rule's condition or outputs read a derived value."""
    exprs = [conjunct.expr for conjunct in rule.conjuncts] + [e for _, e in rule.outputs]
    return any(isinstance(node, FactRef) and node.name in defines
               for expr in exprs for node in walk(expr))
