"""Files: reading text files with clear errors, showing paths, and finding files in folders."""

from __future__ import annotations

import os
from collections.abc import Sequence

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError

#: Scenario files, as `policy eval`, `test` and `diff` find them in folders.
SCENARIO_SUFFIXES = (".yaml", ".yml")
#: Policy files, as `policy fmt` finds them in folders.
POLICY_SUFFIXES = (".policy",)


def find_files(paths: Sequence[str], suffixes: tuple[str, ...]) -> list[str]:
    """The files given, and every file ending in one of `suffixes` under the folders given,
    each folder walked in sorted order so the list is the same on every machine."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, names in os.walk(path):
                dirs.sort()
                found += [os.path.join(root, name) for name in sorted(names)
                          if name.endswith(suffixes)]
        else:
            found.append(path)
    return found


def read_text(path: str, limit: int) -> str:
    """Reads a UTF-8 text file, or raises a DiagnosticError that says why it cannot."""
    shown = display_path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic("E301", "no such file", file=shown)]) from None
    except IsADirectoryError:
        raise DiagnosticError([Diagnostic("E301", "is a directory, not a file", file=shown)]) \
            from None
    except OSError as error:
        raise DiagnosticError([Diagnostic("E301", f"cannot read: {error.strerror}",
                                          file=shown)]) from None
    if len(data) > limit:
        raise DiagnosticError([Diagnostic("E307", f"larger than the limit of {limit} bytes",
                                          file=shown)])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DiagnosticError([Diagnostic(
            "E301", f"not UTF-8 text (byte {error.start} cannot be decoded)", file=shown,
            help="save the file as UTF-8")]) from None
    if "\x00" in text:
        raise DiagnosticError([Diagnostic("E301", "binary data, not a text file", file=shown)])
    return text


def display_path(path: str) -> str:
    """A path as people should see it: relative to the working directory when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative.replace(os.sep, "/")
