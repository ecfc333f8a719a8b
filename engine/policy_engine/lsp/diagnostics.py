"""Diagnostics: what the parser, the checker and the lint analysis find, as LSP diagnostics.

They are exactly what `policy check` and `policy lint` report: the first syntax error, or the
checker's errors and warnings, or (on a policy that checks) its warnings and the lint
findings. A lint finding's witness scenario goes in the related information; a "did you mean"
goes in the diagnostic's data, for the code action that applies it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from policy_engine.analysis.budget import Budget
from policy_engine.analysis.lint import lint
from policy_engine.analysis.witnesses import Witness
from policy_engine.check.checker import check
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, Severity
from policy_engine.core.source import Source, Span
from policy_engine.lsp.positions import LineIndex
from policy_engine.lsp.recovery import TOKEN, parse

#: Shown as the source of every diagnostic, so people can tell ours from other extensions'.
SOURCE = "policy"

_SEVERITY = {
    Severity.ERROR: types.DiagnosticSeverity.Error,
    Severity.WARNING: types.DiagnosticSeverity.Warning,
    Severity.NOTE: types.DiagnosticSeverity.Information,
}

#: Findings about something that is never used or never applies: editors fade it out.
_UNNECESSARY = frozenset({"W001", "W002", "W006", "W101", "W103", "W104", "W108", "W109",
                          "W110"})

#: A "did you mean" help line, whose suggestion a code action can write in.
DID_YOU_MEAN = re.compile(r"^did you mean '([^']+)'\?$")

#: Another declaration a message names, as the analysis words it: `'R1_paid' (line 12)`.
_NAMED_LINE = re.compile(r"'([A-Za-z_][A-Za-z0-9_]*)' \(line (\d+)\)")


@dataclass(frozen=True)
class Found:
    """One thing found about a policy: the diagnostic, and the lint witness when there is one."""

    diagnostic: Diagnostic
    witness: Witness | None = None


def analyse(text: str, name: str) -> tuple[Found, ...]:
    """Everything `policy check` and `policy lint` report about a policy text."""
    tree, error = parse(text, name)
    if tree is None:
        return (Found(error),) if error is not None else ()
    source = Source(name, text)
    try:
        checked, warnings = check(source, tree)
    except DiagnosticError as problems:
        return tuple(Found(d) for d in problems.diagnostics)
    except RecursionError:
        return ()
    found = [Found(w) for w in warnings]
    found += _lint(_settled(text), name)
    return tuple(found)


def _settled(text: str) -> str:
    """The text up to the end of the line of its last token (a comment is no token).

    What comes after it, blank lines and comments, changes nothing the checker or the
    analysis reports, and the lines the findings point to are all in it; so the analysis
    need not run again while only that part is typed.
    """
    last = 0
    for match in TOKEN.finditer(text):
        if not match.group().startswith("#"):
            last = match.end()
    end = text.find("\n", last)
    return text if end < 0 else text[:end]


@functools.lru_cache(maxsize=8)
def _lint(text: str, name: str) -> tuple[Found, ...]:
    tree, _ = parse(text, name)
    if tree is None:  # pragma: no cover - the whole text parsed, so its settled part does
        return ()
    source = Source(name, text)
    checked, _ = check(source, tree)
    report = lint(checked, Budget())
    return tuple(Found(f.diagnostic, f.witness) for f in report.findings)


def to_lsp(found: Sequence[Found], lines: LineIndex, uri: str) -> list[types.Diagnostic]:
    """The LSP form of what was found, with ranges in the document's encoding."""
    return [_convert(item, lines, uri) for item in found]


def span_of(diagnostic: Diagnostic) -> Span:
    """Where a diagnostic points, in character offsets: its span, else its line."""
    if diagnostic.span is not None:
        return diagnostic.span
    if diagnostic.source is not None and diagnostic.line is not None:
        return diagnostic.source.line_span(diagnostic.line)
    return Span(0, 0)


def message_of(diagnostic: Diagnostic) -> str:
    """The message as the CLI shows it after the position: notes and help on their own lines."""
    lines = [diagnostic.message]
    if diagnostic.label:
        lines[0] = f"{diagnostic.label}: {lines[0]}"
    lines += [f"note: {note}" for note in diagnostic.notes]
    if diagnostic.help:
        lines.append(f"help: {diagnostic.help}")
    return "\n".join(lines)


def fix_of(diagnostic: Diagnostic) -> str | None:
    """The suggestion of a "did you mean" help line."""
    match = DID_YOU_MEAN.match(diagnostic.help or "")
    return match.group(1) if match else None


def _convert(item: Found, lines: LineIndex, uri: str) -> types.Diagnostic:
    diagnostic = item.diagnostic
    range_ = lines.range(span_of(diagnostic))
    related = _related(item, lines, uri, range_)
    data: dict[str, Any] | None = None
    fix = fix_of(diagnostic)
    if fix is not None:
        data = {"fix": fix}
    return types.Diagnostic(
        range=range_,
        message=message_of(diagnostic),
        severity=_SEVERITY[diagnostic.severity],
        code=diagnostic.code,
        source=SOURCE,
        related_information=related or None,
        tags=[types.DiagnosticTag.Unnecessary] if diagnostic.code in _UNNECESSARY else None,
        data=data,
    )


def _related(item: Found, lines: LineIndex, uri: str,
             range_: types.Range) -> list[types.DiagnosticRelatedInformation]:
    related = []
    diagnostic = item.diagnostic
    if item.witness is not None:
        related.append(types.DiagnosticRelatedInformation(
            types.Location(uri, range_), witness_text(item.witness)))
    source = diagnostic.source
    own_line = diagnostic.location()[1]
    if source is not None:
        for name, line in dict.fromkeys(_NAMED_LINE.findall(diagnostic.message)):
            number = int(line)
            if number != own_line and 1 <= number <= len(source.text.split("\n")):
                related.append(types.DiagnosticRelatedInformation(
                    types.Location(uri, lines.range(source.line_span(number))),
                    f"'{name}' is here"))
    return related


def witness_text(witness: Witness) -> str:
    """A witness as a scenario a reader can paste: its facts, and what the policy does."""
    facts = ", ".join(f"{key}: {json.dumps(value, ensure_ascii=False)}"
                      for key, value in witness.facts.items())
    expect = ", ".join(f"{key}: {value}" for key, value in witness.expect.items())
    return f"witness scenario: facts: {{{facts}}}; expect: {{{expect}}}"
