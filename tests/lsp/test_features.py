"""Hover, completion, go to definition, references, rename, formatting and the outline, asked
of the real server about the AliExpress policy, as an editor asks them."""

from __future__ import annotations

import re

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from policy_engine.language.formatter import format_policy
from policy_engine.policy import Policy
from tests.helpers.lsp import change, open_file, open_text
from tests.helpers.paths import ROOT

ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"
TEXT = ALIEXPRESS.read_text(encoding="utf-8")

pytestmark = pytest.mark.asyncio(loop_scope="module")


def at(text: str, needle: str, offset: int = 0, nth: int = 0) -> types.Position:
    """The position `offset` characters into the `nth` occurrence of `needle`."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    return types.Position(line, index - text.rfind("\n", 0, index) - 1)


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri)


def unescaped(contents: object) -> str:
    """A hover's Markdown without its escapes, to look for the policy's own words in it."""
    assert isinstance(contents, types.MarkupContent)
    return re.sub(r"\\(.)", r"\1", contents.value)


def written(text: str, range_: types.Range) -> str:
    lines = text.split("\n")
    assert range_.start.line == range_.end.line
    return lines[range_.start.line][range_.start.character:range_.end.character]


async def test_hover_a_fact_shows_its_declaration(client: LanguageClient) -> None:
    uri, _ = await open_file(client, ALIEXPRESS)
    # `remedy` where a rule reads it.
    hover = await client.text_document_hover_async(types.HoverParams(
        doc(uri), at(TEXT, "remedy is partial_refund", 2)))
    assert hover is not None and isinstance(hover.contents, types.MarkupContent)
    assert hover.contents.kind == types.MarkupKind.Markdown
    shown = unescaped(hover.contents)
    fact = Policy.from_text(TEXT, "refund.policy").checked.fact("remedy")
    assert "**fact** `remedy`" in shown
    assert fact.description is not None and fact.description in shown
    # The declaration as written: type, values and default.
    assert "one of full_refund, partial_refund default full_refund" in shown
    assert "R5_sent_with_problem_partial_strong" in shown  # the rules that read it
    assert hover.range is not None and written(TEXT, hover.range) == "remedy"


async def test_hover_a_decision_a_rule_and_a_derived_value(client: LanguageClient) -> None:
    uri, _ = await open_file(client, ALIEXPRESS)
    decision = await client.text_document_hover_async(types.HoverParams(
        doc(uri), at(TEXT, "then open_dispute_partial_refund", 6)))
    assert decision is not None and isinstance(decision.contents, types.MarkupContent)
    assert "Open a dispute, keep the item, ask for the stated amount" in decision.contents.value
    assert "R5_sent_with_problem_partial" in unescaped(decision.contents)  # a rule reaching it

    rule = await client.text_document_hover_async(types.HoverParams(
        doc(uri), at(TEXT, "rule R8_unpaid_cancel", 6)))
    assert rule is not None and isinstance(rule.contents, types.MarkupContent)
    assert "because:" in rule.contents.value and "source:" in rule.contents.value
    assert "R8 \\(judgment; the guide is silent\\)" in rule.contents.value

    define = await client.text_document_hover_async(types.HoverParams(
        doc(uri), at(TEXT, "and not window_expired", 9)))
    assert define is not None and isinstance(define.contents, types.MarkupContent)
    assert "**derived value** `window_expired`" in define.contents.value
    assert "days_sent > 45" in define.contents.value
    assert "type: yes/no" in define.contents.value


async def test_completion_offers_the_values_of_the_fact_compared(
        client: LanguageClient) -> None:
    text = TEXT.replace("remedy is partial_refund and not window_expired and strong_evidence",
                        "remedy is par", 1)
    uri, _ = await open_file(client, ALIEXPRESS, text)
    result = await client.text_document_completion_async(types.CompletionParams(
        doc(uri), at(text, "remedy is par", len("remedy is par"))))
    assert isinstance(result, types.CompletionList)
    values = [i.label for i in result.items if i.kind == types.CompletionItemKind.EnumMember]
    assert values == ["full_refund", "partial_refund"]
    chosen = next(i for i in result.items if i.label == "partial_refund")
    assert chosen.text_edit is not None and isinstance(chosen.text_edit, types.TextEdit)
    assert written(text, chosen.text_edit.range) == "par"
    # The values come first, before the facts, the derived values and the keywords.
    ordered = sorted(result.items, key=lambda i: i.sort_text or i.label)
    assert [i.label for i in ordered[:2]] == ["full_refund", "partial_refund"]


async def test_completion_keywords_decisions_outputs_and_names(client: LanguageClient) -> None:
    checked = Policy.from_text(TEXT, "refund.policy").checked
    # Facts that are not also decisions (`refund_received` is both).
    facts = {f.name for f in checked.facts} - {d.name for d in checked.decisions}
    base = TEXT + "\n"
    cases = {
        # A new rule's first clause: the parser accepts `when` (and nothing to name).
        'rule R99 "new"\n  ': ({"when"}, set()),
        'rule R99 "new"\n  when paid\n  then ': (set(), {"wait", "no_refund"}),
        'rule R99 "new"\n  when paid\n  then wait with ': (set(), {"refund_kind", "advisories"}),
        'rule R99 "new"\n  when ': ({"not"}, {"paid", "window_expired", "remedy"}),
    }
    uri = "untitled:completion.policy"
    await open_text(client, uri, base)
    version = 1
    for typed, (keywords, names) in cases.items():
        version += 1
        text = base + typed
        await change(client, uri, version, text)
        result = await client.text_document_completion_async(types.CompletionParams(
            doc(uri), at(text, typed, len(typed), nth=0)))
        assert isinstance(result, types.CompletionList)
        offered_keywords = {i.label for i in result.items
                            if i.kind == types.CompletionItemKind.Keyword}
        offered_names = {i.label for i in result.items
                         if i.kind != types.CompletionItemKind.Keyword}
        assert keywords <= offered_keywords, (typed, offered_keywords)
        assert names <= offered_names, (typed, offered_names)
        if typed.endswith("then "):
            assert not offered_names & facts, typed  # only decisions after `then`


async def test_definition_and_references(client: LanguageClient) -> None:
    uri, _ = await open_file(client, ALIEXPRESS)
    places = await client.text_document_definition_async(types.DefinitionParams(
        doc(uri), at(TEXT, "and not window_expired", 10)))
    assert isinstance(places, list) and len(places) == 1
    (place,) = places
    assert isinstance(place, types.Location) and place.uri == uri
    assert place.range.start == at(TEXT, "define window_expired", 7)

    table = await client.text_document_definition_async(types.DefinitionParams(
        doc(uri), at(TEXT, "else max_refund_working_days for", 6)))
    assert isinstance(table, list) and table[0].range.start == at(
        TEXT, "table max_refund_working_days", 6)

    refs = await client.text_document_references_async(types.ReferenceParams(
        context=types.ReferenceContext(include_declaration=True), text_document=doc(uri),
        position=at(TEXT, "define window_expired", 8)))
    assert refs is not None
    expected = [m.start() for m in re.finditer(r"\bwindow_expired\b", TEXT)]
    assert sorted((r.range.start.line, r.range.start.character) for r in refs) == sorted(
        (TEXT.count("\n", 0, s), s - TEXT.rfind("\n", 0, s) - 1) for s in expected)


async def test_rename_a_fact_everywhere(client: LanguageClient) -> None:
    uri, _ = await open_file(client, ALIEXPRESS)
    prepared = await client.text_document_prepare_rename_async(types.PrepareRenameParams(
        doc(uri), at(TEXT, "fact evidence", 6)))
    assert isinstance(prepared, types.PrepareRenamePlaceholder)
    assert prepared.placeholder == "evidence"
    edit = await client.text_document_rename_async(types.RenameParams(
        doc(uri), at(TEXT, "fact evidence", 6), "proof"))
    assert edit is not None and edit.changes is not None
    renamed = _apply(TEXT, list(edit.changes[uri]))
    # The renamed policy checks and decides exactly as before, with the new fact name.
    before = Policy.from_text(TEXT, "refund.policy")
    after = Policy.from_text(renamed, "refund.policy")
    assert [f.name for f in after.checked.facts] == [
        "proof" if f.name == "evidence" else f.name for f in before.checked.facts]
    assert "evidence contains" not in renamed and "proof contains photo" in renamed

    # A taken name, or a keyword, is refused with a message.
    from pygls.exceptions import JsonRpcException
    for bad in ("paid", "when", "9lives"):
        with pytest.raises(JsonRpcException):
            await client.text_document_rename_async(types.RenameParams(
                doc(uri), at(TEXT, "fact evidence", 6), bad))


def _apply(text: str, edits: list[types.TextEdit]) -> str:
    from policy_engine.lsp.positions import LineIndex

    lines = LineIndex(text)
    spans = sorted(((lines.span(e.range), e.new_text) for e in edits),
                   key=lambda item: item[0].start, reverse=True)
    for span, new in spans:
        text = text[:span.start] + new + text[span.end:]
    return text


async def test_formatting_gives_policy_fmt_layout(client: LanguageClient) -> None:
    line = "  when request is cancel_order and order_status is awaiting_payment"
    messy = TEXT.replace(line, "    " + line.replace(" and ", "   and "), 1)
    uri, _ = await open_file(client, ALIEXPRESS, messy)
    edits = await client.text_document_formatting_async(types.DocumentFormattingParams(
        doc(uri), types.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert edits
    assert _apply(messy, list(edits)) == format_policy(messy, "refund.policy")
    # Formatting what is formatted changes nothing.
    formatted = format_policy(TEXT, "refund.policy")
    await change(client, uri, 2, formatted)
    again = await client.text_document_formatting_async(types.DocumentFormattingParams(
        doc(uri), types.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert again is not None and list(again) == []


async def test_outline_lists_every_declaration(client: LanguageClient) -> None:
    uri, _ = await open_file(client, ALIEXPRESS)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        doc(uri)))
    assert symbols is not None
    checked = Policy.from_text(TEXT, "refund.policy").checked
    names = [s.name for s in symbols]
    for expected in ([f.name for f in checked.facts] + [d.name for d in checked.decisions]
                     + [r.id for r in checked.rules]):
        assert expected in names, expected
    rule = next(s for s in symbols if s.name == "R8_unpaid_cancel")
    assert isinstance(rule, types.DocumentSymbol)
    assert rule.kind == types.SymbolKind.Function
    assert rule.detail == "Cancelling an unpaid order"
    assert rule.selection_range.start == at(TEXT, "rule R8_unpaid_cancel", 5)


async def test_utf8_positions_for_neovim(neovim: LanguageClient) -> None:
    # A title with characters of two, three and four bytes before the typo.
    text = ('policy p "é€😀"\nfact paid: yes/no\ndecision ok\n'
            'rule R1 "é€😀" when payd then ok because "x"\notherwise ok\n')
    found = await open_text(neovim, "untitled:utf8.policy", text)
    (typo,) = [d for d in found if d.code == "E012" or "payd" in d.message]
    line = text.split("\n")[typo.range.start.line].encode("utf-8")
    assert line[typo.range.start.character:typo.range.end.character] == b"payd"
