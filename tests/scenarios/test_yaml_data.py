"""Tests for scenarios.yaml_data: safe YAML loading, positions, limits and its diagnostics."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.scenarios.yaml_data import (
    MAX_BYTES,
    MAX_DEPTH,
    MAX_VALUES,
    Loader,
    load_yaml,
    read_yaml_file,
)
from tests.helpers.examples import examples


def only_error(text: str | bytes) -> Diagnostic:
    with pytest.raises(DiagnosticError) as caught:
        load_yaml(text, "data.yaml")
    assert len(caught.value.diagnostics) == 1
    return caught.value.diagnostics[0]


def billion_laughs(levels: int = 9) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- values and positions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.1", Decimal("0.1")),
        ("10.50", Decimal("10.50")),
        (".5", Decimal("0.5")),
        ("5.", Decimal("5")),
        ("!!float -.5", Decimal("-0.5")),
        ("-.5", Decimal("-0.5")),  # YAML 1.1 (PyYAML) reads a signed '.5' as text
        ("+2.50", Decimal("2.50")),
        ("!!float 5", Decimal("5")),
        ("42", 42),
        ("-7", -7),
        ("+7", 7),
        # Numbers as people read them, where YAML 1.1 reads them otherwise.
        ("046", 46),  # not the octal 38
        ("-046", -46),
        ("007.50", Decimal("7.50")),
        ("!!int 046", 46),
        ("1:30", "1:30"),  # not 90 in base 60
        ("190:20:30.15", "190:20:30.15"),
        ("1e", "1e"),
        ("0x", "0x"),
        ("yes", True),
        ("off", False),
        ("true", True),
        ("~", None),
        ("null", None),
        ("", None),
        ("2024-02-30", "2024-02-30"),
        ("'42'", "42"),
        ("!!str 12", "12"),
        ("plain text", "plain text"),
        ("[1, two]", [1, "two"]),
        ("{a: 1}", {"a": 1}),
    ],
)
def test_scalar_conversion(text: str, expected: object) -> None:
    value = load_yaml(f"x: {text}\n", "data.yaml").data
    assert value == {"x": expected}
    assert isinstance(value, dict) and type(value["x"]) is type(expected)


def test_decimals_are_exact_not_float() -> None:
    data = load_yaml("a: 0.1\nb: 0.2\n", "data.yaml").data
    assert data == {"a": Decimal("0.1"), "b": Decimal("0.2")}
    assert isinstance(data, dict) and data["a"] + data["b"] == Decimal("0.3")


def test_positions_for_every_value() -> None:
    text = "facts:\n  paid: yes\n  problems:\n    - late\n    - {kind: damaged}\n"
    document = load_yaml(text, "s.yaml")
    assert document.positions == {
        (): (1, 1),
        ("facts",): (2, 3),
        ("facts", "paid"): (2, 9),
        ("facts", "problems"): (4, 5),
        ("facts", "problems", 0): (4, 7),
        ("facts", "problems", 1): (5, 7),
        ("facts", "problems", 1, "kind"): (5, 14),
    }


def test_locate_falls_back_to_nearest_ancestor() -> None:
    document = load_yaml("facts:\n  paid: yes\n", "s.yaml")
    assert document.locate(("facts", "paid")) == (2, 9)
    assert document.locate(("facts", "missing", 3)) == (2, 3)
    assert document.locate(("other",)) == (1, 1)


def test_byte_order_mark_is_allowed() -> None:
    document = load_yaml(b"\xef\xbb\xbfpaid: yes\n", "s.yaml")
    assert document.data == {"paid": True}
    assert document.positions[("paid",)] == (1, 7)


def test_top_level_need_not_be_a_mapping() -> None:
    assert load_yaml("- 1\n- 2\n", "s.yaml").data == [1, 2]
    assert load_yaml("null\n", "s.yaml").data is None


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "code", "line", "column", "path", "message"),
    [
        pytest.param(
            "paid: yes\nsent: 2024-01-01\npaid: no\n",
            "E302", 3, 1, "$.paid", "duplicate key 'paid' (first at line 1)",
            id="duplicate-key",
        ),
        pytest.param(
            "facts:\n  a: 1\n  b:\n    c: 1\n    c: 2\n",
            "E302", 5, 5, "$.facts.b.c", "duplicate key 'c' (first at line 4)",
            id="duplicate-nested-key",
        ),
        pytest.param(
            "a: 1\n---\nb: 2\n",
            "E302", 2, 1, None,
            "the file holds more than one YAML document; expected exactly one",
            id="multiple-documents",
        ),
        pytest.param(
            "a: !!binary aGVsbG8=\n", "E302", 1, 4, "$.a", "unsupported YAML tag '!!binary'",
            id="binary-tag",
        ),
        pytest.param(
            "a: !!python/object/apply:os.system [ls]\n",
            "E302", 1, 4, "$.a", "unsupported YAML tag '!!python/object/apply:os.system'",
            id="python-tag",
        ),
        pytest.param(
            "a: !money 12\n", "E302", 1, 4, "$.a", "unsupported YAML tag '!money'",
            id="custom-tag",
        ),
        pytest.param(
            "a: !!set {x, y}\n", "E302", 1, 4, "$.a", "unsupported YAML tag '!!set'",
            id="set-tag",
        ),
        pytest.param(
            "a: .inf\n", "E302", 1, 4, "$.a", "'.inf' is not a finite number", id="infinity"
        ),
        pytest.param(
            "a: [-.Inf]\n", "E302", 1, 5, "$.a[0]", "'-.Inf' is not a finite number",
            id="minus-infinity",
        ),
        pytest.param(
            "a: .nan\n", "E302", 1, 4, "$.a", "'.nan' is not a finite number", id="nan"
        ),
        pytest.param(
            "a: !!float abc\n", "E302", 1, 4, "$.a", "invalid number 'abc'", id="bad-float"
        ),
        pytest.param(
            "a: 1.0e+9999\n", "E302", 1, 4, "$.a",
            "'1.0e+9999' is written with an exponent, which scenario files do not read",
            id="huge-exponent",
        ),
        pytest.param(
            "a: " + "9" * 4301 + "\n", "E302", 1, 4, "$.a",
            "the number has 4,301 digits, more than the 4,300 the engine holds",
            id="too-many-digits",
        ),
        pytest.param(
            "a: -0." + "0" * 4300 + "1\n", "E302", 1, 4, "$.a",
            "the number has 4,302 digits, more than the 4,300 the engine holds",
            id="too-many-decimals",
        ),
        pytest.param(
            'a: "x\\ud800y"\n', "E302", 1, 4, "$.a",
            "the text holds U+D800, half of a UTF-16 surrogate pair, which is not a character",
            id="lone-surrogate",
        ),
        pytest.param(
            'a:\n  - ok\n  - "\\udc00"\n', "E302", 3, 5, "$.a[1]",
            "the text holds U+DC00, half of a UTF-16 surrogate pair, which is not a character",
            id="lone-low-surrogate",
        ),
        pytest.param(
            '"\\ud83d": 1\n', "E302", 1, 1, "$",
            "the text holds U+D83D, half of a UTF-16 surrogate pair, which is not a character",
            id="surrogate-in-key",
        ),
        pytest.param(
            "0x10: one\n", "E302", 1, 1, "$", "keys must be text; '0x10' reads as a number here",
            id="hexadecimal-key",
        ),
        pytest.param(
            'a: !!bool "\\udfff"\n', "E302", 1, 4, "$.a",
            "the text holds U+DFFF, half of a UTF-16 surrogate pair, which is not a character",
            id="surrogate-in-a-tagged-value",
        ),
        pytest.param(
            "a: !!int x\n", "E302", 1, 4, "$.a", "invalid whole number 'x'", id="bad-int"
        ),
        pytest.param(
            "1: one\n", "E302", 1, 1, "$", "keys must be text; '1' reads as a number here",
            id="int-key",
        ),
        pytest.param(
            "facts:\n  yes: 1\n",
            "E302", 2, 3, "$.facts", "keys must be text; 'yes' reads as yes/no here",
            id="bool-key",
        ),
        pytest.param(
            "? [a, b]\n: 1\n", "E302", 1, 3, "$", "keys must be text, not a list or a mapping",
            id="list-key",
        ),
        pytest.param(
            "base: &b {x: 1}\nmore:\n  <<: *b\n",
            "E302", 3, 3, "$.more", "merge keys ('<<') are not supported",
            id="merge-key",
        ),
        pytest.param(
            "a: b: c\n", "E302", 1, 5, None,
            "': ' inside a value starts a mapping, where a value is expected",
            id="scanner-error",
        ),
        pytest.param(
            "a: [1, 2\n", "E302", 2, 1, None, "expected ',' or ']', but got '<stream end>'",
            id="parser-error",
        ),
        pytest.param(
            "a:\n\tb: 1\n", "E302", 2, 1, None,
            "found character '\\t' that cannot start any token",
            id="tab",
        ),
        pytest.param(
            "a: *nowhere\n", "E302", 1, 4, None, "found undefined alias 'nowhere'",
            id="undefined-alias",
        ),
        pytest.param(
            "a: 1\nb: x\x00y\n", "E302", 2, 5, None,
            "the file contains NUL characters: binary data, not YAML",
            id="nul",
        ),
        pytest.param(
            "a: \x07\n", "E302", 1, 4, None,
            "unacceptable character U+0007: special characters are not allowed",
            id="control-character",
        ),
        pytest.param(
            "", "E303", 1, 1, None, "the file is empty; expected a mapping", id="empty"
        ),
        pytest.param(
            "# only a comment\n\n", "E303", 1, 1, None, "the file is empty; expected a mapping",
            id="only-comments",
        ),
        pytest.param(
            "---\n", "E303", 1, 1, None, "the file is empty; expected a mapping",
            id="empty-document",
        ),
        pytest.param(
            # The top-level mapping is the first level, so this list is one level too deep.
            "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n",
            "E307", 1, 3 + MAX_DEPTH, None,
            f"the data is nested deeper than the limit of {MAX_DEPTH} levels",
            id="deep-nesting",
        ),
        pytest.param(
            "a: " + "[" * 50_000 + "]" * 50_000 + "\n",
            "E307", 1, 3 + MAX_DEPTH, None,
            f"the data is nested deeper than the limit of {MAX_DEPTH} levels",
            id="very-deep-nesting",
        ),
        pytest.param(
            "a: &a [*a]\n",
            "E307", 1, 4, "$.a" + "[0]" * (MAX_DEPTH - 1),
            f"the data is nested deeper than the limit of {MAX_DEPTH} levels",
            id="recursive-alias",
        ),
    ],
)
def test_errors(
    text: str, code: str, line: int, column: int, path: str | None, message: str
) -> None:
    diagnostic = only_error(text)
    assert (diagnostic.code, diagnostic.message) == (code, message)
    assert (diagnostic.file, diagnostic.line, diagnostic.column) == ("data.yaml", line, column)
    assert diagnostic.path == path


@pytest.mark.parametrize(
    ("text", "message", "help"),
    [
        ("0x10", "'0x10' is a hexadecimal number; scenario files write numbers in decimal",
         "write 16, or put '0x10' in quotes if it is text"),
        ("-0x1F", "'-0x1F' is a hexadecimal number; scenario files write numbers in decimal",
         "write -31, or put '-0x1F' in quotes if it is text"),
        ("0o17", "'0o17' is an octal number; scenario files write numbers in decimal",
         "write 15, or put '0o17' in quotes if it is text"),
        ("0b101", "'0b101' is a binary number; scenario files write numbers in decimal",
         "write 5, or put '0b101' in quotes if it is text"),
        ("0x" + "f" * 40,
         "'0xfffffffffffffffffffffffffffffffffff...' is a hexadecimal number; scenario files "
         "write numbers in decimal",
         "write the number in decimal, or put '0xfffffffffffffffffffffffffffffffffff...' in "
         "quotes if it is text"),
        ("1_000", "'1_000' has '_' between its digits, which scenario files do not read",
         "write 1000, or put '1_000' in quotes if it is text"),
        ("1_000.5", "'1_000.5' has '_' between its digits, which scenario files do not read",
         "write 1000.5, or put '1_000.5' in quotes if it is text"),
        ("1e3", "'1e3' is written with an exponent, which scenario files do not read",
         "write 1000, or put '1e3' in quotes if it is text"),
        ("-1.5e-3", "'-1.5e-3' is written with an exponent, which scenario files do not read",
         "write -0.0015, or put '-1.5e-3' in quotes if it is text"),
        ("!!float 1e3", "'1e3' is written with an exponent, which scenario files do not read",
         "write 1000, or put '1e3' in quotes if it is text"),
        ("1e999999999",
         "'1e999999999' is written with an exponent, which scenario files do not read",
         "write the number out in full, or put '1e999999999' in quotes if it is text"),
        ("+.inf", "'+.inf' is not a finite number",
         "whole numbers and amounts are finite; put '+.inf' in quotes if it is text"),
        ("!!int 0x10", "'0x10' is a hexadecimal number; scenario files write numbers in decimal",
         "write 16, or put '0x10' in quotes if it is text"),
    ],
)
def test_numbers_read_two_ways_are_refused_with_help(text: str, message: str,
                                                     help: str) -> None:
    # YAML 1.1 and 1.2 read these as numbers, and people may read them as something else.
    diagnostic = only_error(f"a: {text}\n")
    assert (diagnostic.code, diagnostic.message, diagnostic.help) == ("E302", message, help)
    assert (diagnostic.line, diagnostic.column, diagnostic.path) == (1, 4, "$.a")


def test_quoted_numbers_are_text() -> None:
    data = load_yaml("a: '0x10'\nb: \"1e3\"\nc: '046'\nd: '.inf'\n", "data.yaml").data
    assert data == {"a": "0x10", "b": "1e3", "c": "046", "d": ".inf"}


def test_escaped_surrogate_pairs_are_one_character() -> None:
    # JSON (which YAML reads) writes characters beyond U+FFFF as a pair of \u escapes.
    data = load_yaml('a: "\\ud83d\\ude00 ok"\n"\\ud83d\\ude00": 1\n', "data.yaml").data
    assert data == {"a": "\U0001F600 ok", "\U0001F600": 1}


def test_lone_surrogate_is_refused_with_help() -> None:
    diagnostic = only_error('description: "\\ud800"\n')
    assert diagnostic.help == "write the character itself, or both halves of its pair of \\u " \
                              "escapes"
    diagnostic.render().encode("utf-8")  # what is shown can always be printed


def test_duplicate_key_help_and_rendering() -> None:
    diagnostic = only_error("paid: yes\npaid: no\n")
    assert diagnostic.render() == (
        "error[E302]: data.yaml:2:1: $.paid: duplicate key 'paid' (first at line 1)\n"
        "help: a key may appear only once in a mapping; remove one of them"
    )


def test_parser_context_is_a_note() -> None:
    diagnostic = only_error("a: [1, 2\n")
    assert diagnostic.notes == ("while parsing a flow sequence at line 1, column 4",)


def test_tab_has_help() -> None:
    assert only_error("a:\n\tb: 1\n").help == "YAML indents with spaces; replace the tab characters"


def test_key_help_says_to_quote() -> None:
    assert only_error("no: 1\n").help == "put the key in quotes: 'no':"


def test_nesting_up_to_the_limit_is_allowed() -> None:
    text = "a: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    value = load_yaml(text, "data.yaml").data
    assert isinstance(value, dict)
    depth, value = 1, value["a"]
    while isinstance(value, list):
        depth, value = depth + 1, value[0] if value else None
    assert depth == MAX_DEPTH


def test_alias_nesting_counts_towards_depth() -> None:
    inner = "[" * 40 + "]" * 40
    text = f"a: &a {inner}\nb: {'[' * 30}*a{']' * 30}\n"
    diagnostic = only_error(text)
    assert diagnostic.code == "E307"
    assert diagnostic.message == f"the data is nested deeper than the limit of {MAX_DEPTH} levels"
    assert diagnostic.path is not None and diagnostic.path.startswith("$.b[0]")


def test_billion_laughs_is_refused_at_the_value_limit() -> None:
    diagnostic = only_error(billion_laughs())
    assert diagnostic.code == "E307"
    assert diagnostic.message == (
        "the document holds more than 100,000 values once aliases are expanded"
    )
    assert diagnostic.help == (
        "aliases (*name) count every time they are used; use fewer of them"
    )


def _aliased(items: int, copies: int, extra: int) -> str:
    # Values: the root, 'a' and its items, 'b' and each copy of 'a', then 'c' and its items.
    zeros = ", ".join(["0"] * items)
    refs = ", ".join(["*a"] * copies)
    tail = ", ".join(["0"] * extra)
    return f"a: &a [{zeros}]\nb: [{refs}]\nc: [{tail}]\n"


def test_value_limit_is_exact() -> None:
    items, copies = 999, 98
    used = 1 + (1 + items) + 1 + copies * (1 + items) + 1
    at_limit = _aliased(items, copies, MAX_VALUES - used)
    data = load_yaml(at_limit, "data.yaml").data
    assert isinstance(data, dict) and len(data["b"]) == copies
    assert only_error(_aliased(items, copies, MAX_VALUES - used + 1)).code == "E307"


@pytest.mark.parametrize("as_bytes", [False, True], ids=["text", "bytes"])
def test_huge_input_is_refused(as_bytes: bool) -> None:
    text = "a: " + "x" * MAX_BYTES + "\n"
    diagnostic = only_error(text.encode() if as_bytes else text)
    assert diagnostic.code == "E307"
    assert diagnostic.message == "the file is larger than the limit of 1 MiB (1,048,576 bytes)"


def test_size_limit_counts_utf8_bytes() -> None:
    # Fewer characters than the limit, but more bytes.
    text = "a: " + "é" * (MAX_BYTES // 2 + 1) + "\n"
    assert only_error(text).code == "E307"


def test_bad_utf8_is_refused_with_its_position() -> None:
    diagnostic = only_error(b"a: 1\nb: caf\xe9\n")
    assert diagnostic.code == "E301"
    assert diagnostic.message == "not UTF-8 text: invalid byte 0xe9"
    assert (diagnostic.line, diagnostic.column) == (2, 7)
    assert diagnostic.help == "save the file as UTF-8"


# ---------------------------------------------------------------- files


def test_read_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "facts.yaml"
    path.write_text("paid: yes\ntotal: 12.50\n", encoding="utf-8")
    document = read_yaml_file(str(path))
    assert document.name == str(path)
    assert document.data == {"paid": True, "total": Decimal("12.50")}


def test_read_missing_file(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(DiagnosticError) as caught:
        read_yaml_file(path)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.file) == ("E301", path)
    assert diagnostic.message == "cannot read the file: it does not exist"


def test_read_directory(tmp_path: Path) -> None:
    with pytest.raises(DiagnosticError) as caught:
        read_yaml_file(str(tmp_path))
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E301"
    assert diagnostic.message == "cannot read the file: it is a directory"


def test_read_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: café\n".encode("latin-1"))
    with pytest.raises(DiagnosticError) as caught:
        read_yaml_file(str(path))
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.file, diagnostic.line) == ("E301", str(path), 1)


def test_read_huge_file(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"# " + b"x" * (2 * MAX_BYTES) + b"\n")
    with pytest.raises(DiagnosticError) as caught:
        read_yaml_file(str(path))
    assert caught.value.diagnostics[0].code == "E307"


# ---------------------------------------------------------------- properties


_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.decimals(allow_nan=False, allow_infinity=False, places=4).map(lambda d: d.normalize())
    | st.text(max_size=20)
)
_data = st.recursive(
    _scalars,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4),
    max_leaves=20,
)


def _dump(value: object) -> object:
    """Gives Decimals to the YAML dumper as floats' text, so they load back as Decimals."""
    if isinstance(value, Decimal):
        text = format(value, "f")
        return _FloatText(text if "." in text else text + ".0")
    if isinstance(value, list):
        return [_dump(item) for item in value]
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}
    return value


