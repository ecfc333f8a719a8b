"""YAML data: the input stage that safely loads scenario and fact files with value positions.

PyYAML composes the document into nodes (which constructs no Python objects); this module
converts the nodes itself, so it decides every conversion, counts values as aliases expand,
and remembers the line and column of each value for diagnostics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from policy_engine.core.data import JsonPath, json_path
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError

#: Largest accepted input, in bytes of UTF-8.
MAX_BYTES = 1024 * 1024
#: Deepest accepted nesting of mappings and lists.
MAX_DEPTH = 64
#: Most values a document may hold once aliases are expanded.
MAX_VALUES = 100_000
#: Decimal exponents beyond this are refused, so that printing a number stays cheap.
_MAX_EXPONENT = 1000

_TAG = "tag:yaml.org,2002:"
_BOM = "\ufeff"


@dataclass(frozen=True)
class YamlDocument:
    """A loaded YAML document.

    Args:
        name: the file name as shown to users.
        data: plain data: dicts with text keys, lists, str, int, Decimal, bool and None.
        positions: for each JSON path, the 1-based (line, column) of that value's node.
    """

    name: str
    data: object
    positions: dict[JsonPath, tuple[int, int]] = field(repr=False)

    def locate(self, path: JsonPath) -> tuple[int, int] | None:
        """Returns the position of `path`, or of its nearest ancestor that has one.

        Args:
            path: a JSON path tuple such as `("facts", "problems", 0)`.

        Returns:
            The 1-based (line, column), or None when not even the root has a position.
        """
        for end in range(len(path), -1, -1):
            position = self.positions.get(path[:end])
            if position is not None:
                return position
        return None


def read_yaml_file(path: str) -> YamlDocument:
    """Reads and loads a YAML file.

    Args:
        path: the file's path, also used as its name in diagnostics.

    Returns:
        The loaded document.

    Raises:
        DiagnosticError: E301 when the file cannot be read or is not UTF-8, or any error
            that `load_yaml` reports.
    """
    try:
        with open(path, "rb") as stream:
            # One byte more than the limit is enough to know the file is too large.
            content = stream.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise _error("E301", "cannot read the file: it does not exist", path) from None
    except IsADirectoryError:
        raise _error("E301", "cannot read the file: it is a directory", path) from None
    except PermissionError:
        raise _error("E301", "cannot read the file: permission denied", path) from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise _error("E301", f"cannot read the file: {reason}", path) from None
    return load_yaml(content, path)


def load_yaml(text: str | bytes, name: str) -> YamlDocument:
    """Loads one YAML document into plain data, refusing anything unsafe or unbounded.

    Args:
        text: the document; bytes must be UTF-8 (a byte order mark is allowed).
        name: the file name shown in diagnostics.

    Returns:
        The document. Its top level may be any value; callers decide what they accept.

    Raises:
        DiagnosticError: E301 (not UTF-8), E302 (invalid or unsupported YAML), E303 (empty)
            or E307 (over a size, depth or value-count limit).
    """
    text = _decode(text, name)
    nul = text.find("\x00")
    if nul >= 0:
        line, column = _offset_position(text, nul)
        raise _error(
            "E302",
            "the file contains NUL characters: binary data, not YAML",
            name,
            line=line,
            column=column,
        )
    try:
        _check_stream(text, name)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, name) from None
    except ReaderError as exc:
        line, column = _offset_position(text, int(exc.position))
        character = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"unacceptable character U+{character:04X}: {exc.reason}"
        raise _error("E302", message, name, line=line, column=column) from None
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
        raise _error("E302", str(exc), name) from None
    if root is None or (
        isinstance(root, ScalarNode) and root.tag == _TAG + "null" and root.value == ""
    ):
        raise _error(
            "E303",
            "the file is empty; expected a mapping",
            name,
            line=1,
            column=1,
        )
    converter = _Converter(name)
    data = converter.convert(root, (), 0)
    return YamlDocument(name=name, data=data, positions=converter.positions)


# ---------------------------------------------------------------- reading the text


def _decode(text: str | bytes, name: str) -> str:
    if isinstance(text, bytes):
        if len(text) > MAX_BYTES:
            raise _too_large(name)
        try:
            decoded = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = text.count(b"\n", 0, exc.start) + 1
            column = exc.start - (text.rfind(b"\n", 0, exc.start) + 1) + 1
            raise _error(
                "E301",
                f"not UTF-8 text: invalid byte 0x{text[exc.start]:02x}",
                name,
                line=line,
                column=column,
                help="save the file as UTF-8",
            ) from None
        return decoded
    # A character is at least one byte, so only text that might be too large is encoded.
    if len(text) > MAX_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise _too_large(name)
    return text[1:] if text.startswith(_BOM) else text


def _too_large(name: str) -> DiagnosticError:
    return _error(
        "E307",
        f"the file is larger than the limit of 1 MiB ({MAX_BYTES:,} bytes)",
        name,
        help="split the data into smaller files",
    )


def _check_stream(text: str, name: str) -> None:
    """Walks the parser's events to refuse several documents and deep nesting.

    This runs before composition because PyYAML composes nodes recursively: a deeply nested
    document would otherwise exhaust the Python stack instead of getting a diagnostic.
    """
    depth = 0
    documents = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                line, column = _mark_position(event.start_mark)
                raise _error(
                    "E302",
                    "the file holds more than one YAML document; expected exactly one",
                    name,
                    line=line,
                    column=column,
                    help="remove the second '---' or move that document to its own file",
                )
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _mark_position(event.start_mark)
                raise _error(
                    "E307",
                    f"the data is nested deeper than the limit of {MAX_DEPTH} levels",
                    name,
                    line=line,
                    column=column,
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _syntax_error(exc: MarkedYAMLError, name: str) -> DiagnosticError:
    mark = exc.problem_mark or exc.context_mark
    line, column = _mark_position(mark) if mark is not None else (None, None)
    problem = exc.problem or exc.context or "invalid YAML"
    notes: tuple[str, ...] = ()
    if exc.context and exc.problem:
        where = ""
        if exc.context_mark is not None:
            context_line, context_column = _mark_position(exc.context_mark)
            where = f" at line {context_line}, column {context_column}"
        notes = (exc.context + where,)
    help_text = None
    if "'\\t'" in problem:
        help_text = "YAML indents with spaces; replace the tab characters"
    elif "mapping values are not allowed" in problem:
        help_text = ("check the indentation of this line against the one above, and put text "
                     "that contains ': ' in quotes")
    elif "could not find expected ':'" in problem:
        help_text = "each line of a mapping reads 'name: value', with a space after the colon"
    diagnostic = Diagnostic(
        "E302",
        problem,
        file=name,
        line=line,
        column=column,
        help=help_text,
        notes=notes,
    )
    return DiagnosticError([diagnostic])


# ---------------------------------------------------------------- converting nodes


class _Converter:
    """Turns a composed node tree into plain data, recording positions and counting values."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.count = 0
        self.constructor = SafeConstructor()

    def convert(self, node: Node, path: JsonPath, depth: int) -> object:
        # Aliased nodes are counted every time they are reached, so an alias bomb stops at
        # the limit long before its expansion would be built.
        self.count += 1
        position = _mark_position(node.start_mark)
        if self.count > MAX_VALUES:
            raise self.error(
                "E307",
                f"the document holds more than {MAX_VALUES:,} values once aliases are expanded",
                path,
                position,
                help="aliases (*name) count every time they are used; use fewer of them",
            )
        self.positions[path] = position
        if isinstance(node, ScalarNode):
            return self.scalar(node, path, position)
        if depth + 1 > MAX_DEPTH:
            raise self.error(
                "E307",
                f"the data is nested deeper than the limit of {MAX_DEPTH} levels",
                path,
                position,
            )
        if isinstance(node, SequenceNode) and node.tag == _TAG + "seq":
            return [
                self.convert(child, path + (index,), depth + 1)
                for index, child in enumerate(node.value)
            ]
        if isinstance(node, MappingNode) and node.tag == _TAG + "map":
            return self.mapping(node, path, depth)
        raise self.unsupported_tag(node.tag, path, position)

    def mapping(self, node: MappingNode, path: JsonPath, depth: int) -> dict[str, object]:
        result: dict[str, object] = {}
        first_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_position = _mark_position(key_node.start_mark)
            key = self.key(key_node, path, key_position)
            if key in first_lines:
                raise self.error(
                    "E302",
                    f"duplicate key {_quote(key)} (first at line {first_lines[key]})",
                    path + (key,),
                    key_position,
                    help="a key may appear only once in a mapping; remove one of them",
                )
            first_lines[key] = key_position[0]
            result[key] = self.convert(value_node, path + (key,), depth + 1)
        return result

    def key(self, node: Node, path: JsonPath, position: tuple[int, int]) -> str:
        if isinstance(node, ScalarNode):
            if node.tag in (_TAG + "str", _TAG + "value"):
                return str(node.value)
            if node.tag == _TAG + "merge":
                raise self.error(
                    "E302",
                    "merge keys ('<<') are not supported",
                    path,
                    position,
                    help="write the keys out in full",
                )
            if node.tag.startswith(_TAG):
                kind = _TAG_KINDS.get(node.tag[len(_TAG) :], "a non-text value")
                raise self.error(
                    "E302",
                    f"keys must be text; {_quote(str(node.value))} reads as {kind} here",
                    path,
                    position,
                    help=f"put the key in quotes: {_quote(str(node.value))}:",
                )
            raise self.unsupported_tag(node.tag, path, position)
        raise self.error(
            "E302",
            "keys must be text, not a list or a mapping",
            path,
            position,
        )

    def scalar(self, node: ScalarNode, path: JsonPath, position: tuple[int, int]) -> object:
        tag = node.tag
        value = str(node.value)
        if tag in (_TAG + "str", _TAG + "value"):
            return value
        if tag == _TAG + "timestamp":
            # Dates stay ISO text; fact validation parses them against the declared type.
            return value
        if tag == _TAG + "null":
            self.constructor.construct_yaml_null(node)
            return None
        if tag == _TAG + "bool":
            try:
                return self.constructor.construct_yaml_bool(node)
            except KeyError:
                raise self.error(
                    "E302", f"invalid yes/no value {_quote(value)}", path, position
                ) from None
        if tag == _TAG + "int":
            try:
                return self.constructor.construct_yaml_int(node)
            except (ValueError, IndexError):
                raise self.error(
                    "E302", f"invalid whole number {_quote(value)}", path, position
                ) from None
        if tag == _TAG + "float":
            number = _decimal(value)
            if isinstance(number, str):
                raise self.error("E302", number, path, position)
            return number
        raise self.unsupported_tag(tag, path, position)

    def unsupported_tag(
        self, tag: str, path: JsonPath, position: tuple[int, int]
    ) -> DiagnosticError:
        shown = "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag
        return self.error(
            "E302",
            f"unsupported YAML tag '{shown}'",
            path,
            position,
            help="only plain mappings, lists, text, numbers, yes/no, dates and null are allowed",
        )

    def error(
        self,
        code: str,
        message: str,
        path: JsonPath,
        position: tuple[int, int],
        *,
        help: str | None = None,
    ) -> DiagnosticError:
        return _error(
            code,
            message,
            self.name,
            line=position[0],
            column=position[1],
            path=json_path(path),
            help=help,
        )


