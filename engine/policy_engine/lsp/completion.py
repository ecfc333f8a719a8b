"""Completion: the words that may come next at the cursor, as the grammar and the policy say.

Which keywords fit is the LALR parser's answer, not a list kept here: the text of the
declaration up to the cursor is fed to Lark's interactive parser, which then tells exactly
which terminals it accepts. Where it accepts a name, the tokens before the cursor say which
names make sense: decisions after a rule's `then`, outputs after `with`, rules after
`overrides`, and in a condition the facts and derived values, with the values of the
enumeration being compared first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lsprotocol import types

from policy_engine.language import nodes as n
from policy_engine.language.grammar import lark_parser
from policy_engine.lsp.documents import Document
from policy_engine.lsp.index import DECISION, DEFINE, FACT, OUTPUT, RULE, TABLE, Index, Typed
from policy_engine.lsp.recovery import TOKEN, item_starts

if TYPE_CHECKING:
    from lark import Token

#: The built-in functions (the checker's list; tests/lsp hold the two equal).
FUNCTIONS = ("round", "round_up", "round_down", "min", "max", "abs", "count", "days_between")

#: Put in front of a declaration's text so that it parses as it would inside the policy.
_HEADER = "policy _\n"

_WORD_CHARS = re.compile(r"[A-Za-z0-9_]*\Z")

#: Terminals that start a declaration: after them comes a new name, never a known one.
_DECLARING = frozenset({"POLICY", "FACT", "DECISION", "OUTPUT", "DEFINE", "TABLE", "RULE",
                        "ADVISE"})

# Sort groups: the values of the enumeration being compared first, then names, then keywords.
_VALUES, _NAMES, _OTHER, _KEYWORDS = "0", "1", "2", "3"


@dataclass(frozen=True)
class Place:
    """What the parser makes of the text before the cursor.

    Args:
        tokens: the tokens of the declaration the cursor is in, up to the cursor.
        accepts: the terminals the parser accepts next.
    """

    tokens: tuple[Token, ...]
    accepts: frozenset[str]


def complete(document: Document, position: types.Position) -> types.CompletionList:
    """The completions at a position (none inside a quoted text or a comment)."""
    offset = document.offset(position)
    text = document.text
    if _inside_text_or_comment(text, offset):
        return types.CompletionList(is_incomplete=False, items=[])
    start = offset - len(_WORD_CHARS.search(text, 0, offset).group())  # type: ignore[union-attr]
    edit_range = types.Range(document.lines.position(start), position)
    place = place_at(text, start)
    index = document.index
    items: list[types.CompletionItem] = []
    if place is not None:
        items += _keywords(place.accepts, edit_range)
        if "NAME" in place.accepts and index is not None:
            items += _names(index, place, edit_range)
    elif index is not None:  # the declaration does not parse up to here: offer the names
        items += _expression_names(index, edit_range)
    return types.CompletionList(is_incomplete=False, items=items)


def place_at(text: str, offset: int) -> Place | None:
    """The parser's view of the text up to an offset; None when that text has an error.

    Only the declaration the offset is in is parsed (after a stand-in header): whatever came
    before it, the parser is in the same state at the start of a declaration.
    """
    from lark.exceptions import UnexpectedInput

    starts = [s for s in item_starts(text[:offset]) if s < offset]
    prefix = _HEADER + text[starts[-1]:offset] if starts else text[:offset]
    header_tokens = 2 if starts else 0
    interactive = lark_parser().parse_interactive(prefix)
    tokens: list[Token] = []
    try:
        for token in interactive.iter_parse():
            tokens.append(token)
    except UnexpectedInput:
        return None
    return Place(tuple(tokens[header_tokens:]), _accepts(interactive))


def _accepts(interactive: object) -> frozenset[str]:
    accepts = interactive.accepts()  # type: ignore[attr-defined]
    return frozenset(accepts)


@functools.lru_cache(maxsize=1)
def keyword_terminals() -> dict[str, str]:
    """The grammar's keywords (its literal words, such as `when` or `yes/no`), by terminal."""
    return {t.name: t.pattern.value for t in lark_parser().terminals
            if t.pattern.type == "str" and re.search("[a-z]", t.pattern.value)}


