"""YAML data: the input stage that safely loads scenario and fact files with value positions.

PyYAML composes the document into nodes (which constructs no Python objects); this module
converts the nodes itself, so it decides every conversion, counts values as aliases expand,
and remembers the line and column of each value for diagnostics.

Numbers are read as people read them, not by YAML 1.1's rules (PyYAML's): `046` is 46, not
the octal 38; `1:30` is text, not 90 (base 60); and the forms a person could read one way and
YAML another are refused with a help line: hexadecimal, octal and binary numbers (`0x10`,
`0o17`, `0b1`), `_` between digits (`1_000`), exponents (`1e3`), `.inf` and `.nan`. A number
has at most `MAX_DIGITS` digits. Text holding half of a UTF-16 surrogate pair (from an escape
such as `"\\ud800"`) is refused: it is not a character, and could not be printed.
"""

from __future__ import annotations

import re
from dataclasses import field
from decimal import Decimal
from typing import Protocol

import yaml
from yaml.constructor import SafeConstructor
from yaml.error import MarkedYAMLError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

from policy_engine.core.data import JsonPath, json_path
from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.files import (
    STANDARD_INPUT,
    STANDARD_INPUT_NAME,
    NotRegular,
    read_regular,
)
from policy_engine.core.records import record
from policy_engine.language.literals import MAX_DIGITS

#: Largest accepted input, in bytes of UTF-8.
MAX_BYTES = 1024 * 1024
#: Deepest accepted nesting of mappings and lists.
MAX_DEPTH = 64
#: Most values a document may hold once aliases are expanded.
MAX_VALUES = 100_000

_TAG = "tag:yaml.org,2002:"
_BOM = "\ufeff"

# ---------------------------------------------------------------- how plain values are read

#: A whole number: digits with an optional sign; leading zeros are decimal (`046` is 46).
_WHOLE = re.compile(r"[-+]?[0-9]+")
#: A decimal number: digits with a point (an explicit `!!float` may leave the point out).
_DECIMAL = re.compile(r"[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)")
_DECIMAL_OR_WHOLE = re.compile(r"[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
#: Plain values that YAML 1.1 or 1.2 reads as numbers but scenario files do not (the kind of
#: each is worked out by `_number_form`): they are refused rather than read either way.
_NUMBER_FORM = "tag:policy-engine:number-form"
_NUMBER_FORMS = re.compile(r"""
    [-+]?0x[0-9a-fA-F_]+ | [-+]?0o[0-7_]+ | [-+]?0b[01_]+
  | [-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)? | \.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?
  | [-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)
""", re.VERBOSE)
_NUMBER_START = list("-+.0123456789")
#: Half of a UTF-16 surrogate pair: not a character on its own.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class Loader(yaml.SafeLoader):
    """PyYAML's safe loader, resolving plain values by this module's rules: its own numbers
    (`_WHOLE`, `_DECIMAL`, `_NUMBER_FORMS`), and YAML 1.1's null, yes/no and dates.

    A program that writes YAML for the engine to read can give its dumper these resolvers
    (`yaml_implicit_resolvers`), so that it quotes every text this loader would not read as
    text.
    """

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag not in (_TAG + "int", _TAG + "float")]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _number_resolvers() -> None:
    """Puts the numbers first, in this order (the first that matches wins): whole numbers,
    decimals, then the refused forms (which would match whole numbers and decimals too), all
    before YAML's dates, which start with digits as well."""
    numbers = [(tag, re.compile(f"^(?:{pattern.pattern})$", pattern.flags))
               for tag, pattern in ((_TAG + "int", _WHOLE), (_TAG + "float", _DECIMAL),
                                    (_NUMBER_FORM, _NUMBER_FORMS))]
    table = Loader.yaml_implicit_resolvers
    for char in _NUMBER_START:
        table[char] = [(tag, regexp) for tag, regexp in numbers
                       if char != "." or tag != _TAG + "int"] + table.get(char, [])


_number_resolvers()

