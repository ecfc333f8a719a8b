"""Batch: decides a file of fact rows (JSON Lines, CSV or Parquet), streaming, on every core.

A batch reads its input one row at a time and writes one JSON line per row, in input order, so
memory stays bounded however long the file is and however long a row is (`RowLimits`). The
main process only cuts the input: a JSON Lines file on disk into spans of lines that the
workers read themselves (`spans`), anything else into records (`reading`); worker processes
parse them into raw facts (`rows`) and decide them (`deciding`), and a worker that dies is
replaced and its rows retried (`workers`). Every row ends in exactly one of four ways, and
the counts always reconcile (rows read = decided + refused + invalid + failed):

- decided: `{"line": N, "decision": ..., "rule": ..., "outputs": {...}}`;
- refused, when the policy declines to decide (`otherwise refuse`, a failed `require` or
  `ensure`, any evaluation error): `{"line": N, "refused": {"code", "label", "message"}}`,
  and with `--trace` the refusal's `trace` as for a decision;
- invalid, when the row is not a fact set for this policy (malformed JSON, a wrong type, an
  unknown or missing fact, a CSV row of the wrong width, a row over a limit):
  `{"line": N, "error": {"code", "message", "path"}}`, and a line `INPUT:LINE: reason` for
  the caller to report;
- failed (E313), when something unexpected happened to the row, or the worker process
  deciding it died twice: an `error` line as for an invalid row.

The output depends only on the policy and the input, never on how many processes ran. A run
cut short by SIGINT or SIGTERM (`signals`) never leaves an output that looks whole
(`output`).
"""

from __future__ import annotations

from .deciding import ChunkResult, RowDecider, printable
from .output import PARTIAL_SUFFIX, STANDARD_OUTPUT, BatchOutput, open_output, output_error
from .reading import FORMATS, SUFFIXES, BatchUsageError, Format, infer_format
from .rows import (
    DEFAULT_LIMITS,
    CsvRows,
    JsonRows,
    Raw,
    RowError,
    RowLimits,
    csv_cell,
    parse_json_line,
)
from .running import (
    CHUNK_ROWS,
    Batch,
    BatchSummary,
    Row,
    cores,
    open_batch,
    read_rows,
    run_batch,
    worker_count,
)
from .signals import Interrupted, stop_on_signals

__all__ = [
    "CHUNK_ROWS",
    "DEFAULT_LIMITS",
    "FORMATS",
    "PARTIAL_SUFFIX",
    "STANDARD_OUTPUT",
    "SUFFIXES",
    "Batch",
    "BatchOutput",
    "BatchSummary",
    "BatchUsageError",
    "ChunkResult",
    "CsvRows",
    "Format",
    "Interrupted",
    "JsonRows",
    "Raw",
    "Row",
    "RowDecider",
    "RowError",
    "RowLimits",
    "cores",
    "csv_cell",
    "infer_format",
    "open_batch",
    "open_output",
    "output_error",
    "parse_json_line",
    "printable",
    "read_rows",
    "run_batch",
    "stop_on_signals",
    "worker_count",
]
