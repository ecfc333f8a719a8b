"""Documents: the texts the editor has open, and what is known about each version of them.

The store keeps the editor's text of every open document (changes applied with LSP's own
line breaks and the negotiated encoding, see `positions`), and for a policy the nodes that
can be read of it and their index, worked out once per version. A scenario names its policy
by path; the store answers with the editor's text when that policy is open, else the file's.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from lsprotocol import types

from policy_engine.check.checked import CheckedPolicy
from policy_engine.check.checker import check
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.files import display_path, read_text
from policy_engine.core.source import Source
from policy_engine.lsp.index import Index, build
from policy_engine.lsp.positions import UTF16, LineIndex, apply_change
from policy_engine.lsp.recovery import Recovered, recover
from policy_engine.policy import MAX_POLICY_BYTES

POLICY, SCENARIO, OTHER = "policy", "scenario", "other"


def path_of(uri: str) -> str | None:
    """The file system path of a `file:` URI; None for other schemes (an unsaved buffer)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return url2pathname(unquote(parsed.path))


def kind_of(uri: str, language: str | None = None) -> str:
    """Whether a document is a policy, a scenario (a YAML file) or something else."""
    name = (path_of(uri) or urlparse(uri).path).lower()
    if language == "policy" or name.endswith(".policy"):
        return POLICY
    if language == "yaml" or name.endswith((".yaml", ".yml")):
        return SCENARIO
    return OTHER


@dataclass(frozen=True)
class Document:
    """One version of one open document.

    Args:
        uri: the editor's name for it.
        text: its whole text.
        version: the editor's version number (None for a file read from disk).
        encoding: the position encoding agreed with the editor.
        kind: POLICY, SCENARIO or OTHER.
    """

    uri: str
    text: str
    version: int | None = None
    encoding: str = UTF16
    kind: str = POLICY

    @property
    def name(self) -> str:
        """The name diagnostics and messages use: the path as the CLI would show it."""
        path = path_of(self.uri)
        return display_path(path) if path else self.uri

    @functools.cached_property
    def lines(self) -> LineIndex:
        return LineIndex(self.text, self.encoding)

    @functools.cached_property
    def recovered(self) -> Recovered:
        """The nodes that can be read of the text, and its first syntax error."""
        return recover(self.text, self.name)

    @functools.cached_property
    def index(self) -> Index | None:
        """The names of the policy, from the nodes that can be read; None when none can."""
        tree = self.recovered.tree
        return build(tree) if tree is not None else None

    @functools.cached_property
    def checked(self) -> CheckedPolicy | None:
        """The checked policy, when the whole text parses and checks without errors."""
        tree = self.recovered.tree
        if tree is None or self.recovered.error is not None:
            return None
        try:
            return check(Source(self.name, self.text), tree)[0]
        except (DiagnosticError, RecursionError):
            return None

    def offset(self, position: types.Position) -> int:
        return self.lines.offset(position)


class DocumentStore:
    """The open documents, by URI."""

    def __init__(self, encoding: str = UTF16) -> None:
        self.encoding = encoding
        self._documents: dict[str, Document] = {}

    def open(self, uri: str, text: str, version: int | None,
             language: str | None = None) -> Document:
        document = Document(uri, text, version, self.encoding, kind_of(uri, language))
        self._documents[uri] = document
        return document

    def change(self, uri: str, version: int | None,
               changes: Iterable[types.TextDocumentContentChangeEvent]) -> Document | None:
        """Applies the editor's changes, in order; None for a document that is not open."""
        document = self._documents.get(uri)
        if document is None:
            return None
        text = document.text
        for change in changes:
            text = apply_change(text, change, self.encoding)
        changed = Document(uri, text, version, self.encoding, document.kind)
        self._documents[uri] = changed
        return changed

    def close(self, uri: str) -> None:
        self._documents.pop(uri, None)

    def get(self, uri: str) -> Document | None:
        return self._documents.get(uri)

    def all(self) -> list[Document]:
        return list(self._documents.values())

    def policy_text(self, path: str) -> str:
        """A policy's text: the editor's when it is open there, else the file's.

        Raises:
            DiagnosticError: the file cannot be read (E301) or is too large.
        """
        wanted = os.path.realpath(path)
        for document in self._documents.values():
            own = path_of(document.uri)
            if own is not None and os.path.realpath(own) == wanted:
                return document.text
        return read_text(path, MAX_POLICY_BYTES)
