"""Helpers for the data-driven diagnostic cases under tests/cases/ (`<name>.policy` + `.expected`).

Each `.expected` file holds the exact rendered diagnostics for its policy, read as if the file
were called `<name>.policy`. After an intended change to a message, rewrite them with
`UPDATE_EXPECTED=1 python -m pytest tests/test_parser.py tests/test_checker.py` and review the
diff like code.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError, render_all
from policy_engine.policy import Policy

CASES = Path(__file__).resolve().parents[1] / "cases"


def case_files(folder: str) -> list[Path]:
    """The `.policy` files of one case folder, sorted, for parametrizing."""
    return sorted((CASES / folder).glob("*.policy"))


def case_ids(paths: list[Path]) -> list[str]:
    return [path.stem for path in paths]


def read_case(path: Path) -> str:
    return path.read_text(encoding="utf-8")


_ERRORS: dict[Path, tuple[Diagnostic, ...]] = {}


def errors_of(path: Path) -> tuple[Diagnostic, ...]:
    """Parses and checks a case file that must fail, and returns its diagnostics (cached)."""
    if path not in _ERRORS:
        try:
            Policy.from_text(read_case(path), path.name)
        except DiagnosticError as error:
            _ERRORS[path] = error.diagnostics
        else:
            pytest.fail(f"{path.name} parses and checks, but the case expects errors")
    return _ERRORS[path]


def assert_expected(path: Path, diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
    """Compares rendered diagnostics with the `.expected` file next to the case."""
    rendered = render_all(diagnostics) + "\n"
    expected = path.with_suffix(".expected")
    if os.environ.get("UPDATE_EXPECTED") == "1":
        expected.write_text(rendered, encoding="utf-8")
    assert expected.exists(), f"{expected.name} is missing; run with UPDATE_EXPECTED=1, review it"
    assert rendered == expected.read_text(encoding="utf-8")


def orphans(folder: str) -> list[str]:
    """`.expected` files without a `.policy` next to them (usually a renamed case)."""
    return sorted(
        p.name for p in (CASES / folder).glob("*.expected") if not p.with_suffix(".policy").exists()
    )
