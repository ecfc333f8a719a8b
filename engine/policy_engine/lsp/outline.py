"""Outline: the document symbols of a policy (facts, decisions, outputs, derived values,
tables, rules, advisories and the default) for the editor's outline and breadcrumbs."""

from __future__ import annotations

from lsprotocol import types

from policy_engine.core.source import Span
from policy_engine.language import nodes as n
from policy_engine.lsp.documents import Document

_KINDS: dict[type, types.SymbolKind] = {
    n.FactDecl: types.SymbolKind.Field,
    n.DecisionDecl: types.SymbolKind.EnumMember,
    n.OutputDecl: types.SymbolKind.Property,
    n.Define: types.SymbolKind.Variable,
    n.Table: types.SymbolKind.Struct,
    n.Rule: types.SymbolKind.Function,
    n.Advisory: types.SymbolKind.Event,
    n.Otherwise: types.SymbolKind.Function,
}


def symbols(document: Document) -> list[types.DocumentSymbol]:
    """One symbol per declaration that can be read, in text order."""
    tree = document.recovered.tree
    if tree is None:
        return []
    found = []
    for item in tree.items:
        kind = _KINDS.get(type(item))
        if kind is None:
            continue
        name, selection, detail = _named(document, item)
        found.append(types.DocumentSymbol(
            name=name, kind=kind, range=document.lines.range(item.span),
            selection_range=document.lines.range(selection), detail=detail))
    return found


def _named(document: Document, item: n.Item) -> tuple[str, Span, str | None]:
    """The symbol's name, the span of the name, and a detail line."""
    if isinstance(item, (n.Rule, n.Advisory)):
        return item.id.name, item.id.span, item.title
    if isinstance(item, n.Otherwise):
        target = item.decision.name if item.decision is not None else "refuse"
        span = item.decision.span if item.decision is not None else item.span
        return "otherwise", span, target
    if isinstance(item, n.FactDecl):
        return item.name.name, item.name.span, _type_text(document, item.type)
    if isinstance(item, n.OutputDecl):
        return item.name.name, item.name.span, _type_text(document, item.type)
    if isinstance(item, (n.DecisionDecl, n.Define, n.Table)):
        return item.name.name, item.name.span, item.description
    raise AssertionError(type(item))  # pragma: no cover - _KINDS lists the kinds handled


def _type_text(document: Document, ref: n.TypeRef) -> str:
    return " ".join(document.text[ref.span.start:ref.span.end].split())