_FastLoader: type | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _CLoader(yaml.CSafeLoader):
        """libyaml's safe loader with `Loader`'s resolvers (the same table)."""

        yaml_implicit_resolvers = Loader.yaml_implicit_resolvers

    _FastLoader = _CLoader


@record
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
        # One byte more than the limit is enough to know the file is too large; a FIFO or a
        # device is never read (it could block the run, or never end).
        content = read_regular(path, MAX_BYTES)
    except FileNotFoundError:
        raise _error("E301", "cannot read the file: it does not exist", path) from None
    except IsADirectoryError:
        raise _error("E301", "cannot read the file: it is a directory", path) from None
    except NotRegular as exc:
        reason = ("it is a directory" if exc.kind == "a directory"
                  else f"it is {exc.kind}; only regular files are read")
        raise _error("E301", f"cannot read the file: {reason}", path) from None
    except PermissionError:
        raise _error("E301", "cannot read the file: permission denied", path) from None
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise _error("E301", f"cannot read the file: {reason}", path) from None
    return load_yaml(content, STANDARD_INPUT_NAME if path == STANDARD_INPUT else path)


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
    root = _compose_quickly(text, name)
    try:
        if root is _UNSURE:
            _check_stream(text, name, yaml.SafeLoader)
            root = yaml.compose(text, Loader=Loader)
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, name, text) from None
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


#: Where the two parsers are known to differ, or could: tags, directives, anchors and aliases,
#: complex keys, tabs, other line breaks than `\n`, control and format characters, halves of
#: surrogate pairs, and a `#` right after a block scalar's `|` or `>` header (libyaml takes
#: `|#` as a comment, the pure parser refuses it). A text with any of these is read by the
#: pure Python parser only.
_UNCOMMON = re.compile("[!%&*?\t\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufeff"
                       "\ud800-\udfff]|[|>][-+0-9]*#")
#: What `_compose_quickly` returns when libyaml cannot say.
_UNSURE = ScalarNode("", "")


def _compose_quickly(text: str, name: str) -> Node | None:
    """The document composed by libyaml (PyYAML's C parser, several times faster), or
    `_UNSURE` when libyaml is not installed or finds anything wrong.

    Only a plain document (no `_UNCOMMON` character) that both parsers read is taken from
    libyaml, with the same resolvers: on any problem the pure Python parser reads it again,
    and its errors (their wording and positions) are the ones reported.
    `tests/scenarios/test_yaml_libyaml.py` holds the two to the same values and positions.
    """
    if _FastLoader is None or _UNCOMMON.search(text) is not None:
        return _UNSURE
    try:
        _check_stream(text, name, _FastLoader)
        root: Node | None = yaml.compose(text, Loader=_FastLoader)
    except Exception:  # any problem is for the pure parser to word
        return _UNSURE
    return root


def _check_stream(text: str, name: str, loader: type) -> None:
    """Walks the parser's events to refuse several documents and deep nesting.

    This runs before composition because PyYAML composes nodes recursively: a deeply nested
    document would otherwise exhaust the Python stack instead of getting a diagnostic.
    """
    depth = 0
    documents = 0
    for event in yaml.parse(text, Loader=loader):
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