_TAG_KINDS = {
    "int": "a number",
    "float": "a number",
    "bool": "yes/no",
    "null": "null",
    "timestamp": "a date",
}


def _decimal(text: str) -> Decimal | str:
    """Converts a YAML float to an exact Decimal; returns an error message instead on failure."""
    cleaned = text.replace("_", "").strip().lower()
    unsigned = cleaned.lstrip("+-")
    if unsigned in (".inf", ".nan", "inf", "nan", "infinity"):
        return f"{_quote(text)} is not a finite number"
    try:
        if ":" in cleaned:
            # YAML 1.1 base 60, for example 190:20:30.15.
            negative = cleaned.startswith("-")
            number = Decimal(0)
            for part in unsigned.split(":"):
                number = number * 60 + Decimal(part)
            number = -number if negative else number
        else:
            number = Decimal(cleaned)
    except InvalidOperation:
        return f"invalid number {_quote(text)}"
    if not number.is_finite():
        return f"{_quote(text)} is not a finite number"
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers have an integer exponent
    if abs(exponent) > _MAX_EXPONENT or abs(number.adjusted()) > _MAX_EXPONENT:
        return f"the number {_quote(text)} is out of range"
    if exponent > 0:
        # 1e3 becomes 1000 rather than Decimal('1E+3'), which prints oddly.
        number = Decimal(int(number))
    return number


# ---------------------------------------------------------------- helpers


class _Mark(Protocol):
    line: int
    column: int


def _mark_position(mark: _Mark | None) -> tuple[int, int]:
    # PyYAML always sets marks on nodes and events; the stubs merely allow None.
    if mark is None:  # pragma: no cover
        return 1, 1
    return mark.line + 1, mark.column + 1


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _quote(text: str, limit: int = 40) -> str:
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return "'" + text.replace("'", "''") + "'"


def _error(
    code: str,
    message: str,
    name: str,
    *,
    line: int | None = None,
    column: int | None = None,
    path: str | None = None,
    help: str | None = None,
) -> DiagnosticError:
    return DiagnosticError(
        [
            Diagnostic(
                code,
                message,
                file=name,
                line=line,
                column=column,
                path=path,
                help=help,
            )
        ]
    )
