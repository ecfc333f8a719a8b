"""SQL engines: DuckDB (embedded, the default) and Spark (local mode or a cluster) running a
policy's query over an Arrow table of fact rows, and giving the result back as Arrow.

Each engine is imported only when it is used, so `policy eval` never loads one. An engine
that is not installed, or Spark without Java, is E602 with what to install; an engine that
fails on a query is E603 with its own message.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any, Protocol

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.sql.query import PolicyQuery

ENGINES = ("duckdb", "spark")
#: The name the input table is bound to while a query runs.
TABLE = "facts"


class Engine(Protocol):
    """Runs compiled policy queries; use as a context manager, which releases it."""

    name: str

    def run(self, query: PolicyQuery, table: Any, *, ordered: bool = True) -> Any:
        """The query's result over `table` (Arrow), as an Arrow table ordered by line
        (in any order when not `ordered`: sorting is a good share of the query's time)."""

    def sql(self, text: str, tables: Mapping[str, Any]) -> Any:
        """The result (Arrow) of the query `text` over `tables` (name -> Arrow table)."""

    def close(self) -> None: ...


def unavailable(what: str, install: str) -> DiagnosticError:
    return DiagnosticError([Diagnostic("E602", f"{what} is not available", help=install)])


def failed(engine: str, error: Exception) -> DiagnosticError:
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return DiagnosticError([Diagnostic(
        "E603", f"{engine} could not run the policy's query: {text[:300]}",
        help="this is a bug in the SQL translation if the input is as documented; decide "
             "with --engine python meanwhile, and report it")])


class DuckDB:
    """An in-process DuckDB database, kept for the engine's lifetime."""

    name = "duckdb"

    def __init__(self, threads: int | None = None) -> None:
        try:
            import duckdb
        except ImportError:
            raise unavailable("the DuckDB engine (the Python package duckdb)",
                              "pip install 'policy-engine[sql]'") from None
        self._duckdb = duckdb
        self.connection = duckdb.connect(":memory:")
        # Its progress bar would be written to standard output, where the lines may go.
        self.connection.execute("SET enable_progress_bar = false")
        if threads is not None:
            self.connection.execute(f"SET threads = {int(threads)}")
        self._prepared: dict[int, str] = {}

    def run(self, query: PolicyQuery, table: Any, *, ordered: bool = True) -> Any:
        text = self._prepared.get(id(query))
        if text is None:
            text = self._prepared[id(query)] = query.sql("duckdb")
        return self.sql(text + (" ORDER BY line" if ordered else ""), {TABLE: table})

    def sql(self, text: str, tables: Mapping[str, Any]) -> Any:
        """The result (Arrow) of the query `text` over `tables` (name -> Arrow table).

        Raises:
            DiagnosticError: E603 when DuckDB fails on the query.
        """
        try:
            for name, table in tables.items():
                self.connection.register(name, table)
            try:
                return self.connection.sql(text).to_arrow_table()
            finally:
                for name in tables:
                    self.connection.unregister(name)
        except self._duckdb.Error as error:
            raise failed("DuckDB", error) from None

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> DuckDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and os.path.exists(os.path.join(home, "bin", "java")):
        return True
    return shutil.which("java") is not None


class Spark:
    """A Spark session (local mode by default), stopped when the engine is closed.

    Args:
        master: the Spark master URL, `local[2]` for two local cores.
        partitions: the shuffle partitions (few: the input is handed over from here).
    """

    name = "spark"

    def __init__(self, master: str = "local[*]", partitions: int = 4) -> None:
        try:
            from pyspark.sql import SparkSession
        except ImportError:
            raise unavailable("the Spark engine (the Python package pyspark)",
                              "pip install 'policy-engine[spark]', and a Java runtime "
                              "(17 or newer): see docs/scale-out.md") from None
        if not java_available():
            raise unavailable("Java, which Spark needs,",
                              "install a Java runtime 17 or newer (Debian: apt-get install "
                              "default-jre-headless) or set JAVA_HOME")
        try:
            self.session = (SparkSession.builder.master(master)
                            .appName("policy-engine")
                            .config("spark.sql.shuffle.partitions", str(partitions))
                            .config("spark.ui.enabled", "false")
                            .config("spark.ui.showConsoleProgress", "false")
                            .config("spark.sql.ansi.enabled", "true")
                            .config("spark.sql.decimalOperations.allowPrecisionLoss", "false")
                            .config("spark.sql.session.timeZone", "UTC")
                            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                            .config("spark.driver.memory", "3g")
                            .getOrCreate())
        except Exception as error:  # Py4J and Spark raise their own types
            raise failed("Spark", error) from None
        self.session.sparkContext.setLogLevel("ERROR")
        self._prepared: dict[int, str] = {}

    def run(self, query: PolicyQuery, table: Any, *, ordered: bool = True) -> Any:
        text = self._prepared.get(id(query))
        if text is None:
            text = self._prepared[id(query)] = query.sql("spark")
        return self.sql(text + (" ORDER BY line" if ordered else ""), {TABLE: table})

    def sql(self, text: str, tables: Mapping[str, Any]) -> Any:
        """The result (Arrow) of the query `text` over `tables` (name -> Arrow table), each
        a temporary view for the query's time.

        Raises:
            DiagnosticError: E603 when Spark fails on the query.
        """
        try:
            for name, table in tables.items():
                self.session.createDataFrame(table).createOrReplaceTempView(name)
            try:
                return self.session.sql(text).toArrow()
            finally:
                for name in tables:
                    self.session.catalog.dropTempView(name)
        except Exception as error:  # Py4J and Spark raise their own types
            raise failed("Spark", error) from None

    def close(self) -> None:
        self.session.stop()

    def __enter__(self) -> Spark:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_engine(name: str, *, spark_master: str = "local[*]") -> DuckDB | Spark:
    if name == "duckdb":
        return DuckDB()
    if name == "spark":
        return Spark(spark_master)
    raise ValueError(f"unknown SQL engine {name!r}")