class _FloatText(str):
    pass


class _Dumper(yaml.SafeDumper):
    # Quotes every text the loader would read as something else ("-.5", "0o17", "1e3"), which
    # YAML 1.1's resolvers leave plain.
    yaml_implicit_resolvers = Loader.yaml_implicit_resolvers


_Dumper.add_representer(
    _FloatText, lambda dumper, data: dumper.represent_scalar("tag:yaml.org,2002:float", data)
)


def _paths(value: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@settings(max_examples=examples(150), deadline=None, database=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), _data, min_size=1, max_size=4))
def test_round_trip_and_positions(data: dict[str, object]) -> None:
    # Without allow_unicode the dumper escapes characters such as U+0085, which YAML 1.1
    # would otherwise read as a line break.
    text = yaml.dump(_dump(data), Dumper=_Dumper)
    document = load_yaml(text, "data.yaml")
    assert document.data == data
    assert set(document.positions) == set(_paths(data))


@settings(max_examples=examples(300), deadline=None, database=None)
@given(st.text(max_size=200))
def test_only_diagnostics_escape(text: str) -> None:
    try:
        load_yaml(text, "data.yaml")
    except DiagnosticError as exc:
        assert exc.diagnostics and all(d.code.startswith("E3") for d in exc.diagnostics)


