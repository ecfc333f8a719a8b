"""SQL batches: `policy batch --engine duckdb|spark`, the same output as the Python engine.

The input is read in chunks. Parquet chunks go to the query as they are (`tables`); rows of
JSON Lines, CSV and decision logs are read and typed by the reference reader and fact stage
first. The query decides every row it can and writes its output line; a row it hands back
(a value only the reference engine reads alike, a refusal whose wording needs the reference
engine, an invalid row, whose message names the raw value) is decided by the reference
engine, `batch.RowDecider`, exactly as `--engine python` decides it. The lines are written in
input order and counted as the Python engine counts them, so the output is the same byte for
byte, and so is the summary.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

from policy_engine.batch.deciding import (
    RowDecider,
    describe_exception,
    encodable,
    failure,
    record_parser,
)
from policy_engine.batch.reading import Reader, parquet_record
from policy_engine.batch.rows import RowError
from policy_engine.batch.running import BatchSummary, Writable
from policy_engine.batch.signals import holding
from policy_engine.check.types import Value
from policy_engine.policy import Policy
from policy_engine.sql.engines import DuckDB, Spark, open_engine
from policy_engine.sql.explain import Explainer
from policy_engine.sql.query import PolicyQuery, compile_query
from policy_engine.sql.tables import from_parquet, from_typed

#: Rows per chunk handed to the engine.
CHUNK_ROWS = 250_000
_ENCODER = json.JSONEncoder(ensure_ascii=False)


class SqlBatch:
    """A batch decided by a SQL engine (see the module docstring).

    Args:
        policy: the loaded policy.
        reader: the open input.
        engine: "duckdb" or "spark".
        trace: add each decision's explanation, as `policy batch --trace` does.
        spark_master: the Spark master URL for the Spark engine.
        opened: an engine already open, used and left open (tests share one Spark session);
            by default `run` opens its own and closes it after.

    Attributes:
        answered: the rows whose line the query wrote (the others the reference engine
            wrote).

    Raises:
        DiagnosticError: E601 when the policy has no exact SQL translation.
    """

    def __init__(self, policy: Policy, reader: Reader, engine: str, *, trace: bool = False,
                 spark_master: str = "local[*]", chunk_rows: int = CHUNK_ROWS,
                 opened: DuckDB | Spark | None = None) -> None:
        self.policy = policy
        self.reader = reader
        self.engine_name = engine
        self.trace = trace
        self.spark_master = spark_master
        self.chunk_rows = chunk_rows
        self.opened = opened
        self.answered = 0
        self.query: PolicyQuery = compile_query(policy.checked, trail=trace)
        self.summary = BatchSummary()
        self._reference = RowDecider(policy, reader.shown, trace=trace)
        self._messages: list[str] = []
        self._explainer = Explainer(policy.checked) if trace else None

    def run(self, output: Writable, *, jobs: int | None = None,
            report: Callable[[str], None] | None = None,
            progress: Callable[[int], None] | None = None,
            notice: Callable[[str], None] | None = None) -> BatchSummary:
        """Decides every row and writes its line to `output`, in input order (as
        `batch.Batch.run`; `jobs` is the engine's business and is not used)."""
        started = time.perf_counter()
        summary = self.summary
        seen = 0
        engine = self.opened or open_engine(self.engine_name, spark_master=self.spark_master)
        try:
            chunks = self._parquet_chunks(engine) if self.reader.fmt == "parquet" \
                else self._record_chunks(engine)
            for lines in chunks:
                text = "\n".join(line for line, _ in lines) + "\n" if lines else ""
                with holding():
                    output.write(text)
                    for _, outcome in lines:
                        setattr(summary, outcome, getattr(summary, outcome) + 1)
                    summary.rows += len(lines)
                    summary.seconds = time.perf_counter() - started
                if report is not None:
                    for message in self._messages:
                        report(message)
                self._messages = []
                if progress is not None:
                    progress(self.reader.consumed - seen)
                    seen = self.reader.consumed
            with holding():
                output.flush()
        finally:
            if self.opened is None:
                engine.close()
        summary.seconds = time.perf_counter() - started
        return summary

    # ------------------------------------------------------------ the reference engine
    def _python(self, line: int, raw: object) -> tuple[str, str]:
        text, outcome, message = self._reference.decide(line, raw)  # type: ignore[arg-type]
        if message is not None:
            self._messages.append(message)
        return text, outcome

    # ------------------------------------------------------------ rows read by Python
    def _record_chunks(self, engine: DuckDB | Spark) -> Iterator[list[tuple[str, str]]]:
        reader = self.reader
        parse = record_parser(reader.fmt, reader.header, self.policy, reader.limits)
        stage = self.policy._facts
        chunk: list[tuple[int, object]] = []
        for record in reader.records():
            chunk.append(record)
            if len(chunk) >= self.chunk_rows:
                yield self._decide_records(engine, chunk, parse, stage)
                chunk = []
        if chunk:
            yield self._decide_records(engine, chunk, parse, stage)

    def _decide_records(self, engine: DuckDB | Spark, chunk: list[tuple[int, object]],
                        parse: Callable[[object], object], stage: Any) -> list[tuple[str, str]]:
        raws: dict[int, object] = {}
        typed: list[tuple[int, dict[str, Value]]] = []
        given: list[frozenset[str]] = []
        for line, record in chunk:
            try:
                raw = record if isinstance(record, RowError) else parse(record)
            except Exception as error:  # a row never ends the run
                raw = failure(describe_exception(error))
            raws[line] = raw
            if isinstance(raw, dict):
                facts = stage.quick(raw)
                if facts is not None:
                    typed.append((line, facts))
                    given.append(frozenset(raw))
        answers: dict[int, tuple[str, str]] = {}
        if typed:
            table, aside = from_typed(self.policy.checked, typed, given)
            kept = {typed[position][0] for position in aside}
            facts_of = {line: (facts, names) for (line, facts), names in
                        zip(typed, given, strict=True) if line not in kept}
            self._answer(engine, table, answers, lambda line: facts_of[line])
        return [answers.get(line) or self._python(line, raws[line]) for line, _ in chunk]

    # ------------------------------------------------------------ Parquet
    def _parquet_chunks(self, engine: DuckDB | Spark) -> Iterator[list[tuple[str, str]]]:
        import pyarrow.compute as pc

        first = 1
        limits = self.reader.limits
        for batch in self.reader.arrow_batches(self.chunk_rows):
            table, aside = from_parquet(self.policy.checked, batch, first, limits.max_row_bytes)
            rows = table.filter(pc.invert(aside)) if pc.any(aside).as_py() else table
            answers: dict[int, tuple[str, str]] = {}
            start = first

            def raw_of(line: int, batch: Any = batch, start: int = start) -> object:
                row = batch.slice(line - start, 1).to_pylist()[0]
                return parquet_record(row, limits)

            def facts_of(line: int, raw_of: Callable[[int], object] = raw_of
                         ) -> tuple[dict[str, Value], frozenset[str]]:
                raw = raw_of(line)
                assert isinstance(raw, dict)
                facts = self.policy._facts.validate(raw, file=self.reader.shown, prefix=())
                return facts, frozenset(raw)

            if rows.num_rows:
                self._answer(engine, rows, answers, facts_of)
            yield [answers.get(line) or self._python(line, raw_of(line))
                   for line in range(first, first + batch.num_rows)]
            first += batch.num_rows

    # ------------------------------------------------------------ the query's answers
    def _answer(self, engine: DuckDB | Spark, table: Any, answers: dict[int, tuple[str, str]],
                facts_of: Callable[[int], tuple[dict[str, Value], frozenset[str]]]) -> None:
        """Runs the query over `table` and keeps the line of every row it wrote."""
        result = engine.run(self.query, table)
        lines = result.column("line").to_pylist()
        texts = result.column("text").to_pylist()
        statuses = result.column("status").to_pylist()
        trails = result.column("trail").to_pylist() if self.trace else None
        codes = result.column("code").to_pylist() if self.trace else None
        for position, (line, text, status) in enumerate(zip(lines, texts, statuses,
                                                            strict=True)):
            if text is None:
                # Not worded by the query: the reference engine decides it, so the line is
                # the same byte for byte.
                continue
            written = f'{{"line": {line}, {text}'
            if trails is not None and codes is not None and status in ("decided", "refused"):
                assert self._explainer is not None
                facts, given = facts_of(line)
                trace = self._explainer.trace(trails[position], facts, given,
                                              codes[position] if status == "refused" else None)
                written = f"{written[:-1]}, \"trace\": {_ENCODER.encode(trace)}}}"
            answers[line] = (written if written.isascii() else encodable(written), status)
            self.answered += 1
