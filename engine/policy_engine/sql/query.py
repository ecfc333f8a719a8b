"""SQL query: a checked policy compiled into one query over a table of fact rows.

`compile_query` translates every part of the policy and assembles the stages as common table
expressions: the checks on the input (`parsed`, `exact`, `checked`) and the typed facts
(`typed`), the calendar lookups (`probed`, `joined`), where the
scan stops and what the constraints and advisories say (`evaluated`), the decider
(`stopped`), its outputs (`outputs`), and the row's outcome. `PolicyQuery.sql(dialect)`
writes it for DuckDB or Spark; the tree is sqlglot's, so no policy text is ever pasted into
SQL except as a quoted literal. A construct without an exact translation is refused with E601,
naming it and its line.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlglot import exp

from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.types import AmountType
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.sql import indexing
from policy_engine.sql import trees as t
from policy_engine.sql.calendars import Calendars, table_query
from policy_engine.sql.constraints import violations
from policy_engine.sql.deciding import Deciding
from policy_engine.sql.expressions import Scope
from policy_engine.sql.rules import Unit, translate_unit
from policy_engine.sql.trees import Sql
from policy_engine.sql.validation import Validation, sql_type
from policy_engine.sql.values import ENVELOPE, ENVELOPES, LINE, Envelope, Untranslatable

DIALECTS = ("duckdb", "spark")
#: The input table's name in a query printed for a warehouse; the runners bind their own.
DEFAULT_TABLE = "facts"


@dataclass(frozen=True)
class OutputColumn:
    """A column of the query's result that holds one output (typed), and how to read it."""

    name: str
    column: str
    kind: str  # "amount" (decimal text in `column`), "list", or "plain"


@dataclass
class PolicyQuery:
    """A policy compiled to SQL.

    Attributes:
        policy: the checked policy.
        tree: the query, a sqlglot tree over the table `table`.
        trail: whether the result has `trail` (each tried unit's first conjunct not true,
            as `index:at` pairs, see `indexing`).
        outputs: the output columns of the result.
        input_columns: the input table's columns and their SQL types (docs/scale-out.md).
        lines: with `constant_lines`, the line text (after `{"line": N, `) of each outcome
            branch that writes the same text on every row, by the result's `branch` + 1
            (None where the query writes `text` itself); the query leaves `text` NULL on
            those rows.
        statuses: with `lean`, each outcome branch's status, by `branch` + 1.
    """

    policy: CheckedPolicy
    tree: exp.Select
    table: str
    trail: bool
    outputs: list[OutputColumn] = field(default_factory=list)
    input_columns: list[tuple[str, str]] = field(default_factory=list)
    lines: list[str | None] | None = None
    statuses: list[str] | None = None

    def sql(self, dialect: str = "duckdb", *, pretty: bool = False) -> str:
        with _collector_paused():
            return self.tree.sql(dialect=dialect, pretty=pretty)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector paused: a big policy's tree is millions of objects, and
    building or copying it would otherwise start a full collection over all of them again
    and again (most of the time spent translating 10,000 rules). The cycles a tree makes
    (each node points to its parent) are collected at the collector's next run after."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def compile_query(policy: CheckedPolicy, *, table: str = DEFAULT_TABLE, trail: bool = False,
                  envelope: Envelope = ENVELOPE, constant_lines: bool = False,
                  lean: bool = False) -> PolicyQuery:
    """Translates a checked policy into a query over `table` (see docs/scale-out.md).

    With `constant_lines`, the result also has `branch`, and `text` is NULL where the line is
    the same on every row of that branch (`PolicyQuery.lines`): `policy batch` fills those
    in from a list rather than have the engine copy long strings row by row.

    With `lean` (implies `constant_lines`, not with `trail`), the result has only what
    `policy batch` reads: `line`, `branch`, `written` (the row's whole output line and its
    newline, NULL when the query cannot word it), and `code`, `field` and `invalid_count`,
    which hold an invalid row's first problem (other rows' are not defined); the status is
    `PolicyQuery.statuses[branch + 1]`. Status, code, label and field as CASEs over the
    outcome's branches were a third of the query's time.

    Raises:
        DiagnosticError: E601 for a construct that has no exact SQL translation.
    """
    envelopes = [envelope] if envelope is not ENVELOPE else list(ENVELOPES)
    problem: Untranslatable | None = None
    for candidate in envelopes:
        try:
            with _collector_paused():
                return _compile(policy, table, trail and not lean, candidate,
                                constant_lines or lean, lean)
        except Untranslatable as found:
            problem = found
            if not found.digits:
                break  # a smaller envelope only helps with numbers too long for SQL
        except RecursionError:
            raise DiagnosticError([Diagnostic(
                "E601", "the policy nests too deeply to be translated to SQL",
                file=policy.source.name, help="decide this policy with --engine python")]) \
                from None
    assert problem is not None
    raise _refused(policy, problem)


