"""Incremental parsing: a text's nodes or first syntax error, re-reading only what changed.

An editor asks again after every keystroke, and Lark (which words every syntax error) reads
a large policy in tens of milliseconds. But the grammar is a header and then declarations,
and each declaration starts with a keyword that starts nothing else; where Lark read such a
keyword in an earlier text, every declaration before it was complete, and the parser was in
the same state as at the start of any declaration. So for a new text that shares a beginning
with an earlier one, Lark starts at the last such keyword before the first change, after a
stand-in header and blanks in place of what came before (offsets, lines and columns stay the
same). Within a declaration LALR behaves the same whichever declarations came before it (its
states there are the same), so the error found is the one a whole parse finds, word for word;
`tests/lsp/test_incremental.py` holds the two equal on random edits of every shipped policy.

Text the hand-written parser reads is never given to Lark at all, as in `Policy.load`.
"""

from __future__ import annotations

import bisect
import collections
import dataclasses
import re
import threading
from typing import TYPE_CHECKING

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.source import Source
from policy_engine.language import nodes as n
from policy_engine.language.grammar import lark_parser
from policy_engine.language.parser import fast_parse

if TYPE_CHECKING:
    from lark import Token

#: Lark's terminals for the keywords that start a declaration.
_ITEM_TERMINALS = frozenset({"FACT", "DECISION", "OUTPUT", "RESOLVE", "AS", "TABLE", "DEFINE",
                             "REQUIRE", "ENSURE", "RULE", "ADVISE", "OTHERWISE"})
#: A header Lark accepts, standing in for the text before the restart point.
_STUB = "policy _"
#: How many earlier texts are remembered (a document's versions, and recovery's attempts).
MAX_REMEMBERED = 8

#: A place where a declaration starts: the offsets of its keyword.
Checkpoint = tuple[int, int]

_lock = threading.Lock()
_remembered: collections.OrderedDict[str, tuple[Checkpoint, ...]] = collections.OrderedDict()


def parse(text: str, name: str) -> tuple[n.PolicyFile | None, Diagnostic | None]:
    """The nodes of a policy text, or the syntax error `policy check` reports for it.

    Returns:
        (nodes, None), or (None, the first syntax error); (None, None) for a text nested too
        deeply to read at all.
    """
    start, kept = _restart_point(text)
    if start == 0:
        # A text seen for the first time: most are whole policies, which this reads quickly.
        tree = fast_parse(text)
        if tree is not None:
            _remember_items(text, tree)
            return tree, None
    error, found = _first_error(text, name, start)
    _remember(text, kept + found)
    if error is not None:
        return None, error
    tree = fast_parse(text) if start > 0 else None
    if tree is not None:
        _remember_items(text, tree)
        return tree, None
    # Lark accepts the text but the hand-written parser did not: lowering decides (a bad
    # literal, a keyword glued to a word), exactly as `Policy.load` does.
    from policy_engine.language.reference_parser import parse_policy

    try:
        return parse_policy(Source(name, text)), None
    except DiagnosticError as problem:
        return None, problem.diagnostics[0]
    except RecursionError:
        return None, None


def _remember_items(text: str, tree: n.PolicyFile) -> None:
    """Remembers where the declarations of a text that parses start."""
    _remember(text, tuple((item.span.start, _word_end(text, item.span.start))
                          for item in tree.items))


def _word_end(text: str, start: int) -> int:
    match = re.compile(r"[A-Za-z]+").match(text, start)
    return match.end() if match else start


def _common_prefix(a: str, b: str) -> int:
    """The length of the longest common beginning, by halving (slices compare in C)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _restart_point(text: str) -> tuple[int, tuple[Checkpoint, ...]]:
    """Where Lark may start on this text, and the checkpoints before it that still hold."""
    with _lock:
        remembered = list(_remembered.items())
    best: int = 0
    kept: tuple[Checkpoint, ...] = ()
    for earlier, checkpoints in remembered:
        same = _common_prefix(earlier, text)
        # The keyword and the character after it must be unchanged for it to read the same.
        usable = bisect.bisect_left(checkpoints, same, key=lambda c: c[1])
        if usable and checkpoints[usable - 1][0] > best:
            best, kept = checkpoints[usable - 1][0], checkpoints[:usable - 1]
    if best <= len(_STUB):
        return 0, ()
    return best, kept


def _first_error(text: str, name: str, start: int
                 ) -> tuple[Diagnostic | None, tuple[Checkpoint, ...]]:
    """Lark's first syntax error in the text (read from `start`), and the declaration
    keywords it read on the way."""
    from lark.exceptions import UnexpectedInput, UnexpectedToken

    from policy_engine.language.reference_parser import syntax_diagnostic

    shown = text if start == 0 else (
        _STUB + blank(text[len(_STUB):start]) + text[start:])
    interactive = lark_parser().parse_interactive(shown)
    fed: list[Token] = []
    try:
        for token in interactive.iter_parse():
            fed.append(token)
        interactive.feed_eof(fed[-1] if fed else None)  # type: ignore[no-untyped-call]
    except UnexpectedInput as error:
        if isinstance(error, UnexpectedToken) and fed and error.token is fed[-1]:
            fed.pop()  # the token the parser refused
        # As Lark's own parse does, so that the error knows what the parser accepted instead.
        error.interactive_parser = interactive
        diagnostic = syntax_diagnostic(Source(name, shown), error)
        return dataclasses.replace(diagnostic, source=Source(name, text)), _checkpoints(fed)
    return None, _checkpoints(fed)


_LINE = re.compile(r"[^\r\n]+")


def blank(text: str) -> str:
    """Spaces for every character but line breaks, so lines and offsets stay the same."""
    return _LINE.sub(lambda match: " " * len(match.group()), text)


def _checkpoints(tokens: list[Token]) -> tuple[Checkpoint, ...]:
    return tuple((t.start_pos, t.end_pos) for t in tokens
                 if t.type in _ITEM_TERMINALS and t.start_pos is not None
                 and t.end_pos is not None)


def _remember(text: str, checkpoints: tuple[Checkpoint, ...]) -> None:
    with _lock:
        _remembered[text] = checkpoints
        _remembered.move_to_end(text)
        while len(_remembered) > MAX_REMEMBERED:
            _remembered.popitem(last=False)
