"""Hover: what a name under the cursor is, in the policy's own words.

A fact shows its declaration (type, bounds, values, default, title); a derived value its
definition and type; a decision its title and the rules that reach it; a rule its title,
decision, reason and citation; an output or a table its declaration; an enumeration value the
enumeration it belongs to. Everything comes from the nodes, so hover works while the text
has errors elsewhere.
"""

from __future__ import annotations

import re

from lsprotocol import types

from policy_engine.language import nodes as n
from policy_engine.lsp.documents import Document
from policy_engine.lsp.index import (
    DECISION,
    DEFINE,
    FACT,
    OUTPUT,
    RULE,
    TABLE,
    VALUE,
    Declaration,
    Index,
    Occurrence,
)

#: The most lines of a declaration a hover quotes (a table can be long).
MAX_QUOTED_LINES = 16
#: The most rules listed under a decision or a fact.
MAX_LISTED = 12

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def hover(document: Document, position: types.Position,
          markdown: bool = True) -> types.Hover | None:
    """The hover for the name at a position, or None where there is nothing to say."""
    index = document.index
    if index is None:
        return None
    occurrence = index.at(document.offset(position))
    if occurrence is None:
        return None
    text = describe(document, index, occurrence, markdown)
    if text is None:
        return None
    kind = types.MarkupKind.Markdown if markdown else types.MarkupKind.PlainText
    return types.Hover(types.MarkupContent(kind, text), document.lines.range(occurrence.span))


def describe(document: Document, index: Index, occurrence: Occurrence,
             markdown: bool = True) -> str | None:
    """The hover text of an occurrence (Markdown, or plain text)."""
    writer = _Writer(document, markdown)
    kind, name = occurrence.kind, occurrence.name
    if kind == VALUE:
        return _value(writer, index, occurrence)
    declared = index.declared(kind, name)
    if not declared:
        return None
    head = declared[0]
    if kind == FACT:
        assert isinstance(head, n.FactDecl)
        writer.heading("fact", name, head.description)
        writer.quote(head)
        writer.line(_fact_details(head))
        writer.listing("read by", _readers(index, name))
    elif kind == DEFINE:
        assert isinstance(head, n.Define)
        writer.heading("derived value", name, head.description)
        writer.quote(head)
        checked = document.checked
        info = next((d for d in checked.defines if d.name == name), None) if checked else None
        if info is not None:
            writer.line(f"type: {info.type.describe()}")
        writer.listing("read by", _readers(index, name))
    elif kind == DECISION:
        writer.heading("decision", name, getattr(head, "description", None))
        writer.listing("reached by", _reaching(document, index, name))
    elif kind == RULE:
        for version in declared:
            _rule(writer, version)
    elif kind in (OUTPUT, TABLE):
        writer.heading("output" if kind == OUTPUT else "table", name,
                       getattr(head, "description", None))
        writer.quote(head)
    return writer.text()


def _value(writer: _Writer, index: Index, occurrence: Occurrence) -> str | None:
    owner = occurrence.owner
    typed = index.expected(owner) if owner else None
    if owner is None or typed is None:
        return None
    values = [v.name for v in typed.values()]
    writer.heading("value", occurrence.name, None)
    writer.line(f"one of the values of {writer.code(owner)}: "
                + ", ".join(writer.code(v) for v in values))
    return writer.text()


def _fact_details(fact: n.FactDecl) -> str:
    parts = []
    if fact.optional:
        parts.append("optional: a fact set may leave it out")
    elif fact.default is None:
        parts.append("required: every fact set must give it")
    if fact.default is not None:
        parts.append("a default is used when it is left out")
    return "; ".join(parts)


def _rule(writer: _Writer, rule: Declaration) -> None:
    assert isinstance(rule, (n.Rule, n.Advisory))
    word = "rule" if isinstance(rule, n.Rule) else "advisory"
    writer.heading(word, rule.id.name, rule.title)
    line = writer.document.text.count("\n", 0, rule.span.start) + 1
    if isinstance(rule, n.Rule):
        outcome = f"then {writer.code(rule.decision.name)}"
    else:
        outcome = f"adds to {writer.code(rule.output.name)}"
    writer.line(f"line {line}: {outcome}")
    writer.line(f"because: {writer.plain(rule.reason.value)}")
    if rule.citation is not None:
        writer.line(f"source: {writer.plain(rule.citation.value)}")


def _readers(index: Index, name: str) -> list[str]:
    """The rules (and derived values) whose text reads a fact or derived value."""
    spans = [o.span for o in index.occurrences
             if o.name == name and o.kind in (FACT, DEFINE) and not o.declaration]
    found = []
    for item in index.tree.items:
        if isinstance(item, (n.Rule, n.Advisory, n.Define)):
            label = item.id.name if isinstance(item, (n.Rule, n.Advisory)) else item.name.name
            if any(item.span.start <= s.start and s.end <= item.span.end for s in spans):
                found.append(label)
    return list(dict.fromkeys(found))


def _reaching(document: Document, index: Index, decision: str) -> list[str]:
    found = []
    for item in index.tree.items:
        if isinstance(item, n.Rule) and item.decision.name == decision:
            title = f' "{item.title}"' if item.title else ""
            line = document.text.count("\n", 0, item.span.start) + 1
            found.append(f"{item.id.name}{title} (line {line})")
        elif isinstance(item, n.Otherwise) and item.decision is not None and \
                item.decision.name == decision:
            line = document.text.count("\n", 0, item.span.start) + 1
            found.append(f"otherwise (line {line})")
    return found


class _Writer:
    """Builds a hover's text, as Markdown or as plain text."""

    def __init__(self, document: Document, markdown: bool) -> None:
        self.document = document
        self.markdown = markdown
        self.parts: list[str] = []

    def plain(self, text: str) -> str:
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text) if self.markdown else text

    def code(self, name: str) -> str:
        return f"`{name}`" if self.markdown else name

    def heading(self, what: str, name: str, title: str | None) -> None:
        shown = f"**{what}** `{name}`" if self.markdown else f"{what} {name}"
        if title:
            shown += f": {self.plain(title)}"
        self.parts.append(shown)

    def quote(self, node: Declaration) -> None:
        lines = self.document.text[node.span.start:node.span.end].splitlines()
        if len(lines) > MAX_QUOTED_LINES:
            lines = lines[:MAX_QUOTED_LINES] + ["..."]
        body = "\n".join(lines)
        self.parts.append(f"```policy\n{body}\n```" if self.markdown else body)

    def line(self, text: str) -> None:
        if text:
            self.parts.append(text)

    def listing(self, label: str, items: list[str]) -> None:
        if not items:
            return
        shown = items[:MAX_LISTED] + ([f"and {len(items) - MAX_LISTED} more"]
                                      if len(items) > MAX_LISTED else [])
        if self.markdown:
            self.parts.append(f"{label}:\n" + "\n".join(f"- {self.plain(i)}" for i in shown))
        else:
            self.parts.append(f"{label}:\n" + "\n".join(f"  {i}" for i in shown))

    def text(self) -> str:
        return "\n\n".join(self.parts)
