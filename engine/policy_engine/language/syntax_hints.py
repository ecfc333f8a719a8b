"""Syntax hints: a catalogue of common syntax mistakes, matched by the parser state they stop in.

Each entry is a help line and a few small wrong policies that fail at the same parser state as
the mistake; a failing parse that lands in that state gets the help line. The parse function
is given by the caller (the reference parser), so this module depends on no parser.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable

from lark.exceptions import UnexpectedInput, UnexpectedToken

from policy_engine.core.source import Source
from policy_engine.language.grammar import KEYWORDS

#: Parses a whole policy text, raising Lark's `UnexpectedInput` on a syntax error.
Parse = Callable[[str], object]

_HEAD = 'policy p\nfact x: whole number\nfact e: one of a, b\ndecision d\n'

#: help line -> wrong examples. Keep each example minimal; tests run every one.
MISTAKES: dict[str, list[str]] = {
    "use '==' to compare; a single '=' only assigns outputs after 'with'": [
        _HEAD + 'rule r when x = 1 then d because "r"',
        _HEAD + 'rule r when x > 1 and x = 2 then d because "r"',
    ],
    "a rule reads: rule ID \"title\" when CONDITION then DECISION because \"reason\"; "
    "'then' is missing": [
        _HEAD + 'rule r when x > 1 d because "r"',
        _HEAD + 'rule r when e is a d because "r"',
    ],
    "a rule needs 'when CONDITION' after its id and title": [
        _HEAD + 'rule r "t" x > 1 then d because "r"',
        _HEAD + 'rule r then d because "r"',
    ],
    "every rule gives its reason: add because \"...\" after the decision": [
        _HEAD + 'rule r when x > 1 then d\nrule s when x > 2 then d because "r"',
        _HEAD + 'rule r when x > 1 then d',
        _HEAD + 'rule r when x > 1 then d\notherwise d',
    ],
    "write the decision after 'then', for example: then refund": [
        _HEAD + 'rule r when x > 1 then because "r"',
    ],
    "a condition compares two things, for example: days_since_sent > 45": [
        _HEAD + 'rule r when x 1 then d because "r"',
        _HEAD + 'rule r when x > 1 and x 2 then d because "r"',
    ],
    "reasons and titles are quoted: because \"...\"": [
        _HEAD + 'rule r when x > 1 then d because r',
    ],
}

_OPERATORS = ("and", "or", "is", "in", "contains", "between")
_KEYWORDS = tuple(sorted(KEYWORDS))


def hint_for(source: Source, error: UnexpectedInput, parse: Parse) -> str | None:
    """Returns a help line for a known mistake, or a 'did you mean' for a misspelled keyword.

    Args:
        parse: the parser that raised `error`; the catalogue's examples are parsed with it.
    """
    if isinstance(error, UnexpectedToken) and error.token.type == "NAME":
        word = str(error.token)
        expected = {t.lower() for t in (error.accepts or error.expected)}
        if "then" in expected:
            # After a complete operand LALR only still expects 'then'; a word that looks like
            # an operator was most likely meant as one.
            operator = difflib.get_close_matches(word, _OPERATORS, n=1, cutoff=0.75)
            if operator:
                return f"did you mean '{operator[0]}'?"
        candidates = [k for k in _KEYWORDS if k in expected]
        close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
        if close:
            return f"did you mean '{close[0]}'?"
    key = _state_key(error)
    if key is None:
        return None
    for label, (state, token_type, _) in _example_keys(parse):
        if state == key[0] and token_type == key[1]:
            return label
    # The same mistake can leave the parser in another state (LALR states depend on what
    # came before); the unexpected token and what was acceptable instead still match.
    for label, (_, token_type, accepts) in _example_keys(parse):
        if token_type == key[1] and accepts == key[2]:
            return label
    return None


def _state_key(error: UnexpectedInput) -> tuple[int, str, frozenset[str]] | None:
    """The LALR state, the type of the token it could not take, and what it accepted."""
    state = getattr(error, "state", None)
    stack = getattr(state, "state_stack", None)
    if not stack:
        return None
    token = getattr(error, "token", None)
    accepts = frozenset(getattr(error, "accepts", None) or getattr(error, "expected", ()) or ())
    return stack[-1], (token.type if token is not None else ""), accepts


@functools.lru_cache(maxsize=4)
def _example_keys(parse: Parse) -> tuple[tuple[str, tuple[int, str, frozenset[str]]], ...]:
    # Lark's own match_examples crashes in a debug log call when states match but accepted
    # tokens differ (lark 1.3), so the matching is done here on the parser state directly.
    keys = []
    for label, examples in MISTAKES.items():
        for example in examples:
            try:
                parse(example)
            except UnexpectedInput as error:
                key = _state_key(error)
                if key is not None:
                    keys.append((label, key))
    return tuple(keys)