@settings(max_examples=examples(100), deadline=None, database=None)
@given(st.binary(max_size=100))
def test_only_diagnostics_escape_for_bytes(content: bytes) -> None:
    try:
        load_yaml(content, "data.yaml")
    except DiagnosticError as exc:
        assert exc.diagnostics and all(d.code.startswith("E3") for d in exc.diagnostics)


_SCENARIO_TOP = "policy: p.policy\nfacts:\n  paid: yes\n"


@pytest.mark.parametrize(("text", "line", "column", "message", "help"), [
    pytest.param(
        _SCENARIO_TOP + "expect:\n  decision: refund\n   rule: R1\n", 6, 4,
        "'rule' is indented by 3 spaces, more than line 5 above it (2 spaces), so it reads as "
        "more of that line's value",
        "the keys of one mapping start in the same column: indent it like line 5; if it is "
        "meant as part of that value, put the whole value in quotes",
        id="deeper-than-the-line-above",
    ),
    pytest.param(
        _SCENARIO_TOP + "expect:\n    decision: refund\n  rule: R1\n", 6, 3,
        "'rule' is indented by 2 spaces, in line with no mapping above it",
        "the keys of one mapping start in the same column: indent it like line 5 (4 spaces) "
        "to add it to that mapping, or like line 1 (no spaces)",
        id="between-two-mappings",
    ),
    pytest.param(
        _SCENARIO_TOP + " expect:\n  decision: refund\n", 4, 2,
        "'expect' is indented by 1 space, in line with no mapping above it",
        "the keys of one mapping start in the same column: indent it like line 3 (2 spaces) "
        "to add it to that mapping, or like line 1 (no spaces)",
        id="top-level-key-indented",
    ),
])
def test_a_misindented_line_is_worded_by_its_indentation(
    text: str, line: int, column: int, message: str, help: str
) -> None:
    diagnostic = only_error(text)
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("E302", line, column)
    assert (diagnostic.message, diagnostic.help) == (message, help)
    assert "<block" not in diagnostic.render() and diagnostic.notes == ()
