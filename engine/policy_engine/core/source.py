"""Source text and spans: the positions every later stage reports against."""

from __future__ import annotations

import bisect
import itertools
from dataclasses import field

from policy_engine.core.cache import pickled_by_fields
from policy_engine.core.records import record


@record(slots=True)
class Span:
    """A half-open range of character offsets into one `Source`."""

    start: int
    end: int


pickled_by_fields(Span)  # a large policy has hundreds of thousands: unpickled fast


@record
class Source:
    """A named text; line and column numbers are computed from offsets on demand.

    Args:
        name: how the source is shown to people, usually a path as the user typed it.
        text: the whole text.
    """

    name: str
    text: str
    _line_starts: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lengths = (len(line) + 1 for line in self.text.split("\n"))
        starts = itertools.accumulate(lengths, initial=0)
        object.__setattr__(self, "_line_starts", tuple(starts)[:-1])

    def line_col(self, offset: int) -> tuple[int, int]:
        """Returns the 1-based line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        """Returns the text of a 1-based line without its line break."""
        if not 1 <= line <= len(self._line_starts):
            return ""
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start : len(self.text) if end < 0 else end].rstrip("\r")

    def line_span(self, line: int) -> Span:
        """The span of a 1-based line's text, without its line break."""
        start = self._line_starts[max(0, min(line, len(self._line_starts)) - 1)]
        return Span(start, start + len(self.line_text(line)))

    def snippet(self, span: Span) -> str:
        """Returns the text a span covers."""
        return self.text[span.start : span.end]
