"""policy sql and policy backtest: a policy as a query, and a change decided over history.

Both import the SQL stage only when they run (it needs the optional `sql` extra), so
`policy eval` never loads sqlglot, DuckDB or pyarrow.
"""

from __future__ import annotations

import click

from policy_engine.cli.shell import (
    EXIT_EXPECTATION,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    cli,
    emit,
    finish,
    load_or_exit,
    load_version_given,
    output_options,
    report_diagnostics,
)
from policy_engine.core.diagnostics import DiagnosticError


def _exit_for(error: DiagnosticError) -> int:
    """E602 (an engine that is not installed) is a usage problem; the rest are invalid
    input."""
    return EXIT_USAGE if any(d.code == "E602" for d in error.diagnostics) else EXIT_INVALID


@cli.command("sql")
@click.argument("policy_path", metavar="POLICY")
@click.option("--dialect", type=click.Choice(["duckdb", "spark"]), default="duckdb",
              show_default=True, help="The SQL dialect to write.")
@click.option("--table", default="facts", show_default=True, metavar="NAME",
              help="The table of fact rows the query reads (columns: docs/scale-out.md).")
@click.option("--trail", is_flag=True,
              help="Add the column `trail`: each rule's first condition that was not true.")
@output_options
@click.pass_context
def sql_command(ctx: click.Context, policy_path: str, dialect: str, table: str,
                trail: bool, output_path: str | None, quiet: bool) -> None:
    """Print POLICY as one SQL query, for a data team to run in its own warehouse.

    The query reads a table with a column `_line` (a row number) and one column per fact,
    and returns one row per input row: line, status, code, label, field, decision, rule,
    one column per output, and the batch output line as `text`. Exit status: 0 printed, 2
    POLICY is invalid or has a construct SQL cannot decide exactly (E601), 3 usage or the
    `sql` extra is missing.
    """
    policy = load_or_exit(ctx, policy_path)
    try:
        from policy_engine.sql.query import compile_query
    except ImportError:
        click.echo("error[E602]: the SQL translation (the Python package sqlglot) is not "
                   "available\nhelp: pip install 'policy-engine[sql]'", err=True)
        ctx.exit(EXIT_USAGE)
    try:
        query = compile_query(policy.checked, table=table, trail=trail)
    except DiagnosticError as error:
        report_diagnostics(error.diagnostics)
        ctx.exit(EXIT_INVALID)
    emit(ctx, query.sql(dialect, pretty=True) + ";\n")
    finish(ctx, EXIT_OK)


@cli.command("backtest")
@click.argument("old")
@click.argument("new")
@click.option("--history", "history", required=True, metavar="FILE|DIR",
              help="Past fact rows: JSON Lines, CSV, Parquet or decision logs, or a folder "
                   "of them.")
@click.option("--engine", type=click.Choice(["python", "duckdb", "spark"]), default="duckdb",
              show_default=True, help="Decide in Python (the reference), DuckDB or Spark.")
@click.option("--input-format", "fmt",
              type=click.Choice(["jsonl", "csv", "parquet", "decision-log"]), default=None,
              help="The history's format  [default: from each file's suffix, or a decision "
                   "log's first line]")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True)
@click.option("--examples", type=click.IntRange(min=0), default=3, show_default=True,
              metavar="N", help="Example rows shown per changed transition.")
@click.option("--amount", "amount", default=None, metavar="FACT",
              help="The amount fact summed per transition  [default: the new version's "
                   "first amount fact]")
@click.option("--spark-master", default="local[*]", show_default=True, metavar="URL",
              help="The Spark master for --engine spark.")
@click.option("--fail-on-change", is_flag=True, help="Exit 1 when any row's outcome changes.")
@output_options
@click.pass_context
def backtest_command(ctx: click.Context, old: str, new: str, history: str, engine: str,
                     fmt: str | None, output_format: str, examples: int, amount: str | None,
                     spark_master: str, fail_on_change: bool, output_path: str | None,
                     quiet: bool) -> None:
    """Decide every row of a history under OLD and NEW, and show what the change does.

    OLD and NEW are policy files or git revisions, such as main:policies/x.policy. Prints
    the transition matrix (outcome before -> after, rows, share, sum of an amount fact),
    the refused and invalid counts, and example rows of each change with both answers.
    Exit status: 0 done, 1 with --fail-on-change when a row changed, 2 a version or the
    history cannot be read, 3 usage or the engine is not installed.
    """
    from policy_engine.batch import BatchUsageError
    from policy_engine.sql.backtest import backtest
    from policy_engine.sql.reports import render_markdown, render_text, to_json

    try:
        before, after = load_version_given(ctx, old), load_version_given(ctx, new)
        result = backtest(before, after, history, old_name=old, new_name=new, engine=engine,
                          fmt=fmt, examples=examples, amount=amount, spark_master=spark_master)
    except BatchUsageError as error:
        raise click.UsageError(str(error)) from None
    except DiagnosticError as error:
        report_diagnostics(error.diagnostics)
        ctx.exit(_exit_for(error))
    if output_format == "json":
        import json  # `json` is imported when output is JSON: not by every `policy eval`
        emit(ctx, json.dumps(to_json(result), indent=2, ensure_ascii=False) + "\n")
    elif output_format == "markdown":
        emit(ctx, render_markdown(result))
    else:
        emit(ctx, render_text(result))
    finish(ctx, EXIT_EXPECTATION if fail_on_change and result.changed else EXIT_OK)
