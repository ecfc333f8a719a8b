"""Batch quick path: a span of JSON lines read in one call and decided without detours.

Most rows of a batch are plain fact sets that the policy decides. For them a worker reads
its whole span at once (instead of line by line, `span_lines`), decodes each line with
msgspec, and hands the dict to the policy's generated checks and decision
(`Policy.doubting_decider`); a decision whose outputs are constants comes back as the same
object every time, so its output line is looked up, not rendered. Nothing here words an
error: every row the quick path is not sure of (not JSON to msgspec, a key that may be
written twice, a fact the generated checks doubt, anything that raises) is decided again by
`RowDecider.row`, exactly as without the quick path. So the output is byte for byte the same,
and a test compares the two (`tests/batch/test_quick.py`).

For a policy with typed rows (`typed`), a span is decoded in one call into them instead
(`QuickLines.typed_span`), and a line is decoded as a dict only when it is not one; the
output lines of consecutive rows whose lines are kept are formatted in one call.

The `json` path refuses some values that the policy would accept (an integer with more
digits than `--max-digits`, arrays nested deeper than `--max-depth`). The generated checks
accept no list and no object for a policy whose facts are all single values, nor integers
longer than the facts' bounds allow, so for such a policy (within the row limits) a row they
accept needs no further look; otherwise each row's values are checked as
`rows.quick_decoder` checks them.
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import IO, Any

from policy_engine.check.types import (
    AmountType,
    BoolType,
    DateType,
    EnumType,
    TextType,
    Type,
    WholeType,
)
from policy_engine.evaluate.arithmetic import WHOLE_LIMIT
from policy_engine.facts.forms import AMOUNT_DIGITS
from policy_engine.policy import Policy

from .deciding import ChunkResult, Parse, RowDecider, count, encodable, refused_line
from .reading import BOM, Record
from .rows import RowLimits, msgspec_decoding, plain_values
from .spans import Span, span_records
from .typed import TypedRows, typed_rows

#: Whether workers take the quick path (tests turn it off to compare the two paths).
USE_QUICK = True
#: The largest span read in one call; a larger one (a very long line) is read line by line.
READ_AT_ONCE = 32 << 20
#: How many output lines of shared decisions a `QuickLines` keeps.
_KEPT = 1024


class _Doubt:
    """What the doubting decider returns for facts its checks are not sure of."""


_DOUBT = _Doubt()


def _doubt(raw: object, file: str, locate: object, prefix: object) -> _Doubt:
    return _DOUBT


def span_chunk(handle: IO[bytes], span: Span, limit: int) -> list[Record]:
    """The records of `span` read from `handle` (the same file), exactly as
    `spans.span_records` reads them; in one read when it can (`span_lines`)."""
    lines = span_lines(handle, span, limit)
    if lines is None:
        return span_records(handle, span, limit)
    return list(zip(span.numbers, lines, strict=True))


def span_lines(handle: IO[bytes], span: Span, limit: int) -> list[bytes] | None:
    """The records of `span` as `spans.span_records` reads them (each line without its line
    break), read in one call; None when the span needs the bounded reading: a line over
    `limit`, the byte order mark of the file's first line, a span over `READ_AT_ONCE`, or a
    file that changed since it was cut."""
    data = span_bytes(handle, span)
    return None if data is None else data_lines(data, span, limit)


def span_bytes(handle: IO[bytes], span: Span) -> bytes | None:
    """The bytes of `span`, read in one call; None for a span over `READ_AT_ONCE`, one
    holding the byte order mark of the file's first line, or a file that changed since it
    was cut (a short read, or a last line that no longer ends the file)."""
    size = span.end - span.start
    if size > READ_AT_ONCE:
        return None
    handle.seek(span.start)
    data = handle.read(size)
    if len(data) != size or (span.first == 1 and data.startswith(BOM)):
        return None
    if not data.endswith(b"\n") and handle.read(1):  # the last line of a span ends the file
        return None
    return data


def data_lines(data: bytes, span: Span, limit: int) -> list[bytes] | None:
    """The records in the bytes of `span` (`span_bytes`), as `span_lines` gives them."""
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    if len(lines) != span.lines:
        return None
    # A line of at most `limit` bytes before its line break is read whole by the bounded
    # reading, which then strips its line break: \n, and any \r before it.
    if len(data) > limit and max(map(len, lines)) > limit:
        return None
    if b"\r" in data:
        lines = [line.rstrip(b"\r") for line in lines]
    return lines


#: An output line from its number and the rest of it (`numbered`).
_NUMBERED = '{"line": %d, %s\n'


def numbered(first: int, rests: list[str]) -> str:
    """The output lines of consecutive rows from line `first`, given the rest of each line
    after its number: formatted in one call, not line by line."""
    count = len(rests)
    values: list[object] = [None] * (2 * count)
    values[0::2] = range(first, first + count)
    values[1::2] = rests
    return (_NUMBERED * count) % tuple(values)


def decide_span(decider: RowDecider, handle: IO[bytes], span: Span, limit: int,
                parse: Parse) -> ChunkResult:
    """The result of the lines of `span` (read from `handle`, the input file), as
    `decider.decide_chunk` gives it for the records `span_chunk` reads: typed rows decoded
    all at once (`QuickLines.typed_span`) when they can be, else record by record."""
    quick = decider.quick
    if isinstance(quick, QuickLines) and quick.ready:
        result = quick.typed_span(handle, span, limit, parse)
        if result is not None:
            return result
    return decider.decide_chunk(span_chunk(handle, span, limit), parse)


def _integer_digits(t: Type) -> int | None:
    """The most digits an integer that the generated checks accept for a fact of type `t`
    can have (0: they accept none); None when they may accept a list."""
    if isinstance(t, (BoolType, EnumType, TextType, DateType)):
        return 0
    if isinstance(t, WholeType):
        if t.minimum is None or t.maximum is None:  # checked against the engine's range
            return len(str(WHOLE_LIMIT - 1))
        return max(len(str(abs(t.minimum))), len(str(abs(t.maximum))))
    if isinstance(t, AmountType):
        return AMOUNT_DIGITS  # an integer amount is under 10**AMOUNT_DIGITS
    return None


def values_need_checks(policy: Policy, limits: RowLimits) -> bool:
    """Whether a row the generated checks accept may still hold a value that the `json` path
    refuses: a list (whose items may nest or be long integers), or an integer with more
    digits than the limit."""
    for info in policy.checked.facts:
        digits = _integer_digits(info.type)
        if digits is None or digits > limits.max_digits:
            return True
    return False


class QuickLines:
    """Decides the lines of a span on the quick path, and the others as `RowDecider.row` does.

    Args:
        decider: the batch's decider, for the rows the quick path leaves.
        limits: the row limits.
    """

    def __init__(self, decider: RowDecider, limits: RowLimits) -> None:
        self.decider = decider
        self.limits = limits
        decoding = msgspec_decoding(limits) if USE_QUICK and not decider.trace else None
        #: Whether the quick path is open (msgspec is installed, no trace is asked for).
        self.ready = decoding is not None
        self._decoding = decoding
        self._decide: Callable[..., Any] | None = None
        self._check = True
        self._typed: TypedRows | None = None
        # The output line after the line number, by shared decision (held, so that its id
        # is not reused while it is here), made printable once.
        self._lines: dict[int, tuple[object, str]] = {}

    def decide_chunk(self, chunk: list[Record], parse: Parse) -> ChunkResult:
        """The result of a chunk of JSON Lines records (bytes, or a reader's `RowError`)."""
        self._prepare()
        typed = self._typed
        if typed is None:
            return self._dict_chunk(chunk, parse)
        dict_decision = self._dict_decision
        file, known, doubt = self.decider.file, self._lines, _DOUBT
        out: list[str] = []
        result = ChunkResult()
        decided = 0
        decode, decide, facts = typed.decode, typed.decide, typed.facts
        # TypeError: a RowError, not bytes.
        failed: tuple[type[BaseException], ...] = (*typed.failed, TypeError)
        for line, record in chunk:
            try:
                row = decode(record)  # type: ignore[arg-type]
            except failed:
                decision = dict_decision(record)
            else:
                # More colons than facts: a key may be written twice (msgspec keeps the last).
                if record.count(b":") == facts:  # type: ignore[attr-defined]
                    try:
                        decision = decide(row, file, None, ())
                    except Exception:  # the dict path does it again, then `row` words it
                        decision = doubt
                else:
                    decision = doubt
                if decision is doubt:
                    decision = dict_decision(record)
            if decision is not doubt:
                found = known.get(id(decision))
                if found is not None:  # its entry holds it: no other object has its id
                    out.append(f'{{"line": {line}, {found[1]}')
                    decided += 1
                    continue
            self._one(line, record, parse, out, result, decision)
        result.decided += decided
        result.text = "\n".join(out) + "\n" if out else ""
        return result

    def typed_span(self, handle: IO[bytes], span: Span, limit: int,
                   parse: Parse) -> ChunkResult | None:
        """The result of the lines of `span`, decoded in one call into typed rows; None when
        the span cannot be (no typed rows for this policy, a line that is not one, a line
        break that `\r` precedes, a line longer than `limit`...): `decide_chunk` then takes
        it, and words each problem.

        msgspec's `decode_lines` reads JSON values separated by any whitespace, so a span
        is only taken whole when its lines and the values are sure to be the same: exactly
        one value a line (every line begins with `{`, which a value of a typed row holds
        nowhere else outside its strings, and a string cannot hold a line break, so every
        line begins a value; as many values as lines, so no line holds another one), and no
        key twice (exactly as many colons as facts on every line: each row has every fact,
        so at least as many).
        """
        self._prepare()
        typed = self._typed
        if typed is None or not span.lines:
            return None
        data = span_bytes(handle, span)
        if data is None or b"\r" in data or not data.startswith(b"{"):
            return None
        records = data.split(b"\n")
        if data.endswith(b"\n"):
            records.pop()
        lines = len(records)
        # Every line begins with `{` when the least and the greatest of them do.
        if (lines != span.lines or min(records)[:1] != b"{" or max(records)[:1] != b"{"
                or data.count(b":") != typed.facts * lines
                or (len(data) > limit and max(map(len, records)) > limit)):
            return None
        try:
            rows = typed.decode_lines(data)
        except typed.failed:
            return None
        if len(rows) != lines:
            return None
        decide, file, known, doubt = typed.decide, self.decider.file, self._lines, _DOUBT
        out: list[str] = []  # text, line by line or run by run, each ending in a line break
        run: list[str] = []  # the kept lines after the line number, of the rows from `start`
        start = span.first
        result = ChunkResult()
        for line, row in zip(span.numbers, rows, strict=True):
            try:
                decision = decide(row, file, None, ())
            except Exception:  # the dict path does it again, then `row` words it
                decision = doubt
            if decision is not doubt:
                # Its entry holds the decision, so no other object has its id meanwhile.
                found = known.get(id(decision))
                if found is not None:
                    run.append(found[1])
                    continue
            if run:
                out.append(numbered(start, run))
                result.decided += len(run)
                run = []
            record = records[line - span.first]  # for the other paths, which take bytes
            if decision is doubt:
                decision = self._dict_decision(record)
            alone: list[str] = []
            self._one(line, record, parse, alone, result, decision)
            out.append(alone[0] + "\n")
            start = line + 1
        if run:
            out.append(numbered(start, run))
            result.decided += len(run)
        result.text = "".join(out)
        return result

    def _prepare(self) -> None:
        """Builds the deciders on first use (in the worker process, not before it forks)."""
        if self._decide is None:
            self._decide = self.decider.policy.doubting_decider(_doubt)
            self._check = values_need_checks(self.decider.policy, self.limits)
            self._typed = typed_rows(self.decider.policy, self.limits, _doubt)

    def _dict_chunk(self, chunk: list[Record], parse: Parse) -> ChunkResult:
        """`decide_chunk` for a policy without typed rows: each record decoded as a dict.
        (The AliExpress policy's rows take this loop: it is written out, not made of
        `_dict_decision` and `_one`, which cost a call more a row.)"""
        decode, failed = self._decoding  # type: ignore[misc]
        failed = (*failed, TypeError)  # TypeError: a RowError, not bytes
        decide, check, bound = self._decide, self._check, 10 ** self.limits.max_digits
        file, known, doubt, row = self.decider.file, self._lines, _DOUBT, self.decider.row
        out: list[str] = []
        result = ChunkResult()
        decided = 0
        for line, record in chunk:
            try:
                data = decode(record)  # type: ignore[arg-type]
            except failed:
                data = None
            # More colons than keys: a key may be written twice (msgspec keeps the last).
            if (data.__class__ is dict and record.count(b":") == len(data)  # type: ignore[attr-defined]
                    and (not check or plain_values(data, bound))):
                try:
                    decision = decide(data, file, None, ())  # type: ignore[misc]
                except Exception:  # `row` below does it again, and words what went wrong
                    decision = doubt
                if decision is not doubt:
                    found = known.get(id(decision))
                    if found is not None:  # its entry holds it: no other object has its id
                        out.append(f'{{"line": {line}, {found[1]}')
                        decided += 1
                        continue
                    text = self._unknown(line, decision)
                    if text is not None:
                        out.append(text)
                        if decision.refusal:
                            result.refused += 1
                        else:
                            decided += 1
                        continue
            text, outcome, message = row(line, record, parse)
            out.append(text)
            count(result, outcome)
            if message is not None:
                result.messages.append(message)
        result.decided += decided
        result.text = "\n".join(out) + "\n" if out else ""
        return result

    def _dict_decision(self, record: object) -> object:
        """The decision on a record decoded as a dict, or `_DOUBT`."""
        decode, failed = self._decoding  # type: ignore[misc]
        try:
            data = decode(record)  # type: ignore[arg-type]
        except failed:
            return _DOUBT
        except TypeError:  # a RowError, not bytes
            return _DOUBT
        # More colons than keys: a key may be written twice (msgspec keeps the last).
        if (data.__class__ is dict and record.count(b":") == len(data)  # type: ignore[attr-defined]
                and (not self._check or plain_values(data, 10 ** self.limits.max_digits))):
            try:
                return self._decide(data, self.decider.file, None, ())  # type: ignore[misc]
            except Exception:  # `row` does it again, and words what went wrong
                return _DOUBT
        return _DOUBT

    def _one(self, line: int, record: object, parse: Parse, out: list[str],
             result: ChunkResult, decision: Any) -> None:
        """Adds the output line of a row whose decision is not kept yet, or (`_DOUBT`) that
        the quick path leaves to `RowDecider.row`."""
        if decision is not _DOUBT:
            text = self._unknown(line, decision)
            if text is not None:
                out.append(text)
                if decision.refusal:
                    result.refused += 1
                else:
                    result.decided += 1
                return
        text, outcome, message = self.decider.row(line, record, parse)
        out.append(text)
        count(result, outcome)
        if message is not None:
            result.messages.append(message)

    def _unknown(self, line: int, decision: Any) -> str | None:
        """The output line of a decision not yet kept (kept when it is shared), or of a
        refusal; None when it cannot be made here."""
        try:
            if decision.refusal:
                first = decision.refusal[0]
                return refused_line(line, first.code, first.label, first.message)
            after = encodable(self.decider.render(decision))
        except Exception:  # `row` does it again, and words what went wrong
            return None
        if decision.outputs.__class__ is MappingProxyType:  # shared: it comes back
            if len(self._lines) >= _KEPT:
                self._lines.clear()
            self._lines[id(decision)] = (decision, after)
        return f'{{"line": {line}, {after}'
