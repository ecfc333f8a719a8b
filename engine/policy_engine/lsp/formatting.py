"""Formatting: the document in `policy fmt`'s canonical layout, as the smallest edit that
makes it so (the unchanged lines around the change stay untouched, and the cursor with
them)."""

from __future__ import annotations

from lsprotocol import types

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.source import Span
from policy_engine.language.formatter import format_policy
from policy_engine.lsp.documents import Document


def format_document(document: Document) -> list[types.TextEdit] | None:
    """The edits that format a policy; None when it does not parse (formatting never
    guesses: the syntax error is already shown)."""
    if document.recovered.error is not None or document.recovered.tree is None:
        return None  # the formatter would only find the same syntax error again
    try:
        formatted = format_policy(document.text, document.name)
    except (DiagnosticError, RecursionError):
        return None
    if formatted == document.text:
        return []
    span, replacement = _changed(document.text, formatted)
    return [types.TextEdit(document.lines.range(span), replacement)]


def _changed(old: str, new: str) -> tuple[Span, str]:
    """The span of `old` to replace, whole lines, and its replacement, to turn it into `new`."""
    old_lines = old.splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    head = 0
    while head < min(len(old_lines), len(new_lines)) and old_lines[head] == new_lines[head]:
        head += 1
    tail = 0
    while (tail < min(len(old_lines), len(new_lines)) - head
           and old_lines[-1 - tail] == new_lines[-1 - tail]):
        tail += 1
    start = sum(len(line) for line in old_lines[:head])
    end = len(old) - sum(len(line) for line in old_lines[len(old_lines) - tail:])
    replacement = "".join(new_lines[head:len(new_lines) - tail])
    return Span(start, end), replacement