def _inside_text_or_comment(text: str, offset: int) -> bool:
    line_start = text.rfind("\n", 0, offset) + 1
    for match in TOKEN.finditer(text, line_start):
        if match.start() >= offset:
            return False
        word = match.group()
        if word.startswith("#"):
            return True
        if word.startswith('"'):
            closed = len(word) > 1 and word.endswith('"') and not word.endswith('\\"')
            if offset < match.end() or (offset == match.end() and not closed):
                return True
    return False


def _keywords(accepts: Iterable[str], edit_range: types.Range) -> list[types.CompletionItem]:
    words = keyword_terminals()
    return [types.CompletionItem(
        label=words[t], kind=types.CompletionItemKind.Keyword, sort_text=_KEYWORDS + words[t],
        text_edit=types.TextEdit(edit_range, words[t]))
        for t in sorted(accepts, key=lambda t: words.get(t, "")) if t in words]


def _names(index: Index, place: Place, edit_range: types.Range) -> list[types.CompletionItem]:
    tokens, accepts = place.tokens, place.accepts
    last = tokens[-1].type if tokens else ""
    only_name = accepts == {"NAME"}
    clause = _clause(tokens)
    if last in _DECLARING or clause == "ONE" or (clause == "ELSE" and only_name):
        return []  # a new name, a new enumeration value, or a refusal's label
    if only_name:
        if last in ("THEN", "OTHERWISE"):
            return _declared(index, DECISION, edit_range)
        if clause in ("OVERRIDES", "REQUIRE", "BY", "OF", "WITH") or last == "TO":
            kind = {"OVERRIDES": RULE, "WITH": OUTPUT}.get(clause, FACT)
            return _declared(index, OUTPUT if last == "TO" else kind, edit_range)
    key = _table_key(index, tokens, accepts, only_name)
    if key is not None:
        return _values(key, edit_range)  # a table row starts with values of its key
    typed = _compared(index, tokens)
    items = _values(typed, edit_range) if typed is not None else []
    if only_name:
        return items
    return items + _expression_names(index, edit_range)


#: The keywords that open a clause of a declaration; an expression holds none of them.
_CLAUSES = frozenset({"WITH", "OVERRIDES", "REQUIRE", "OF", "BY", "ELSE", "WHEN", "THEN",
                      "BECAUSE", "DEFAULT", "COLON", "TO", "ADD", "SOURCE", "EFFECTIVE"})


def _clause(tokens: tuple[Token, ...]) -> str:
    """The keyword that opened the clause the cursor is in (`ONE` for `one of`)."""
    for at in range(len(tokens) - 1, -1, -1):
        kind = tokens[at].type
        if kind in _CLAUSES:
            if kind == "OF" and at > 0 and tokens[at - 1].type == "ONE":
                return "ONE"
            if kind in ("THEN", "TO") and at != len(tokens) - 1:
                continue  # `if .. then ..` and `working days from .. to ..` are expressions
            return kind
    return ""


def _table_key(index: Index, tokens: tuple[Token, ...], accepts: frozenset[str],
               only_name: bool) -> Typed | None:
    """At the start of a table row, or among its keys: the values of the table's key fact."""
    if _declared_name(tokens, "TABLE") is None:
        return None
    at_row = "END" in accepts or "DEFAULT" in accepts or (
        only_name and tokens and tokens[-1].type == "COMMA")
    key = next((str(t) for i, t in enumerate(tokens) if i > 0 and tokens[i - 1].type == "BY"),
               None)
    return index.expected(key) if at_row and key else None


