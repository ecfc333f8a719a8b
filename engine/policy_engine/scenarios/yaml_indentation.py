"""YAML indentation: our own words for PyYAML's errors about a line indented wrongly.

PyYAML reports a mis-indented line in terms of its parser ("mapping values are not allowed
here", "expected <block end>, but found '<block mapping start>'"). Read against the text, the
same error says which line is indented by how much, and which lines it should line up with.
"""

from __future__ import annotations

from dataclasses import dataclass

from yaml.error import MarkedYAMLError


@dataclass(frozen=True)
class Indentation:
    """A mis-indented line: what to say, and where (1-based line and column)."""

    message: str
    help: str
    line: int
    column: int


def indentation_problem(text: str, exc: MarkedYAMLError) -> Indentation | None:
    """Words a PyYAML error that comes from a mis-indented line, or None for any other error."""
    mark = exc.problem_mark
    problem = exc.problem or ""
    lines = text.split("\n")
    if mark is None or mark.line >= len(lines):
        return None
    row = mark.line
    line = lines[row]
    indent = _indent(line)
    above = next((r for r in range(row - 1, -1, -1) if _content(lines[r])), -1)
    above_indent = _indent(lines[above]) if above >= 0 else 0
    what = _what(line)
    if "mapping values are not allowed" in problem:
        # A line indented more than a `key: value` line above continues that value, and its
        # own ':' then cannot start a key.
        if above < 0 or indent <= above_indent or not _has_value(lines[above]):
            # Not indentation: a ': ' inside a plain value on its own line.
            return Indentation(
                "': ' inside a value starts a mapping, where a value is expected",
                "put the whole value in quotes, for example: note: \"reason: late\"; or, if "
                "it is meant as a new key, start it on a line of its own",
                row + 1, mark.column + 1)
        return Indentation(
            f"{what} is indented by {_spaces(indent)}, more than line {above + 1} above it "
            f"({_spaces(above_indent)}), so it reads as more of that line's value",
            f"the keys of one mapping start in the same column: indent it like line "
            f"{above + 1}; if it is meant as part of that value, put the whole value in quotes",
            row + 1, indent + 1)
    if problem.startswith("expected <block end>") and exc.context_mark is not None \
            and above >= 0:
        # The line is indented less than the mapping it follows, and more than the one that
        # mapping belongs to: it lines up with neither.
        outer, outer_indent = exc.context_mark.line, exc.context_mark.column
        if not outer_indent < indent < above_indent:
            return None
        return Indentation(
            f"{what} is indented by {_spaces(indent)}, in line with no mapping above it",
            f"the keys of one mapping start in the same column: indent it like line "
            f"{above + 1} ({_spaces(above_indent)}) to add it to that mapping, or like line "
            f"{outer + 1} ({_spaces(outer_indent)})",
            row + 1, indent + 1)
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _has_value(line: str) -> bool:
    """A `key: value` line with a value after the colon (which a deeper line may continue)."""
    key, colon, value = line.partition(": ")
    return bool(colon) and bool(value.split(" #")[0].strip()) and not key.lstrip().startswith("-")


def _what(line: str) -> str:
    key, colon, _ = line.strip().partition(":")
    return f"'{key}'" if colon and key and len(key) <= 40 else "this line"


def _spaces(count: int) -> str:
    return "no spaces" if count == 0 else "1 space" if count == 1 else f"{count} spaces"
