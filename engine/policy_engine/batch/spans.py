"""Batch spans: a JSON Lines file cut into runs of whole lines that each worker reads itself.

When the input is a regular file, the main process does not read the rows to the workers: it
only scans the file for line breaks, in large blocks, and hands each worker a `Span` (where
its lines start and end, and the number of the first). The worker reads those bytes from
the file with the same bounded reads the main process would use (`reading.bounded_lines`),
so its records, line numbers and row-limit errors are exactly those of the reading path,
and the rows never cross a pipe. Standard input, pipes and the other formats keep the
reading path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from .reading import Reader, Record, bounded_lines, jsonl_record

#: How much of the file the main process scans at a time for line breaks.
SCAN_BYTES = 1 << 20


@dataclass(frozen=True)
class Span:
    """Whole lines of a JSON Lines file: bytes `start` to `end`, lines `first` onwards.

    Args:
        lines: how many lines (the last may have no line break).
    """

    start: int
    end: int
    first: int
    lines: int

    @property
    def numbers(self) -> range:
        return range(self.first, self.first + self.lines)


def cut_spans(handle: IO[bytes], rows: int, max_bytes: int,
              scan: int = SCAN_BYTES) -> Iterator[Span]:
    """The file from its current position in spans of `rows` lines, or fewer once a span
    holds `max_bytes` bytes, as the reading path cuts chunks (a line is never split).

    The line breaks are counted by `bytes.count` and found by `bytes.find`, a few calls per
    span rather than one per line: the main process scans the whole input, and time it
    spends here is time the workers' cores do not decide rows.
    """
    start = position = end = handle.tell()
    first, lines = 1, 0
    width = 128  # the bytes of a line, on average, in the last span: where to look first
    while block := handle.read(scan):
        at = 0
        while True:
            need = max(rows - lines, 1)
            cut = nth_line_break(block, at, need, width)
            # The first line break at which the span would hold `max_bytes` bytes.
            over = block.find(b"\n", max(at, start + max_bytes - 1 - position))
            if over >= 0 and (cut < 0 or over < cut):
                cut, need = over, block.count(b"\n", at, over + 1)
            if cut < 0:  # the rest of the block is part of the span
                counted = block.count(b"\n", at)
                if counted:
                    lines += counted
                    end = position + block.rindex(b"\n") + 1
                break
            lines += need
            end = position + cut + 1
            yield Span(start, end, first, lines)
            width = max(1, (end - start) // lines)
            start, first, lines = end, first + lines, 0
            at = cut + 1
        position += len(block)
    if position > end:
        lines += 1  # the last line has no line break
    if lines:
        yield Span(start, position, first, lines)


def nth_line_break(block: bytes, at: int, n: int, width: int) -> int:
    """Where the `n`th line break from `at` is in `block` (-1: it has fewer), looked for
    first around `n` lines of `width` bytes on."""
    guess = min(len(block), at + n * width)
    found = block.count(b"\n", at, guess)
    if found >= n:  # back from the guess to the nth
        for _ in range(found - n + 1):
            guess = block.rfind(b"\n", at, guess)
        return guess
    where = guess - 1
    for _ in range(n - found):
        where = block.find(b"\n", where + 1)
        if where < 0:
            return -1
    return where


def reader_spans(reader: Reader, rows: int, max_bytes: int) -> Iterator[Span]:
    """The rest of the reader's JSON Lines file as spans, counted as read for its progress."""
    for span in cut_spans(reader.handle, rows, max_bytes):
        reader.consumed = span.end
        yield span


def span_records(handle: IO[bytes], span: Span, limit: int) -> list[Record]:
    """The records of `span`, read from `handle` (the same file) as the reading path reads
    them: each line's bytes without its line break, or the E307 error of one over `limit`."""
    handle.seek(span.start)
    records: list[Record] = []
    for number, line, _ in bounded_lines(handle.readline, limit, span.first):
        records.append((number, jsonl_record(line, limit)))
        if len(records) == span.lines:
            break
    return records


def line_numbers(chunk: list[Record] | Span) -> list[int]:
    """The line numbers of a chunk of records or of a span."""
    if isinstance(chunk, Span):
        return list(chunk.numbers)
    return [line for line, _ in chunk]
