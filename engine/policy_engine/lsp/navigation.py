"""Navigation: go to definition, find references, and rename, over the index of one policy.

Definitions and references cover facts, derived values, decisions, outputs, tables, rules
and enumeration values; rename covers facts and derived values, whose every use is a name in
this one file. A rename never runs on text with a syntax error: a use inside the declaration
that does not parse would be missed, and the policy left half renamed.
"""

from __future__ import annotations

import re

from lsprotocol import types

from policy_engine.language.grammar import KEYWORDS
from policy_engine.lsp.documents import Document
from policy_engine.lsp.index import DEFINE, FACT, TABLE, VALUE, Index, Occurrence

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

#: What can be renamed.
RENAMEABLE = (FACT, DEFINE)


class Refused(Exception):
    """A request that cannot be done as asked; the message says why, for the editor to show."""


def _at(document: Document, position: types.Position) -> tuple[Index, Occurrence] | None:
    index = document.index
    if index is None:
        return None
    occurrence = index.at(document.offset(position))
    return (index, occurrence) if occurrence is not None else None


def definition(document: Document, position: types.Position) -> list[types.Location] | None:
    """Where the name at a position is declared (a rule with versions: every version)."""
    found = _at(document, position)
    if found is None:
        return None
    index, occurrence = found
    places = [o for o in index.of(occurrence.key) if o.declaration]
    if not places:
        return None
    return [types.Location(document.uri, document.lines.range(o.span)) for o in places]


def references(document: Document, position: types.Position,
               include_declaration: bool) -> list[types.Location] | None:
    """Every place the name at a position is written."""
    found = _at(document, position)
    if found is None:
        return None
    index, occurrence = found
    return [types.Location(document.uri, document.lines.range(o.span))
            for o in index.of(occurrence.key) if include_declaration or not o.declaration]


def highlights(document: Document,
               position: types.Position) -> list[types.DocumentHighlight] | None:
    """The name at a position, everywhere it is written: declarations marked as writes."""
    found = _at(document, position)
    if found is None:
        return None
    index, occurrence = found
    return [types.DocumentHighlight(
        document.lines.range(o.span),
        types.DocumentHighlightKind.Write if o.declaration else types.DocumentHighlightKind.Read)
        for o in index.of(occurrence.key)]


def prepare_rename(document: Document,
                   position: types.Position) -> types.PrepareRenamePlaceholder | None:
    """The name a rename at a position would change, or None when there is none.

    Raises:
        Refused: the name cannot be renamed here (the text has a syntax error).
    """
    found = _at(document, position)
    if found is None or found[1].kind not in RENAMEABLE:
        return None
    _, occurrence = found
    _no_syntax_error(document)
    return types.PrepareRenamePlaceholder(document.lines.range(occurrence.span), occurrence.name)


def rename(document: Document, position: types.Position,
           new_name: str) -> types.WorkspaceEdit | None:
    """Renames the fact or derived value at a position, everywhere in the policy.

    Raises:
        Refused: the new name is not a valid name, is a keyword, or is taken; or the text has
            a syntax error.
    """
    found = _at(document, position)
    if found is None or found[1].kind not in RENAMEABLE:
        return None
    index, occurrence = found
    _no_syntax_error(document)
    if new_name == occurrence.name:
        return types.WorkspaceEdit(changes={document.uri: []})
    _check_new_name(index, new_name)
    edits = [types.TextEdit(document.lines.range(o.span), new_name)
             for o in index.of(occurrence.key)]
    return types.WorkspaceEdit(changes={document.uri: edits})


def _no_syntax_error(document: Document) -> None:
    error = document.recovered.error
    if error is not None:
        line = document.lines.position(error.span.start if error.span else 0).line + 1
        raise Refused(f"the policy has a syntax error on line {line} ({error.message}); "
                      "fix it first, so that no use of the name is missed")


def _check_new_name(index: Index, new_name: str) -> None:
    if not _NAME.match(new_name):
        raise Refused(f"'{new_name}' is not a name: a name is letters, digits and _, and does "
                      "not start with a digit")
    if new_name in KEYWORDS:
        raise Refused(f"'{new_name}' is a keyword of the policy language")
    for kind, what in ((FACT, "a fact"), (DEFINE, "a derived value"), (TABLE, "a table")):
        if index.declared(kind, new_name):
            raise Refused(f"'{new_name}' is already {what}")
    if any(o.kind == VALUE and o.name == new_name for o in index.occurrences):
        raise Refused(f"'{new_name}' is already an enumeration value; conditions could no "
                      "longer tell the two apart")
