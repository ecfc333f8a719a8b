"""The VS Code extension's TextMate grammar, run by the tokenizer VS Code itself uses
(`vscode-textmate` with Oniguruma, under Node): every shipped policy is tokenised without
gaps, and every keyword of the language gets a keyword's colour.

Node and the extension's development packages (`npm ci` in editors/vscode) are needed; the
tests skip without them, unless POLICY_ENGINE_REQUIRE_NODE=1 (set by .ci/run, which installs
them) turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from policy_engine.lsp.completion import keyword_terminals
from tests.helpers.paths import POLICY_FILES, ROOT

EXTENSION = ROOT / "editors" / "vscode"
TOKENIZE = EXTENSION / "test" / "tokenize.js"


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (.ci/run installs it from the system packages)"
    if not (EXTENSION / "node_modules" / "vscode-textmate").is_dir():
        return "the extension's packages are not installed (run npm ci in editors/vscode)"
    return None


@pytest.fixture(scope="module")
def tokenize() -> Any:
    reason = _missing()
    if reason is not None:
        if os.environ.get("POLICY_ENGINE_REQUIRE_NODE") == "1":
            pytest.fail(f"POLICY_ENGINE_REQUIRE_NODE=1 but {reason}")
        pytest.skip(reason)

    def run(paths: list[Path]) -> list[dict[str, Any]]:
        done = subprocess.run(["node", str(TOKENIZE), *map(str, paths)], capture_output=True,
                              text=True, timeout=120, check=True)
        return list(json.loads(done.stdout))

    return run


#: The scopes that colour a word as part of the language (not as a name of the policy's).
_LANGUAGE = ("keyword.", "storage.", "constant.language.")


def test_every_shipped_policy_is_tokenised_without_gaps(tokenize: Any) -> None:
    for result in tokenize(POLICY_FILES):
        text = Path(result["file"]).read_text(encoding="utf-8")
        lines = text.split("\n")
        for number, (tokens, line) in enumerate(zip(result["lines"], lines, strict=True), 1):
            assert "".join(piece for piece, _ in tokens) == line.rstrip("\r")
            for piece, scopes in tokens:
                # Every character but blanks is given a scope of its own.
                if piece.strip():
                    assert len(scopes) > 1, f"{result['file']}:{number}: {piece!r} {scopes}"


def _scopes_of(tokens: list[list[Any]], word: str) -> list[str]:
    return next(scopes for piece, scopes in tokens if piece == word)


def test_strings_comments_numbers_dates_and_durations(tokenize: Any, tmp_path: Path) -> None:
    sample = tmp_path / "sample.policy"
    sample.write_text('fact paid "The buyer paid": yes/no  # a comment\n'
                      "define late = days_between(2024-06-01, sent) > 30 days\n"
                      "define window = 12 months\n"
                      "define warranty = 1 year\n"
                      "define grace = 2 weeks + 1.5\n", encoding="utf-8")
    (result,) = tokenize([sample])
    first, late, window, warranty, grace = result["lines"][:5]
    assert "string.quoted.double.policy" in _scopes_of(first, "The buyer paid")
    assert any("comment.line" in s for s in _scopes_of(first, " a comment"))
    assert "constant.numeric.date.policy" in _scopes_of(late, "2024-06-01")
    assert "support.function.builtin.policy" in _scopes_of(late, "days_between")
    for tokens, number, unit in ((late, "30", "days"), (window, "12", "months"),
                                 (warranty, "1", "year"), (grace, "2", "weeks")):
        assert "constant.numeric.policy" in _scopes_of(tokens, number)
        assert "keyword.other.unit.policy" in _scopes_of(tokens, unit), unit
    assert "constant.numeric.policy" in _scopes_of(grace, "1.5")


def test_every_keyword_of_the_language_is_coloured_as_one(tokenize: Any,
                                                          tmp_path: Path) -> None:
    # The grammar's own literal words (grammar/policy.lark), each on a line of its own.
    words = sorted(set(keyword_terminals().values()))
    sample = tmp_path / "keywords.policy"
    sample.write_text("\n".join(words) + "\n", encoding="utf-8")
    (result,) = tokenize([sample])
    for word, tokens in zip(words, result["lines"], strict=False):
        scopes = [scope for piece, scope_list in tokens if piece.strip()
                  for scope in scope_list]
        assert any(scope.startswith(_LANGUAGE) for scope in scopes), (word, tokens)
