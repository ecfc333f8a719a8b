"""Batch: decides a file of fact rows (JSON Lines, CSV or Parquet), streaming, on every core.

A batch reads its input one row at a time and writes one JSON line per row, in input order, so
memory stays bounded however long the file is. Reading is split in two so that the work can
be shared between processes: the main process only cuts the file into *records* (a line of
bytes, a row of CSV cells, a Parquet row), and each worker parses its records into raw facts,
then validates and decides them in one call (the function of `Policy.decider`, or
`Policy.evaluate` with `--trace`). Every row ends in exactly one of three ways, and the counts
always reconcile (rows read = decided + refused + invalid):

- decided: `{"line": N, "decision": ..., "rule": ..., "outputs": {...}}`;
- refused, when the policy declines to decide (`otherwise refuse`, a failed `require` or
  `ensure`, any evaluation error): `{"line": N, "refused": {"code", "label", "message"}}`;
- invalid, when the row is not a fact set for this policy (malformed JSON, a wrong type, an
  unknown or missing fact, a CSV row of the wrong width): `{"line": N, "error": {"code",
  "message", "path"}}`, and a line `INPUT:LINE: reason` for the caller to report.

The output depends only on the policy and the input, never on how many processes ran.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.pool import AsyncResult, Pool
from typing import IO, Any, Literal

from policy_engine.check.checked import FactInfo
from policy_engine.check.types import (
    BoolType,
    EmptyListType,
    ListType,
    TextType,
    Type,
    WholeType,
    to_json_value,
)
from policy_engine.core.data import json_path, kind_of
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, did_you_mean
from policy_engine.core.files import display_path
from policy_engine.explain.decision import Decision
from policy_engine.policy import Policy

Format = Literal["jsonl", "csv", "parquet"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet")
#: The input format each file suffix stands for, when --format is not given.
SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
                               ".parquet": "parquet", ".pq": "parquet"}
#: Rows per unit of work sent to a worker process.
CHUNK_ROWS = 1000
#: How many rendered decisions a RowDecider keeps (see `RowDecider._render`).
_RENDERED_KEPT = 1024

_YES = {"yes": True, "true": True, "no": False, "false": False}
_WHOLE = re.compile(r"[+-]?[0-9]+")
_BOM = b"\xef\xbb\xbf"


class BatchUsageError(ValueError):
    """The batch cannot start as asked (unknown format, a missing optional package)."""


@dataclass(frozen=True)
class RowError:
    """Why one input row is not a fact set: a diagnostic code, a message and a JSON path.

    Args:
        more: how many further problems the row has beyond this one.
    """

    code: str
    message: str
    path: str = "$"
    more: int = 0


Raw = dict[str, object]
Row = tuple[int, "Raw | RowError"]


@dataclass
class BatchSummary:
    """The counts of a finished batch; `rows == decided + refused + invalid` always."""

    rows: int = 0
    decided: int = 0
    refused: int = 0
    invalid: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def text(self) -> str:
        """One line for standard error, the counts written as the sum they make."""
        return (f"rows read: {self.rows} = {self.decided} decided + {self.refused} refused + "
                f"{self.invalid} invalid; {self.rows_per_second:,.0f} rows/s "
                f"({self.seconds:.1f} s)")


# ---------------------------------------------------------------- formats


def infer_format(path: str, given: str | None = None) -> Format:
    """The input format: `given` when there is one, otherwise the one INPUT's suffix names.

    Raises:
        BatchUsageError: the suffix names no known format.
    """
    if given is not None:
        if given not in FORMATS:
            raise BatchUsageError(f"unknown input format '{given}'; use one of "
                                  + ", ".join(FORMATS))
        return given
    suffix = os.path.splitext(path)[1].lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise BatchUsageError(f"cannot tell the format of '{display_path(path)}' from its suffix "
                          f"(known: {', '.join(sorted(SUFFIXES))}); pass --format "
                          + "|".join(FORMATS))


def parse_json_line(record: bytes) -> Raw | RowError:
    """Parses one JSON Lines record; numbers with a fraction become exact Decimals."""
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError as error:
        return RowError("E304", f"not UTF-8 text (byte {error.start} cannot be decoded)")
    if not text.strip():
        return RowError("E304", "blank line; expected a JSON object of facts")
    try:
        data = _DECODER.decode(text)
    except _DuplicateKey as error:
        return RowError("E304", f"the key '{error.key}' appears twice", json_path((error.key,)))
    except ValueError as error:  # JSONDecodeError, and the constants refused above
        if isinstance(error, json.JSONDecodeError):
            return RowError("E304", f"invalid JSON: {error.msg} (column {error.colno})")
        return RowError("E304", f"invalid JSON: {error}")
    if not isinstance(data, dict):
        return RowError("E304", f"expected a JSON object of facts, got {kind_of(data, json=True)}")
    return data


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a number JSON allows")


#: Built once: `json.loads` and `json.dumps` with options build a new one per call.
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_no_constant,
                            object_pairs_hook=_unique_keys)
_ENCODER = json.JSONEncoder(ensure_ascii=False)


class CsvRows:
    """Turns CSV rows into raw facts, converting each cell by its column's declared type.

    An empty cell leaves the fact out. A yes/no cell is yes, no, true or false (any case); a
    whole number is digits; a list is a JSON array (`["photo", "video"]`) or items separated by
    semicolons (`photo;video`); anything else is kept as text for the fact stage to check, so
    a bad cell is reported like a bad JSON value.

    Args:
        header: the fact names, one per column, from the first line.
        facts: the policy's declared facts.
    """

    def __init__(self, header: tuple[str, ...], facts: Iterable[FactInfo]) -> None:
        types = {info.name: info.type for info in facts}
        self.header = header
        self.types = tuple(types.get(name) for name in header)

    def parse(self, cells: list[str]) -> Raw | RowError:
        if not cells:
            return RowError("E304", "blank line; expected a row of cells")
        if len(cells) != len(self.header):
            return RowError("E304", f"the row has {len(cells)} cells, but the header has "
                                    f"{len(self.header)}")
        raw: Raw = {}
        for name, t, cell in zip(self.header, self.types, cells, strict=True):
            if cell == "":
                continue
            if t is None:
                raw[name] = cell
                continue
            try:
                raw[name] = csv_cell(t, cell)
            except ValueError as error:
                return RowError("E304", str(error), json_path((name,)))
        return raw


def csv_cell(t: Type, cell: str) -> object:
    """Converts one non-empty CSV cell for a fact of type `t` (see `CsvRows`).

    Raises:
        ValueError: a list cell that starts like a JSON array but is not one.
    """
    if isinstance(t, TextType):
        return cell
    cell = cell.strip()
    if isinstance(t, BoolType):
        return _YES.get(cell.lower(), cell)
    if isinstance(t, WholeType):
        return int(cell) if _WHOLE.fullmatch(cell) else cell
    if isinstance(t, (ListType, EmptyListType)):
        if cell.startswith("["):
            try:
                return json.loads(cell, parse_float=Decimal, parse_constant=_no_constant)
            except ValueError as error:
                raise ValueError(f"invalid JSON array: {error}") from None
        items = cell.split(";")
        if isinstance(t, EmptyListType):
            return items  # the fact stage says the list must be empty
        return [csv_cell(t.element, item) for item in items]
    return cell  # amounts, dates and enumeration values are checked by the fact stage


def _check_header(header: list[str], facts: Iterable[FactInfo], shown: str) -> tuple[str, ...]:
    names = [info.name for info in facts]
    problems: list[Diagnostic] = []
    seen: set[str] = set()
    cleaned = tuple(cell.strip() for cell in header)
    for column, name in enumerate(cleaned, 1):
        if not name:
            problems.append(Diagnostic("E304", f"column {column} of the header has no name",
                                       file=shown, line=1,
                                       help="the header row names one fact per column"))
        elif name in seen:
            problems.append(Diagnostic("E304", f"column {column}: '{name}' is named twice",
                                       file=shown, line=1, path=json_path((name,))))
        elif name not in names:
            problems.append(Diagnostic(
                "E305", f"column {column}: unknown fact '{name}'", file=shown, line=1,
                path=json_path((name,)),
                help=did_you_mean(name, names) or "declared facts: " + ", ".join(names)))
        seen.add(name)
    if problems:
        raise DiagnosticError(problems)
    return cleaned


# ---------------------------------------------------------------- reading records


class _Reader:
    """Cuts an input file into records, counting the bytes read for a progress bar."""

    def __init__(self, path: str, fmt: Format, policy: Policy) -> None:
        self.path = path
        self.shown = display_path(path)
        self.fmt = fmt
        self.consumed = 0
        self.header: tuple[str, ...] | None = None
        self._handle: IO[bytes] | None = None
        self._parquet: Any = None
        self._not_utf8: set[int] = set()
        if fmt == "parquet":
            self._parquet = _open_parquet(path, self.shown)
            self.size = int(self._parquet.metadata.num_rows)
            return
        self._handle = _open_binary(path, self.shown)
        self.size = os.fstat(self._handle.fileno()).st_size
        if fmt == "csv":
            self._lines = self._text_lines()
            self._csv = csv.reader(self._lines)
            try:
                first = next(self._csv, None)
            except csv.Error as error:
                self.close()
                raise DiagnosticError([Diagnostic("E304", f"the header is not CSV: {error}",
                                                  file=self.shown, line=1)]) from None
            if first is not None:
                try:
                    self.header = _check_header(first, policy.checked.facts, self.shown)
                except DiagnosticError:
                    self.close()
                    raise

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def records(self) -> Iterator[tuple[int, object]]:
        if self.fmt == "jsonl":
            return self._jsonl()
        if self.fmt == "csv":
            return self._csv_records()
        return self._parquet_rows()

    def _jsonl(self) -> Iterator[tuple[int, object]]:
        assert self._handle is not None
        for number, line in enumerate(self._handle, 1):
            self.consumed += len(line)
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM):]
            yield number, line.rstrip(b"\r\n")

    def _text_lines(self) -> Iterator[str]:
        assert self._handle is not None
        for number, line in enumerate(self._handle, 1):
            self.consumed += len(line)
            if number == 1 and line.startswith(_BOM):
                line = line[len(_BOM):]
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                self._not_utf8.add(number)  # the row it is part of is refused
                yield line.decode("utf-8", errors="replace")

    def _csv_records(self) -> Iterator[tuple[int, object]]:
        if self.header is None:
            return
        reader = self._csv
        while True:
            start = reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield start, RowError("E304", f"not a CSV row: {error}")
                continue
            if self._not_utf8 and any(n in self._not_utf8
                                      for n in range(start, reader.line_num + 1)):
                yield start, RowError("E304", "not UTF-8 text")
                continue
            yield start, cells

    def _parquet_rows(self) -> Iterator[tuple[int, object]]:
        number = 0
        for batch in self._parquet.iter_batches(batch_size=CHUNK_ROWS):
            for row in batch.to_pylist():
                number += 1
                self.consumed += 1
                # A null cell is a fact left out, as an empty CSV cell is.
                yield number, {key: value for key, value in row.items() if value is not None}


def _open_binary(path: str, shown: str) -> IO[bytes]:
    try:
        if os.path.isdir(path):
            raise IsADirectoryError(path)
        return open(path, "rb")
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic("E301", "no such file", file=shown)]) from None
    except IsADirectoryError:
        raise DiagnosticError([Diagnostic("E301", "is a directory, not a file",
                                          file=shown)]) from None
    except OSError as error:
        raise DiagnosticError([Diagnostic("E301", f"cannot read: {error.strerror}",
                                          file=shown)]) from None


def _open_parquet(path: str, shown: str) -> Any:
    try:
        import pyarrow.parquet as parquet  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError:
        raise BatchUsageError("reading Parquet needs the optional package pyarrow; install it "
                              "(pip install pyarrow) or convert the file to JSON Lines or CSV") \
            from None
    _open_binary(path, shown).close()  # the same messages as the other formats
    try:
        return parquet.ParquetFile(path)
    except Exception as error:  # pyarrow raises its own exception types
        raise DiagnosticError([Diagnostic("E301", f"not a Parquet file: {error}",
                                          file=shown)]) from None


# ---------------------------------------------------------------- deciding rows


class RowDecider:
    """Decides raw rows against one policy and renders each as its output line.

    Args:
        policy: the loaded policy.
        file: the input's name, for messages.
        trace: add the explanation (`policy eval --format json`'s `trace`) to each decision.
    """

    def __init__(self, policy: Policy, file: str, *, trace: bool = False) -> None:
        self.policy = policy
        self.file = file
        self.trace = trace
        # One compiled function validates a row and decides on it.
        self._decide: Callable[..., Decision] = policy.decider()
        # The rendered decision by result object: a rule whose outputs are constants returns
        # the same object every time, so most rows are rendered once. Holding the object keeps
        # its id from being reused while it is here.
        self._rendered: dict[int, tuple[Decision, str]] = {}

    def decide(self, line: int, raw: Raw | RowError) -> tuple[str, str, str | None]:
        """Returns the output line, the outcome (decided, refused or invalid) and, for an
        invalid row, the message to report."""
        if isinstance(raw, RowError):
            return self._invalid(line, raw)
        try:
            if self.trace:
                decision = self.policy.evaluate(raw, engine="compiled", file=self.file,
                                                prefix=())
            else:
                decision = self._decide(raw, self.file, None, ())
        except DiagnosticError as error:
            first = error.diagnostics[0]
            return self._invalid(line, RowError(first.code, first.message, first.path or "$",
                                                len(error.diagnostics) - 1))
        if decision.refused:
            first = decision.refusal[0]
            return _refused(line, first.code, first.label, first.message), "refused", None
        if self.trace:
            return self._traced(line, decision), "decided", None
        return f'{{"line": {line}, {self._render(decision)}', "decided", None

    def _render(self, result: Decision) -> str:
        """The output line of a decision after its line number: `"decision": ... }`."""
        cached = self._rendered.get(id(result))
        if cached is not None and cached[0] is result:
            return cached[1]
        outputs = {name: to_json_value(value) for name, value in result.outputs.items()}
        text = (f'"decision": {_dumps(result.decision)}, "rule": {_dumps(result.rule)}, '
                f'"outputs": {_dumps(outputs)}}}')
        if len(self._rendered) >= _RENDERED_KEPT:
            self._rendered.clear()
        self._rendered[id(result)] = (result, text)
        return text

    def _traced(self, line: int, decision: Decision) -> str:
        data = decision.to_json()
        return _dumps({"line": line, "decision": data["decision"], "rule": data["rule"],
                       "outputs": data["outputs"], "trace": data["trace"]})

    def _invalid(self, line: int, error: RowError) -> tuple[str, str, str | None]:
        more = f" (and {error.more} more)" if error.more else ""
        message = f"{self.file}:{line}: {error.path}: {error.message}{more} [{error.code}]"
        return _dumps({"line": line, "error": {"code": error.code, "message": error.message,
                                               "path": error.path}}), "invalid", message

    def decide_chunk(self, chunk: list[tuple[int, object]],
                     parse: Callable[[object], Raw | RowError]) -> _ChunkResult:
        """Decides a list of records; the unit of work of a worker process."""
        out: list[str] = []
        counts = {"decided": 0, "refused": 0, "invalid": 0}
        messages: list[str] = []
        for line, record in chunk:
            raw = record if isinstance(record, RowError) else parse(record)
            text, outcome, message = self.decide(line, raw)
            out.append(text)
            counts[outcome] += 1
            if message is not None:
                messages.append(message)
        return ("\n".join(out) + "\n", counts["decided"], counts["refused"], counts["invalid"],
                messages)


_ChunkResult = tuple[str, int, int, int, list[str]]


def _refused(line: int, code: str, label: str | None, message: str) -> str:
    return _dumps({"line": line, "refused": {"code": code, "label": label, "message": message}})


def _dumps(data: object) -> str:
    return _ENCODER.encode(data)


def _parser(fmt: Format, header: tuple[str, ...] | None, policy: Policy
            ) -> Callable[[object], Raw | RowError]:
    if fmt == "jsonl":
        return parse_json_line  # type: ignore[return-value]
    if fmt == "csv":
        return CsvRows(header or (), policy.checked.facts).parse  # type: ignore[return-value]
    return lambda record: record  # type: ignore[return-value]  # Parquet rows are dicts


# ---------------------------------------------------------------- worker processes


@dataclass(frozen=True)
class _Job:
    """What a worker process needs to rebuild the batch's deciding side (picklable)."""

    policy_text: str
    policy_name: str
    policy_path: str | None
    file: str
    fmt: Format
    header: tuple[str, ...] | None
    trace: bool


_WORKER: tuple[RowDecider, Callable[[object], Raw | RowError]] | None = None


def _start_worker(job: _Job) -> None:
    global _WORKER
    policy = Policy.from_text(job.policy_text, job.policy_name)
    policy.path = job.policy_path
    _WORKER = (RowDecider(policy, job.file, trace=job.trace), _parser(job.fmt, job.header, policy))


def _work(chunk: list[tuple[int, object]]) -> _ChunkResult:
    assert _WORKER is not None, "worker not started"
    decider, parse = _WORKER
    return decider.decide_chunk(chunk, parse)


# ---------------------------------------------------------------- the batch


@dataclass
class Batch:
    """An opened batch: the policy is loaded and the input is open (a CSV header checked).

    Use `open_batch` to make one, `run` to decide every row, and `close` (or `with`) after.
    """

    policy: Policy
    reader: _Reader
    trace: bool = False
    chunk_rows: int = CHUNK_ROWS
    summary: BatchSummary = field(default_factory=BatchSummary)

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

    def run(self, output: IO[str], *, jobs: int | None = None,
            report: Callable[[str], None] | None = None,
            progress: Callable[[int], None] | None = None) -> BatchSummary:
        """Decides every row and writes one JSON line per row to `output`, in input order.

        Args:
            output: a text stream for the results.
            jobs: worker processes; None for one per core, 1 to decide in this process.
            report: called with `INPUT:LINE: reason` for every invalid row.
            progress: called with how much more of the input (see `size`) has been read.

        Returns:
            The counts; also kept as `summary`.
        """
        started = time.perf_counter()
        summary = self.summary
        jobs = jobs if jobs is not None else cores()
        chunks = _chunked(self.reader.records(), self.chunk_rows)
        first = next(chunks, None)
        second = next(chunks, None) if first is not None else None
        seen = 0

        def take(result: _ChunkResult) -> None:
            nonlocal seen
            text, decided, refused, invalid, messages = result
            output.write(text)
            summary.decided += decided
            summary.refused += refused
            summary.invalid += invalid
            summary.rows += decided + refused + invalid
            if report is not None:
                for message in messages:
                    report(message)
            if progress is not None:
                consumed = self.reader.consumed
                progress(consumed - seen)
                seen = consumed

        if first is not None:
            pending = [first] + ([second] if second is not None else [])
            if jobs == 1 or second is None:  # one chunk is not worth starting processes for
                decider = RowDecider(self.policy, self.reader.shown, trace=self.trace)
                parse = _parser(self.reader.fmt, self.reader.header, self.policy)
                for chunk in _chain(pending, chunks):
                    take(decider.decide_chunk(chunk, parse))
            else:
                self._run_pool(_chain(pending, chunks), jobs, take)
        output.flush()
        summary.seconds = time.perf_counter() - started
        return summary

    def _run_pool(self, chunks: Iterator[list[tuple[int, object]]], jobs: int,
                  take: Callable[[_ChunkResult], None]) -> None:
        source = self.policy.checked.source
        job = _Job(source.text, source.name, self.policy.path, self.reader.shown,
                   self.reader.fmt, self.reader.header, self.trace)
        # A few chunks per worker in flight keep every core busy while bounding memory; results
        # are taken strictly in submission order, which keeps the output in input order.
        limit = 2 * jobs + 1
        pool: Pool = multiprocessing.get_context().Pool(jobs, _start_worker, (job,))
        try:
            in_flight: deque[AsyncResult[_ChunkResult]] = deque()
            for chunk in chunks:
                in_flight.append(pool.apply_async(_work, (chunk,)))
                while len(in_flight) >= limit:
                    take(in_flight.popleft().get())
            while in_flight:
                take(in_flight.popleft().get())
            pool.close()
        finally:
            pool.terminate()
            pool.join()


def cores() -> int:
    """The cores this process may run on (fewer than the machine has, under a CPU limit)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def _chunked(records: Iterator[tuple[int, object]], size: int
             ) -> Iterator[list[tuple[int, object]]]:
    chunk: list[tuple[int, object]] = []
    for record in records:
        chunk.append(record)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _chain(first: list[list[tuple[int, object]]], rest: Iterator[list[tuple[int, object]]]
           ) -> Iterator[list[tuple[int, object]]]:
    yield from first
    yield from rest


def open_batch(policy: Policy | str, input_path: str, *, fmt: str | None = None,
               trace: bool = False, chunk_rows: int = CHUNK_ROWS) -> Batch:
    """Loads the policy (unless given loaded) and opens the input, checking a CSV header.

    Raises:
        DiagnosticError: the policy or the input cannot be read, or the CSV header names a
            column that is not a fact.
        BatchUsageError: the format cannot be told from the suffix, or Parquet needs pyarrow.
    """
    chosen = infer_format(input_path, fmt)
    loaded = Policy.load(policy) if isinstance(policy, str) else policy
    return Batch(loaded, _Reader(input_path, chosen, loaded), trace=trace, chunk_rows=chunk_rows)


def run_batch(policy: Policy | str, input_path: str, output: IO[str], *,
              fmt: str | None = None, trace: bool = False, jobs: int | None = None,
              chunk_rows: int = CHUNK_ROWS, report: Callable[[str], None] | None = None
              ) -> BatchSummary:
    """Decides every row of `input_path` and writes the results to `output` (see the module).

    Raises:
        DiagnosticError: the policy or the input cannot be read (no row is decided then).
        BatchUsageError: the format is unknown, or Parquet is asked for without pyarrow.
    """
    with open_batch(policy, input_path, fmt=fmt, trace=trace, chunk_rows=chunk_rows) as batch:
        return batch.run(output, jobs=jobs, report=report)


def read_rows(policy: Policy, input_path: str, *, fmt: str | None = None) -> Iterator[Row]:
    """Reads an input file as `(line number, raw facts or RowError)`, one pair per row.

    Raises:
        DiagnosticError: the input cannot be read, or its CSV header is invalid.
        BatchUsageError: the format is unknown, or Parquet is asked for without pyarrow.
    """
    reader = _Reader(input_path, infer_format(input_path, fmt), policy)
    parse = _parser(reader.fmt, reader.header, policy)

    def rows() -> Iterator[Row]:
        try:
            for line, record in reader.records():
                yield line, record if isinstance(record, RowError) else parse(record)
        finally:
            reader.close()

    return rows()
