"""Parquet output of `policy batch --format parquet`: the JSON Lines output as typed columns.

Every engine writes its JSON Lines first (the reference format, the same byte for byte on
every engine); DuckDB then reads them and writes one Parquet row per line, with the columns
in `COLUMNS` (docs/scale-out.md, "Parquet output"). So the Parquet files of two engines are equal
whenever their JSON Lines are, and the Python engine needs no second writer. The file is
written under a temporary name in its own folder and renamed when complete, as the JSON Lines
output is (`batch.output`).
"""

from __future__ import annotations

import os
import tempfile

from policy_engine.batch.output import output_error
from policy_engine.core.files import display_path
from policy_engine.sql.engines import unavailable

#: The Parquet columns, their types and what they hold (docs/scale-out.md).
COLUMNS = (
    ("line", "BIGINT", "the input's line (row) number"),
    ("status", "VARCHAR", "decided, refused, invalid or failed"),
    ("decision", "VARCHAR", "a decided row's decision"),
    ("rule", "VARCHAR", "the rule that decided it"),
    ("outputs", "VARCHAR", "its outputs as a JSON object (advisories included)"),
    ("code", "VARCHAR", "a refused, invalid or failed row's code"),
    ("label", "VARCHAR", "a refusal's label"),
    ("message", "VARCHAR", "a refused, invalid or failed row's message"),
    ("path", "VARCHAR", "an invalid row's JSON path"),
    ("trace", "VARCHAR", "with --trace, the explanation as JSON"),
)
#: How the JSON Lines are read: each line's keys (docs/cli.md, "policy batch").
_READ = {
    "line": "BIGINT", "decision": "VARCHAR", "rule": "VARCHAR", "outputs": "JSON",
    "refused": "STRUCT(code VARCHAR, label VARCHAR, message VARCHAR)",
    "error": "STRUCT(code VARCHAR, message VARCHAR, path VARCHAR)", "trace": "JSON",
}
#: The columns, computed from a line's keys (constant SQL, no user text in it).
_SELECT = ", ".join([
    "line",
    "CASE WHEN decision IS NOT NULL THEN 'decided' WHEN refused IS NOT NULL THEN 'refused' "
    "WHEN error.code = 'E313' THEN 'failed' ELSE 'invalid' END AS status",
    "decision", "rule", "CAST(outputs AS VARCHAR) AS outputs",
    "coalesce(refused.code, error.code) AS code", "refused.label AS label",
    "coalesce(refused.message, error.message) AS message", "error.path AS path",
    "CAST(trace AS VARCHAR) AS trace",
])


class ParquetOutput:
    """A Parquet file being written: its temporary file is made at once (so a folder that
    cannot be written is E312 before any row is decided), filled by `write`, renamed to
    `target` when complete, and removed by `discard`.

    Raises:
        DiagnosticError: E602 without DuckDB; E312 when `target` cannot be written.
    """

    def __init__(self, target: str) -> None:
        try:
            import duckdb  # noqa: F401
        except ImportError:
            raise unavailable("Parquet output (the Python package duckdb)",
                              "pip install 'policy-engine[sql]'") from None
        self.target = target
        self.shown = display_path(target)
        folder = os.path.dirname(os.path.abspath(target))
        try:
            handle, self.temporary = tempfile.mkstemp(
                prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
            os.close(handle)
        except OSError as error:
            raise output_error(self.shown, error) from None

    def write(self, lines: str) -> None:
        """Writes the JSON Lines output in the file `lines` as the Parquet file."""
        import duckdb

        connection = duckdb.connect(":memory:")
        try:
            relation = connection.read_json(lines, format="newline_delimited", columns=_READ)
            relation.select(_SELECT).write_parquet(self.temporary)
            os.replace(self.temporary, self.target)
        except OSError as error:
            raise output_error(self.shown, error) from None
        except duckdb.Error as error:
            raise output_error(self.shown, OSError(str(error).splitlines()[0])) from None
        finally:
            connection.close()
            self.discard()

    def discard(self) -> None:
        if os.path.exists(self.temporary):
            os.unlink(self.temporary)
