"""A diagnostic prints whatever the text it quotes holds, and prints it harmlessly."""

from __future__ import annotations

import json

from policy_engine.core.diagnostics import Diagnostic
from policy_engine.core.source import Source, Span


def _rendered(text: str, start: int, end: int, message: str) -> str:
    diagnostic = Diagnostic("E001", message, source=Source("p.policy", text), span=Span(start, end))
    return diagnostic.render()


def test_a_message_shows_control_characters_as_their_escapes() -> None:
    rendered = _rendered("rule x\n", 5, 6, "unknown rule 'is_big\x01\x1b[31m'")
    assert "unknown rule 'is_big\\x01\\x1b[31m'" in rendered
    assert "\x1b" not in rendered and "\x01" not in rendered


def test_the_quoted_line_keeps_its_caret_under_the_column() -> None:
    # A terminal escape before the offending word: shown as one character each, so the caret
    # still points at `oops`.
    text = "rule \x1b\x07 oops\n"
    rendered = _rendered(text, text.index("oops"), text.index("oops") + 4, "bad")
    quoted, caret = rendered.splitlines()[2:4]
    assert quoted == "1 | rule \ufffd\ufffd oops"
    assert caret.index("^") == quoted.index("oops")
    assert caret.count("^") == 4


def test_lone_surrogates_can_be_printed_and_written_as_json() -> None:
    rendered = _rendered("x \ud800\n", 2, 3, "odd '\ud800'")
    rendered.encode("utf-8")  # would raise on a lone surrogate
    assert "odd '\\ud800'" in rendered
    diagnostic = Diagnostic("E001", "odd '\udfff'")
    json.dumps(diagnostic.to_json(), ensure_ascii=False).encode("utf-8")
