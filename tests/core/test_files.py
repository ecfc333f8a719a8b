"""Files: one walker for folders of scenarios and policies, text read with clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_engine.core.diagnostics import DiagnosticError
from policy_engine.core.files import (
    POLICY_SUFFIXES,
    SCENARIO_SUFFIXES,
    display_path,
    find_files,
    read_text,
)


def test_folders_are_walked_in_sorted_order_and_files_are_kept(tmp_path: Path) -> None:
    for name in ("b/2.yaml", "b/1.yml", "a/z.yaml", "a/notes.txt", "c.policy", "top.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    given = str(tmp_path / "a" / "notes.txt")  # a file given by name is kept, whatever it is
    found = find_files([str(tmp_path), given], SCENARIO_SUFFIXES)
    assert [os.path.relpath(p, tmp_path) for p in found] == [
        "top.yaml", os.path.join("a", "z.yaml"), os.path.join("b", "1.yml"),
        os.path.join("b", "2.yaml"), os.path.join("a", "notes.txt")]
    assert find_files([str(tmp_path)], POLICY_SUFFIXES) == [str(tmp_path / "c.policy")]


@pytest.mark.parametrize(("content", "code", "message"), [
    (None, "E301", "no such file"),
    (b"\xff\xfe", "E301", "not UTF-8 text (byte 0 cannot be decoded)"),
    (b"a\x00b", "E301", "binary data, not a text file"),
    (b"x" * 11, "E307", "larger than the limit of 10 bytes"),
])
def test_reading_text_says_why_it_cannot(tmp_path: Path, content: bytes | None, code: str,
                                         message: str) -> None:
    path = tmp_path / "p.policy"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DiagnosticError) as caught:
        read_text(str(path), 10)
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.code, diagnostic.message) == (code, message)


def test_reading_text_drops_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "p.policy"
    path.write_bytes("\ufeffpolicy p".encode())
    assert read_text(str(path), 100) == "policy p"


def test_paths_inside_the_working_folder_are_shown_relative(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert display_path(str(tmp_path / "a" / "b.yaml")) == "a/b.yaml"
    outside = str(tmp_path.parent / "elsewhere.yaml")
    assert display_path(outside) == outside
