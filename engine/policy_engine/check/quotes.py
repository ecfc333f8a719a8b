"""Quotes: checks that the passages a policy quotes appear verbatim in the document it encodes.

A policy may declare its source document in its header (`source document "guide.txt"`, a
path relative to the policy file). Then every `because` of a rule, an advisory or the
`otherwise` is a quotation of that document, unless it is marked `(judgment)` as the policy's
own words, and so is every passage in double quotes inside a `source` text. `collect` finds
those quotations while the policy is checked; `verify` reads the document and reports each
quotation it does not contain (E119), or a document it cannot read (E120).

A quotation matches when it appears in the document once whitespace, quotation marks and
dashes are made uniform (`normalise`); `...`, `…`, `[...]` or `(...)` in a quotation stand for
words left out, and the parts around them must then appear in that order in one paragraph.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from policy_engine.check.checked import Quote, SourceDocument
from policy_engine.core.diagnostics import Diagnostic
from policy_engine.core.files import NotRegular, display_path, read_regular, repository_root
from policy_engine.core.source import Source, Span
from policy_engine.language.literals import BadEscape, unescape

if TYPE_CHECKING:  # at run time only `collect` needs the syntax tree's classes (issue 20:
    # `verify`, on every load from the cache, must not build them)
    from policy_engine.language import nodes as n

#: A source document larger than this is refused (E120): a guide is a few pages of text.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
#: The longest passage shown in the help of E119.
_SHOWN = 240

#: Each quotation mark and dash, with what it becomes. (Replaced one by one, since most are
#: absent: `str.translate` with these tables, and `re.sub` for the spaces, took a tenth of
#: `policy eval`'s work, issue 20; the result is the same.)
_UNIFORM = tuple((mark, '"') for mark in "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033'\u2018"
                 "\u2019\u201a\u201b\u2039\u203a`\u00b4\u2032") + tuple(
    (dash, "-") for dash in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
#: Words left out of a quotation.
_ELLIPSIS = re.compile(r"\s*(?:\[\s*(?:\.\.\.|\u2026)\s*\]|\(\s*(?:\.\.\.|\u2026)\s*\)|\.\.\.|"
                       r"\u2026)\s*")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\f\r]*\n")
#: A sentence, or a line that does not end one (a heading, or a sentence wrapped over lines).
_SENTENCE = re.compile(r"\S[^\n]*?(?:[.!?:](?=\s)|(?=\n)|$)")
#: A passage in double quotes inside a `source` text, as written in the policy (escaped).
_EMBEDDED = re.compile(r'\\"((?:[^"\\]|\\[^"])*)\\"')


def normalise(text: str) -> str:
    """The text with every quotation mark `"`, every dash `-` and whitespace runs one space
    (none at either end)."""
    for character, uniform in _UNIFORM:
        if character in text:
            text = text.replace(character, uniform)
    return " ".join(text.split())  # splits at what `\s` matches, as `str.strip` strips


# ---------------------------------------------------------------- collecting (the checker)


def collect(source: Source, tree: n.PolicyFile) -> SourceDocument | None:
    """The policy's source document and every quotation of it, or None without a document."""
    from policy_engine.language import nodes as n

    document = tree.header.document
    if document is None:
        return None
    quotes: list[Quote] = []
    for item in tree.items:
        if isinstance(item, n.Otherwise):
            quotes.extend(_quotes_of(source, item, "the 'otherwise' default"))
        elif isinstance(item, (n.Rule, n.Advisory)):
            kind = "rule" if isinstance(item, n.Rule) else "advisory"
            quotes.extend(_quotes_of(source, item, f"{kind} '{item.id.name}'"))
    return SourceDocument(document.value, document.span, tuple(quotes))


def _quotes_of(source: Source, item: n.Rule | n.Advisory | n.Otherwise,
               what: str) -> Iterator[Quote]:
    if item.reason is not None and not item.judgment:
        yield Quote(item.reason.value, item.reason.span, f"the reason of {what}")
    if item.citation is not None:
        span = item.citation.span
        raw = source.text[span.start:span.end]
        for found in _EMBEDDED.finditer(raw):
            try:
                text = unescape(found.group(1))
            except BadEscape:  # the parser refuses these; never reached
                continue
            start = span.start + found.start()
            yield Quote(text, Span(start, span.start + found.end()),
                        f"a quotation in the source of {what}")


# ---------------------------------------------------------------- verifying


