"""SQL batches: `policy batch --engine duckdb|spark`, the same output as the Python engine.

The input is read in chunks. Parquet chunks go to the query as they are (`tables`); rows of
JSON Lines, CSV and decision logs are read and typed by the reference reader and fact stage
first. Without `--trace` the query is the lean one (`compile_query(..., lean=True)`): it
decides every row it can and writes its whole output line, decided and refused rows alike
(a line that is the same on every row of its outcome branch is a constant of the query), and
returns little else; a Parquet chunk's text is the character data of that one Arrow column,
with no Python loop per row. Parquet chunks are pipelined: the next chunk's query runs in a
worker thread while this chunk's lines are put together and written. An invalid row is
worded from what the query returns (its code, JSON path and number of problems) and the raw
value at that path: the message is a function of those alone, so it is taken from the
reference engine the first time a (code, path, value) is seen and reused after. What remains
(a value only the reference engine reads alike, a refusal to explain with `--trace`, a row
outside the query's envelope) is decided by the reference engine, `batch.RowDecider`,
exactly as `--engine python` decides it. The lines are written in input
order and counted as the Python engine counts them, so the output is the same byte for byte,
and so is the summary.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from policy_engine.batch.deciding import (
    RowDecider,
    describe_exception,
    encodable,
    failure,
    problem_line,
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
#: A JSON path the query gives an invalid row: a fact, or an item of a list fact.
_PATH = re.compile(r"\$\.([A-Za-z_][A-Za-z0-9_]*)(?:\[([0-9]+)\])?")
#: What `value_at` gives for a fact the row leaves out.
MISSING = object()

#: The raw value of a row's fact, by line, fact name and list index (or MISSING).
ValueAt = Callable[[int, str, "int | None"], object]
#: An output line and its outcome, by line.
Chunk = tuple[str, Counter[str]]


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
        # Without --trace, the lean query: its rows' status is looked up by their branch.
        self.query: PolicyQuery = compile_query(policy.checked, trail=trace,
                                                constant_lines=True, lean=not trace)
        self.summary = BatchSummary()
        self._reference = RowDecider(policy, reader.shown, trace=trace)
        self._messages: list[str] = []
        self._explainer = Explainer(policy.checked) if trace else None
        # An invalid row's message by (code, JSON path, repr of the value), as the reference
        # engine worded it the first time.
        self._worded: dict[tuple[str, str, str], str] = {}

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
            for text, outcomes in chunks:
                with holding():
                    output.write(text)
                    for outcome, count in outcomes.items():
                        setattr(summary, outcome, getattr(summary, outcome) + count)
                    summary.rows += sum(outcomes.values())
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

    def _finish(self, lines: list[int] | range, slots: list[str | None],
                outcomes: Counter[str], raw_of: Callable[[int], object]) -> Chunk:
        """The chunk's text: the query's lines, and the reference engine's for the rest."""
        for position, text in enumerate(slots):
            if text is None:
                slots[position], outcome = self._python(lines[position],
                                                        raw_of(lines[position]))
                outcomes[outcome] += 1
        text = "\n".join(slots) + "\n" if slots else ""  # type: ignore[arg-type]
        return (text if text.isascii() else encodable(text)), outcomes

    # ------------------------------------------------------------ rows read by Python
    def _record_chunks(self, engine: DuckDB | Spark) -> Iterator[Chunk]:
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
                        parse: Callable[[object], object], stage: Any) -> Chunk:
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
        lines = [line for line, _ in chunk]
        place = {line: position for position, line in enumerate(lines)}.__getitem__
        slots: list[str | None] = [None] * len(lines)
        outcomes: Counter[str] = Counter()
        if typed:
            table, aside = from_typed(self.policy.checked, typed, given)
            kept = {typed[position][0] for position in aside}
            facts_of = {line: (facts, names) for (line, facts), names in
                        zip(typed, given, strict=True) if line not in kept}

            def value_at(line: int, name: str, index: int | None) -> object:
                raw = raws[line]
                return _item(raw.get(name, MISSING) if isinstance(raw, dict) else MISSING,
                             index)

            self._answered(self._query(engine, table), place, slots, outcomes, value_at,
                           raws.__getitem__, lambda line: facts_of[line])
        return self._finish(lines, slots, outcomes, raws.__getitem__)

    # ------------------------------------------------------------ Parquet
    def _parquet_chunks(self, engine: DuckDB | Spark) -> Iterator[Chunk]:
        """Each Parquet chunk's text. Without `--trace`, the next chunk's query runs in a
        thread of its own while this one's lines are put together and written (the engine
        and Arrow release the interpreter meanwhile), so the two overlap."""
        first = 1
        pending: _Deferred | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-engine-sql") \
                as pool:
            for batch in self.reader.arrow_batches(self.chunk_rows):
                if self.trace:
                    yield self._parquet_traced(engine, batch, first)
                else:
                    ahead = pool.submit(self._parquet_query, engine, batch, first)
                    if pending is not None:
                        yield pending.result()
                    pending = _Deferred(self._parquet_assembled, ahead, batch, first)
                first += batch.num_rows
            if pending is not None:
                yield pending.result()

    def _parquet_query(self, engine: DuckDB | Spark, batch: Any, first: int
                       ) -> tuple[Any, Any]:
        """A chunk's input table handed to the query (in the query's thread): the result,
        and the mask of the rows set aside for the reference engine."""
        import pyarrow.compute as pc

        table, aside = from_parquet(self.policy.checked, batch, first,
                                    self.reader.limits.max_row_bytes)
        if pc.any(aside).as_py():
            table = table.filter(pc.invert(aside))
        return (self._query(engine, table) if table.num_rows else None), aside

    def _parquet_access(self, batch: Any, start: int
                        ) -> tuple[ValueAt, Callable[[int], object]]:
        """A Parquet chunk's raw values by line: one fact's (`value_at`) and a whole row's."""
        limits = self.reader.limits

        def raw_of(line: int) -> object:
            row = batch.slice(line - start, 1).to_pylist()[0]
            return parquet_record(row, limits)

        def value_at(line: int, name: str, index: int | None) -> object:
            if name not in batch.schema.names:
                return MISSING
            value = batch.column(name)[line - start].as_py()
            return _item(MISSING if value is None else value, index)

        return value_at, raw_of

    def _parquet_assembled(self, ahead: Future[Any], batch: Any, start: int) -> Chunk:
        result, aside = ahead.result()
        value_at, raw_of = self._parquet_access(batch, start)
        outcomes: Counter[str] = Counter()
        if result is not None:
            return self._assembled(result, aside, start, outcomes, value_at, raw_of)
        return self._finish(range(start, start + batch.num_rows), [None] * batch.num_rows,
                            outcomes, raw_of)

    def _parquet_traced(self, engine: DuckDB | Spark, batch: Any, start: int) -> Chunk:
        """A Parquet chunk with `--trace`: every explained row goes through Python anyway."""
        result, aside = self._parquet_query(engine, batch, start)
        value_at, raw_of = self._parquet_access(batch, start)

        def facts_of(line: int) -> tuple[dict[str, Value], frozenset[str]]:
            raw = raw_of(line)
            assert isinstance(raw, dict)
            facts = self.policy._facts.validate(raw, file=self.reader.shown, prefix=())
            return facts, frozenset(raw)

        outcomes: Counter[str] = Counter()
        slots: list[str | None] = [None] * batch.num_rows
        if result is not None:
            place: Callable[[int], int] = (-start).__radd__
            self._answered(result, place, slots, outcomes, value_at, raw_of, facts_of)
        return self._finish(range(start, start + batch.num_rows), slots, outcomes, raw_of)

    # ------------------------------------------------------------ the query's answers
    def _assembled(self, result: Any, aside: Any, start: int, outcomes: Counter[str],
                   value_at: ValueAt, raw_of: Callable[[int], object]) -> Chunk:
        """A Parquet chunk's text put together with Arrow, without a Python step per row:
        the query's lines in line order at the rows it was given (`aside` false), and only
        the rows it left NULL (and those set aside) worded one by one after."""
        import pyarrow as pa
        import pyarrow.compute as pc

        self._count(result, outcomes)
        written = result.column("written")
        count = len(aside)
        # The engine gives the rows in input order unless it says otherwise (DuckDB keeps
        # it): sorting is needed only when the lines are not already increasing.
        lines = result.column("line").combine_chunks()
        if len(lines) > 1 and not pc.all(pc.greater(lines[1:], lines[:-1])).as_py():
            written = written.take(pc.sort_indices(lines))
        slots = written.combine_chunks()
        if pc.any(aside).as_py():
            slots = pc.replace_with_mask(pa.nulls(count, pa.string()), pc.invert(aside), slots)
        missing = pc.indices_nonzero(pc.is_null(slots)).to_pylist()
        if missing:
            worded: dict[int, str] = {}
            invalid = pc.filter(result, pc.and_(pc.is_null(result.column("written")),
                                                pc.equal(result.column("status"), "invalid")))
            for line, code, path, number in zip(*(invalid.column(name).to_pylist() for name in
                                                  ("line", "code", "field", "invalid_count")),
                                                strict=True):
                text = self._invalid(line, code, path, number, value_at, raw_of)
                if text is not None:
                    worded[line - start] = text
                    outcomes["invalid"] += 1
                    self.answered += 1
            texts = []
            for position in missing:
                text = worded.get(position)
                if text is None:
                    text, outcome = self._python(start + position, raw_of(start + position))
                    outcomes[outcome] += 1
                texts.append(encodable(text) + "\n")  # Arrow holds no lone surrogate
            slots = pc.replace_with_mask(slots, pc.is_null(slots), pa.array(texts, pa.string()))
        # Each line ends with its newline: the array's character data is the chunk's text.
        if not pa.types.is_string(slots.type):
            slots = slots.cast(pa.string())
        _, offsets, data = slots.buffers()
        bounds = memoryview(offsets).cast("i")  # a string array's offsets are 32-bit
        low, high = bounds[slots.offset], bounds[slots.offset + count]
        return bytes(memoryview(data)[low:high]).decode("utf-8"), outcomes

    def _query(self, engine: DuckDB | Spark, table: Any) -> Any:
        """The query's result over `table` with `written`, each row's whole output line
        (NULL where the query leaves it to Python; with the newline after it from the lean
        query, without it with `--trace`) and `status`. Called in the query's thread: it
        only reads the query."""
        import pyarrow as pa
        import pyarrow.compute as pc

        result = engine.run(self.query, table, ordered=False)
        if self.query.statuses is not None:  # the lean query: the line is written
            statuses = pa.array(self.query.statuses, pa.string())
            return result.append_column("status", pc.take(
                statuses, pc.add(result.column("branch"), 1)))
        text = result.column("text")
        if self.query.lines is not None and any(self.query.lines):
            # The lines the query left to us: one per branch, taken by the row's branch.
            constants = pa.array(self.query.lines, pa.string())
            text = pc.coalesce(text, pc.take(constants, pc.add(result.column("branch"), 1)))
            result = result.set_column(result.schema.get_field_index("text"), "text", text)
        number = pc.cast(result.column("line"), pa.string())
        written = pc.binary_join_element_wise('{"line": ', number, ", ", text, "")
        return result.append_column("written", written)

    def _count(self, result: Any, outcomes: Counter[str]) -> None:
        """The outcomes of the rows whose line the query wrote, counted."""
        import pyarrow.compute as pc

        answered = pc.is_valid(result.column("written"))
        for found in pc.value_counts(pc.filter(result.column("status"), answered)).to_pylist():
            outcomes[found["values"]] += found["counts"]
        self.answered += pc.sum(answered).as_py() or 0

    def _answered(self, result: Any, place: Callable[[int], int],
                  slots: list[str | None], outcomes: Counter[str], value_at: ValueAt,
                  raw_of: Callable[[int], object],
                  facts_of: Callable[[int], tuple[dict[str, Value], frozenset[str]]]) -> None:
        """Puts the line of every row the query's `result` answers in `slots` (at
        `place(line)`), counting their outcomes."""
        import pyarrow as pa
        import pyarrow.compute as pc

        self._count(result, outcomes)
        lines = result.column("line")
        status = result.column("status")
        written = result.column("written")
        answered = pc.is_valid(written)
        if self.trace:
            # Decided and refused rows get their explanation from the trail; invalid rows have
            # none.
            explained = pc.is_in(status, value_set=pa.array(["decided", "refused"]))
            self._traces(pc.filter(result, pc.and_(answered, explained)), place, slots,
                         facts_of)
            written = pc.if_else(explained, pa.scalar(None, pa.string()), written)
        end = -1 if self.query.statuses is not None else None  # the lean query's newline
        for line, line_text in zip(lines.to_pylist(), written.to_pylist(), strict=True):
            if line_text is not None:
                slots[place(line)] = line_text[:end]
        invalid = pc.filter(result, pc.and_(pc.invert(answered), pc.equal(status, "invalid")))
        for line, code, path, count in zip(*(invalid.column(name).to_pylist() for name in
                                             ("line", "code", "field", "invalid_count")),
                                           strict=True):
            worded = self._invalid(line, code, path, count, value_at, raw_of)
            if worded is not None:
                slots[place(line)] = worded
                outcomes["invalid"] += 1
                self.answered += 1

    def _traces(self, decided: Any, place: Callable[[int], int], slots: list[str | None],
                facts_of: Callable[[int], tuple[dict[str, Value], frozenset[str]]]) -> None:
        """The lines of decided and refused rows with their explanation (`--trace`)."""
        assert self._explainer is not None
        for line, text, trail, status, code in zip(
                *(decided.column(name).to_pylist() for name in
                  ("line", "text", "trail", "status", "code")), strict=True):
            facts, given = facts_of(line)
            trace = self._explainer.trace(trail, facts, given,
                                          code if status == "refused" else None)
            slots[place(line)] = f'{{"line": {line}, {text[:-1]}, ' \
                                  f'"trace": {_ENCODER.encode(trace)}}}'

    def _invalid(self, line: int, code: str, path: str, count: int, value_at: ValueAt,
                 raw_of: Callable[[int], object]) -> str | None:
        """An invalid row's line, worded as the reference engine words it, or None to leave
        the row to the reference engine. Its message is the reference engine's for the same
        code, path and value (E304: the value at the path; E306: a fact left out)."""
        found = _PATH.fullmatch(path or "")
        if found is None:
            return None
        index = int(found.group(2)) if found.group(2) is not None else None
        value = value_at(line, found.group(1), index)
        try:
            key = (code, path, "missing" if value is MISSING else repr(value))
        except Exception:  # a value without a repr is left to the reference engine
            return None
        message = self._worded.get(key)
        if message is None:
            text, outcome, report = self._reference.decide(line, raw_of(line))  # type: ignore[arg-type]
            error = json.loads(text).get("error") if outcome == "invalid" else None
            if error is None or (error["code"], error["path"]) != (code, path):
                return None  # the query and the reference engine disagree: the latter rules
            if problem_line(self.reader.shown, line, RowError(
                    code, error["message"], path, count - 1)) != (text, outcome, report):
                return None
            message = self._worded[key] = error["message"]
        text, _, report = problem_line(self.reader.shown, line,
                                       RowError(code, message, path, count - 1))
        if report is not None:
            self._messages.append(report)
        return text


def _item(value: object, index: int | None) -> object:
    """The item `index` of a list value, the value itself without an index, or MISSING."""
    if index is None:
        return value
    if isinstance(value, (list, tuple)) and index < len(value):
        return value[index]
    return MISSING


class _Deferred:
    """A chunk's assembly, run when its text is wanted (after the next chunk's query has
    been handed to the query's thread)."""

    def __init__(self, assemble: Callable[[Future[Any], Any, int], Chunk], ahead: Future[Any],
                 batch: Any, start: int) -> None:
        self._call = (assemble, ahead, batch, start)

    def result(self) -> Chunk:
        assemble, ahead, batch, start = self._call
        return assemble(ahead, batch, start)
