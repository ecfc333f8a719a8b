"""Backtests in one query: both versions of a policy decided side by side over history.

`ReplayQuery` composes the two versions' compiled queries (`query.compile_query`, each over
its own table of the same rows, typed for its version) as two common table expressions,
`old` and `new`, joins them by line, and aggregates in SQL what a backtest reports:

- the transition matrix: each row's outcome before and after (a decision's name,
  `refused CODE LABEL`, `invalid CODE`), how many rows, the sum of an amount fact (exact, as
  DECIMAL(38, 12), with the most decimal places seen, so Python writes the sum as `Decimal`
  does), and how many kept their decision but not their outputs;
- the first `examples` lines of each changed transition (`row_number()` over the transition
  in line order), whose two explanations Python then builds;
- the lines the query leaves to the reference engine: a value outside the query's envelope
  (`deferred`) under either version, or an amount with more decimal places than the sum
  holds exactly.

The result is one Arrow table of those three kinds of rows (`kind` is `m`, `e` or `p`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from policy_engine.policy import Policy
from policy_engine.sql import trees as t
from policy_engine.sql.query import compile_query
from policy_engine.sql.trees import Sql
from policy_engine.sql.values import LINE

#: The input tables of the two versions, as the query names them.
OLD_TABLE, NEW_TABLE = "facts_old", "facts_new"
#: Decimal places of the amount sum; a row whose amount has more goes to Python.
AMOUNT_SCALE = 12


@dataclass
class ReplayQuery:
    """The one query of a backtest (see the module docstring).

    Args:
        old: the version before.
        new: the version after.
        amount_fact: the new version's amount fact summed per transition, or None.
        examples: the example lines kept per changed transition.
        shared: whether both versions read one table (their facts are declared alike), so
            the rows are read and typed once.
    """

    old: Policy
    new: Policy
    amount_fact: str | None
    examples: int
    shared: bool

    def __post_init__(self) -> None:
        self.old_query = compile_query(self.old.checked, table=self.old_table)
        self.new_query = compile_query(self.new.checked, table=NEW_TABLE)
        self.tree = self._build()
        self._text: dict[str, str] = {}

    @property
    def old_table(self) -> str:
        return NEW_TABLE if self.shared else OLD_TABLE

    def sql(self, dialect: str) -> str:
        text = self._text.get(dialect)
        if text is None:
            tree = self.tree
            if dialect == "duckdb":
                # DuckDB computes `joined` once for the three selects that read it when told
                # to (about a sixth faster on a million rows); Spark has no such hint.
                tree = tree.copy()
                outer = tree.find(exp.With)  # breadth first: the outermost WITH
                assert outer is not None
                for cte in outer.expressions:
                    if cte.alias == "joined":
                        cte.set("materialized", True)
            text = self._text[dialect] = tree.sql(dialect=dialect)
        return text

    # ------------------------------------------------------------ the tree
    def _build(self) -> exp.Expression:
        joined = self._joined()
        counted = exp.select(
            t.alias(t.lit("m"), "kind"), t.col("before"), t.col("after"),
            t.alias(exp.Count(this=exp.Star()), "rows"),
            t.alias(t.cast(exp.Sum(this=t.when(t.col("other"), t.num(1), t.num(0))), "BIGINT"),
                    "other"),
            t.alias(exp.Sum(this=t.col("amount")), "amount"),
            t.alias(exp.Max(this=t.col("scale")), "scale"),
            t.alias(t.cast(t.null(), "BIGINT"), "line"),
        ).from_("joined", copy=False).where(t.not_(t.col("python")), copy=False).group_by(
            t.col("before"), t.col("after"), copy=False)
        numbered = exp.select(exp.Star(), t.alias(exp.Window(
            this=exp.RowNumber(), partition_by=[t.col("before"), t.col("after")],
            order=exp.Order(expressions=[exp.Ordered(this=t.col("line"))])), "number")
        ).from_("joined", copy=False).where(t.and_([
            t.not_(t.col("python")),
            exp.NEQ(this=t.col("before"), expression=t.col("after"))]), copy=False)
        examples = self._rest("e", t.col("before"), t.col("after")).from_(
            "numbered", copy=False).where(t.compare("<=", t.col("number"),
                                                    t.num(self.examples)), copy=False)
        python = self._rest("p", t.cast(t.null(), "VARCHAR"), t.cast(t.null(), "VARCHAR")) \
            .from_("joined", copy=False).where(t.col("python"), copy=False)
        query: exp.Expression = exp.union(exp.union(counted, examples, distinct=False),
                                          python, distinct=False)
        ctes = [("old", self.old_query.tree), ("new", self.new_query.tree),
                ("joined", joined), ("numbered", numbered)]
        for name, body in ctes:
            query = query.with_(name, as_=body, copy=False)  # type: ignore[attr-defined]
        return query

    @staticmethod
    def _rest(kind: str, before: Sql, after: Sql) -> exp.Select:
        """A row of one line (an example or a line for Python) in the result's columns."""
        return exp.select(t.alias(t.lit(kind), "kind"), t.alias(before, "before"),
                          t.alias(after, "after"), t.alias(t.cast(t.null(), "BIGINT"), "rows"),
                          t.alias(t.cast(t.null(), "BIGINT"), "other"),
                          t.alias(t.cast(t.null(), f"DECIMAL(38, {AMOUNT_SCALE})"), "amount"),
                          t.alias(t.cast(t.null(), "BIGINT"), "scale"), t.col("line"))

    def _joined(self) -> exp.Select:
        """Each line's outcome under both versions, whether they kept the decision but not
        the outputs, its amount and that amount's places, and whether Python decides it."""
        old_outputs = {o.name: o.column for o in self.old_query.outputs}
        new_outputs = {o.name: o.column for o in self.new_query.outputs}
        names = list(dict.fromkeys([*old_outputs, *new_outputs]))

        def output(side: str, columns: dict[str, str], name: str) -> Sql:
            if name not in columns:
                return t.cast(t.null(), "VARCHAR")
            return t.cast(t.col(columns[name], side), "VARCHAR")

        differs = [exp.NullSafeNEQ(this=output("old", old_outputs, name),
                                   expression=output("new", new_outputs, name))
                   for name in names]
        other = t.and_([t.eq(t.col("status", "old"), t.lit("decided")),
                        t.eq(t.col("status", "new"), t.lit("decided")),
                        t.eq(t.col("decision", "old"), t.col("decision", "new")),
                        t.or_(differs) if differs else t.false()])
        amount, scale = t.null(), t.null()
        if self.amount_fact is not None:
            text = t.col(self.amount_fact, "amounts")
            amount = exp.TryCast(this=text,
                                 to=exp.DataType.build(f"DECIMAL(38, {AMOUNT_SCALE})"))
            point = exp.StrPosition(this=text, substr=t.lit("."))
            scale = t.when(t.is_null(amount), t.null(),
                           t.when(t.compare(">", point, t.num(0)),
                                  t.arith("-", t.length(text), point), t.num(0)))
        python = t.or_([t.eq(t.col("status", "old"), t.lit("deferred")),
                        t.eq(t.col("status", "new"), t.lit("deferred")),
                        t.compare(">", scale, t.num(AMOUNT_SCALE))
                        if self.amount_fact is not None else t.false()])
        select = exp.select(
            t.alias(t.col("line", "old"), "line"),
            t.alias(_outcome("old"), "before"), t.alias(_outcome("new"), "after"),
            t.alias(t.coalesce([other, t.false()]), "other"),
            t.alias(amount, "amount"), t.alias(scale, "scale"),
            t.alias(t.coalesce([python, t.false()]), "python"),
        ).from_("old", copy=False).join(
            "new", on=t.eq(t.col("line", "old"), t.col("line", "new")), copy=False)
        if self.amount_fact is not None:
            select = select.join(exp.to_table(NEW_TABLE).as_("amounts"),
                                 on=t.eq(t.col("line", "old"), t.col(LINE, "amounts")),
                                 copy=False)
        return select


def _outcome(side: str) -> Sql:
    """A row's outcome as a transition names it (`sql.backtest.outcome_key`)."""
    status, code, label = (t.col(name, side) for name in ("status", "code", "label"))
    labelled = t.when(t.is_null(label), t.lit(""), t.concat([t.lit(" "), label]))
    return t.case([
        (t.eq(status, t.lit("decided")), t.col("decision", side)),
        (t.eq(status, t.lit("refused")), t.concat([t.lit("refused "), code, labelled])),
        (t.eq(status, t.lit("invalid")), t.concat([t.lit("invalid "), code])),
    ], t.lit("deferred"))


def run(engine: Any, query: ReplayQuery, tables: dict[str, Any]) -> Any:
    """The query's result (Arrow) over `tables` (name -> Arrow table), on DuckDB or Spark.

    Raises:
        DiagnosticError: E603 when the engine fails on the query.
    """
    return engine.sql(query.sql(engine.name), tables)
