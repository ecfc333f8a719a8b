"""Batch reading: cuts an input file into records (JSON lines, CSV rows, Parquet rows).

The main process only cuts; parsing a record into facts is the workers' job. Lines are read
with a bounded read, so a line longer than the row limit is never held in memory whole: the
rest of it is skipped and the row becomes an E307 error record, and the next line is read
as usual.
"""

from __future__ import annotations

import csv
import os
import stat
from collections.abc import Callable, Iterator
from typing import IO, Any, Literal

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.files import display_path
from policy_engine.policy import Policy

from .rows import DEFAULT_LIMITS, RowError, RowLimits, check_header

Format = Literal["jsonl", "csv", "parquet", "decision-log"]
FORMATS: tuple[Format, ...] = ("jsonl", "csv", "parquet", "decision-log")
#: the input format each file suffix stands for, when --input-format is not given.
SUFFIXES: dict[str, Format] = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
                               ".parquet": "parquet", ".pq": "parquet"}
#: Rows per Parquet batch read at once.
PARQUET_BATCH_ROWS = 1000
#: How much of an over-long line is read at a time while skipping it.
_SKIP_BYTES = 1 << 16
BOM = b"\xef\xbb\xbf"

#: A record: its line number, and what the workers parse (bytes, CSV cells, a Parquet row as
#: a dict), or the RowError the reader already found.
Record = tuple[int, object]


class BatchUsageError(ValueError):
    """The batch cannot start as asked (unknown format, a missing optional package)."""


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
        found = SUFFIXES[suffix]
        return "decision-log" if found == "jsonl" and is_decision_log(path) else found
    if suffix == ".log" and is_decision_log(path):
        return "decision-log"
    raise BatchUsageError(f"cannot tell the format of '{display_path(path)}' from its suffix "
                          f"(known: {', '.join(sorted(SUFFIXES))}); pass --input-format "
                          + "|".join(FORMATS))


def is_decision_log(path: str) -> bool:
    """Whether the file's first line is a decision-log line (a server's log of decisions).

    Only a regular file is peeked at: reading the first line of a pipe or a FIFO would take it
    from the reader (or wait for a writer that never comes), so such an input is JSON Lines
    unless `--input-format decision-log` says otherwise.
    """
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return False
        handle = open(path, "rb")
    except OSError:
        return False  # the reader reports it
    try:
        first = handle.readline(1 << 16)
    except OSError:
        return False
    finally:
        handle.close()
    return b'"policy-engine/decision-log"' in first and first.lstrip().startswith(b"{")


class _RowTooLong(Exception):
    """Raised into the CSV reader to end a row that grew over the limit."""


def _too_long(size: int, limit: int) -> RowError:
    return RowError("E307", f"the row is {size:,} bytes, more than the limit of {limit:,} "
                            "(--max-row-bytes)")


