"""Server: the pygls wiring of `policy lsp`, each LSP request handed to its feature module.

Documents are kept in our own store (`documents`), so positions follow LSP's line breaks and
the negotiated encoding exactly. Diagnostics are worked out in one worker thread, a short
while after the last change (the debounce), so typing is never slowed by the analysis and
requests are answered meanwhile; a result for a version that has since changed is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer

from policy_engine import __version__
from policy_engine.lsp import actions, completion, formatting, hover, navigation, outline
from policy_engine.lsp.diagnostics import analyse, to_lsp
from policy_engine.lsp.documents import POLICY, SCENARIO, Document, DocumentStore, path_of
from policy_engine.lsp.positions import UTF16
from policy_engine.lsp.scenarios import scenario_diagnostics

#: Seconds to wait after a change before the document is checked again.
DEFAULT_DEBOUNCE = 0.3

T = TypeVar("T")


class RequestFailed(JsonRpcException):
    """LSP's RequestFailed: a request understood but refused, with a message for people."""

    CODE = -32803


class PolicyLanguageServer(LanguageServer):
    """The language server: the open documents, and diagnostics on a debounce."""

    def __init__(self, debounce: float = DEFAULT_DEBOUNCE) -> None:
        super().__init__("policy-engine", __version__)
        self.store = DocumentStore()
        self.debounce = debounce
        self.markdown = True
        self.shut_down = False
        self._pending: dict[str, asyncio.Task[None]] = {}
        # One worker: the analysis runs one document at a time, never two in parallel.
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="policy-check")

    # ------------------------------------------------------------ diagnostics
    def schedule(self, uri: str, delay: float) -> None:
        """Checks a document after `delay` seconds, unless it changes again before then;
        open scenarios are checked again too, since the policy they name may have changed."""
        uris = [uri] + [d.uri for d in self.store.all() if d.kind == SCENARIO and d.uri != uri]
        for each in uris:
            pending = self._pending.pop(each, None)
            if pending is not None:
                pending.cancel()
            self._pending[each] = asyncio.ensure_future(self._publish_later(each, delay))

    async def _publish_later(self, uri: str, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        document = self.store.get(uri)
        if document is None:
            return
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(self._worker, self.diagnose, document)
        current = self.store.get(uri)
        if found is None or current is None or current.version != document.version:
            return  # changed or closed meanwhile: a newer check is on its way
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, diagnostics=found, version=document.version))

    def diagnose(self, document: Document) -> list[types.Diagnostic] | None:
        """The diagnostics of one document version (run in the worker thread)."""
        try:
            if document.kind == POLICY:
                return to_lsp(analyse(document.text, document.name), document.lines,
                              document.uri)
            if document.kind == SCENARIO:
                return scenario_diagnostics(document, self.store, self.roots())
            return []
        except Exception as error:  # noqa: BLE001 - reported to the editor, never fatal
            self.report(f"checking {document.name}", error)
            return None

    def roots(self) -> list[str]:
        """The workspace folders, as paths."""
        folders = self.workspace.folders.values() if self._has_workspace() else ()
        return [p for p in (path_of(f.uri) for f in folders) if p]

    def _has_workspace(self) -> bool:
        try:
            return self.workspace is not None
        except RuntimeError:  # before initialize
            return False

    def report(self, what: str, error: BaseException) -> None:
        """Tells the editor (its output log) about a bug: never a crash, never silent."""
        detail = "".join(traceback.format_exception(error)).rstrip()
        self.window_log_message(types.LogMessageParams(
            types.MessageType.Error, f"internal error while {what}: {error!r}\n{detail}"))

    # ------------------------------------------------------------ requests
    def answer(self, what: str, uri: str, work: Callable[[Document], T]) -> T | None:
        """Runs a request on an open document; None when it is not open."""
        document = self.store.get(uri)
        if document is None:
            return None
        try:
            return work(document)
        except navigation.Refused as refused:
            raise RequestFailed(str(refused)) from None
        except RecursionError:
            return None  # nested past Python's stack: nothing sensible to answer


