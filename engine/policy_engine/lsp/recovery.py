"""Recovery: the nodes of whatever parses in half-typed policy text.

An editor asks about text that is being typed, and LALR stops at the first error. The grammar
is a header followed by declarations (`_item*`), and every declaration starts with a keyword
that starts nothing else (`fact`, `rule`, `define`...). So the text is cut at those keywords
into pieces; the piece the syntax error is in is blanked out (every character but line breaks
becomes a space, so all offsets stay where they were) and the text parsed again, until it
parses. The nodes of the pieces that do parse then serve hover, completion and navigation,
with spans into the text as the editor has it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from policy_engine.core.diagnostics import Diagnostic
from policy_engine.core.source import Span
from policy_engine.language import nodes as n
from policy_engine.lsp import incremental

#: The keywords a declaration starts with (grammar/policy.lark's `_item`).
ITEM_KEYWORDS = frozenset({"fact", "decision", "output", "resolve", "as", "table", "define",
                           "require", "ensure", "rule", "advise", "otherwise"})

#: The lexical pieces of policy text, as the grammar's terminals read them: a quoted text (one
#: not closed runs to the end of its line), a comment, a word, or any other one character.
TOKEN = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"?|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|[^\s]')

#: Parse attempts before the rest of the text is given up on: each costs a parse, and text
#: with many broken declarations is rare and being rewritten anyway.
MAX_ATTEMPTS = 8

#: The header put in front of a text whose own header is broken, when it fits.
_STUB = "policy _"


@dataclass(frozen=True)
class Recovered:
    """What could be read of a text.

    Args:
        tree: the nodes of every declaration that parses (None when not even the header can
            be read).
        error: the first syntax error of the whole text, as `policy check` reports it; None
            when the text parses.
        blanked: the spans left out of `tree` because they do not parse.
    """

    tree: n.PolicyFile | None
    error: Diagnostic | None
    blanked: tuple[Span, ...] = ()


#: Texts, comments and the item keywords as whole words: the rest is skipped in one go.
_ITEM_START = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"?|#[^\n]*|(?<![A-Za-z0-9_])(?:'
                         + "|".join(sorted(ITEM_KEYWORDS)) + r")(?![A-Za-z0-9_])")


def item_starts(text: str) -> list[int]:
    """The offsets where declarations start: the item keywords outside texts and comments."""
    return [match.start() for match in _ITEM_START.finditer(text)
            if match.group()[0] not in '"#']


def parse(text: str, name: str = "<policy>") -> tuple[n.PolicyFile | None, Diagnostic | None]:
    """Parses a whole text: its nodes, or the syntax error `policy check` would report."""
    return _parse(text, name)


@functools.lru_cache(maxsize=64)
def _parse(text: str, name: str) -> tuple[n.PolicyFile | None, Diagnostic | None]:
    # Cached: the diagnostics and every request on one version of a document parse the
    # same text.
    return incremental.parse(text, name)


@functools.lru_cache(maxsize=16)
def recover(text: str, name: str = "<policy>") -> Recovered:
    """Reads what parses of a text, blanking out the declarations that do not."""
    tree, error = parse(text, name)
    if tree is not None or error is None:
        return Recovered(tree, error)
    starts = item_starts(text)
    bounds = zip([0, *starts], [*starts, len(text)], strict=True)
    pieces = [(start, end) for start, end in bounds if end > start]
    if not pieces:
        return Recovered(None, error)
    current, blanked = text, []
    problem: Diagnostic | None = error
    tree = None
    for attempt in range(MAX_ATTEMPTS):
        assert problem is not None
        index = _piece_at(pieces, current, problem)
        start, end = pieces[index]
        if not current[start:end].strip():
            break  # nothing left to leave out: the header itself cannot be read
        # The last attempt gives up on everything from the error on; what came before counts.
        chosen = pieces[index:] if attempt == MAX_ATTEMPTS - 1 else [pieces[index]]
        for start, end in chosen:
            current = current[:start] + incremental.blank(current[start:end]) + current[end:]
            blanked.append(Span(start, end))
        if index == 0 and pieces[0][0] == 0 and pieces[0][1] > len(_STUB):
            # Without a header nothing parses; a stub of the same length stands in for it.
            current = _STUB + current[len(_STUB):]
        tree, problem = parse(current, name)
        if tree is not None or problem is None:
            break
    return Recovered(tree, error, tuple(blanked))


def _piece_at(pieces: list[tuple[int, int]], text: str, problem: Diagnostic) -> int:
    """The piece a syntax error belongs to.

    An error found at the keyword that starts a declaration is the previous declaration's: it
    was still waiting for something when the next one began.
    """
    offset = problem.span.start if problem.span is not None else len(text)
    index = max(0, max((i for i, (start, _) in enumerate(pieces) if start <= offset),
                       default=0))
    if index > 0 and _first_token_at(text, pieces[index][0]) >= offset:
        index -= 1
    while index > 0 and not text[pieces[index][0]:pieces[index][1]].strip():
        index -= 1  # already blank: the error belongs further up
    return index


def _first_token_at(text: str, start: int) -> int:
    match = TOKEN.search(text, start)
    return match.start() if match else len(text)
