"""Data: plain JSON and YAML data as diagnostics name it: JSON paths, their order, value kinds.

Fact sets, scenario files and batch rows are plain data (dicts, lists, text, numbers, yes/no,
null); every stage that reports a problem in them says where with a JSON path such as
`$.facts.problems[0]` and what it found with the words of `kind_of`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

#: Keys and list indexes from the root of a document to one value.
JsonPath = tuple[str | int, ...]
#: Gives the 1-based (line, column) of the value at a JSON path in its file, when known.
Locator = Callable[[JsonPath], tuple[int, int] | None]

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(path: JsonPath) -> str:
    """Formats a JSON path tuple the way diagnostics show it.

    Args:
        path: keys and list indexes from the document root.

    Returns:
        For example `$.facts.problems[0]`; keys that are not plain identifiers are quoted,
        as in `$.facts["two words"]`.
    """
    parts = ["$"]
    for step in path:
        if isinstance(step, int):
            parts.append(f"[{step}]")
        elif _IDENTIFIER.fullmatch(step):
            parts.append(f".{step}")
        else:
            escaped = step.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            parts.append(f'["{escaped}"]')
    return "".join(parts)


def path_key(path: JsonPath) -> tuple[tuple[int, int, str], ...]:
    """A sort key for JSON paths: indexes sort before keys and numerically among themselves,
    so `[2]` comes before `[10]`."""
    return tuple((0, step, "") if isinstance(step, int) else (1, 0, step) for step in path)


def kind_of(value: object, *, json: bool = False) -> str:
    """What kind of value something is, in the words of YAML files ("a mapping", "yes/no"),
    or with `json=True` in the words of JSON ("an object", "true or false")."""
    if isinstance(value, dict):
        return "an object" if json else "a mapping"
    if isinstance(value, (list, tuple)):
        return "an array" if json else "a list"
    if isinstance(value, str):
        return "a string" if json else "text"
    if isinstance(value, bool):
        return "true or false" if json else "yes/no"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if value is None:
        return "null"
    return type(value).__name__