def verify(document: SourceDocument, source: Source, folder: str) -> list[Diagnostic]:
    """Checks every quotation against the document, read from `folder` (the policy's folder).

    Returns:
        E120 when the document cannot be read, else one E119 per quotation not found in it.
    """
    text, problem = _read(document.path, folder)
    if text is None:
        return [Diagnostic("E120", f"cannot read the source document '{document.path}': "
                                   f"{problem}", source, document.span,
                           help="give the path of the document relative to the policy file, "
                                "for example source document \"guide.txt\"")]
    paragraphs = [normalise(part) for part in _PARAGRAPH_BREAK.split(text)]
    found: list[Diagnostic] = []
    for quote in document.quotes:
        if _contains(paragraphs, normalise(quote.text)):
            continue
        line, passage = closest_passage(text, quote.text)
        shown = passage if len(passage) <= _SHOWN else passage[:_SHOWN - 3] + "..."
        found.append(Diagnostic(
            "E119", f"{quote.where} is not in the source document '{document.path}'", source,
            quote.span,
            help=f"the closest passage (line {line}) is \"{shown}\"; quote it exactly, "
                 "write ... for words left out, or mark the policy's own words "
                 "with (judgment) after the text"))
    return found


def _read(path: str, folder: str) -> tuple[str | None, str]:
    """The document's text, or None and why it cannot be read.

    The document must be a regular file in the git repository of the policy (its folder, when
    it is in none): a policy arrives in a pull request, and the help of E119 shows a passage
    of the document, so a path such as `../../../home/me/.netrc` must never be read.
    """
    if not path or os.path.isabs(path) or path.startswith("~"):
        return None, "the path must be relative to the policy file"
    full = os.path.join(folder or ".", path)
    shown = display_path(os.path.normpath(full))
    root = repository_root(folder or ".")
    real = os.path.realpath(full)
    if not (real == root or real.startswith(root.rstrip(os.sep) + os.sep)):
        return None, f"{shown} is outside the repository of the policy ({display_path(root)})"
    try:
        data = read_regular(full, MAX_DOCUMENT_BYTES)
    except FileNotFoundError:
        return None, f"no such file ({shown})"
    except (IsADirectoryError, NotRegular):
        return None, f"{shown} is not a regular file"
    except OSError as error:
        return None, f"{shown}: {error.strerror or error}"
    if len(data) > MAX_DOCUMENT_BYTES:
        return None, f"larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB"
    try:
        return data.decode("utf-8-sig"), ""
    except UnicodeDecodeError as error:
        return None, f"not UTF-8 text (byte {error.start})"


def _contains(paragraphs: list[str], quote: str) -> bool:
    """Whether one paragraph holds the parts of the quotation, in order."""
    parts = [part for part in _ELLIPSIS.split(quote) if part]
    if not parts:
        return False  # an empty quotation, or only an ellipsis, quotes nothing
    for paragraph in paragraphs:
        position = 0
        for part in parts:
            position = paragraph.find(part, position)
            if position < 0:
                break
            position += len(part)
        else:
            return True
    return False


def closest_passage(text: str, quote: str) -> tuple[int, str]:
    """The passage of `text` most like `quote`, and its line: a sentence or a line, or up to
    three of them running on (a sentence wrapped over lines, a quotation of two sentences)."""
    import difflib  # only for a quotation that is wrong

    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(normalise(quote))
    best = (-1.0, 1, "")
    for paragraph_start, paragraph in _paragraphs(text):
        pieces = [(text.count("\n", 0, paragraph_start + m.start()) + 1, normalise(m.group()))
                  for m in _SENTENCE.finditer(paragraph)]
        for first in range(len(pieces)):
            for last in range(first, min(first + 3, len(pieces))):
                candidate = " ".join(piece for _, piece in pieces[first:last + 1])
                matcher.set_seq1(candidate)
                if matcher.real_quick_ratio() <= best[0] or matcher.quick_ratio() <= best[0]:
                    continue
                ratio = matcher.ratio()
                if ratio > best[0]:
                    best = (ratio, pieces[first][0], candidate)
    return best[1], best[2]


def _paragraphs(text: str) -> Iterator[tuple[int, str]]:
    """The paragraphs of `text` (between blank lines), each with its offset."""
    start = 0
    for gap in _PARAGRAPH_BREAK.finditer(text):
        yield start, text[start:gap.start()]
        start = gap.end()
    yield start, text[start:]
