"""Incremental parsing finds what a whole parse finds: after any edit of a shipped policy
(the earlier version parsed first, so that the parser restarts part way), the nodes, or the
first syntax error word for word and at the same place, are those of `Policy.load`'s parser."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.source import Source
from policy_engine.language.reference_parser import parse_policy
from policy_engine.lsp import incremental
from tests.helpers.examples import examples
from tests.helpers.paths import POLICY_FILES

TEXTS = [path.read_text(encoding="utf-8") for path in POLICY_FILES]

#: What people type, and what breaks a declaration in interesting ways.
_PIECES = ["", " ", "\n", '"', "(", ")", "[", "]", ",", ":", "=", "==", "#", "when ", "then ",
           "rule R_new \"x\"\n", "fact f: yes/no\n", "and", "or", "not ", "é", "\t", "1", "x"]


def _whole(text: str) -> tuple[object, tuple[str, str, int | None] | None]:
    try:
        return parse_policy(Source("edit.policy", text)), None
    except DiagnosticError as error:
        first = error.diagnostics[0]
        return None, (first.code, first.message, first.span.start if first.span else None)


def _incremental(text: str) -> tuple[object, tuple[str, str, int | None] | None]:
    tree, error = incremental.parse(text, "edit.policy")
    if error is None:
        return tree, None
    return None, (error.code, error.message, error.span.start if error.span else None)


@settings(max_examples=examples(200))
@given(st.sampled_from(range(len(TEXTS))), st.data())
def test_an_edit_parses_as_a_whole_parse(which: int, data: st.DataObject) -> None:
    text = TEXTS[which]
    incremental.parse(text, "edit.policy")  # the version before the edit
    at = data.draw(st.integers(0, len(text)), label="at")
    deleted = data.draw(st.integers(0, 12), label="deleted")
    inserted = data.draw(st.sampled_from(_PIECES), label="inserted")
    edited = text[:at] + inserted + text[at + deleted:]
    assert _incremental(edited) == _whole(edited)
    # And typed further: a second edit after the first, as the next keystroke.
    more = data.draw(st.sampled_from(_PIECES), label="more")
    after = at + len(inserted)
    typed = edited[:after] + more + edited[after:]
    assert _incremental(typed) == _whole(typed)


def test_a_restart_really_happens() -> None:
    # Without a restart the property above would hold trivially.
    text = TEXTS[0]
    incremental.parse(text, "edit.policy")
    at = text.rindex("\nrule ")
    start, _ = incremental._restart_point(text[:at] + "\nrule broken(\n" + text[at:])
    assert start > len(text) // 2