def _refused(policy: CheckedPolicy, problem: Untranslatable) -> DiagnosticError:
    return DiagnosticError([Diagnostic(
        "E601", f"{problem.what} cannot be translated to SQL exactly",
        policy.source if problem.span is not None else None, problem.span,
        file=None if problem.span is not None else policy.source.name,
        help=problem.help or "decide this policy with --engine python")])


def _compile(policy: CheckedPolicy, table: str, trail: bool, envelope: Envelope,
             constant_lines: bool = False, lean: bool = False) -> PolicyQuery:
    for name in [f.name for f in policy.facts] + [d.name for d in policy.defines]:
        if name.startswith("_"):
            raise Untranslatable(f"the name '{name}' (the query keeps names starting with _ "
                                 "for itself)", None)
    validation = Validation(policy, envelope)
    calendars = Calendars()
    scope = Scope(policy, envelope, calendars, t.col)
    stages = _Stages()
    for name, body in validation.stages(table):
        stages.add(name, body)
    # Each derived value is computed once, in a stage of its own, after those it reads.
    for define in policy.defines:
        columns = scope.derive(define.name)
        stages.probe(calendars)
        stages.add(f"derived_{len(stages.names)}", columns)
    units: dict[int, Unit] = {rule.index: translate_unit(scope, rule) for rule in policy.units()}
    found = violations(scope)
    deciding = Deciding(scope, units, found, trail)
    stages.probe(calendars)
    if policy.strategy == "first match":
        key = indexing.grouping(scope, policy.first_match_order)
        if key is not None:
            stages.add("grouped", exp.select(exp.Star()).from_(stages.names[-1], copy=False)
                       .order_by(key, copy=False))
    stages.add("evaluated", deciding.evaluated_columns())
    ctes = [(cover.table, table_query(cover)) for cover in calendars.tables.values()]
    ctes += stages.ctes
    source = stages.names[-1]
    ctes.append(("stopped", exp.select(exp.Star(), *deciding.stop_columns())
                 .from_(source, copy=False)))
    ctes.append(("decided", exp.select(exp.Star(), *deciding.output_columns())
                 .from_("stopped", copy=False)))
    ctes.append(("faulted", exp.select(exp.Star(), *deciding.fault_columns())
                 .from_("decided", copy=False)))
    branch, outcome = deciding.outcome([t.col("_invalid_code"), t.col("_deferred")],
                                       constant_lines, lean)
    ctes.append(("named", deciding.names("faulted")))
    ctes.append(("ended", exp.select(exp.Star(), t.alias(branch, "_branch"))
                 .from_("named", copy=False)))
    ctes.append(("outcome", exp.select(exp.Star(), *[t.alias(value, name) for name, value in
                                                     outcome.items()])
                 .from_("ended", copy=False)))

    inputs = [(LINE, "BIGINT")] + [(info.name, sql_type(info.type)) for info in policy.facts]
    if lean:
        # The whole output line with its newline: the query's text, else the branch's
        # constant line; NULL where neither is known (the row is worded by Python).
        text = t.coalesce([t.col("_text"), t.case(
            [(t.eq(t.col("_branch"), t.num(number - 1)), t.lit(line))
             for number, line in enumerate(deciding.lines) if line is not None])]) \
            if any(deciding.lines) else t.col("_text")
        written = t.concat([t.lit('{"line": '), t.cast(t.col(LINE), "VARCHAR"), t.lit(", "),
                            text, t.lit("\n")])
        query = exp.select(
            t.alias(t.col(LINE), "line"), t.alias(t.col("_branch"), "branch"),
            t.alias(written, "written"), t.alias(t.col("_invalid_code"), "code"),
            t.alias(t.col("_invalid_path"), "field"),
            t.alias(t.col("_invalid_count"), "invalid_count")).from_("outcome", copy=False)
        for name, body in ctes:
            query = query.with_(name, as_=body, copy=False)
        return PolicyQuery(policy, query, table, False, [], inputs, deciding.lines,
                           deciding.statuses)
    outputs: list[OutputColumn] = []
    selected: list[Sql] = [
        t.alias(t.col(LINE), "line"), t.alias(t.col("_status"), "status"),
        t.alias(t.col("_code"), "code"), t.alias(t.col("_label"), "label"),
        t.alias(t.when(t.eq(t.col("_status"), t.lit("invalid")), t.col("_invalid_path"),
                       t.col("_field")), "field"),
        t.alias(t.when(t.eq(t.col("_status"), t.lit("decided")), t.col("_decision")),
                "decision"),
        t.alias(t.when(t.eq(t.col("_status"), t.lit("decided")), t.col("_rule")), "rule")]
    from policy_engine.sql.amounts import text as amount_text

    for output in policy.outputs:
        column = f"output_{output.name}"
        decided = t.eq(t.col("_status"), t.lit("decided"))
        if isinstance(output.type, AmountType):
            value = deciding.output_val(output.name, output.type)
            selected.append(t.alias(t.when(decided, amount_text(value)), column))
            outputs.append(OutputColumn(output.name, column, "amount"))
        else:
            selected.append(t.alias(t.when(decided, t.col(f"_out_{output.name}")), column))
            outputs.append(OutputColumn(output.name, column, "plain"))
    selected.append(t.alias(t.col("_text"), "text"))
    if constant_lines:
        selected.append(t.alias(t.col("_branch"), "branch"))
    if trail:
        selected.append(t.alias(t.col("_trail"), "trail"))
    # How many problems an invalid row has: `policy batch` reports "(and N more)" from it.
    selected.append(t.alias(t.col("_invalid_count"), "invalid_count"))
    query = exp.select(*selected).from_("outcome", copy=False)
    for name, body in ctes:
        query = query.with_(name, as_=body, copy=False)
    return PolicyQuery(policy, query, table, trail, outputs, inputs,
                       deciding.lines if constant_lines else None)


