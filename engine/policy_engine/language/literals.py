"""Literals: how the text of a quoted string or a number becomes its value, for both parsers."""

from __future__ import annotations

from decimal import Decimal

#: The only escapes a quoted text may hold.
ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}


class BadEscape(ValueError):
    """A backslash in a quoted text that is none of the four escapes; `index` is its place in
    the text between the quotes."""

    def __init__(self, index: int, escaped: str) -> None:
        super().__init__(f"unknown escape '\\{escaped}'")
        self.index, self.escaped = index, escaped


def unescape(body: str) -> str:
    """The value of a quoted text, from the characters between its quotes: only \\" \\\\ \\n
    and \\t are escapes.

    Raises:
        BadEscape: for any other backslash.
    """
    if "\\" not in body:
        return body
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            escaped = body[index + 1 : index + 2]
            if escaped not in ESCAPES:
                raise BadEscape(index, escaped)
            out.append(ESCAPES[escaped])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def number_value(text: str) -> int | Decimal:
    """A number literal's value: a whole number, or an exact decimal when it has a point."""
    return Decimal(text) if "." in text else int(text)
