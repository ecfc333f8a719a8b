"""The server never crashes on half-typed text: every request, on prefixes of every shipped
policy (as if the author had typed it from the top), returns an answer.

The walk is bounded by the hypothesis profile (tests/helpers/examples.py): a quick local run
takes every sixth line and a cut every 400 characters, CI's thorough profile every line end
and a cut every 20 characters, in process; over the wire, the real server is walked through
line prefixes of every policy, typed into one document as an editor sends them.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol import types
from pytest_lsp import LanguageClient

from policy_engine.lsp.documents import Document
from tests.helpers.examples import PROFILE, examples
from tests.helpers.lsp import every_request, open_text
from tests.helpers.paths import POLICY_FILES, ROOT

#: (every how many lines, a cut every how many characters) per profile.
_WALK = {"quick": (6, 400), "standard": (1, 60), "thorough": (1, 20)}
LINE_STEP, CHAR_STEP = _WALK[PROFILE]

TEXTS = {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
         for path in POLICY_FILES}


def cuts(text: str, line_step: int, char_step: int) -> list[int]:
    """Where the walk cuts a text: line ends and a regular stride of characters."""
    ends = [i + 1 for i, char in enumerate(text) if char == "\n"][::line_step]
    return sorted({0, len(text), *ends, *range(0, len(text), char_step)})


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_every_request_on_prefixes(name: str) -> None:
    text = TEXTS[name]
    for cut in cuts(text, LINE_STEP, CHAR_STEP):
        document = Document(f"file:///walk/{name}", text[:cut])
        end = document.lines.position(cut)
        # At the cursor (where the author types), and in the middle of what is typed.
        for position in (end, document.lines.position(cut // 2)):
            assert every_request(document, position) >= 11, (name, cut)


@settings(max_examples=examples(100))
@given(st.sampled_from(sorted(TEXTS)), st.data())
def test_any_request_anywhere_in_any_prefix(name: str, data: st.DataObject) -> None:
    text = TEXTS[name]
    cut = data.draw(st.integers(0, len(text)), label="cut")
    document = Document(f"file:///any/{name}", text[:cut])
    line = data.draw(st.integers(0, document.lines.line_count() + 1), label="line")
    column = data.draw(st.integers(0, 120), label="column")
    assert every_request(document, types.Position(line, column)) >= 11


@settings(max_examples=examples(100))
@given(st.sampled_from(sorted(TEXTS)), st.data())
def test_a_prefix_with_a_random_edit(name: str, data: st.DataObject) -> None:
    # Typing is not only appending: a character deleted or added anywhere, a line pasted.
    text = TEXTS[name]
    cut = data.draw(st.integers(0, len(text)), label="cut")
    at = data.draw(st.integers(0, cut), label="at")
    inserted = data.draw(st.sampled_from(['"', "(", "[", ":", "\n", " ", "#", "é", "😀",
                                          "when ", "then ", "\r\n", "\t", ""]), label="insert")
    deleted = data.draw(st.integers(0, 3), label="delete")
    edited = text[:at] + inserted + text[at + deleted:cut]
    document = Document(f"file:///edit/{name}", edited)
    assert every_request(document, document.lines.position(at + len(inserted))) >= 11


_WIRE_LINE_STEP = {"quick": 24, "standard": 6, "thorough": 1}[PROFILE]


@pytest.mark.asyncio(loop_scope="module")
async def test_the_server_answers_every_request_while_a_policy_is_typed(
        client: LanguageClient) -> None:
    uri = "untitled:typed.policy"
    await open_text(client, uri, "")
    version = 1
    answered = 0
    for _, text in sorted(TEXTS.items()):
        lines = text.split("\n")
        for count in range(1, len(lines) + 1, _WIRE_LINE_STEP):
            typed = "\n".join(lines[:count])
            version += 1
            client.text_document_did_change(types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                [types.TextDocumentContentChangeWholeDocument(text=typed)]))
            cursor = types.Position(count - 1, len(lines[count - 1]))
            answered += await _ask_everything(client, uri, cursor)
    assert answered
    errors = [m for m in client.log_messages if m.type == types.MessageType.Error]
    assert errors == [], errors[0].message if errors else None


async def _ask_everything(client: LanguageClient, uri: str, cursor: types.Position) -> int:
    """Every request at the cursor; each must come back with an answer (or None), never an
    error reply (a rename the server refuses for people's sake is the one exception)."""
    document = types.TextDocumentIdentifier(uri)
    await client.text_document_hover_async(types.HoverParams(document, cursor))
    await client.text_document_completion_async(types.CompletionParams(document, cursor))
    await client.text_document_definition_async(types.DefinitionParams(document, cursor))
    await client.text_document_references_async(types.ReferenceParams(
        context=types.ReferenceContext(include_declaration=True), text_document=document,
        position=cursor))
    await client.text_document_document_highlight_async(
        types.DocumentHighlightParams(document, cursor))
    await client.text_document_formatting_async(types.DocumentFormattingParams(
        document, types.FormattingOptions(tab_size=2, insert_spaces=True)))
    await client.text_document_document_symbol_async(types.DocumentSymbolParams(document))
    await client.text_document_code_action_async(types.CodeActionParams(
        document, types.Range(cursor, cursor), types.CodeActionContext([])))
    from pygls.exceptions import JsonRpcException

    try:
        await client.text_document_prepare_rename_async(
            types.PrepareRenameParams(document, cursor))
    except JsonRpcException as refused:
        assert "syntax error" in str(refused)
    return 9
