"""Name hints: the help for a name written with '-' between its words (`custom-made`).

Kept apart from the reference parser so that the checker can give the same help for a
dashed name read as a subtraction without importing Lark.
"""

from __future__ import annotations

import re

#: A word, a dash and a word with no blanks between them: the dash most likely joins one name.
_DASHED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)+")


def dashed_name_help(text: str, offset: int) -> str | None:
    """The help when the '-' at `offset` sits inside a word (`custom-made`): names join their
    words with '_', and a '-' is always a minus."""
    if text[offset : offset + 1] != "-":
        return None
    start = offset
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
        start -= 1
    match = _DASHED.match(text, start)
    if match is None or not match.start() < offset < match.end():
        return None
    written = match[0]
    return (f"names join their words with '_', not '-': write {written.replace('-', '_')} "
            "('-' is always a minus)")
