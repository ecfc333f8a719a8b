"""The hand-written parser (engine/fastparse.py) against the reference, Lark and lowering.

Whatever text it is given, the fast parser must either build exactly the nodes the reference
builds, spans included (node equality ignores spans, so they are compared here field by
field), or leave the text to the reference. It may never accept text the reference refuses.
The texts are every policy in the repository, generated policies, and random mutations of the
small ones: tokens deleted, repeated, swapped, or replaced by keywords and punctuation.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generate import generate_policy
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.source import Source
from policy_engine.language.grammar import KEYWORDS
from policy_engine.language.parser import fast_parse, parse_policy
from policy_engine.language.reference_parser import parse_policy as reference_parse
from policy_engine.policy import Policy
from tests.helpers.examples import examples

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = sorted(path for folder in ("policies", "tests", "benchmarks", "docs")
                    for path in (ROOT / folder).glob("**/*.policy"))
#: Small valid policies, the seeds of the mutations.
SEEDS = [path.read_text(encoding="utf-8") for path in REPOSITORY
         if path.stat().st_size < 4000 and "parse_error" not in path.parts]


def difference(fast: Any, reference: Any, path: str = "$") -> str | None:
    """Where two node trees differ, spans included, or None when they are the same."""
    if type(fast) is not type(reference):
        return f"{path}: {type(fast).__name__} instead of {type(reference).__name__}"
    if dataclasses.is_dataclass(fast):
        for field in dataclasses.fields(fast):
            found = difference(getattr(fast, field.name), getattr(reference, field.name),
                               f"{path}.{field.name}")
            if found:
                return found
        return None
    if isinstance(fast, tuple):
        if len(fast) != len(reference):
            return f"{path}: {len(fast)} items instead of {len(reference)}"
        for index, (a, b) in enumerate(zip(fast, reference, strict=True)):
            found = difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if fast == reference else f"{path}: {fast!r} instead of {reference!r}"


def reference_or_error(text: str) -> Any:
    try:
        return reference_parse(Source("t.policy", text))
    except DiagnosticError as error:
        return error
    except RecursionError:
        return RecursionError


def assert_agrees(text: str) -> bool:
    """Holds the fast parser to the reference on `text`; True when the fast parser read it."""
    fast = fast_parse(text)
    if fast is None:
        return False
    expected = reference_or_error(text)
    assert not isinstance(expected, (DiagnosticError, type)), \
        f"the fast parser accepted text the reference refuses: {expected}\n{text}"
    assert difference(fast, expected) is None, difference(fast, expected)
    return True


@pytest.mark.parametrize("path", REPOSITORY, ids=[str(p.relative_to(ROOT)) for p in REPOSITORY])
def test_every_policy_in_the_repository_parses_the_same(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    read = assert_agrees(text)
    if "parse_error" not in path.parts and path.parent.name != "check_error":
        # Valid policies must take the fast path, or large policies lose its speed.
        assert read or isinstance(reference_or_error(text), DiagnosticError), path


@pytest.mark.parametrize("rules", [1, 10, 100])
def test_generated_policies_parse_the_same_on_the_fast_path(rules: int) -> None:
    assert assert_agrees(generate_policy(rules))


#: Texts at the edges of how Lark reads words and numbers. Each is (text after the header,
#: whether the fast parser reads it itself).
EDGES = [
    # a keyword is a name wherever the grammar does not allow the keyword
    ("fact amount: amount\ndecision d\nrule r when amount > 5 then d because \"x\"", True),
    ("fact date: date\ndecision d\nrule r when date > 2024-01-01 then d because \"x\"", True),
    ("fact then: yes/no\ndecision d\nrule r when then then d because \"x\"", True),
    ("fact f: yes/no\ndecision when\nrule r when f then when because \"x\"", True),
    ("fact yes: yes/no\ndecision d\nrule r when yes then d because \"x\"", True),
    ("fact f: one of yes, no\ndecision d\nrule r when f is no then d because \"x\"", True),
    # where both could stand, the fast parser leaves the word to Lark
    ("fact f: yes/no\ndecision d\nrule r when f and if then d because \"x\"", False),
    ("fact f: whole number\ndecision d\nrule r when f == not then d because \"x\"", False),
    ("fact k: one of a, end\ntable t by k: whole number\n  end = 1\nend\ndecision d\n"
     "otherwise d", False),
    # yes/no is one terminal, without spaces
    ("fact f: yes / no\ndecision d\notherwise d", False),
    ("fact f: yes/nox\ndecision d\notherwise d", False),
    # a date where a number is expected, a number glued to a word, a bad escape
    ("fact f: whole number from 2024-01-01 to 5\ndecision d\notherwise d", False),
    ("fact f: whole number\ndecision d\nrule r when f > 5days then d because \"x\"", False),
    ("decision d\notherwise d because \"a \\q b\"", False),
    ("decision d\notherwise d because \"a \\\" b \\\\ c\"", True),
    # durations, units, and a fractional duration (E005, worded by lowering)
    ("fact s: date\ndecision d\nrule r when s + 2 weeks > s + 1 day then d because \"x\"", True),
    ("fact s: date\ndecision d\nrule r when s + 1.5 weeks > s then d because \"x\"", False),
    # parentheses: the node keeps its span, the node around it counts them
    ("fact a: yes/no\nfact b: yes/no\ndecision d\n"
     "rule r when not (a and (b)) or ((a)) then d because \"x\"", True),
    ("fact a: whole number\ndecision d\nrule r when -(a) * (2 - -a) / 3 >= 1 then d "
     "because \"x\"", True),
    # everything else the language has
    ("as of today\nfact today: date\nfact k: one of a, b, c\nfact l: list of one of x, y\n"
     "fact o \"optional\": optional amount at least 0 and at most 10 default 1.5\n"
     "output o2: list of text\noutput n: whole number at most 3\n"
     "table t \"a table\" by k: amount from -1 to 2.5\n"
     "  a, b = 1 effective from 2024-01-01 until 2025-01-01\n  default = 2\nend\n"
     "define twice \"twice\" = t for k * 2\n"
     "require k, l when k is a else MISSING because \"need\"\n"
     "ensure o between 0 and 10 when o is present else BAD because \"range\"\n"
     "resolve unique\ndecision d \"d\"\n"
     "rule r \"r\" overrides q effective until 2030-01-01 when l contains x "
     "and k in [a, b] and k not in [c] and o is not missing and l != [] "
     "and working days from today to 2024-02-01 excluding [2024-01-05] calendar \"DE\" > 3 "
     "and round(o, 2) == 1 and (if k is a then 1 else 2) < 3 and k is not b "
     "then d with o2 = [\"a\", \"b\"], n = 1 because \"r\" source \"s 1\"\n"
     "rule q when yes or true or no or false or o is missing then d because \"q\"\n"
     "advise v \"v\" effective from 2024-01-01 when k is a then add \"x\", \"y\" to o2 "
     "because \"v\" source \"s\"\n"
     "otherwise refuse else NOT_COVERED because \"none\" source \"s 2\"", True),
    ("decision d\nresolve first match\notherwise d with x = 1 because \"b\" source \"c\"", True),
    # the engine's range: durations up to 999,999,999 days, numbers of up to 4,300 digits
    # (beyond, E005 worded by lowering)
    ("fact s: date\ndecision d\nrule r when s + 999999999 days > s then d because \"x\"", True),
    ("fact s: date\ndecision d\nrule r when s + 1000000000 days > s then d because \"x\"",
     False),
    ("fact s: date\ndecision d\nrule r when s - 142857142 weeks < s then d because \"x\"", True),
    ("fact s: date\ndecision d\nrule r when s - 142857143 weeks < s then d because \"x\"",
     False),
    ("fact s: date\ndecision d\nrule r when s + " + "9" * 4300 + " days > s then d because "
     "\"x\"", False),
    ("fact n: whole number\ndecision d\nrule r when n > " + "9" * 4300 + " then d because \"x\"",
     True),
    ("fact n: whole number\ndecision d\nrule r when n > -" + "9" * 4301 + " then d because "
     "\"x\"", False),
    ("fact n: whole number at least -" + "9" * 4300 + "\ndecision d\notherwise d", True),
    ("fact n: whole number at most " + "9" * 4301 + "\ndecision d\notherwise d", False),
    ("fact a: amount\ndecision d\nrule r when a > 0." + "0" * 4298 + "1 then d because \"x\"",
     True),
    ("fact a: amount\ndecision d\nrule r when a > 0." + "0" * 4299 + "1 then d because \"x\"",
     False),
]


@pytest.mark.parametrize("body, fast", EDGES, ids=[str(i) for i in range(len(EDGES))])
def test_edges_of_the_language(body: str, fast: bool) -> None:
    text = "policy p \"title\" version \"1\"\n# a comment\n" + body + "\n"
    assert assert_agrees(text) is fast


def test_deep_nesting_is_left_to_the_reference() -> None:
    head = "policy p\nfact a: whole number\ndecision d\nrule r when "
    tail = " > 1 then d because \"x\"\n"
    # 400 parentheses are not a deep tree: the reference reads it.
    parenthesised = head + "(" * 400 + "a" + ")" * 400 + tail
    assert fast_parse(parenthesised) is None
    assert Policy.from_text(parenthesised, "t.policy").checked.rules
    # A sum of 400 terms is a tree 400 levels deep: refused with E006, as before.
    long_sum = head + " + ".join(["a"] * 400) + tail
    assert fast_parse(long_sum) is None
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(long_sum, "t.policy")
    assert caught.value.diagnostics[0].code == "E006"


#: Comments where the header's name should be, and at the very end of the text: (text, whether
#: the fast parser reads it).
COMMENTS = [
    ("policy # TODO: write the rules", False),  # no name: E003
    ("policy # TODO: write the rules\n", False),
    ("policy #p", False),
    ("policy\n# the name comes next\nname\ndecision d\notherwise d", True),
    ("policy p # a comment after the name\ndecision d\notherwise d", True),
    ("policy p\ndecision d\notherwise d # a comment, and no line break at the end", True),
    ("policy p\ndecision d\notherwise d\n# a last line\n\n  ", True),
    ("policy p\ndecision d\notherwise d\n#", True),
]


@pytest.mark.parametrize(("text", "fast"), COMMENTS, ids=[str(i) for i in range(len(COMMENTS))])
def test_comments_never_give_names(text: str, fast: bool) -> None:
    assert assert_agrees(text) is fast
    if not fast:
        expected = reference_or_error(text)
        assert isinstance(expected, DiagnosticError)
        assert [d.code for d in expected.diagnostics] == ["E003"]


@pytest.mark.parametrize("body", [
    "rule r when s + 9999999999 days > s then d because \"x\"",
    "rule r when s - 142857143 weeks < s then d because \"x\"",
    "rule r when n > " + "1" * 4301 + " then d because \"x\"",
    "rule r when s + " + "1" * 5000 + " days > s then d because \"x\"",
    "otherwise d with a = 0." + "5" * 4300,
])
def test_out_of_range_literals_are_refused_alike(body: str) -> None:
    text = "policy p\nfact s: date\nfact n: whole number\noutput a: amount\ndecision d\n" + body
    assert fast_parse(text) is None
    with pytest.raises(DiagnosticError) as fast:
        parse_policy(Source("t.policy", text))
    with pytest.raises(DiagnosticError) as reference:
        reference_parse(Source("t.policy", text))
    assert [d.render() for d in fast.value.diagnostics] == \
        [d.render() for d in reference.value.diagnostics]
    assert [d.code for d in fast.value.diagnostics] == ["E005"]
    with pytest.raises(DiagnosticError) as checked:
        Policy.from_text(text, "t.policy")  # refused at check time, before any evaluation
    assert [d.code for d in checked.value.diagnostics] == ["E005"]


def test_syntax_errors_come_from_the_reference() -> None:
    text = "policy p\ndecision d\nrule r when then d because \"x\"\n"
    with pytest.raises(DiagnosticError) as fast:
        parse_policy(Source("t.policy", text))
    with pytest.raises(DiagnosticError) as reference:
        reference_parse(Source("t.policy", text))
    assert [d.render() for d in fast.value.diagnostics] == \
        [d.render() for d in reference.value.diagnostics]


# ---------------------------------------------------------------- random mutations

_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9.]+|\w+|[^\s\w]|\s+')
_REPLACEMENTS = sorted(KEYWORDS) + ["(", ")", "[", "]", ",", "=", "==", "<", "-", "/", "*",
                                   "yes/no", "2024-01-01", "1.5", "7", '"t"', "x", "#", "\n"]


@st.composite
def mutated(draw: st.DrawFn) -> str:
    tokens = _TOKEN.findall(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, len(tokens) - 1))
        how = draw(st.sampled_from(["delete", "repeat", "swap", "replace", "insert"]))
        if how == "delete":
            del tokens[index]
        elif how == "repeat":
            tokens.insert(index, tokens[index])
        elif how == "swap" and index + 1 < len(tokens):
            tokens[index], tokens[index + 1] = tokens[index + 1], tokens[index]
        elif how == "replace":
            tokens[index] = draw(st.sampled_from(_REPLACEMENTS))
        else:
            tokens.insert(index, " " + draw(st.sampled_from(_REPLACEMENTS)) + " ")
    return "".join(tokens)


@settings(max_examples=examples(600), deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated())
def test_mutated_policies_parse_the_same_or_fall_back(text: str) -> None:
    assert_agrees(text)
