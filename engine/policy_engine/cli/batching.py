"""policy batch: every row of a file decided, nothing lost."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

import click

from policy_engine.cli.shell import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    check_policy_path_given,
    cli,
    report_diagnostics,
    silence_standard_output,
)
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError

if TYPE_CHECKING:
    from policy_engine.batch import BatchSummary

#: Rows not decided reported one by one on standard error; the output has every one.
_BATCH_SHOWN = 50


@cli.command("batch")
@click.argument("policy_path", metavar="POLICY")
@click.argument("input_path", metavar="INPUT")
@click.option("--out", "output_path", required=True, metavar="OUTPUT",
              help="Write one JSON line per input row here ('-' for standard output).")
@click.option("--input-format", "fmt",
              type=click.Choice(["jsonl", "csv", "parquet", "decision-log"]), default=None,
              help="The input format  [default: from INPUT's suffix, or a decision log's first "
                   "line]")
@click.option("--format", "output_format", type=click.Choice(["jsonl", "parquet"]),
              default="jsonl", show_default=True,
              help="The output format: JSON Lines, or Parquet columns (docs/scale-out.md).")
@click.option("--engine", type=click.Choice(["python", "duckdb", "spark"]), default="python",
              show_default=True,
              help="Decide in Python (the reference), in DuckDB (embedded) or in Spark; the "
                   "output is the same.")
@click.option("--spark-master", default="local[*]", show_default=True, metavar="URL",
              help="The Spark master for --engine spark.")
@click.option("--trace", is_flag=True, help="Add the explanation to each decision.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, metavar="N",
              help="Worker processes, at most one per core  [default: one per core; 1 decides "
                   "in this process]")
@click.option("--no-progress", is_flag=True, help="Show no progress bar on a terminal.")
@click.option("--summary", "summary_path", default=None, metavar="FILE",
              help="Also write the counts as JSON (format policy-engine/batch-summary) to FILE "
                   "('-': standard output, when --out is a file).")
@click.option("--max-row-bytes", type=click.IntRange(min=1), default=1_048_576,
              show_default=True, metavar="N",
              help="A longer row is refused (E307) without being read whole.")
@click.option("--max-depth", type=click.IntRange(min=1), default=64, show_default=True,
              metavar="N", help="A JSON row nested deeper is refused (E307).")
@click.option("--max-digits", type=click.IntRange(min=1), default=100, show_default=True,
              metavar="N", help="A number with more digits written out is refused (E307).")
@click.pass_context
def batch_command(ctx: click.Context, policy_path: str, input_path: str, output_path: str,
                  fmt: str | None, output_format: str, engine: str, spark_master: str,
                  trace: bool, jobs: int | None, no_progress: bool, summary_path: str | None,
                  max_row_bytes: int, max_depth: int, max_digits: int) -> None:
    """Decide every row of INPUT (JSON Lines, CSV, Parquet or a decision log) against POLICY.

    Exit status: 0 every row was decided or refused, 2 a row was invalid or failed (each is
    reported on standard error and in OUTPUT), POLICY or INPUT cannot be read, or OUTPUT
    cannot be written, 3 usage, 130 or 143 stopped by SIGINT or SIGTERM.
    """
    from policy_engine.batch import (
        STANDARD_OUTPUT,
        Batch,
        BatchOutput,
        BatchSummary,
        BatchUsageError,
        Interrupted,
        RowLimits,
        open_batch,
        open_output,
        stop_on_signals,
        worker_count,
    )

    if output_path != "-" and os.path.exists(output_path) and os.path.exists(input_path) \
            and os.path.samefile(output_path, input_path):
        raise click.UsageError("--out must not be the input file")
    try:
        check_policy_path_given(ctx, policy_path)
    except DiagnosticError as error:
        report_diagnostics(error.diagnostics)
        ctx.exit(EXIT_INVALID)
    parquet_path, kept_partial = None, False
    if output_format == "parquet":
        # The JSON Lines are written first, then turned into Parquet (sql/parquet_output.py).
        if output_path == "-":
            raise click.UsageError("--format parquet writes a file: give --out FILE, not -")
        import tempfile

        from policy_engine.sql.parquet_output import ParquetOutput

        try:
            parquet = ParquetOutput(output_path)
        except DiagnosticError as error:
            report_diagnostics(error.diagnostics)
            ctx.exit(EXIT_USAGE if any(d.code == "E602" for d in error.diagnostics)
                     else EXIT_INVALID)
        parquet_path, output_path = output_path, os.path.join(
            tempfile.mkdtemp(prefix="policy-batch-"), "output.jsonl")
    workers, capped = worker_count(jobs)
    if capped is not None:
        click.echo(f"note: {capped}", err=True)
    limits = RowLimits(max_row_bytes=max_row_bytes, max_depth=max_depth, max_digits=max_digits)
    bar_shown = not no_progress and sys.stderr.isatty()
    reported = [0]

    def report(message: str) -> None:
        reported[0] += 1
        if reported[0] <= _BATCH_SHOWN:
            # Over a progress bar, clear its line first; the bar redraws on its next step.
            click.echo(("\r\x1b[K" if bar_shown else "") + message, err=True)

    def notice(message: str) -> None:
        click.echo(("\r\x1b[K" if bar_shown else "") + f"note: {message}", err=True)

    # From here on, SIGINT and SIGTERM end the run cleanly: workers stopped, the output kept
    # apart from OUTPUT, the counts so far shown, exit status 128 + the signal's number.
    with stop_on_signals():
        batch: Batch | None = None
        output: BatchOutput | None = None
        try:
            batch = open_batch(policy_path, input_path, fmt=fmt, trace=trace, limits=limits)
            runner: Any = batch
            if engine != "python":
                # Imported here: the SQL engines are an extra (docs/scale-out.md).
                from policy_engine.sql.batching import SqlBatch

                runner = SqlBatch(batch.policy, batch.reader, engine, trace=trace,
                                  spark_master=spark_master)
                batch.summary = runner.summary
            output = open_output(output_path)
            if not bar_shown:
                summary = runner.run(output, jobs=workers, report=report, notice=notice)
            else:
                with click.progressbar(length=batch.size, label="deciding",
                                       file=sys.stderr) as bar:
                    summary = runner.run(output, jobs=workers, report=report, notice=notice,
                                         progress=bar.update)
            output.commit()
            if parquet_path is not None:
                parquet.write(output_path)
        except BatchUsageError as error:
            raise click.UsageError(str(error)) from None
        except DiagnosticError as error:
            if any(d.code == "E312" and d.file == STANDARD_OUTPUT for d in error.diagnostics):
                silence_standard_output()
            report_diagnostics(error.diagnostics)
            ctx.exit(EXIT_USAGE if any(d.code == "E602" for d in error.diagnostics)
                     else EXIT_INVALID)
        except Interrupted as stop:
            kept_partial = True  # with --format parquet, the JSON Lines so far are kept
            done = batch.summary if batch is not None else BatchSummary()
            kept = output.abandon(f"interrupted by {stop.name}", done.rows) \
                if output is not None else None
            if output is None:
                where = "nothing was written"
            elif kept is None:
                where = "the output so far could not be kept"
            elif output.direct:
                where = f"{kept} ends with a line marking it as partial"
            else:
                where = f"the output so far is in {kept}; {output.shown} was not written"
            click.echo(f"interrupted by {stop.name}: {where}", err=True)
            click.echo(done.text(), err=True)
            ctx.exit(stop.exit_status)
        finally:
            if output is not None and not output.finished:
                output.discard()
            if batch is not None:
                batch.close()
            if parquet_path is not None:
                parquet.discard()
                if not kept_partial:
                    import shutil

                    shutil.rmtree(os.path.dirname(output_path), ignore_errors=True)
    if reported[0] > _BATCH_SHOWN:
        click.echo(f"... and {reported[0] - _BATCH_SHOWN} more rows not decided, each in the "
                   "output", err=True)
    click.echo(summary.text(), err=True)
    code = EXIT_INVALID if summary.invalid or summary.failed else EXIT_OK
    if summary_path is not None:
        _write_summary(summary_path, summary, code)
    ctx.exit(code)


#: The JSON of `--summary` (schema in policy_engine/schemas/batch-summary.schema.json).
SUMMARY_FORMAT = "policy-engine/batch-summary"


def _write_summary(path: str, summary: BatchSummary, code: int) -> None:
    """The counts as JSON, for a pipeline that reads them instead of standard error."""
    import json

    data = {"format": SUMMARY_FORMAT, "format_version": 1, "rows": summary.rows,
            "decided": summary.decided, "refused": summary.refused, "invalid": summary.invalid,
            "failed": summary.failed, "seconds": round(summary.seconds, 3),
            "rows_per_second": round(summary.rows_per_second, 1), "exit_status": code}
    text = json.dumps(data, indent=2) + "\n"
    if path == "-":
        click.echo(text, nl=False)
        return
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as error:
        report_diagnostics([Diagnostic("E312", f"cannot write the summary: {error.strerror}",
                                       file=path)])

