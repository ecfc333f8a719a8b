"""Code actions: quick fixes that write in the suggestion of a "did you mean" diagnostic.

The suggestion travels in the diagnostic's data; a client that drops the data still sends the
message, whose help line has it too. A fix replaces only a single name (or a quoted text,
keeping its quotes), so it can never swallow more than the word that was wrong.
"""

from __future__ import annotations

import re

from lsprotocol import types

from policy_engine.lsp.diagnostics import DID_YOU_MEAN, SOURCE
from policy_engine.lsp.documents import Document

_WORD = re.compile(r'[A-Za-z_][A-Za-z0-9_]*\Z|"[^"\\\n]*"\Z')


def code_actions(document: Document, range_: types.Range,
                 diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """The quick fixes for the diagnostics the editor sends with the request."""
    actions = []
    for diagnostic in diagnostics:
        suggestion = suggestion_of(diagnostic)
        if suggestion is None:
            continue
        span = document.lines.span(diagnostic.range)
        written = document.text[span.start:span.end]
        if not _WORD.match(written) or written.strip('"') == suggestion:
            continue
        replacement = f'"{suggestion}"' if written.startswith('"') else suggestion
        actions.append(types.CodeAction(
            title=f"Change '{written.strip(chr(34))}' to '{suggestion}'",
            kind=types.CodeActionKind.QuickFix,
            diagnostics=[diagnostic],
            is_preferred=True,
            edit=types.WorkspaceEdit(changes={document.uri: [
                types.TextEdit(diagnostic.range, replacement)]})))
    return actions


def suggestion_of(diagnostic: types.Diagnostic) -> str | None:
    """The "did you mean" of one of our diagnostics, from its data or its help line."""
    if diagnostic.source != SOURCE:
        return None
    data = diagnostic.data
    if isinstance(data, dict) and isinstance(data.get("fix"), str):
        return str(data["fix"])
    for line in diagnostic.message.splitlines():
        match = DID_YOU_MEAN.match(line.removeprefix("help: "))
        if match:
            return match.group(1)
    return None