class Reader:
    """Cuts an input file into records, counting the bytes read for a progress bar.

    Args:
        path: the input file.
        fmt: its format.
        policy: the policy, whose facts a CSV header must name.
        limits: the row limits; the reader applies the size of a row.

    Raises:
        DiagnosticError: the file cannot be read, or its CSV header is invalid.
        BatchUsageError: Parquet without pyarrow.
    """

    def __init__(self, path: str, fmt: Format, policy: Policy,
                 limits: RowLimits = DEFAULT_LIMITS) -> None:
        self.path = path
        self.shown = display_path(path)
        self.fmt = fmt
        self.limits = limits
        self.consumed = 0
        self.header: tuple[str, ...] | None = None
        self._handle: IO[bytes] | None = None
        self._parquet: Any = None
        self._not_utf8: set[int] = set()
        self.line_number = 0  # lines read so far
        self._row_start = 0  # bytes consumed when the current CSV row started
        self._cut = 0  # the size of the CSV row just cut short
        if fmt == "parquet":
            self._parquet = _open_parquet(path, self.shown)
            self.size = int(self._parquet.metadata.num_rows)
            return
        self._handle = _open_binary(path, self.shown)
        self.size = os.fstat(self._handle.fileno()).st_size
        if fmt == "csv":
            self._csv = csv.reader(self._text_lines())
            try:
                first = next(self._csv, None)
            except csv.Error as error:
                self.close()
                raise DiagnosticError([Diagnostic("E304", f"the header is not CSV: {error}",
                                                  file=self.shown, line=1)]) from None
            except _RowTooLong:
                self.close()
                raise DiagnosticError([Diagnostic(
                    "E307", _too_long(self._cut, limits.max_row_bytes).message,
                    file=self.shown, line=1)]) from None
            if first is not None:
                try:
                    self.header = check_header(first, policy.checked.facts, self.shown)
                except DiagnosticError:
                    self.close()
                    raise

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()

    def records(self) -> Iterator[Record]:
        if self.fmt in ("jsonl", "decision-log"):
            return self._jsonl()
        if self.fmt == "csv":
            return self._csv_records()
        return self._parquet_rows()

    def _lines(self) -> Iterator[tuple[int, bytes | int]]:
        """Each line with its number: its bytes, or its size when it is over the limit."""
        assert self._handle is not None
        for number, line, used in bounded_lines(
                lambda size: self._read(self._handle.readline, size),  # type: ignore[union-attr]
                self.limits.max_row_bytes, self.line_number + 1):
            self.line_number = number
            self.consumed += used
            yield number, line

    def _read(self, readline: Callable[[int], bytes], size: int) -> bytes:
        try:
            return readline(size)
        except OSError as error:  # a disk error in the middle of the file
            raise DiagnosticError([Diagnostic(
                "E301", f"cannot read: {error.strerror or error}", file=self.shown,
                line=self.line_number + 1)]) from None

    def _jsonl(self) -> Iterator[Record]:
        limit = self.limits.max_row_bytes
        for number, line in self._lines():
            yield number, jsonl_record(line, limit)

    @property
    def handle(self) -> IO[bytes]:
        """The open input file (not for Parquet)."""
        assert self._handle is not None
        return self._handle

    @property
    def regular(self) -> bool:
        """Whether the input is a regular file, which worker processes can read themselves
        (not a pipe or a terminal, and not compressed)."""
        if self._handle is None:
            return False
        try:
            return stat.S_ISREG(os.fstat(self._handle.fileno()).st_mode)
        except OSError:
            return False

    def _text_lines(self) -> Iterator[str]:
        limit = self.limits.max_row_bytes
        for number, line in self._lines():
            if isinstance(line, int):
                self._cut = line
                raise _RowTooLong
            if self.consumed - self._row_start > limit + 2:
                # A row of several lines (a quoted cell with line breaks) over the limit.
                self._cut = self.consumed - self._row_start
                raise _RowTooLong
            try:
                yield line.decode("utf-8")
            except UnicodeDecodeError:
                self._not_utf8.add(number)  # the row it is part of is refused
                yield line.decode("utf-8", errors="replace")

    def _csv_records(self) -> Iterator[Record]:
        if self.header is None:
            return
        limit = self.limits.max_row_bytes
        while True:
            # The csv reader takes lines one at a time and never reads ahead of its row.
            start = self.line_number + 1
            self._row_start = self.consumed
            try:
                cells = next(self._csv)
            except StopIteration:
                return
            except csv.Error as error:
                yield start, RowError("E304", f"not a CSV row: {error}")
                continue
            except _RowTooLong:
                # The line generator ended with the exception; go on at the next line.
                self._csv = csv.reader(self._text_lines())
                yield start, _too_long(self._cut, limit)
                continue
            if self._not_utf8 and any(n in self._not_utf8
                                      for n in range(start, self.line_number + 1)):
                yield start, RowError("E304", "not UTF-8 text")
                continue
            yield start, cells

    def _parquet_rows(self) -> Iterator[Record]:
        number = 0
        for batch in self._parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                self.consumed += 1
                yield number, parquet_record(row, self.limits)

    def arrow_batches(self, rows: int) -> Iterator[Any]:
        """A Parquet input as Arrow record batches of up to `rows` rows (the SQL engines read
        them whole; `parquet_record` is what one of their rows is to the reference engine)."""
        assert self._parquet is not None
        for batch in self._parquet.iter_batches(batch_size=rows):
            self.consumed += batch.num_rows
            yield batch


def bounded_lines(read: Callable[[int], bytes], limit: int,
                  number: int = 1) -> Iterator[tuple[int, bytes | int, int]]:
    """Each line that `read` (a bounded `readline`) gives, numbered from `number`: its bytes,
    or its size when it is over `limit` (the rest is skipped without being kept), with the
    bytes it took in the file. The first line of the file loses its byte order mark."""
    while True:
        # Room for the limit and a line break (\r\n); a longer line is cut here.
        line = read(limit + 2)
        if not line:
            return
        used = len(line)
        if number == 1 and line.startswith(BOM):
            line = line[len(BOM):]
        if line.endswith(b"\n") or len(line) <= limit:
            yield number, line, used
            number += 1
            continue
        size = len(line)
        while not line.endswith(b"\n"):  # skip the rest without keeping it
            line = read(_SKIP_BYTES)
            if not line:
                break
            size += len(line)
            used += len(line)
        yield number, size - line.endswith(b"\n") - line.endswith(b"\r\n"), used
        number += 1


def jsonl_record(line: bytes | int, limit: int) -> object:
    """What the workers parse of one JSON line from `bounded_lines`: its bytes without the
    line break, or the E307 error of a line over the limit."""
    if isinstance(line, int):
        return _too_long(line, limit)
    line = line.rstrip(b"\r\n")
    if len(line) > limit:
        return _too_long(len(line), limit)
    return line


def parquet_record(row: dict[str, Any], limits: RowLimits) -> dict[str, Any] | RowError:
    """One Parquet row as raw facts, or E307 when its text cells are over the size limit."""
    size = sum(len(v) for v in row.values() if isinstance(v, (str, bytes)))
    if size > limits.max_row_bytes:
        return _too_long(size, limits.max_row_bytes)
    # A null cell is a fact left out, as an empty CSV cell is.
    return {key: value for key, value in row.items() if value is not None}


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