def _compared(index: Index, tokens: tuple[Token, ...]) -> Typed | None:
    """The enumeration a value at the cursor is compared with, assigned to or looked up by."""
    position = len(tokens)
    # Inside a list: step back over `a, b, ` to the bracket.
    step = position
    while step >= 2 and tokens[step - 1].type == "COMMA" and tokens[step - 2].type == "NAME":
        step -= 2
    if step >= 1 and tokens[step - 1].type == "LSQB":
        position = step - 1
    before = [t.type for t in tokens[:position]]
    if before[-1:] == ["DEFAULT"]:
        fact = _declared_name(tokens, "FACT")
        return index.expected(fact) if fact else None
    if before[-2:] in (["IS", "NOT"], ["NOT", "IN"]):
        operator = 2
    elif before[-1:] in (["IS"], ["IN"], ["COMPARE"], ["CONTAINS"], ["FOR"], ["EQUAL"]):
        operator = 1
    else:
        return None
    if before[-1] == "COMPARE" and str(tokens[position - 1]) not in ("==", "!="):
        return None
    at = position - operator - 1
    if at < 0 or tokens[at].type != "NAME":
        return None
    subject = str(tokens[at])
    if before[-1] == "FOR":
        table = index.declared(TABLE, subject)
        key = table[0].key.name if table and isinstance(table[0], n.Table) else None
        return index.expected(key) if key else None
    if before[-1] == "EQUAL" and _clause(tokens[:at]) != "WITH":
        return None  # `define x =` or a table row: no enumeration to offer
    return index.expected(subject)


def _declared_name(tokens: tuple[Token, ...], keyword: str) -> str | None:
    """The name right after the declaration's keyword (`fact NAME`), when it is that kind."""
    if len(tokens) >= 2 and tokens[0].type == keyword and tokens[1].type == "NAME":
        return str(tokens[1])
    return None


def _values(typed: Typed, edit_range: types.Range) -> list[types.CompletionItem]:
    return [types.CompletionItem(
        label=value.name, kind=types.CompletionItemKind.EnumMember,
        detail=f"value of {typed.owner}", sort_text=_VALUES + value.name,
        text_edit=types.TextEdit(edit_range, value.name))
        for value in typed.values()]


_KINDS = {
    FACT: types.CompletionItemKind.Field,
    DEFINE: types.CompletionItemKind.Variable,
    DECISION: types.CompletionItemKind.EnumMember,
    OUTPUT: types.CompletionItemKind.Property,
    TABLE: types.CompletionItemKind.Struct,
    RULE: types.CompletionItemKind.Method,
}


def _declared(index: Index, kind: str, edit_range: types.Range,
              group: str = _NAMES) -> list[types.CompletionItem]:
    items = []
    for (declared_kind, name), nodes in index.declarations.items():
        if declared_kind != kind:
            continue
        node = nodes[0]
        title = getattr(node, "description", None) or getattr(node, "title", None)
        detail = _detail(index, kind, node)
        items.append(types.CompletionItem(
            label=name, kind=_KINDS[kind], detail=detail,
            documentation=title, sort_text=group + name,
            text_edit=types.TextEdit(edit_range, name)))
    return items


def _detail(index: Index, kind: str, node: object) -> str:
    if kind == FACT and isinstance(node, n.FactDecl):
        typed = node.type
        ref = typed.element if typed.kind == "list" and typed.element else typed
        what = {"bool": "yes/no", "whole": "whole number", "enum": "one of "
                + ", ".join(v.name for v in ref.values)}.get(ref.kind, ref.kind)
        return f"fact: {'list of ' if typed.kind == 'list' else ''}{what}"
    return kind if kind != DEFINE else "derived value"


def _expression_names(index: Index, edit_range: types.Range) -> list[types.CompletionItem]:
    items = _declared(index, FACT, edit_range) + _declared(index, DEFINE, edit_range)
    items += _declared(index, TABLE, edit_range, _OTHER)
    items += [types.CompletionItem(
        label=name, kind=types.CompletionItemKind.Function, detail="built-in function",
        sort_text=_OTHER + name, text_edit=types.TextEdit(edit_range, name))
        for name in FUNCTIONS]
    return items
