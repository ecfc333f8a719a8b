"""Grammar: the policy language's Lark grammar, the Lark parser built from it, and its keywords.

The grammar lives at the top of the repository, in `grammar/policy.lark`, and ships as the
package `policy_engine.grammar`. Lark is imported only when `lark_parser` is first called: a
policy that the hand-written parser reads, or that comes from the cache, never needs it.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import TYPE_CHECKING

from policy_engine.core import cache

if TYPE_CHECKING:
    from lark import Lark

#: Every word the grammar uses as a keyword (the literal strings of grammar/policy.lark);
#: tests/language/test_grammar.py checks it against the grammar.
KEYWORDS = frozenset("""
    policy version fact optional default decision output as of define table by end require
    when else because ensure effective from until resolve first match unique agreeing whole
    number amount text date one list at least and most to rule overrides advise then add
    otherwise refuse with source if or not is missing present in contains between for
    working days day weeks week months month years year excluding calendar yes true no false
    document judgment
""".split())

#: How the parser is built. `strict=True` (every terminal collision and LALR conflict is an
#: error) is checked by the tests; at run time the same tables are built without the collision
#: search, which takes half a second, and kept in the cache of checked policies.
PARSER_OPTIONS: dict[str, object] = {
    "parser": "lalr", "propagate_positions": True, "maybe_placeholders": True,
}


@functools.lru_cache(maxsize=1)
def grammar_text() -> str:
    """Returns the grammar shipped with the package (top-level `grammar/` in the repository).

    An installed package has it as `policy_engine.grammar`; a source checkout imported without
    installing (`engine/` on sys.path) reads `grammar/` beside `engine/`.
    """
    try:
        # The package's folder first: `importlib.resources` would import zipfile and its
        # compressors on every start-up, only to read a file beside the package.
        spec = importlib.util.find_spec("policy_engine.grammar")
        for folder in (spec.submodule_search_locations or []) if spec else []:
            shipped = os.path.join(folder, "policy.lark")  # not `pathlib`: eval imports none
            if os.path.isfile(shipped):
                with open(shipped, encoding="utf-8") as text:
                    return text.read()
        from importlib import resources  # a package inside a zip file

        return resources.files("policy_engine.grammar").joinpath("policy.lark").read_text(
            encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        root = os.path.realpath(__file__)
        for _ in range(4):  # language/, policy_engine/, engine/, the checkout
            root = os.path.dirname(root)
        with open(os.path.join(root, "grammar", "policy.lark"), encoding="utf-8") as text:
            return text.read()


@functools.lru_cache(maxsize=1)
def lark_parser() -> Lark:
    """The Lark LALR parser of the grammar, built once per process (its tables cached)."""
    import io

    from lark import Lark, __version__

    entry = cache.key(f"lark {__version__} {sorted(PARSER_OPTIONS.items())}", "<parser>",
                      grammar_text())
    saved = cache.load(entry)
    if isinstance(saved, bytes):
        try:
            return Lark.load(io.BytesIO(saved))
        except Exception:  # noqa: BLE001 - a stale or damaged entry is a miss
            pass
    parser = Lark(grammar_text(), **PARSER_OPTIONS)
    if cache.enabled():
        buffer = io.BytesIO()
        parser.save(buffer)
        cache.store(entry, buffer.getvalue())
    return parser
