"""Tests for the parser and lowering: syntax diagnostics, the mistake catalogue and node spans.

Cases are data: tests/cases/parse_ok/*.policy must parse and check; each
tests/cases/parse_error/<name>.policy fails with exactly the diagnostics in <name>.expected.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.source import Source, Span
from policy_engine.language import nodes as n
from policy_engine.language.reference_parser import _CHARACTER_HELP, parse_policy
from policy_engine.language.syntax_hints import MISTAKES
from policy_engine.policy import Policy
from tests.helpers.cases import (
    assert_expected,
    case_files,
    case_ids,
    errors_of,
    orphans,
    read_case,
)
from tests.helpers.examples import examples

ROOT = Path(__file__).resolve().parents[2]
PARSE_OK = case_files("parse_ok")
PARSE_ERROR = case_files("parse_error")
SHIPPED = sorted((ROOT / "policies").glob("**/*.policy"))
ALL_GOOD = PARSE_OK + SHIPPED
GOOD_IDS = case_ids(PARSE_OK) + [str(p.relative_to(ROOT)) for p in SHIPPED]

HEAD = "policy refunds\nfact price: whole number\nfact kind: one of goods, service\n" \
       "decision approve\ndecision deny\n"


def syntax_error(text: str, name: str = "t.policy") -> DiagnosticError:
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(text, name)
    return caught.value


def tree_of(text: str) -> n.PolicyFile:
    return parse_policy(Source("t.policy", text))


# ---------------------------------------------------------------- data-driven cases


@pytest.mark.parametrize("path", PARSE_OK, ids=case_ids(PARSE_OK))
def test_parse_ok_case_parses_and_checks(path: Path) -> None:
    policy = Policy.from_text(read_case(path), path.name)
    assert policy.checked.name


@pytest.mark.parametrize("path", PARSE_ERROR, ids=case_ids(PARSE_ERROR))
def test_parse_error_case(path: Path) -> None:
    diagnostics = errors_of(path)
    assert_expected(path, diagnostics)


@pytest.mark.parametrize("path", PARSE_ERROR, ids=case_ids(PARSE_ERROR))
def test_parse_error_cases_stop_at_one_syntax_diagnostic(path: Path) -> None:
    # LALR stops at the first syntax error; the literal errors (E004 escapes, E005 dates) are
    # the only E0xx codes, and checker codes have no business in this folder.
    diagnostics = errors_of(path)
    assert len(diagnostics) == 1
    assert re.fullmatch(r"E00\d", diagnostics[0].code)


def test_case_folders_have_no_orphaned_expectations() -> None:
    assert orphans("parse_error") == []
    assert len(PARSE_OK) >= 3 and len(PARSE_ERROR) >= 20


def test_every_syntax_code_has_a_case() -> None:
    codes = {d.code for path in PARSE_ERROR for d in errors_of(path)}
    assert codes == {"E001", "E002", "E003", "E004", "E005"}


def test_every_catalogued_mistake_has_its_own_case() -> None:
    # The catalogue's own examples are checked below; the cases show each help line firing on
    # a differently written policy, so a hint that only matches its example is caught.
    helps = {d.help for path in PARSE_ERROR for d in errors_of(path)}
    missing = [label for label in MISTAKES if label not in helps]
    assert missing == []


# ---------------------------------------------------------------- the mistake catalogue


CATALOGUE = [(label, example) for label, examples in MISTAKES.items() for example in examples]


@pytest.mark.parametrize(
    ("label", "example"), CATALOGUE,
    ids=[f"{label[:30]}-{i}" for i, (label, _) in enumerate(CATALOGUE)],
)
def test_catalogue_example_gets_its_help_line(label: str, example: str) -> None:
    error = syntax_error(example)
    assert len(error.diagnostics) == 1
    assert error.diagnostics[0].help == label


def test_catalogue_is_not_empty_and_every_entry_has_examples() -> None:
    assert len(MISTAKES) >= 7
    assert all(examples for examples in MISTAKES.values())


# ---------------------------------------------------------------- misspelled keywords


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        ("polcy p", "policy"),
        (HEAD + 'rul r when price > 1 then approve because "r"', "rule"),
        (HEAD + 'fakt note: text', "fact"),
        (HEAD + 'decison other', "decision"),
        (HEAD + 'otput total: amount', "output"),
        (HEAD + 'rule r wehn price > 1 then approve because "r"', "when"),
        (HEAD + 'rule r when price > 1 than approve because "r"', "then"),
        (HEAD + 'rule r when price > 1 then approve becase "r"', "because"),
        (HEAD + 'rule r when price > 1 then approve because "r" soruce "s"', "source"),
        (HEAD + 'fact note: optionl text', "optional"),
        (HEAD + 'fact size: whole number defalt 3', "default"),
        (HEAD + 'rule r when price > 1 then approve because "r"\notherwize deny', "otherwise"),
        (HEAD + 'rule r when price > 1 then approve because "r"\nresolv unique', "resolve"),
    ],
    ids=lambda value: value if " " not in value else None,
)
def test_misspelled_keyword_gets_did_you_mean(text: str, keyword: str) -> None:
    error = syntax_error(text)
    assert [d.code for d in error.diagnostics] == ["E001"]
    assert error.diagnostics[0].help == f"did you mean '{keyword}'?"


def test_unrelated_word_gets_no_did_you_mean() -> None:
    error = syntax_error(HEAD + 'rule r when price > 1 then approve zebra "r"')
    help_text = error.diagnostics[0].help or ""
    assert "did you mean" not in help_text


# ---------------------------------------------------------------- literals and positions


def test_unclosed_text_underlines_to_the_end_of_its_line() -> None:
    text = HEAD + 'fact note "What the buyer wrote: text\ndecision other\n'
    diagnostic = syntax_error(text).diagnostics[0]
    assert diagnostic.code == "E004"
    assert diagnostic.span is not None
    assert text[diagnostic.span.start : diagnostic.span.end] == '"What the buyer wrote: text'


@pytest.mark.parametrize("escape", ["\\q", "\\u", "\\'", "\\0", "\\ "])
def test_unknown_escape_points_at_the_escape(escape: str) -> None:
    text = HEAD + f'rule r when price > 1 then approve because "a {escape} b"'
    diagnostic = syntax_error(text).diagnostics[0]
    assert diagnostic.code == "E004"
    assert diagnostic.span is not None
    assert text[diagnostic.span.start : diagnostic.span.end] == escape
    assert diagnostic.message == f"unknown escape '{escape}' in a quoted text"


def test_known_escapes_decode() -> None:
    tree = tree_of(HEAD + 'rule r when price > 1 then approve because "q\\" b\\\\ n\\n t\\t"')
    rule = tree.items[-1]
    assert isinstance(rule, n.Rule)
    assert rule.reason.value == 'q" b\\ n\n t\t'


@pytest.mark.parametrize("literal", ["2023-02-29", "2024-13-01", "2024-00-10", "2024-04-31"])
def test_invalid_date_literal(literal: str) -> None:
    text = HEAD + f"fact day: date\nrule r when day > {literal} then approve because \"r\""
    diagnostic = syntax_error(text).diagnostics[0]
    assert diagnostic.code == "E005"
    assert diagnostic.message == f"'{literal}' is not a real date"
    assert diagnostic.span is not None
    assert text[diagnostic.span.start : diagnostic.span.end] == literal


@pytest.mark.parametrize(("literal", "shown", "message", "help"), [
    ("9999999999 days", "9999999999 days", "a duration is at most 999,999,999 days",
     "durations this long are out of the engine's range; check the number"),
    ("142857143 weeks", "142857143 weeks", "a duration is at most 999,999,999 days",
     "durations this long are out of the engine's range; check the number"),
    ("1" * 4301, "1" * 4301, "the number has 4,301 digits, more than the 4,300 the engine holds",
     "whole numbers and amounts have at most 4,300 digits; check the number"),
    ("3." + "3" * 5000 + " days", "3." + "3" * 5000,
     "the number has 5,001 digits, more than the 4,300 the engine holds",
     "whole numbers and amounts have at most 4,300 digits; check the number"),
])
def test_literals_out_of_the_engines_range(literal: str, shown: str, message: str,
                                           help: str) -> None:
    text = HEAD + f"fact day: date\nrule r when day + {literal} > day then approve because \"r\""
    if not literal.endswith(("days", "weeks")):
        text = HEAD + f"rule r when price > {literal} then approve because \"r\""
    diagnostic = syntax_error(text).diagnostics[0]
    assert (diagnostic.code, diagnostic.message, diagnostic.help) == ("E005", message, help)
    assert diagnostic.span is not None
    assert text[diagnostic.span.start : diagnostic.span.end] == shown


def test_the_longest_duration_and_number_are_allowed() -> None:
    policy = Policy.from_text(
        HEAD + f"fact day: date\nrule r when day - 999999999 days < day and price < {'9' * 4300} "
               "then approve because \"r\"", "t.policy")
    assert policy.checked.rules[0].id == "r"


def test_leap_day_is_a_real_date() -> None:
    policy = Policy.from_text(
        HEAD + 'fact day: date\nrule r when day > 2024-02-29 and price > 0 and kind is goods '
               'then approve because "r"\notherwise deny', "t.policy")
    assert policy.checked.rules[0].id == "r"


@pytest.mark.parametrize(
    "text",
    ["", "   \n\n", "# nothing but a comment\n", "policy", "policy p fact", HEAD + "rule r when"],
)
def test_end_of_file_is_e003_with_a_caret_inside_the_text(text: str) -> None:
    diagnostic = syntax_error(text).diagnostics[0]
    assert diagnostic.code == "E003"
    assert diagnostic.message == "the file ends in the middle of a declaration"
    assert diagnostic.span is not None
    assert 0 <= diagnostic.span.start <= diagnostic.span.end <= max(len(text), 1)
    assert diagnostic.help and diagnostic.help.startswith("expected ")


@pytest.mark.parametrize("char", ["@", "$", ";", "&", "%", "?", "{", "é", "'"])
def test_unexpected_character_names_the_character(char: str) -> None:
    text = HEAD + f'rule r when price > 1 {char} then approve because "r"'
    diagnostic = syntax_error(text).diagnostics[0]
    assert diagnostic.code == "E002"
    assert diagnostic.message == f"unexpected character {char!r}"
    assert diagnostic.location() == ("t.policy", 6, 23)


CHARACTER_HELP = [(char, help) for char, help in _CHARACTER_HELP.items() if help]


@pytest.mark.parametrize(("char", "help_text"), CHARACTER_HELP,
                         ids=[f"U+{ord(c):04X}" for c, _ in CHARACTER_HELP])
def test_habitual_character_gets_its_help(char: str, help_text: str) -> None:
    diagnostic = syntax_error(HEAD + f'rule r when price > 1 {char} 5 then approve because "r"'
                              ).diagnostics[0]
    assert diagnostic.code == "E002"
    assert diagnostic.help == help_text


def test_diagnostic_location_counts_lines_and_columns_from_one() -> None:
    text = "policy p\n\n   fact x whole number\n"
    diagnostic = syntax_error(text).diagnostics[0]
    assert diagnostic.location() == ("t.policy", 3, 11)
    assert diagnostic.render().splitlines()[0] == (
        "error[E001]: t.policy:3:11: unexpected 'whole'")


def test_unclosed_reason_says_to_close_the_text() -> None:
    diagnostic = syntax_error(HEAD + 'rule r when price > 1 then approve because "fine\n'
                              ).diagnostics[0]
    assert diagnostic.code == "E004"
    assert diagnostic.help == 'close the text with a double quote (")'


def test_unclosed_rule_title_says_to_close_the_text() -> None:
    diagnostic = syntax_error(HEAD + 'rule r "Big orders\nwhen price > 1 then approve '
                                     'because "r"').diagnostics[0]
    assert diagnostic.code == "E004"
    assert diagnostic.help == 'close the text with a double quote (")'


# ---------------------------------------------------------------- known problems


@pytest.mark.parametrize(("body", "word", "help"), [
    ('rule r whenprice > 1 then approve because "r"', "whenprice",
     "write 'when price' with a space, if that is what you mean"),
    ("resolve firstmatch", "firstmatch",
     "write 'first match' with a space, if that is what you mean"),
    ("fact size: one off", "off", "did you mean 'of'?"),
    ("fact size: yes/nox", "x", None),
])
def test_a_keyword_glued_to_more_letters_is_a_syntax_error(body: str, word: str,
                                                           help: str | None) -> None:
    # Lark's contextual lexer matches a keyword at the start of a longer word where no name
    # may stand, and the parse used to accept `resolve firstmatch` as `resolve first match`
    # and `one off` as an enumeration with the single value `f`.
    (diagnostic,) = syntax_error(HEAD + body).diagnostics
    assert diagnostic.code == "E001"
    assert diagnostic.message == f"unexpected '{word}'"
    if help is not None:
        assert diagnostic.help == help
    start = diagnostic.span.start
    assert (HEAD + body)[start:diagnostic.span.end] == word


@pytest.mark.parametrize(
    ("condition", "keyword"),
    [("price > 1 annd kind is goods", "and"), ("price betwen 1 and 5", "between"),
     ("price > 1 orr kind is goods", "or"), ("kind iss goods", "is")],
)
def test_misspelled_operator_gets_did_you_mean(condition: str, keyword: str) -> None:
    error = syntax_error(HEAD + f'rule r when {condition} then approve because "r"')
    assert error.diagnostics[0].help == f"did you mean '{keyword}'?"


# ---------------------------------------------------------------- nodes: equality and spans


def _nodes(node: object, parent: object = None) -> Iterator[tuple[object, object]]:
    if isinstance(node, tuple):
        for item in node:
            yield from _nodes(item, parent)
    elif dataclasses.is_dataclass(node) and not isinstance(node, (Span, type)):
        yield node, parent
        for field in dataclasses.fields(node):
            if field.name != "span":
                yield from _nodes(getattr(node, field.name), node)


_TOKEN = re.compile(r'"(?:[^"\\\n]|\\[^\n])*"|#[^\n]*|\s+|[^\s"#]+')


def relayout(text: str, spaces: list[str]) -> str:
    """Rewrites the whitespace between tokens and drops comments, keeping every token."""
    out: list[str] = [spaces[0]]  # shifts every span, so layouts never share positions
    index = 1
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token.startswith("#") or token.isspace():
            if not out[-1].isspace():
                out.append(spaces[index % len(spaces)])
                index += 1
        else:
            out.append(token)
    return "".join(out)


ONE_LINE = [" "]
SPREAD = ["\n", "\n\n    ", " # a comment between tokens\n\t", "\t \n  "]


@pytest.mark.parametrize("path", ALL_GOOD, ids=GOOD_IDS)
@pytest.mark.parametrize("spaces", [ONE_LINE, SPREAD], ids=["one_line", "spread"])
def test_layout_does_not_change_the_tree(path: Path, spaces: list[str]) -> None:
    text = read_case(path)
    other = relayout(text, spaces)
    assert other != text
    original, moved = tree_of(text), tree_of(other)
    assert moved == original
    assert [node.span for node, _ in _nodes(moved)] != [node.span for node, _ in _nodes(original)]


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(ALL_GOOD),
    spaces=st.lists(st.sampled_from([" ", "\n", "\t", "  \n ", "\r\n", " # c\n"]), min_size=1,
                    max_size=5),
)
def test_any_whitespace_layout_gives_the_same_tree(path: Path, spaces: list[str]) -> None:
    text = read_case(path)
    assert tree_of(relayout(text, spaces)) == tree_of(text)


def test_spans_are_excluded_from_equality_but_content_is_not() -> None:
    assert n.Name("x", Span(0, 1)) == n.Name("x", Span(40, 41))
    base = tree_of(HEAD + 'rule r when price > 1 then approve because "r"')
    assert base != tree_of(HEAD + 'rule r when price >= 1 then approve because "r"')
    assert base != tree_of(HEAD + 'rule r when price > 1 then approve because "s"')
    assert base != tree_of(HEAD + 'rule s when price > 1 then approve because "r"')


def test_precedence_shapes_the_tree() -> None:
    def condition(expr: str) -> object:
        rule = tree_of(HEAD + f'rule r when {expr} then approve because "r"').items[-1]
        assert isinstance(rule, n.Rule)
        return rule.condition

    assert condition("price > 1 or price < 0 and kind is goods") == condition(
        "price > 1 or (price < 0 and kind is goods)")
    assert condition("not price > 1 and kind is goods") == condition(
        "(not price > 1) and kind is goods")
    assert condition("price + 2 * 3 > 1") == condition("price + (2 * 3) > 1")
    assert condition("price - 2 - 3 > 1") == condition("(price - 2) - 3 > 1")
    assert condition("price + 2 * 3 > 1") != condition("(price + 2) * 3 > 1")


@pytest.mark.parametrize("path", ALL_GOOD, ids=GOOD_IDS)
def test_every_span_lies_inside_the_source_and_its_parent(path: Path) -> None:
    text = read_case(path)
    tree = tree_of(text)
    count = 0
    for node, parent in _nodes(tree):
        span = getattr(node, "span", None)
        assert isinstance(span, Span), node
        assert 0 <= span.start < span.end <= len(text), (node, span)
        if isinstance(node, n.Name):
            assert text[span.start : span.end] == node.name
        parent_span = getattr(parent, "span", None)
        if parent_span is not None:
            assert parent_span.start <= span.start and span.end <= parent_span.end, (node, parent)
        count += 1
    assert count >= 3


@pytest.mark.parametrize("path", ALL_GOOD, ids=GOOD_IDS)
def test_checked_conjunct_spans_lie_inside_the_source(path: Path) -> None:
    text = read_case(path)
    checked = Policy.from_text(text, path.name).checked
    for rule in checked.rules:
        for conjunct in rule.conjuncts:
            assert 0 <= conjunct.span.start < conjunct.span.end <= len(text)
            assert " ".join(text[conjunct.span.start : conjunct.span.end].split()) == \
                conjunct.text


# ---------------------------------------------------------------- robustness


def _mutations() -> st.SearchStrategy[str]:
    pieces = st.sampled_from(
        ["", " ", "\n", '"', "\\", "#", "=", "==", "(", ")", "[", "]", ",", ":", "-", "1.5",
         "2024-02-30", "rule", "when", "then", "because", "and", "not", "is", "missing", "in",
         "between", "one of", "list of", "default", "x", "otherwise", "é", "\t", "yes/no"])

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        text = read_case(draw(st.sampled_from(ALL_GOOD)))
        for _ in range(draw(st.integers(1, 3))):
            start = draw(st.integers(0, len(text)))
            end = min(len(text), start + draw(st.integers(0, 12)))
            text = text[:start] + draw(pieces) + text[end:]
        return text

    return mutated()


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_mutations())
def test_broken_text_only_ever_raises_diagnostics(text: str) -> None:
    try:
        Policy.from_text(text, "t.policy")
    except DiagnosticError as error:
        assert error.diagnostics
        for diagnostic in error.diagnostics:
            assert diagnostic.span is not None
            assert 0 <= diagnostic.span.start <= diagnostic.span.end <= max(len(text), 1)
            assert diagnostic.render().startswith(("error[", "warning["))


def test_the_grammar_builds_in_strict_mode() -> None:
    """Lark's strict mode rejects terminal collisions and LALR conflicts; the engine builds its
    run-time parser without that (slow) search, so the grammar is held to it here, and the
    run-time parser must give the same trees as a strict one."""
    from lark import Lark

    from policy_engine.language.grammar import PARSER_OPTIONS, grammar_text, lark_parser

    strict = Lark(grammar_text(), strict=True, **PARSER_OPTIONS)  # type: ignore[arg-type]
    for path in sorted(ROOT.glob("policies/**/*.policy")):
        text = path.read_text(encoding="utf-8")
        assert strict.parse(text) == lark_parser().parse(text), path