class _Stages:
    """The query's stages, each a CTE reading the one before it."""

    def __init__(self) -> None:
        self.ctes: list[tuple[str, exp.Select]] = []
        self.names: list[str] = []
        self._probed = 0

    def add(self, name: str, body: exp.Select | list[Sql]) -> None:
        if isinstance(body, list):
            body = exp.select(exp.Star(), *body).from_(self.names[-1], copy=False)
        self.ctes.append((name, body))
        self.names.append(name)

    def probe(self, calendars: Calendars) -> None:
        """The calendar lookups registered since the last call: their days, then a join."""
        new = calendars.probes[self._probed:]
        if not new:
            return
        days: list[Sql] = []
        for probe in new:
            days += [t.alias(probe.low, probe.low_column + "_day"),
                     t.alias(probe.high, probe.high_column + "_day")]
        self.add(f"probed_{len(self.names)}", days)
        before = self.names[-1]
        # `before.*`, not `*`: the calendar tables' own columns (day, holidays) must not
        # come along, or a fact of the same name becomes ambiguous (Spark refuses it).
        joined = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier(before))) \
            .from_(before, copy=False)
        for number, probe in enumerate(new, start=self._probed):
            for side, column in (("l", probe.low_column), ("h", probe.high_column)):
                alias = f"c{number}{side}"
                joined = joined.join(
                    exp.to_table(probe.coverage.table).as_(alias),
                    on=t.eq(t.col("day", alias), t.col(column + "_day", before)),
                    join_type="LEFT", copy=False)
                joined = joined.select(t.alias(t.col("holidays", alias), column), copy=False)
        self.add(f"joined_{len(self.names)}", joined)
        self._probed = len(calendars.probes)
