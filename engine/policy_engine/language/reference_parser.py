"""Reference parser: Lark's reading of policy text, the definition of the language's syntax.

It parses with the Lark LALR parser of `grammar/policy.lark`, lowers the tree into nodes, and
words every syntax error as a diagnostic (with the hints of `syntax_hints`). The hand-written
`parser` reads most policies faster and hands this module every text it is not sure of, so
every syntax diagnostic comes from here. Lark is imported when something is first parsed here,
not with this module.
"""

from __future__ import annotations

import difflib
import functools
import re
from typing import TYPE_CHECKING

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.source import Source, Span
from policy_engine.language import nodes as n
from policy_engine.language.grammar import lark_parser
from policy_engine.language.literals import UNITS
from policy_engine.language.lowering import lower
from policy_engine.language.name_hints import dashed_name_help
from policy_engine.language.syntax_hints import hint_for

if TYPE_CHECKING:
    from lark import Token, Tree
    from lark.exceptions import UnexpectedInput

#: How terminals are named in "expected ..." messages.
_TERMINAL_NAMES = {
    "NAME": "a name",
    "STRING": 'a quoted text ("...")',
    "NUMBER": "a number",
    "DATE": "a date (YYYY-MM-DD)",
    "COMPARE": "a comparison (==, !=, <, <=, >, >=)",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "TIMES": "'*'",
    "DIVIDE": "'/'",
    "$END": "the end of the file",
}


#: Characters people type from habit or from a word processor, and what to write instead.
_CHARACTER_HELP = {
    "\u201c": 'use straight double quotes (") around text',
    "\u201d": 'use straight double quotes (") around text',
    "\u2018": "use straight double quotes (\") around text, not single quotes",
    "\u2019": "use straight double quotes (\") around text, not single quotes",
    "'": "use double quotes (\") around text, not single quotes",
    "\u2265": "write >= for 'at least'",
    "\u2264": "write <= for 'at most'",
    "\u2260": "write != for 'not equal'",
    "&": "write 'and' to join conditions",
    "|": "write 'or' to join conditions",
    "!": "write 'not' before a condition, or != for 'not equal'",
    "\u20ac": "amounts are plain numbers without a currency sign, for example 12.50",
    "$": "amounts are plain numbers without a currency sign, for example 12.50",
    "%": "write a percentage as a multiplication, for example amount_paid * 0.05",
    ";": "conditions are joined with 'and' or 'or'; there is no ';'",
    "\t": None,
}


def parse_policy(source: Source) -> n.PolicyFile:
    """Parses and lowers policy text: the reference reading of a policy.

    Raises:
        DiagnosticError: for a syntax error or an invalid literal.
    """
    return lower(source, parse_tree(source))


def parse_tree(source: Source) -> Tree[Token]:
    """Parses a whole policy file.

    Raises:
        DiagnosticError: with one syntax diagnostic (LALR stops at the first error).
    """
    from lark.exceptions import UnexpectedInput

    try:
        tree = lark_parser().parse(source.text)
    except UnexpectedInput as error:
        raise DiagnosticError([syntax_diagnostic(source, error)]) from None
    glued = glued_keyword(source)
    if glued is not None:
        raise DiagnosticError([glued])
    return tree


#: The characters that may continue a name (grammar/policy.lark's NAME), from a position on.
_NAME_CHARS = re.compile(r"[A-Za-z0-9_]*")


@functools.lru_cache(maxsize=1)
def _keyword_terminals() -> dict[str, str]:
    """The grammar's keywords that end in a letter or digit, by terminal name."""
    return {terminal.name: terminal.pattern.value for terminal in lark_parser().terminals
            if terminal.pattern.type == "str" and terminal.pattern.value[-1:].isalnum()}


def glued_keyword(source: Source) -> Diagnostic | None:
    """A keyword the lexer read out of a longer word, which the parse accepted anyway.

    Lark's contextual lexer matches a keyword wherever the grammar allows it, even at the start
    of a longer word where no name may stand: `resolve firstmatch` reads as `resolve first
    match`, and `one off` as `one of f`, an enumeration with the value `f`. Such text is
    refused here, after a successful parse, by reading its tokens again.
    """
    text = source.text
    keywords = _keyword_terminals()
    interactive = lark_parser().parse_interactive(text)
    for token in interactive.iter_parse():
        if token.type not in keywords or token.end_pos is None:
            continue
        word_end = _NAME_CHARS.match(text, token.end_pos).end()  # type: ignore[union-attr]
        if word_end == token.end_pos:
            continue
        start = token.start_pos or 0
        word, keyword = text[start:word_end], keywords[token.type]
        rest = word[len(keyword):]
        # A letter or two more is a misspelled keyword (`off`); more, two words run together.
        help = (f"did you mean '{keyword}'?" if len(rest) <= 2
                else f"write '{keyword} {rest}' with a space, if that is what you mean")
        return Diagnostic("E001", f"unexpected '{word}'", source, Span(start, word_end),
                          help=help)
    return None


