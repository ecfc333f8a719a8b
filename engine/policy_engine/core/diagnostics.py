"""Diagnostics: the one error and warning type that every stage reports with."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import field
from typing import Any

from policy_engine.core.records import record
from policy_engine.core.source import Source, Span

#: Every code the engine can emit, with a short title. Codes are a stable contract:
#: never reuse or renumber one. `docs/errors.md` explains each.
CODES: dict[str, str] = {
    # syntax (parser)
    "E001": "unexpected token",
    "E002": "unexpected character",
    "E003": "unexpected end of file",
    "E004": "invalid string literal",
    "E005": "invalid number or date literal",
    "E006": "policy nested too deeply",
    # names (checker)
    "E101": "unknown fact",
    "E102": "unknown enumeration value",
    "E103": "unknown decision",
    "E104": "unknown output",
    "E105": "duplicate declaration",
    "E106": "duplicate rule id",
    "E107": "duplicate enumeration value",
    "E108": "output assigned twice",
    "E109": "repeated policy section",
    "E110": "reserved name",
    "E111": "unknown rule",
    "E112": "exception cycle",
    "E113": "unknown table",
    "E114": "invalid table",
    "E115": "table has no row for a value",
    "E116": "derived value used before it is defined",
    "E117": "invalid 'as of' date",
    "E118": "unknown function or wrong arguments",
    "E119": "quotation not in the source document",
    "E120": "source document cannot be read",
    # types (checker)
    "E201": "type mismatch",
    "E202": "condition is not yes/no",
    "E203": "operator does not apply to this type",
    "E204": "output value has the wrong type",
    "E205": "invalid list element type",
    "E206": "invalid bounds",
    "E207": "invalid default value",
    "E208": "'is missing' needs a fact",
    "E209": "division without rounding",
    "E210": "unknown holiday calendar",
    # input data (facts, scenarios, YAML)
    "E301": "cannot read file",
    "E302": "invalid YAML",
    "E303": "invalid scenario",
    "E304": "invalid fact value",
    "E305": "unknown fact in input",
    "E306": "required fact is missing",
    "E307": "input too large",
    "E308": "input constraint not met",
    "E309": "fact required by a constraint is missing",
    "E310": "file outside the folder it must stay in",
    "E311": "revision or path cannot be told apart",
    "E312": "output cannot be written",
    "E313": "batch row could not be decided",
    "E314": "fact given as null",
    # evaluation (runtime)
    "E401": "fact needed but missing",
    "E402": "several rules match under 'unique'",
    "E403": "matching rules disagree under 'agreeing'",
    "E404": "no rule matched and there is no 'otherwise'",
    "E405": "division by zero",
    "E406": "table has no row for the key",
    "E407": "holiday calendar cannot be used",
    "E408": "value out of the engine's range",
    # partial evaluation (policy eval --partial, policy ask)
    "E701": "partial evaluation over its budget",
    "E702": "interview answers would overwrite a file",
    # serving (policy serve: requests, policies served, the decision log)
    "E501": "request body is not valid JSON",
    "E502": "request body over a limit",
    "E503": "request body has the wrong shape",
    "E504": "unknown policy",
    "E505": "policy name declared by more than one file",
    "E506": "missing or refused bearer token",
    "E507": "decision log cannot be written",
    "E508": "internal server error",
    "E509": "invalid request",
    # SQL engines and backtests (policy sql, policy batch --engine, policy backtest)
    "E601": "construct cannot be translated to SQL exactly",
    "E602": "SQL engine not available",
    "E603": "SQL engine failed",
    "E604": "logged decision cannot be replayed: a fact was masked",
    "E605": "not a decision-log line",
    "E606": "history has no rows to replay",
    "E607": "SQL engine did not finish in time",
    # warnings
    "W001": "decision never returned",
    "W002": "required fact never used",
    "W003": "no 'otherwise' default",
    "W004": "'is missing' can never be true",
    "W005": "table values use the default row",
    "W006": "derived value never used",
    "W007": "'and' and 'or' mixed without parentheses",
    "W101": "condition can never be true",
    "W102": "rule applies only to facts the constraints refuse",
    "W103": "rule never decides: earlier rules take its cases",
    "W104": "rule never decides: its exceptions always override it",
    "W105": "rules can match the same facts and conflict",
    "W106": "facts reach no decision",
    "N107": "facts reach the default decision",
    "W108": "table row never applies",
    "W109": "advisory never applies",
    "W110": "fact declared but never read",
    "N111": "approximate finding, not confirmed by a witness",
    "W112": "analysis incomplete: over its budget",
}

#: At most this many diagnostics are shown; the rest are summarised in one line.
MAX_SHOWN = 50


class Severity(str, enum.Enum):
    """How bad a diagnostic is; errors stop the pipeline, warnings do not."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"  # a finding to know about, not to fix: an acknowledged gap