def build_server(debounce: float = DEFAULT_DEBOUNCE) -> PolicyLanguageServer:
    """The server with every feature registered."""
    server = PolicyLanguageServer(debounce)

    @server.feature(types.INITIALIZE)
    def initialize(ls: PolicyLanguageServer, params: types.InitializeParams) -> None:
        encoding = ls.workspace.position_encoding
        ls.store.encoding = encoding.value if isinstance(encoding, types.PositionEncodingKind) \
            else (encoding or UTF16)
        options = params.initialization_options
        if isinstance(options, dict) and isinstance(options.get("debounce"), (int, float)):
            ls.debounce = max(0.0, float(options["debounce"]))
        formats = _get(params.capabilities, "text_document", "hover", "content_format")
        ls.markdown = formats is None or types.MarkupKind.Markdown in formats

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: PolicyLanguageServer, params: Any) -> None:
        ls.shut_down = True

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: PolicyLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        item = params.text_document
        ls.store.open(item.uri, item.text, item.version, item.language_id)
        ls.schedule(item.uri, 0)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: PolicyLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        document = params.text_document
        if ls.store.change(document.uri, document.version, params.content_changes):
            ls.schedule(document.uri, ls.debounce)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: PolicyLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.schedule(params.text_document.uri, 0)  # a saved policy changes the scenarios' view

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: PolicyLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.store.close(uri)
        pending = ls._pending.pop(uri, None)
        if pending is not None:
            pending.cancel()
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri, []))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: PolicyLanguageServer, params: types.HoverParams) -> types.Hover | None:
        return ls.answer("hover", params.text_document.uri,
                         lambda d: hover.hover(d, params.position, ls.markdown)
                         if d.kind == POLICY else None)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=["[", ","]))
    def on_completion(ls: PolicyLanguageServer,
                      params: types.CompletionParams) -> types.CompletionList | None:
        return ls.answer("completion", params.text_document.uri,
                         lambda d: completion.complete(d, params.position)
                         if d.kind == POLICY else None)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: PolicyLanguageServer,
                      params: types.DefinitionParams) -> list[types.Location] | None:
        return ls.answer("definition", params.text_document.uri,
                         lambda d: navigation.definition(d, params.position)
                         if d.kind == POLICY else None)

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    def on_references(ls: PolicyLanguageServer,
                      params: types.ReferenceParams) -> list[types.Location] | None:
        return ls.answer("references", params.text_document.uri,
                         lambda d: navigation.references(
                             d, params.position, params.context.include_declaration)
                         if d.kind == POLICY else None)

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_HIGHLIGHT)
    def on_highlight(ls: PolicyLanguageServer, params: types.DocumentHighlightParams
                     ) -> list[types.DocumentHighlight] | None:
        return ls.answer("highlight", params.text_document.uri,
                         lambda d: navigation.highlights(d, params.position)
                         if d.kind == POLICY else None)

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    def on_prepare_rename(ls: PolicyLanguageServer, params: types.PrepareRenameParams
                          ) -> types.PrepareRenamePlaceholder | None:
        return ls.answer("prepare rename", params.text_document.uri,
                         lambda d: navigation.prepare_rename(d, params.position)
                         if d.kind == POLICY else None)

    @server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))
    def on_rename(ls: PolicyLanguageServer,
                  params: types.RenameParams) -> types.WorkspaceEdit | None:
        return ls.answer("rename", params.text_document.uri,
                         lambda d: navigation.rename(d, params.position, params.new_name)
                         if d.kind == POLICY else None)

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(ls: PolicyLanguageServer, params: types.DocumentFormattingParams
                      ) -> list[types.TextEdit] | None:
        return ls.answer("formatting", params.text_document.uri,
                         lambda d: formatting.format_document(d) if d.kind == POLICY else None)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix]))
    def on_code_action(ls: PolicyLanguageServer,
                       params: types.CodeActionParams) -> list[types.CodeAction] | None:
        return ls.answer("code action", params.text_document.uri,
                         lambda d: actions.code_actions(d, params.range,
                                                        list(params.context.diagnostics)))

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def on_symbols(ls: PolicyLanguageServer, params: types.DocumentSymbolParams
                   ) -> list[types.DocumentSymbol] | None:
        return ls.answer("outline", params.text_document.uri,
                         lambda d: outline.symbols(d) if d.kind == POLICY else None)

    return server


def _get(value: object, *names: str) -> Any:
    """A nested attribute of the client's capabilities, or None where any part is missing."""
    for name in names:
        value = getattr(value, name, None)
        if value is None:
            return None
    return value


def serve(debounce: float = DEFAULT_DEBOUNCE) -> int:
    """Runs the server over standard input and output until the editor says `exit`.

    Returns:
        The exit status LSP asks for: 0 after `shutdown` then `exit`, else 1.
    """
    # Standard output carries the protocol: anything else goes to standard error.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="policy lsp: %(levelname)s: %(message)s")
    server = build_server(debounce)
    # The protocol gets its own handle on standard output, which pygls closes at the end; and
    # anything printed by mistake goes to standard error instead of into the protocol.
    protocol_output = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    printed, sys.stdout = sys.stdout, sys.stderr
    try:
        server.start_io(sys.stdin.buffer, protocol_output)
    finally:
        sys.stdout = printed
    return 0 if server.shut_down else 1
