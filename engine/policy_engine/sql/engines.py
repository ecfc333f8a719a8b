"""SQL engines: DuckDB (embedded, the default) and Spark (local mode or a cluster) running a
policy's query over an Arrow table of fact rows, and giving the result back as Arrow.

Each engine is imported only when it is used, so `policy eval` never loads one. An engine
that is not installed, or Spark without Java, is E602 with what to install; an engine that
fails on a query is E603 with its own message; a Spark query that does not end within its
timeout is cancelled and is E607.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar, cast

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.sql.query import PolicyQuery

ENGINES = ("duckdb", "spark")
#: The name the input table is bound to while a query runs.
TABLE = "facts"
T = TypeVar("T")


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
        # By the query's id, with the query itself: a query freed and another made at the
        # same address must not be given the first one's text.
        self._prepared: dict[int, tuple[PolicyQuery, str]] = {}

    def run(self, query: PolicyQuery, table: Any, *, ordered: bool = True) -> Any:
        found = self._prepared.get(id(query))
        if found is None or found[0] is not query:
            found = self._prepared[id(query)] = (query, query.sql("duckdb"))
        text = found[1]
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


#: How long one Spark action (a query, with its hand-over in and out) may take, in seconds,
#: unless `Spark(timeout=...)` or this environment variable says otherwise.
SPARK_TIMEOUT = "POLICY_ENGINE_SPARK_TIMEOUT"
DEFAULT_SPARK_TIMEOUT = 3600.0
#: How long a cancelled Spark action is given to end before the session is stopped.
_GRACE = 30.0


def timed_out(engine: str, seconds: float) -> DiagnosticError:
    return DiagnosticError([Diagnostic(
        "E607", f"{engine} did not finish the policy's query within {seconds:g} seconds: "
                f"its jobs were cancelled and the session stopped",
        help=f"a bigger input may need longer: set {SPARK_TIMEOUT} (seconds); if Spark "
             f"hangs on a small input, decide with --engine duckdb or python meanwhile")])


def spark_timeout(setting: str | None) -> float:
    """The seconds a Spark query is given: `setting` (POLICY_ENGINE_SPARK_TIMEOUT's value), or
    an hour when it is unset or empty.

    Raises:
        DiagnosticError: E602 when the setting is not a positive, finite number of seconds
            (a typo there must not leave Spark without a bound, nor stop with a traceback).
    """
    if not setting or not setting.strip():
        return DEFAULT_SPARK_TIMEOUT
    try:
        seconds = float(setting)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds < math.inf:
        raise unavailable(f"the Spark engine ({SPARK_TIMEOUT}={setting!r} is not a positive "
                          f"number of seconds)",
                          f"set {SPARK_TIMEOUT} to the seconds a query may take, for example "
                          f"{DEFAULT_SPARK_TIMEOUT:g}, or leave it unset for an hour")
    return seconds


def not_started(engine: str, seconds: float) -> DiagnosticError:
    return DiagnosticError([Diagnostic(
        "E607", f"the {engine} session did not start within {seconds:g} seconds: its JVM "
                f"was ended",
        help=f"a loaded machine or a cluster far away may need longer: set {SPARK_TIMEOUT} "
             f"(seconds); if Java hangs on start, decide with --engine duckdb or python "
             f"meanwhile")])


def bounded(engine: str, action: Callable[[], T], seconds: float,
            cancel: Callable[[], None],
            error: Callable[[], DiagnosticError] | None = None) -> T:
    """`action()`, run in a thread of its own and given `seconds`; past them `cancel()` is
    called (it must end or abandon the action) and E607 raised (`error()`, by default a
    query's), so no engine call can leave the caller waiting forever.

    Raises:
        DiagnosticError: E607 when the action did not end in time.
    """
    outcome: list[Any] = []

    def work() -> None:
        try:
            outcome.append((True, action()))
        except BaseException as error:  # handed to the caller's thread
            outcome.append((False, error))

    worker = threading.Thread(target=work, name=f"policy-engine-{engine.lower()}", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        cancel()
        raise error() if error is not None else timed_out(engine, seconds)
    finished, value = outcome[0]
    if not finished:
        raise value
    return cast(T, value)


class _Start:
    """The start of a Spark session (the JVM pyspark launches, and `getOrCreate`), run by
    `bounded` so that it is given the timeout too.

    pyspark hands back the JVM's process only once the JVM has answered, so while it starts
    the process is recorded as pyspark launches it (in a session of its own, whose whole
    process group can be ended: the `spark-submit` script starts more than one process). A
    start that does not end in time is abandoned: its processes are killed, which makes the
    starting thread fail and end, and pyspark's record of the dead JVM is forgotten, so a
    later start launches a new one instead of calling into a dead one. When the process
    already had a JVM (an earlier session, stopped), nothing is killed: the session, if it
    starts after all, is stopped as soon as it does.
    """

    #: Starts abandoned whose thread has not ended yet: no new start may wait behind them.
    abandoned: ClassVar[list[_Start]] = []

    def __init__(self, builder: Any) -> None:
        self.builder = builder
        self.processes: list[Any] = []
        self.given_up = False
        self.done = threading.Event()
        self._lock = threading.Lock()

    def run(self) -> Any:
        """Runs in `bounded`'s thread."""
        import pyspark.java_gateway

        gateway: Any = pyspark.java_gateway  # its `Popen` is what launches the JVM
        start, launch = self, gateway.Popen

        class Recorded(launch):  # type: ignore[misc,valid-type]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                kwargs["start_new_session"] = True
                super().__init__(*args, **kwargs)
                start.record(self)

        gateway.Popen = Recorded
        session = None
        try:
            session = self.builder.getOrCreate()
            return session
        finally:
            gateway.Popen = launch
            if self.given_up:
                if session is not None:  # started in a JVM already running, too late
                    with contextlib.suppress(Exception):
                        session.stop()
                if self.processes:  # the JVM launched here was ended
                    _forget_session()
            self.done.set()

    def record(self, process: Any) -> None:
        with self._lock:
            self.processes.append(process)
            late = self.given_up
        if late:
            self.end()

    def abandon(self) -> None:
        """Called by `bounded` past the timeout: ends the JVM, and waits a little for the
        starting thread to see it and end."""
        with self._lock:
            self.given_up = True
        _Start.abandoned.append(self)
        self.end()
        if self.done.wait(_GRACE):
            _Start.abandoned.remove(self)

    def end(self) -> None:
        import signal

        with self._lock:
            processes = list(self.processes)
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                process.kill()
            try:
                process.wait(_GRACE)
            except Exception:  # noqa: S110  (a process that will not be reaped is left)
                pass
            if process.stdin is not None:  # pyspark's pipe to the JVM, dropped with it
                process.stdin.close()

    @classmethod
    def blocked(cls) -> bool:
        """Whether an abandoned start has not ended yet (a new one would wait behind it)."""
        cls.abandoned[:] = [start for start in cls.abandoned if not start.done.is_set()]
        return bool(cls.abandoned)


def _forget_session() -> None:
    """Clears pyspark's record of a session whose JVM was ended before it started."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    for owner, name in ((SparkContext, "_gateway"), (SparkContext, "_jvm"),
                        (SparkContext, "_active_spark_context"),
                        (SparkSession, "_instantiatedSession"),
                        (SparkSession, "_activeSession")):
        if hasattr(owner, name):
            setattr(owner, name, None)


class Spark:
    """A Spark session (local mode by default), stopped when the engine is closed.

    Tables are handed over as Parquet files in a temporary folder of the engine's (written by
    Arrow, read by Spark), and results come back the same way (written by Spark, read by
    Arrow): no Arrow stream goes through PySpark's socket server, whose hand-over once left
    the JVM waiting for ever. Every query, hand-over included, runs under a job group and is
    given `timeout` seconds: past them its jobs are cancelled, the session is stopped (and
    its JVM ended if it does not stop) and E607 raised.

    Args:
        master: the Spark master URL, `local[2]` for two local cores.
        partitions: the shuffle partitions (few: the input is handed over from here).
        timeout: seconds per query; default POLICY_ENGINE_SPARK_TIMEOUT, else one hour.
    """

    name = "spark"

    def __init__(self, master: str = "local[*]", partitions: int = 4,
                 timeout: float | None = None) -> None:
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
        self.timeout = timeout if timeout is not None else spark_timeout(
            os.environ.get(SPARK_TIMEOUT))
        if _Start.blocked():
            raise failed("Spark", RuntimeError(
                "an earlier Spark session that did not start in time is still being "
                "stopped; run again in a new process"))
        start = _Start(SparkSession.builder.master(master)
                       .appName("policy-engine")
                       .config("spark.sql.shuffle.partitions", str(partitions))
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false")
                       .config("spark.sql.ansi.enabled", "true")
                       .config("spark.sql.decimalOperations.allowPrecisionLoss", "false")
                       .config("spark.sql.session.timeZone", "UTC")
                       .config("spark.driver.memory", "3g"))
        try:
            # Starting the JVM is bounded as a query is: a JVM that hangs on start would
            # otherwise hang `policy batch --engine spark` before any timeout applies.
            self.session = bounded("Spark", start.run, self.timeout, start.abandon,
                                   lambda: not_started("Spark", self.timeout))
        except DiagnosticError:
            raise
        except Exception as error:  # Py4J and Spark raise their own types
            raise failed("Spark", error) from None
        self.session.sparkContext.setLogLevel("ERROR")
        # By the query's id, with the query itself: a query freed and another made at the
        # same address must not be given the first one's text.
        self._prepared: dict[int, tuple[PolicyQuery, str]] = {}
        self._folder = tempfile.mkdtemp(prefix="policy-engine-spark-")
        self._handed = itertools.count()
        self.closed = False

    def run(self, query: PolicyQuery, table: Any, *, ordered: bool = True) -> Any:
        found = self._prepared.get(id(query))
        if found is None or found[0] is not query:
            found = self._prepared[id(query)] = (query, query.sql("spark"))
        text = found[1]
        return self.sql(text + (" ORDER BY line" if ordered else ""), {TABLE: table})

    def sql(self, text: str, tables: Mapping[str, Any]) -> Any:
        """The result (Arrow) of the query `text` over `tables` (name -> Arrow table), each
        a temporary view of a Parquet file for the query's time.

        Raises:
            DiagnosticError: E603 when Spark fails on the query; E607 when it does not end
                within the engine's timeout.
        """
        if self.closed:
            raise failed("Spark", RuntimeError("the Spark session was stopped"))
        group = f"policy-engine-{next(self._handed)}"
        folder = os.path.join(self._folder, group)
        os.mkdir(folder)
        try:
            return bounded("Spark", lambda: self._query(group, folder, text, tables),
                           self.timeout, lambda: self._cancel(group))
        except DiagnosticError:
            raise
        except Exception as error:  # Py4J and Spark raise their own types
            raise failed("Spark", error) from None
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _query(self, group: str, folder: str, text: str, tables: Mapping[str, Any]) -> Any:
        """Runs in `bounded`'s thread: the job group is set for this thread's jobs."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        context = self.session.sparkContext
        context.setJobGroup(group, "a policy's query", interruptOnCancel=True)
        for name, table in tables.items():
            path = os.path.join(folder, f"{name}.parquet")
            pq.write_table(table, path)
            self.session.read.parquet(path).createOrReplaceTempView(name)
        try:
            result = self.session.sql(text)
            out = os.path.join(folder, "result")
            result.write.parquet(out)
            # Spark writes one file per partition, named in partition order (a sorted result
            # is range-partitioned in order), and one file with the schema when it is empty.
            parts = sorted(name for name in os.listdir(out) if name.startswith("part-"))
            return pa.concat_tables([pq.read_table(os.path.join(out, name))
                                     for name in parts])
        finally:
            for name in tables:
                self.session.catalog.dropTempView(name)

    def _cancel(self, group: str) -> None:
        """Cancels the group's jobs and stops the session; ends its JVM if it will not stop
        (a hand-over can block a call that no cancellation reaches)."""
        context = self.session.sparkContext
        self.closed = True
        try:
            bounded("Spark", lambda: context.cancelJobGroup(group), _GRACE, self._end_jvm)
            bounded("Spark", self.session.stop, _GRACE, self._end_jvm)
        except DiagnosticError:
            pass  # the JVM was ended instead
        except Exception:  # Py4J and Spark raise their own types: stop it the hard way
            self._end_jvm()

    def _end_jvm(self) -> None:
        process = getattr(getattr(self.session.sparkContext, "_gateway", None), "proc", None)
        if process is not None:
            process.kill()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.session.stop()
        shutil.rmtree(self._folder, ignore_errors=True)

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
