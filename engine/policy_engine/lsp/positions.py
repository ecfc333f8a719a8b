"""Positions: character offsets (our spans) to and from LSP positions (lines and code units).

Our spans count characters (code points). LSP counts lines broken at `\\n`, `\\r\\n` or `\\r`
only, and columns in the code units of the negotiated encoding: UTF-16 unless the client
offers another, so a character outside the Basic Multilingual Plane (an emoji, a CJK
extension character) counts two. Python's `str.splitlines` would also break at form feeds and
U+2028, which LSP does not; these conversions never use it.
"""

from __future__ import annotations

import bisect
import re

from lsprotocol import types

from policy_engine.core.source import Span

#: The line breaks of LSP (and only those).
_BREAK = re.compile(r"\r\n|\r|\n")

UTF8 = types.PositionEncodingKind.Utf8.value
UTF16 = types.PositionEncodingKind.Utf16.value
UTF32 = types.PositionEncodingKind.Utf32.value


def _units(char: str, encoding: str) -> int:
    """How many code units one character takes in the encoding."""
    code = ord(char)
    if encoding == UTF32:
        return 1
    if encoding == UTF8:
        # A lone surrogate (text from a broken UTF-16 source) is written as three bytes.
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    return 2 if code >= 0x10000 else 1


class LineIndex:
    """The lines of one text, to convert offsets and positions in one encoding.

    Args:
        text: the document's whole text.
        encoding: `utf-16` (LSP's default), `utf-8` or `utf-32`.
    """

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        self.text = text
        self.encoding = encoding
        self.starts = [0] + [match.end() for match in _BREAK.finditer(text)]

    def _line_end(self, line: int) -> int:
        """The offset where a line's text ends (before its line break)."""
        if line + 1 >= len(self.starts):
            return len(self.text)
        end = self.starts[line + 1]
        return end - (2 if self.text.startswith("\r\n", end - 2) else 1)

    def position(self, offset: int) -> types.Position:
        """The LSP position of a character offset (clamped to the text)."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        start = self.starts[line]
        offset = min(offset, self._line_end(line))  # never inside a \r\n pair
        before = self.text[start:offset]
        if self.encoding == UTF32 or before.isascii():
            return types.Position(line, offset - start)
        return types.Position(line, sum(_units(char, self.encoding) for char in before))

    def offset(self, position: types.Position) -> int:
        """The character offset of an LSP position.

        A line past the end is the end of the text; a column past the end of its line is the
        end of the line; a column inside a character (half of a surrogate pair) is its start,
        as the specification asks.
        """
        if position.line >= len(self.starts):
            return len(self.text)
        start = self.starts[max(0, position.line)]
        end = self._line_end(max(0, position.line))
        wanted = max(0, position.character)
        line = self.text[start:end]
        if self.encoding == UTF32 or line.isascii():
            return start + min(wanted, len(line))
        counted = 0
        for index, char in enumerate(line):
            counted += _units(char, self.encoding)
            if counted > wanted:
                return start + index
        return end

    def range(self, span: Span) -> types.Range:
        return types.Range(self.position(span.start), self.position(span.end))

    def span(self, range_: types.Range) -> Span:
        start, end = self.offset(range_.start), self.offset(range_.end)
        return Span(min(start, end), max(start, end))

    def line_count(self) -> int:
        return len(self.starts)

    def whole(self) -> types.Range:
        """The range of the whole text."""
        return types.Range(types.Position(0, 0), self.position(len(self.text)))


def apply_change(text: str, change: types.TextDocumentContentChangeEvent,
                 encoding: str) -> str:
    """The text after one change of `textDocument/didChange` (a range, or the whole text)."""
    if isinstance(change, types.TextDocumentContentChangePartial):
        span = LineIndex(text, encoding).span(change.range)
        return text[:span.start] + change.text + text[span.end:]
    return change.text
