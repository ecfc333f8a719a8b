"""Batch runs: a batch opened (policy loaded, input open), then decided chunk by chunk.

The main process reads the input and cuts it into chunks of records; the chunks are decided
in this process (`--jobs 1`, or a single chunk) or in worker processes, and their results are
written in input order. Every row gets one line and one count, and the counts reconcile:
rows = decided + refused + invalid + failed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Protocol

from policy_engine.policy import Policy

from .deciding import (
    ChunkResult,
    Parse,
    RowDecider,
    describe_exception,
    failure,
    record_parser,
)
from .quick import QuickLines, decide_span
from .reading import Reader, Record, infer_format
from .rows import DEFAULT_LIMITS, Raw, RowError, RowLimits
from .signals import holding
from .spans import Span, reader_spans
from .workers import Chunk, Job, WorkerPool

#: Rows per unit of work sent to a worker process.
CHUNK_ROWS = 1000
#: Input bytes per unit of work at most, so that chunks of long rows stay small.
CHUNK_BYTES = 4 << 20

Row = tuple[int, "Raw | RowError"]


class Writable(Protocol):
    """Where the output lines go: a text stream, or a `BatchOutput`."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


@dataclass
class BatchSummary:
    """The counts of a batch; `rows == decided + refused + invalid + failed` always."""

    rows: int = 0
    decided: int = 0
    refused: int = 0
    invalid: int = 0
    failed: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        """One line for standard error, the counts written as the sum they make (`failed`
        only when some row failed)."""
        failed = f" + {self.failed} failed" if self.failed else ""
        return (f"rows read: {self.rows} = {self.decided} decided + {self.refused} refused + "
                f"{self.invalid} invalid{failed}; {self.rows_per_second:,.0f} rows/s "
                f"({self.seconds:.1f} s)")


def cores() -> int:
    """The cores this process may run on (fewer than the machine has, under a CPU limit)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def worker_count(jobs: int | None) -> tuple[int, str | None]:
    """The worker processes for `--jobs`: one per core by default, never more than the cores,
    and a sentence to show when the request was cut down."""
    available = cores()
    if jobs is None:
        return available, None
    if jobs > available:
        return available, (f"--jobs {jobs} is more than the {available} cores this process "
                           f"may use; using {available}")
    return jobs, None


@dataclass
class Batch:
    """An opened batch: the policy is loaded and the input is open (a CSV header checked).

    Use `open_batch` to make one, `run` to decide every row, and `close` (or `with`) after.
    """

    policy: Policy
    reader: Reader
    trace: bool = False
    chunk_rows: int = CHUNK_ROWS
    summary: BatchSummary = field(default_factory=BatchSummary)
    _span_handle: IO[bytes] | None = field(default=None, repr=False)

    @property
    def size(self) -> int:
        """The input's size for a progress bar: bytes, or rows for Parquet."""
        return self.reader.size

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.reader.close()
        if self._span_handle is not None:
            self._span_handle.close()
            self._span_handle = None

    def run(self, output: Writable, *, jobs: int | None = None,
            report: Callable[[str], None] | None = None,
            progress: Callable[[int], None] | None = None,
            notice: Callable[[str], None] | None = None) -> BatchSummary:
        """Decides every row and writes one JSON line per row to `output`, in input order.

        `summary` is kept up to date as chunks are written, so after an interruption it
        counts exactly the rows in the output.

        Args:
            output: a text stream for the results.
            jobs: worker processes; None for one per core, 1 to decide in this process. More
                than the cores this process may use are not started.
            report: called with `INPUT:LINE: PATH: MESSAGE [CODE]` for every row that was not
                decided (invalid or failed).
            progress: called with how much more of the input (see `size`) has been read.
            notice: called with a sentence for standard error when something unusual
                happens, such as worker processes that cannot start.

        Returns:
            The counts; also kept as `summary`.
        """
        started = time.perf_counter()
        summary = self.summary
        workers = worker_count(jobs)[0]
        chunks = self._chunks()
        first = next(chunks, None)
        second = next(chunks, None) if first is not None else None
        seen = 0

        def take(result: ChunkResult) -> None:
            nonlocal seen
            with holding():  # the lines and their counts go together, or not at all
                output.write(result.text)
                summary.decided += result.decided
                summary.refused += result.refused
                summary.invalid += result.invalid
                summary.failed += result.failed
                summary.rows += result.rows
                summary.seconds = time.perf_counter() - started
            if report is not None:
                for message in result.messages:
                    report(message)
            if progress is not None:
                consumed = self.reader.consumed
                progress(consumed - seen)
                seen = consumed

        if first is not None:
            pending = [first] + ([second] if second is not None else [])
            local = self._local()
            if workers == 1 or second is None:  # one chunk is not worth starting processes for
                for chunk in _chain(pending, chunks):
                    take(local(chunk))
            else:
                with WorkerPool(self._job(), workers, local=local, notice=notice,
                                policy=self.policy) as pool:
                    pool.run(_chain(pending, chunks), take)
        with holding():
            output.flush()
        summary.seconds = time.perf_counter() - started
        return summary

    def _spanned(self) -> bool:
        """Whether the input is cut into spans that are read where they are decided: a JSON
        Lines file that is a regular file (not standard input or a pipe)."""
        return self.reader.fmt == "jsonl" and self.reader.regular

    def _chunks(self) -> Iterator[Chunk]:
        if not self._spanned():
            return _chunked(self.reader, self.chunk_rows)
        return reader_spans(self.reader, self.chunk_rows, CHUNK_BYTES)

    def _local(self) -> Callable[[Chunk], ChunkResult]:
        """Decides a chunk in this process (the decider is built on first use)."""
        built: list[tuple[RowDecider, Parse]] = []

        def decide(chunk: Chunk) -> ChunkResult:
            if not built:
                decider = RowDecider(self.policy, self.reader.shown, trace=self.trace)
                if self._spanned():  # JSON lines of a file: the quick path
                    decider.quick = QuickLines(decider, self.reader.limits)
                built.append((decider, record_parser(self.reader.fmt, self.reader.header,
                                                     self.policy, self.reader.limits)))
            decider, parse = built[0]
            if isinstance(chunk, Span):
                if self._span_handle is None:  # the reader's own is scanning ahead
                    self._span_handle = open(self.reader.path, "rb")  # noqa: SIM115
                return decide_span(decider, self._span_handle, chunk,
                                   self.reader.limits.max_row_bytes, parse)
            return decider.decide_chunk(chunk, parse)

        return decide

    def _job(self) -> Job:
        source = self.policy.checked.source
        path = os.path.abspath(self.reader.path) if self._spanned() else None
        return Job(source.text, source.name, self.policy.path, self.reader.shown,
                   self.reader.fmt, self.reader.header, self.trace, self.reader.limits, path)