@record
class Diagnostic:
    """One finding about a policy, a scenario or a fact set.

    Args:
        code: a stable code from `CODES`.
        message: lowercase, no final full stop.
        source: the text the span points into; None for findings with no text position.
        span: the offending range in `source`.
        help: one line saying how to fix it.
        path: for YAML data, the JSON path of the offending value (for example `$.facts.paid`).
        file: the file name when there is no `source` (for example a YAML file).
        line: 1-based line when there is no `source` but the position is known.
        column: 1-based column, with `line`.
    """

    code: str
    message: str
    source: Source | None = None
    span: Span | None = None
    help: str | None = None
    path: str | None = None
    file: str | None = None
    line: int | None = None
    column: int | None = None
    severity: Severity = Severity.ERROR
    notes: tuple[str, ...] = field(default=())
    label: str | None = None  # a policy's own name for the refusal (`ensure ... else LABEL`)

    def __post_init__(self) -> None:
        if self.code not in CODES:  # pragma: no cover - programming error
            raise ValueError(f"unregistered diagnostic code {self.code}")

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def location(self) -> tuple[str | None, int | None, int | None]:
        """Returns (file, line, column), computed from the span when there is one."""
        if self.source is not None and self.span is not None:
            line, column = self.source.line_col(self.span.start)
            return self.source.name, line, column
        return (self.source.name if self.source else self.file), self.line, self.column

    def end_location(self) -> tuple[int | None, int | None]:
        if self.source is not None and self.span is not None:
            return self.source.line_col(self.span.end)
        return None, None

    def render(self) -> str:
        """Renders in the compiler format: header, source line, caret, help."""
        file, line, column = self.location()
        where = file or "<input>"
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        subject = f"{self.path}: " if self.path else ""
        if self.label:
            subject += f"{self.label}: "
        lines = [f"{self.severity.value}[{self.code}]: {where}: {subject}{self.message}"]
        if self.source is not None and self.span is not None and line is not None:
            text = self.source.line_text(line)
            end_line, end_column = self.source.line_col(self.span.end)
            start = column or 1
            width = (end_column - start) if end_line == line else len(text) - start + 1
            text, start, width = _shown_line(text.expandtabs(1), start, max(1, width))
            gutter = str(line)
            lines.append(f"{' ' * len(gutter)} |")
            # One character for one character, so the caret stays under its column.
            lines.append(f"{gutter} | {_UNPRINTABLE.sub(chr(0xFFFD), text)}")
            lines.append(f"{' ' * len(gutter)} | {' ' * (start - 1)}{'^' * width}")
        for note in self.notes:
            lines.append(f"note: {note}")
        if self.help:
            lines.append(f"help: {self.help}")
        return "\n".join(_UNPRINTABLE.sub(_escape, line) for line in lines)

    def to_json(self) -> dict[str, Any]:
        file, line, column = self.location()
        end_line, end_column = self.end_location()
        return {
            "code": self.code,
            "severity": self.severity.value,
            "file": _writable(file),
            "line": line,
            "column": column,
            "end_line": end_line,
            "end_column": end_column,
            "path": _writable(self.path),
            "message": _writable(self.message),
            "help": _writable(self.help),
            "label": _writable(self.label),
        }


#: Characters a diagnostic never prints as they are: control characters (a policy line could
#: otherwise move a terminal's cursor or change its colours) and lone surrogates (which no
#: output can encode). In a message each is written as its escape, `\x1b`, so the reader sees
#: what the text holds; in the quoted source line as U+FFFD, so the caret stays aligned.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return ascii(match.group())[1:-1]


def _writable(text: str | None) -> str | None:
    """Text every output can encode (JSON escapes control characters itself)."""
    return None if text is None else _SURROGATE.sub("\ufffd", text)


#: The most characters of a source line a diagnostic shows; a longer line is cut around the
#: caret (a policy may hold a line of a million digits).
MAX_LINE_SHOWN = 160


def _shown_line(text: str, start: int, width: int) -> tuple[str, int, int]:
    """The part of a source line a diagnostic shows, and where its caret starts and how wide
    it is in that part: the whole line when it is short, else a window around the caret."""
    if len(text) <= MAX_LINE_SHOWN:
        return text, start, width
    width = min(width, MAX_LINE_SHOWN // 2)
    first = max(0, start - 1 - MAX_LINE_SHOWN // 4)
    window = text[first:first + MAX_LINE_SHOWN]
    prefix = "..." if first > 0 else ""
    suffix = "..." if first + MAX_LINE_SHOWN < len(text) else ""
    return prefix + window + suffix, start - first + len(prefix), width


class DiagnosticError(Exception):
    """Raised by a stage that cannot go on; carries every diagnostic it collected."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        super().__init__(render_all(self.diagnostics))


def render_all(diagnostics: Iterable[Diagnostic], limit: int = MAX_SHOWN) -> str:
    """Renders diagnostics in order, capped at `limit` with an '... and N more' line."""
    items = list(diagnostics)
    parts = [d.render() for d in items[:limit]]
    if len(items) > limit:
        parts.append(f"... and {len(items) - limit} more")
    return "\n\n".join(parts)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """Returns a 'did you mean' help line for the closest candidate, if any is close."""
    import difflib  # only for a mistake: a decision's start-up never needs it

    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean '{matches[0]}'?" if matches else None
