"""libyaml and the pure Python parser give `load_yaml` the same documents (issue 20).

`load_yaml` composes with libyaml when it is installed and reads the text again with the pure
Python parser on any problem. So a text must give the same values, positions and errors
either way: on every YAML file of the repository, on every YAML text the other tests of this
package write, and on random texts made of the characters YAML treats specially.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.scenarios import yaml_data
from tests.helpers.examples import examples

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not getattr(yaml, "__with_libyaml__", False),
                                reason="PyYAML was built without libyaml")


def _outcome(text: str | bytes) -> object:
    try:
        document = yaml_data.load_yaml(text, "data.yaml")
    except DiagnosticError as error:
        return [d.render() for d in error.diagnostics]
    return repr(document.data), sorted(document.positions.items(), key=repr)


def _both(text: str | bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    fast = _outcome(text)
    with monkeypatch.context() as patched:
        patched.setattr(yaml_data, "_FastLoader", None)
        pure = _outcome(text)
    return fast, pure


def _repository_texts() -> list[str]:
    found = []
    for pattern in ("policies/**/*.yaml", "tests/**/*.yaml", "examples/**/*.yaml", "*.yaml"):
        found += [path.read_text(encoding="utf-8", errors="surrogateescape")
                  for path in sorted(ROOT.glob(pattern)) if path.is_file()]
    return found


def _test_texts() -> list[str]:
    """Every string literal of this package's YAML tests that looks like YAML."""
    tree = ast.parse((Path(__file__).parent / "test_yaml_data.py").read_text(encoding="utf-8"))
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and ("\n" in node.value or ":" in node.value)]


def test_the_repository_and_the_tests_read_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = _repository_texts() + _test_texts()
    assert len(texts) > 100
    for text in texts:
        fast, pure = _both(text, monkeypatch)
        assert fast == pure, text


_PIECES = st.sampled_from([
    "a", "b", "é", "日", "1", "0", "046", "1.5", "-", "+", ".", ":", ": ", " ", "  ", "\t",
    "\n", "\r\n", "\r", "#", "'", '"', "\\", "[", "]", "{", "}", ",", "?", "&x ", "*x", "!",
    "!!str ", "|", ">", "---", "...", "%YAML 1.1\n", "yes", "null", "~", "2024-01-31",
    "\u2028", "\x85", "\ufeff", "\x7f", "\x00", "- ", "  - ", "key: ", "\n  ",
])


@settings(max_examples=examples(500), deadline=None)
@given(st.lists(_PIECES, max_size=30).map("".join))
@example("key: |#")  # libyaml reads `|#` as an empty block scalar; the pure parser refuses it
@example("- >-#x")
def test_random_texts_read_the_same(text: str) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast, pure = _both(text, monkeypatch)
    assert fast == pure
