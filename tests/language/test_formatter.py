"""The formatter: one canonical layout, comments kept, idempotent, and the same tree."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_engine.cli import cli
from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.source import Source
from policy_engine.language.formatter import comments_of, format_policy
from policy_engine.language.reference_parser import parse_policy
from tests.helpers.examples import examples

ROOT = Path(__file__).resolve().parents[2]
def _parses(path: Path) -> bool:
    try:
        parse_policy(Source(path.name, path.read_text(encoding="utf-8")))
    except Exception:  # the syntax-error cases under tests/cases have nothing to format
        return False
    return True


POLICIES = [p for p in sorted(ROOT.glob("policies/**/*.policy"))
            + sorted(ROOT.glob("tests/cases/**/*.policy")) if _parses(p)]


def _comments(text: str) -> list[str]:
    return [t for _, t in comments_of(text)]


@pytest.mark.parametrize("path", POLICIES, ids=[str(p.relative_to(ROOT)) for p in POLICIES])
def test_format_is_idempotent_and_keeps_the_tree_and_the_comments(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    original = parse_policy(Source("a", text))
    once = format_policy(text)
    assert format_policy(once) == once
    assert parse_policy(Source("b", once)) == original
    assert _comments(once) == _comments(text)


def test_layout_of_a_small_policy() -> None:
    messy = (
        'policy  p  "P"  version "1"\n# the only fact\nfact x:whole number at least 0\n'
        'decision d\ndecision e "E"\nrule r when x>1 and(x<5 or x==9)then d because "r"\n'
        'otherwise e because "no"  # trailing\n'
    )
    assert format_policy(messy) == (
        'policy p "P"\nversion "1"\n\n# the only fact\nfact x: whole number at least 0\n\n'
        'decision d\ndecision e "E"\n\nrule r\n  when x > 1 and (x < 5 or x == 9)\n  then d\n'
        '  because "r"\n\notherwise e because "no"  # trailing\n'
    )


def test_fmt_check_exits_1_with_a_diff_and_fmt_rewrites(tmp_path: Path) -> None:
    path = tmp_path / "p.policy"
    path.write_text('policy p\nfact x: yes/no\ndecision d\nrule r when x then d because "r"\n')
    runner = CliRunner()
    checked = runner.invoke(cli, ["fmt", "--check", str(path)])
    assert checked.exit_code == 1
    assert "+++" in checked.stdout and "would reformat" in checked.stderr
    assert runner.invoke(cli, ["fmt", str(path)]).exit_code == 0
    assert runner.invoke(cli, ["fmt", "--check", str(path)]).exit_code == 0


def test_fmt_refuses_a_policy_that_does_not_parse(tmp_path: Path) -> None:
    path = tmp_path / "p.policy"
    path.write_text("policy p\nrule r when x = 1 then d because \"r\"\n")
    result = CliRunner().invoke(cli, ["fmt", str(path)])
    assert result.exit_code == 2
    assert "p.policy:2:15" in result.stderr and "use '=='" in result.stderr
    assert path.read_text() == "policy p\nrule r when x = 1 then d because \"r\"\n"


def _with_a_glued_comment(text: str, rng: random.Random, number: int) -> str:
    """The text with a comment written at the end of one of its lines, sometimes glued to
    the last token (`amount#c`), sometimes after blanks, sometimes on a line of its own."""
    ends = [match.end() - 1 for match in re.finditer(r"\S[ \t]*\n", text)]
    at = rng.choice(ends)
    comment = rng.choice(["#c", "  # c", "#", "# one # two", "\n# own line\n"])
    return text[:at] + comment + str(number) + text[at:]


@pytest.mark.parametrize("seed", range(4))
def test_format_is_idempotent_with_comments_anywhere(seed: int) -> None:
    # The trial found 16 cases where a comment glued to the end of an item moved to a line of
    # its own, where the next run read it as the next item's comment: not idempotent.
    rng = random.Random(seed)
    texts = [path.read_text(encoding="utf-8") for path in POLICIES]
    tried = 0
    for number in range(examples(400)):
        text = _with_a_glued_comment(rng.choice(texts), rng, number)
        try:
            once = format_policy(text, "x.policy")
        except DiagnosticError:
            continue  # the comment cut a quoted text: not a policy
        tried += 1
        assert format_policy(once, "x.policy") == once, text
        assert parse_policy(Source("x", once)) == parse_policy(Source("x", text))
        assert [c for _, c in comments_of(once)] == [c for _, c in comments_of(text)]
    assert tried > 0
