"""Driving the language server in tests: open a document and wait for its diagnostics over
the wire, or ask every feature about a document in process."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient

from policy_engine.lsp import actions, completion, formatting, hover, navigation, outline
from policy_engine.lsp.diagnostics import analyse, to_lsp
from policy_engine.lsp.documents import Document


async def published(client: LanguageClient, uri: str, version: int) -> list[types.Diagnostic]:
    """Waits for the diagnostics of one version of one document."""
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri and params.version == version:
            return list(params.diagnostics)


async def open_text(client: LanguageClient, uri: str, text: str,
                    language: str = "policy") -> list[types.Diagnostic]:
    """Opens a document (version 1) and returns its first diagnostics."""
    waiting = published(client, uri, 1)
    client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id=language, version=1, text=text)))
    return await waiting


async def open_file(client: LanguageClient, path: Path,
                    text: str | None = None) -> tuple[str, list[types.Diagnostic]]:
    """Opens a file (or other text under its name); returns its URI and first diagnostics."""
    language = "policy" if path.suffix == ".policy" else "yaml"
    body = path.read_text(encoding="utf-8") if text is None else text
    uri = path.resolve().as_uri()
    return uri, await open_text(client, uri, body, language)


async def change(client: LanguageClient, uri: str, version: int,
                 text: str) -> list[types.Diagnostic]:
    """Replaces a document's whole text; returns the diagnostics of the new version."""
    waiting = published(client, uri, version)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        [types.TextDocumentContentChangeWholeDocument(text=text)]))
    return await waiting


def every_request(document: Document, position: types.Position) -> int:
    """Asks every feature of the server about one document at one position, in process, as
    the server's handlers do; returns how many answered. Anything but an answer (or a
    rename's `Refused`, which the server turns into an error reply for people) raises."""
    found = to_lsp(analyse(document.text, document.name), document.lines, document.uri)
    hover.hover(document, position)
    hover.hover(document, position, markdown=False)
    completion.complete(document, position)
    navigation.definition(document, position)
    navigation.references(document, position, True)
    navigation.highlights(document, position)
    for rename in (lambda: navigation.prepare_rename(document, position),
                   lambda: navigation.rename(document, position, "renamed_name")):
        try:
            rename()
        except navigation.Refused:
            pass
    formatting.format_document(document)
    outline.symbols(document)
    actions.code_actions(document, types.Range(position, position), found)
    for item in found:
        actions.code_actions(document, item.range, [item])
    return 11 + len(found)
