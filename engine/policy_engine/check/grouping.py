"""Grouping: where `and` and `or` mix without parentheses, and a condition's text with the
parentheses the engine reads into it.

`A and B or C` means `(A and B) or C`: `and` binds more tightly. People misread that, so the
checker warns (W007) wherever an `and` stands inside an `or` without parentheses, and the trace
shows such a condition as the engine grouped it. Whether an operand was written in
parentheses is read off the source text around it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from policy_engine.check import checked as c
from policy_engine.core.source import Source

#: A comment, which may stand between an operator and its operand and may hold a "(".
_COMMENT = re.compile(r"#[^\n]*")


def ungrouped(source: Source, logic: c.Logic) -> Iterator[c.Logic]:
    """The operands of `logic` that are `and`/`or` of the other kind, written without
    parentheses (only an `and` inside an `or` can be: the grammar needs them the other way).

    An operand is in parentheses when, outside comments, the text before it (back to the
    operand before it) ends with "(" and the text after it (up to the next) starts with ")":
    the two then match, since an operand's own parentheses balance. Both sides are needed
    because the checker merges `a or (b or c)` into one `or`, whose operands' neighbours are
    then parentheses of the inner `or`.
    """
    text = source.text
    bounds = [logic.span.start] + [o.span.end for o in logic.operands[:-1]]
    ends = [o.span.start for o in logic.operands[1:]] + [logic.span.end]
    for before, operand, after in zip(bounds, logic.operands, ends, strict=True):
        if not isinstance(operand, c.Logic) or operand.op == logic.op:
            continue
        opening = _COMMENT.sub("", text[before:operand.span.start]).rstrip()
        closing = _COMMENT.sub("", text[operand.span.end:after]).lstrip()
        if not (opening.endswith("(") and closing.startswith(")")):
            yield operand


def grouped_text(source: Source, expr: c.CExpr) -> str:
    """The source text of an expression, whitespace collapsed, with parentheses added around
    every `and` inside an `or` that was written without them: `(A and B) or C`."""
    start, end = expr.span.start, expr.span.end
    marks: list[tuple[int, int, str]] = []  # (offset, closing first, text)
    for node in c.walk(expr):
        if isinstance(node, c.Logic):
            for inner in ungrouped(source, node):
                marks += [(inner.span.start, 1, "("), (inner.span.end, 0, ")")]
    pieces: list[str] = []
    position = start
    for offset, _, mark in sorted(marks):
        pieces += [source.text[position:offset], mark]
        position = offset
    pieces.append(source.text[position:end])
    # A mark stands at the first or after the last character of a token, never by a blank.
    return " ".join("".join(pieces).split())