def _syntax_error(exc: MarkedYAMLError, name: str, text: str) -> DiagnosticError:
    # Only a file with a syntax error needs it: `policy eval` of a valid one does not import it.
    from policy_engine.scenarios.yaml_indentation import indentation_problem

    indentation = indentation_problem(text, exc)
    if indentation is not None:
        return DiagnosticError([Diagnostic("E302", indentation.message, file=name,
                                           line=indentation.line, column=indentation.column,
                                           help=indentation.help)])
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
            text = self.text(str(node.value), path, position)
            if node.tag in (_TAG + "str", _TAG + "value"):
                return text
            if node.tag == _NUMBER_FORM:
                raise self.error(
                    "E302",
                    f"keys must be text; {_quote(text)} reads as a number here",
                    path,
                    position,
                    help=f"put the key in quotes: {_quote(text)}:",
                )
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
                    f"keys must be text; {_quote(text)} reads as {kind} here",
                    path,
                    position,
                    help=f"put the key in quotes: {_quote(text)}:",
                )
            raise self.unsupported_tag(node.tag, path, position)
        raise self.error(
            "E302",
            "keys must be text, not a list or a mapping",
            path,
            position,
        )

    def text(self, value: str, path: JsonPath, position: tuple[int, int]) -> str:
        """Text as it is, except that an escaped UTF-16 surrogate pair (`"\\ud83d\\ude00"`, as
        JSON writes characters beyond U+FFFF) becomes its character; half a pair is refused."""
        if _SURROGATE.search(value) is None:
            return value
        joined = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        lone = _SURROGATE.search(joined)
        if lone is None:
            return joined
        raise self.error(
            "E302",
            f"the text holds U+{ord(lone.group()):04X}, half of a UTF-16 surrogate pair, "
            "which is not a character",
            path,
            position,
            help="write the character itself, or both halves of its pair of \\u escapes",
        )

    def scalar(self, node: ScalarNode, path: JsonPath, position: tuple[int, int]) -> object:
        tag = node.tag
        # Whatever its tag, as messages may quote it.
        value = self.text(str(node.value), path, position)
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
        if tag in (_TAG + "int", _TAG + "float", _NUMBER_FORM):
            return self.number(tag, value, path, position)
        raise self.unsupported_tag(tag, path, position)

    def number(self, tag: str, value: str, path: JsonPath, position: tuple[int, int]) -> object:
        """A whole number (`!!int`) or a decimal (`!!float`), plain or tagged, by this module's
        rules: decimal digits, no exponent, at most MAX_DIGITS digits."""
        whole = tag == _TAG + "int"
        if (_WHOLE if whole else _DECIMAL_OR_WHOLE).fullmatch(value):
            digits = sum(char.isdigit() for char in value)
            if digits > MAX_DIGITS:
                raise self.error(
                    "E302",
                    f"the number has {digits:,} digits, more than the {MAX_DIGITS:,} the "
                    "engine holds",
                    path,
                    position,
                    help=f"whole numbers and amounts have at most {MAX_DIGITS:,} digits",
                )
            return int(value) if whole else Decimal(value)
        refused = _number_form(value)
        if refused is not None:
            message, help_text = refused
            raise self.error("E302", message, path, position, help=help_text)
        kind = "whole number" if whole else "number"
        raise self.error("E302", f"invalid {kind} {_quote(value)}", path, position)

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


def _number_form(text: str) -> tuple[str, str] | None:
    """Why a value YAML reads as a number is refused, with a help line; None if it is not one
    of the refused forms (`_NUMBER_FORMS`)."""
    if not _NUMBER_FORMS.fullmatch(text):
        return None
    shown = _quote(text)
    quoted = f"or put {shown} in quotes if it is text"
    unsigned = text.lstrip("+-")
    if unsigned.startswith("."):
        if unsigned[1:].isalpha():
            return (f"{shown} is not a finite number",
                    f"whole numbers and amounts are finite; put {shown} in quotes if it is text")
    base = {"0x": (16, "a hexadecimal"), "0o": (8, "an octal"), "0b": (2, "a binary")}.get(
        unsigned[:2])
    if base is not None:
        radix, name = base
        digits = unsigned[2:].replace("_", "")
        # Read the value only when it is short: the help line should not be a wall of digits.
        value = int(digits, radix) if digits and len(digits) <= 24 else None
        sign = "-" if text.startswith("-") else ""
        write = f"write {sign}{value}, " if value is not None else "write the number in decimal, "
        return (f"{shown} is {name} number; scenario files write numbers in decimal",
                f"{write}{quoted}")
    written = text.replace("_", "")
    if "e" in text.lower():
        number = Decimal(written)
        exponent = number.as_tuple().exponent
        short = isinstance(exponent, int) and abs(exponent) <= 24 and len(written) <= 40
        write = f"write {format(number, 'f')}, " if short else "write the number out in full, "
        return (f"{shown} is written with an exponent, which scenario files do not read",
                f"{write}{quoted}")
    return (f"{shown} has '_' between its digits, which scenario files do not read",
            f"write {_quote(written)[1:-1]}, {quoted}")


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