def _chunked(reader: Reader, size: int) -> Iterator[list[Record]]:
    """The reader's records in lists of `size` rows, or fewer when the rows are long."""
    chunk: list[Record] = []
    start = reader.consumed
    for record in reader.records():
        chunk.append(record)
        if len(chunk) >= size or reader.consumed - start >= CHUNK_BYTES:
            yield chunk
            chunk = []
            start = reader.consumed
    if chunk:
        yield chunk


def _chain(first: list[Chunk], rest: Iterator[Chunk]) -> Iterator[Chunk]:
    yield from first
    yield from rest


def open_batch(policy: Policy | str, input_path: str, *, fmt: str | None = None,
               trace: bool = False, chunk_rows: int = CHUNK_ROWS,
               limits: RowLimits = DEFAULT_LIMITS) -> Batch:
    """Loads the policy (unless given loaded) and opens the input, checking a CSV header.

    Raises:
        DiagnosticError: the policy or the input cannot be read, or the CSV header names a
            column that is not a fact.
        BatchUsageError: the format cannot be told from the suffix, or Parquet needs pyarrow.
    """
    chosen = infer_format(input_path, fmt)
    loaded = Policy.load(policy) if isinstance(policy, str) else policy
    return Batch(loaded, Reader(input_path, chosen, loaded, limits), trace=trace,
                 chunk_rows=chunk_rows)


def run_batch(policy: Policy | str, input_path: str, output: Writable, *,
              fmt: str | None = None, trace: bool = False, jobs: int | None = None,
              chunk_rows: int = CHUNK_ROWS, limits: RowLimits = DEFAULT_LIMITS,
              report: Callable[[str], None] | None = None) -> BatchSummary:
    """Decides every row of `input_path` and writes the results to `output` (see `Batch`).

    Raises:
        DiagnosticError: the policy or the input cannot be read (no row is decided then).
        BatchUsageError: the format is unknown, or Parquet is asked for without pyarrow.
    """
    with open_batch(policy, input_path, fmt=fmt, trace=trace, chunk_rows=chunk_rows,
                    limits=limits) as batch:
        return batch.run(output, jobs=jobs, report=report)


def read_rows(policy: Policy, input_path: str, *, fmt: str | None = None,
              limits: RowLimits = DEFAULT_LIMITS) -> Iterator[Row]:
    """Reads an input file as `(line number, raw facts or RowError)`, one pair per row.

    Raises:
        DiagnosticError: the input cannot be read, or its CSV header is invalid.
        BatchUsageError: the format is unknown, or Parquet is asked for without pyarrow.
    """
    reader = Reader(input_path, infer_format(input_path, fmt), policy, limits)
    parse = record_parser(reader.fmt, reader.header, policy, limits)

    def rows() -> Iterator[Row]:
        try:
            for line, record in reader.records():
                if isinstance(record, RowError):
                    yield line, record
                    continue
                try:
                    raw = parse(record)
                except Exception as error:  # a row never ends the reading
                    raw = failure(describe_exception(error))
                yield line, raw
        finally:
            reader.close()

    return rows()