def describe_terminal(name: str) -> str:
    if name in _TERMINAL_NAMES:
        return _TERMINAL_NAMES[name]
    for terminal in lark_parser().terminals:
        if terminal.name == name:
            if terminal.pattern.type == "str":
                return f"'{terminal.pattern.value}'"
            break
    return name.lower()


def _expected(names: set[str] | frozenset[str] | None) -> str:
    if not names:
        return ""
    # Words people can act on ('a name', 'then') before punctuation.
    described = sorted({describe_terminal(n) for n in names},
                       key=lambda text: (not text[0].isalpha() and not text[1:2].isalpha(), text))
    if len(described) > 8:
        described = described[:8] + ["..."]
    return ", ".join(described)


def _token_text(token: Token) -> str:
    if token.type == "$END":
        return "the end of the file"
    text = str(token)
    return f"'{text}'" if len(text) <= 30 else f"'{text[:27]}...'"


#: A date written with dots, day first (01.03.2024) or year first (2024.03.01).
_DOTTED_DATE = re.compile(r"(?P<d>[0-9]{1,2})\.(?P<m>[0-9]{1,2})\.(?P<y>[0-9]{4})"
                          r"|(?P<Y>[0-9]{4})\.(?P<M>[0-9]{1,2})\.(?P<D>[0-9]{1,2})")


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _dotted_date_help(text: str, offset: int) -> str | None:
    """The help for a '.' inside a date written with dots: the lexer reads `01.03` as a number
    and stops at the second dot, so the date is found around the dot."""
    start = offset
    while start > 0 and (text[start - 1].isdigit() or text[start - 1] == "."):
        start -= 1
    end = offset
    while end < len(text) and (text[end].isdigit() or text[end] == "."):
        end += 1
    written = text[start:end]
    match = _DOTTED_DATE.fullmatch(written)
    if match is None:
        return None
    if match["y"]:
        day, month, year = int(match["d"]), int(match["m"]), match["y"]
    else:
        day, month, year = int(match["D"]), int(match["M"]), match["Y"]
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return "write dates as YYYY-MM-DD, for example 2024-03-01"
    return (f"write dates as YYYY-MM-DD: if {written} is {day} {_MONTHS[month - 1]} {year}, "
            f"write {year}-{month:02}-{day:02}")


def syntax_diagnostic(source: Source, error: UnexpectedInput) -> Diagnostic:
    """Turns a Lark error into a diagnostic with a span, an 'expected' list and help."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    hint = hint_for(source, error, lark_parser().parse)  # a catalogue of common mistakes
    if isinstance(error, UnexpectedCharacters):
        offset = error.pos_in_stream or 0
        char = source.text[offset : offset + 1]
        if char == '"':
            return Diagnostic(
                "E004", "unclosed text: a quoted text must end with \" on the same line",
                source, Span(offset, offset + len(source.line_text(error.line)) - error.column + 1),
                help='close the text with a double quote (")',
            )
        return Diagnostic(
            "E002", f"unexpected character {char!r}", source, Span(offset, offset + 1),
            help=_CHARACTER_HELP.get(char) or _dotted_date_help(source.text, offset) or hint
            or (f"expected {_expected(error.allowed)}" if error.allowed else None),
        )
    if isinstance(error, UnexpectedEOF):
        end = len(source.text)
        return Diagnostic(
            "E003", "the file ends in the middle of a declaration", source,
            Span(max(0, end - 1), end),
            help=hint or f"expected {_expected(set(error.expected))}",
        )
    assert isinstance(error, UnexpectedToken)
    token = error.token
    if token.type == "$END":
        end = len(source.text.rstrip())
        return Diagnostic(
            "E003", "the file ends in the middle of a declaration", source,
            Span(max(0, end - 1), max(end, 1)),
            help=hint or f"expected {_expected(error.accepts or error.expected)}",
        )
    start = token.start_pos if token.start_pos is not None else 0
    end = token.end_pos if token.end_pos is not None else start + 1
    return Diagnostic(
        "E001", f"unexpected {_token_text(token)}", source, Span(start, end),
        help=dashed_name_help(source.text, start) or _unit_help(source.text, token) or hint
        or f"expected {_expected(error.accepts or error.expected)}",
    )


#: A number and blanks right before a word: where a duration's unit stands.
_NUMBER_BEFORE = re.compile(r"[0-9]+[ \t]+$")


def _unit_help(text: str, token: Token) -> str | None:
    """'did you mean' for a misspelled duration unit (`12 monts`, `1 yr`): after a number, a
    word close to a unit was most likely meant as one."""
    start = token.start_pos or 0
    if token.type != "NAME" or not _NUMBER_BEFORE.search(text[max(0, start - 40):start]):
        return None
    close = difflib.get_close_matches(str(token).lower(), sorted(UNITS), n=1, cutoff=0.6)
    if not close:
        return None
    return (f"did you mean '{close[0]}'? a duration is a whole number and a unit: days, "
            "weeks, months or years")

