"""Quotes: a policy that declares its source document quotes it verbatim, or says it does not.

The files of tests/check/quotes/ are a guide, a policy that quotes it (with curly quotes, a
dash, an ellipsis, a quotation in a `source` and a `(judgment)`), and the same policy with a
misquote; docs/language.md shows `policy check` on the misquoted one.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.check.quotes import closest_passage, normalise
from policy_engine.cli import cli
from policy_engine.core.diagnostics import DiagnosticError, render_all
from policy_engine.core.source import Source
from policy_engine.language.formatter import format_policy
from policy_engine.language.parser import fast_parse
from policy_engine.language.reference_parser import parse_policy as reference_parse
from policy_engine.policy import Policy
from tests.helpers.examples import examples

ROOT = Path(__file__).resolve().parents[2]
QUOTES = ROOT / "tests" / "check" / "quotes"
ALIEXPRESS = ROOT / "policies" / "aliexpress" / "refund.policy"

#: What `policy check tests/check/quotes/misquoted.policy` reports (the run of docs/language.md).
MISQUOTED = QUOTES / "misquoted.expected"


def _errors(path: Path) -> str:
    with pytest.raises(DiagnosticError) as caught:
        Policy.load(str(path), cache=False)
    return render_all(caught.value.diagnostics)


def _folder(tmp_path: Path, guide: str, policy: str) -> Path:
    (tmp_path / "guide.txt").write_text(guide, encoding="utf-8")
    path = tmp_path / "p.policy"
    path.write_text(policy, encoding="utf-8")
    return path


def _policy(*reasons: str, document: str = "guide.txt", citation: str = "") -> str:
    """A policy with one rule per reason (each written as it stands in the policy)."""
    rules = "".join(f"rule r{index} when x > {index} then d because {reason}{citation}\n"
                    for index, reason in enumerate(reasons))
    return (f'policy p\nsource document "{document}"\nfact x: whole number\ndecision d\n'
            f'{rules}otherwise refuse because "none" (judgment)\n')


# ---------------------------------------------------------------- the AliExpress policy


def test_every_quote_of_the_aliexpress_policy_is_in_its_guide() -> None:
    policy = Policy.load(str(ALIEXPRESS), cache=False)  # raises E119 for any misquote
    document = policy.checked.document
    assert document is not None and document.path == "source/guide.txt"
    reasons = [q for q in document.quotes if q.where.startswith("the reason")]
    quoted_rules = [r for r in (*policy.checked.rules, *policy.checked.advisories)
                    if r.reason is not None and any(q.text == r.reason for q in reasons)]
    # every rule and advisory quotes the guide, but the six marked (judgment)
    assert len(quoted_rules) == len(policy.checked.rules) + len(policy.checked.advisories) - 5
    assert len([q for q in document.quotes if q.where.startswith("a quotation")]) == 5


def test_a_misquote_in_the_aliexpress_policy_is_reported(tmp_path: Path) -> None:
    shutil.copytree(ALIEXPRESS.parent / "source", tmp_path / "source")
    text = ALIEXPRESS.read_text(encoding="utf-8")
    path = tmp_path / "refund.policy"
    path.write_text(text.replace("which is 45 days from", "which is 60 days from"),
                    encoding="utf-8")
    shown = _errors(path)
    assert "the reason of rule 'R16_window_expired' is not in the source document" in shown
    assert "which is 45 days from the moment of sending the goods" in shown


# ---------------------------------------------------------------- the files of this folder


def test_the_quoting_policy_checks() -> None:
    policy = Policy.load(str(QUOTES / "refunds.policy"), cache=False)
    assert policy.checked.document is not None
    assert [q.where for q in policy.checked.document.quotes] == [
        "the reason of rule 'expired'", "the reason of rule 'sent'",
        "a quotation in the source of rule 'sent'"]


def test_a_misquote_is_reported_with_its_line_column_and_the_closest_passage(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    path = "tests/check/quotes/misquoted.policy"
    assert _errors(Path(path)) + "\n" == MISQUOTED.read_text(encoding="utf-8")


def test_policy_check_reports_the_misquote_and_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["--no-cache", "check", "tests/check/quotes/misquoted.policy"])
    assert result.exit_code == 2
    assert "error[E119]: tests/check/quotes/misquoted.policy:17:11: " in result.output
    assert 'help: the closest passage (line 5) is "The main thing' in result.output


# ---------------------------------------------------------------- what matches


@pytest.mark.parametrize("reason", [
    '"the quick money return is impossible"',
    '"the status \\"Sent\\" - in this case"',
    '"the status “Sent” – in this case"',  # curly quotes and an en dash
    "\"the status 'Sent' \u2014 in this case\"",  # single quotes and an em dash
    '"the status   \\"Sent\\"\\n - in   this case"',  # whitespace of any kind and length
    '"First you need to receive the goods ... then you will need to pay yourself."',
    '"First you need […] the goods (...) if the seller agrees"',
])
def test_quotes_that_match(tmp_path: Path, reason: str) -> None:
    guide = ('If your order has the status "Sent" - in this case, the quick money return is '
             "impossible. First you need to receive the goods and send it back to China if "
             "the seller agrees, then you will need to pay yourself.\n")
    Policy.load(str(_folder(tmp_path, guide, _policy(reason))), cache=False)


@pytest.mark.parametrize("reason", [
    '"the quick money return is possible"',  # a word changed
    '"The quick money return is impossible"',  # case matters
    '"then you will need to pay yourself ... First you need"',  # parts out of order
    '"First you need to receive the goods ... the main thing"',  # parts in two paragraphs
    '"..."',  # an ellipsis alone quotes nothing
])
def test_quotes_that_do_not_match(tmp_path: Path, reason: str) -> None:
    guide = ("First you need to receive the goods and send it back to China if the seller "
             "agrees, then you will need to pay yourself.\n"
             "the quick money return is impossible.\n\nthe main thing is the time.\n")
    shown = _errors(_folder(tmp_path, guide, _policy(reason)))
    assert shown.startswith("error[E119]: ") and "the reason of rule 'r0'" in shown


def test_judgment_reasons_are_not_quotes_and_source_quotations_are(tmp_path: Path) -> None:
    guide = "The seller may refuse.\n"
    text = _policy('"our own reading of the guide" (judgment)', '"The seller may refuse."',
                   citation=' source "S9: \\"the seller may refuse\\", S10"')
    shown = _errors(_folder(tmp_path, guide, text))
    assert shown.count("error[E119]") == 2  # the two lower-case quotations in the sources
    assert "a quotation in the source of rule 'r0'" in shown
    assert "p.policy:5:89: a quotation in the source of rule 'r0'" in shown
    assert "the reason of rule 'r0'" not in shown  # (judgment): not a quotation


def test_the_text_around_an_escaped_quote_keeps_its_position(tmp_path: Path) -> None:
    text = _policy('"x"', citation=' source "S1: \\"not \\\\ there\\""')
    (tmp_path / "guide.txt").write_text("x\n", encoding="utf-8")
    path = tmp_path / "p.policy"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DiagnosticError) as caught:
        Policy.load(str(path), cache=False)
    problem, = caught.value.diagnostics
    assert problem.span is not None
    assert text[problem.span.start:problem.span.end] == '\\"not \\\\ there\\"'


def test_normalise_and_closest_passage() -> None:
    assert normalise("  a\u201cb\u201d \n\t c\u2013d\u2019s ") == 'a"b" c-d"s'
    text = ("Title\nOne sentence here. Another one there!\n\n"
            "A second paragraph, wrapped\nover two lines.\n")
    assert closest_passage(text, "another one their") == (2, "Another one there!")
    assert closest_passage(text, "a second paragraph, wrapped over two lines") == (
        4, "A second paragraph, wrapped over two lines.")


# ---------------------------------------------------------------- the document itself


@pytest.mark.parametrize(("document", "problem"), [
    ("missing.txt", "no such file"),
    ("/etc/hostname", "the path must be relative to the policy file"),
    ("../outside.txt", "is outside the repository of the policy"),
    ("folder", "is not a regular file"),
    ("latin1.txt", "not UTF-8 text (byte 1)"),
])
def test_a_document_that_cannot_be_read(tmp_path: Path, document: str, problem: str) -> None:
    inside = tmp_path / "repo"
    (inside / "folder").mkdir(parents=True)
    (inside / ".git").mkdir()  # the repository the policy is in
    (inside / "latin1.txt").write_bytes(b"a\xe9")
    (tmp_path / "outside.txt").write_text("x\n", encoding="utf-8")
    path = inside / "p.policy"
    path.write_text(_policy('"x"', document=document), encoding="utf-8")
    shown = _errors(path)
    assert shown.startswith(f"error[E120]: {path}:2:17: cannot read the source document "
                            f"'{document}': ")
    assert problem in shown.splitlines()[0]


def test_from_text_reads_no_file_unless_given_a_folder(tmp_path: Path) -> None:
    text = _policy('"not in any guide"')
    Policy.from_text(text, "p.policy")  # nothing is read: a text has no folder
    (tmp_path / "guide.txt").write_text("a guide\n", encoding="utf-8")
    with pytest.raises(DiagnosticError) as caught:
        Policy.from_text(text, "p.policy", folder=str(tmp_path))
    assert [d.code for d in caught.value.diagnostics] == ["E119"]


def test_a_cached_policy_is_verified_again_when_its_document_changes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("POLICY_ENGINE_CACHE", "1")
    path = _folder(tmp_path, "the words\n", _policy('"the words"'))
    Policy.load(str(path))
    Policy.load(str(path))  # from the cache
    (tmp_path / "guide.txt").write_text("other words\n", encoding="utf-8")
    with pytest.raises(DiagnosticError) as caught:
        Policy.load(str(path))
    assert [d.code for d in caught.value.diagnostics] == ["E119"]


# ---------------------------------------------------------------- the syntax


SYNTAX = '''policy p "t"
version "1"
source document "guide.txt"
fact x: whole number
decision d
decision e
rule r when x > 1 then d because "a" (judgment) source "S1"
advise a when x > 2 then add "w" to notes because "b" (judgment)
otherwise e because "c" (judgment) source "S2"
output notes: list of text
'''


def test_both_parsers_read_the_declaration_and_the_marker_alike() -> None:
    fast = fast_parse(SYNTAX)
    reference = reference_parse(Source("p.policy", SYNTAX))
    assert fast is not None and fast == reference
    assert fast.header.document is not None and fast.header.document.value == "guide.txt"
    assert fast.header.document.span == reference.header.document.span  # type: ignore[union-attr]
    assert [getattr(item, "judgment", None) for item in fast.items] == [
        None, None, None, True, True, True, None]


def test_the_formatter_keeps_the_declaration_and_the_marker() -> None:
    formatted = format_policy(SYNTAX)
    assert 'version "1"\nsource document "guide.txt"\n' in formatted
    assert formatted.count("(judgment)") == 3
    assert reference_parse(Source("p", formatted)) == reference_parse(Source("p", SYNTAX))
    assert format_policy(formatted) == formatted


def test_a_marker_without_a_document_changes_nothing() -> None:
    policy = Policy.from_text(SYNTAX.replace('source document "guide.txt"\n', ""))
    assert policy.checked.document is None
    assert policy.checked.rules[0].reason == "a"


@given(st.text(alphabet=st.sampled_from(
    list(" \t\n\r\f\v\x1c\x1f\x85\xa0\u2028\u3000ab.\"'`-") + [
        "\u201c", "\u201d", "\u2019", "\u00ab", "\u2032", "\u2013", "\u2014", "\u2212",
        "\u2011", "\u200b", "\ufeff"]), max_size=40))
@settings(max_examples=examples(300))
def test_normalising_is_the_regular_definition(text: str) -> None:
    # `normalise` replaces marks one by one and splits at whitespace (issue 20: cheaper);
    # what it means is this translation and regular expression.
    marks = str.maketrans(dict.fromkeys("\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033'\u2018"
                                        "\u2019\u201a\u201b\u2039\u203a`\u00b4\u2032", '"'))
    dashes = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))
    expected = re.sub(r"\s+", " ", text.translate(marks).translate(dashes)).strip()
    assert normalise(text) == expected
