"""Files: reading files safely with clear errors, the folders files may come from, finding files.

Policies and scenarios arrive in pull requests from people the reviewer does not control, and
`policy test`, `check`, `diff` and `lint` read them in CI. So a file is read only if it is a
regular file (never a FIFO, a device or a terminal, which could block a run or stream without
end), opened without waiting, and never past its size limit; and a path that comes from a file
(a scenario's `policy:`) or from walking a folder must stay inside the folders a command may
read (`Confinement`): the repository, or the folders named on the command line.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Sequence

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.records import record

#: Scenario files, as `policy eval`, `test` and `diff` find them in folders.
SCENARIO_SUFFIXES = (".yaml", ".yml")
#: Policy files, as `policy fmt` finds them in folders.
POLICY_SUFFIXES = (".policy",)
#: The path that names standard input wherever a command reads a file, as Unix tools do.
STANDARD_INPUT = "-"
#: How standard input is named in messages.
STANDARD_INPUT_NAME = "<stdin>"


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


#: Open for reading without waiting (a FIFO would block) and without becoming the terminal's.
_READ_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))


def _kind_of_file(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


class NotRegular(OSError):
    """The path names something other than a regular file; `kind` says what."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


_standard_input: list[bytes] = []


def read_standard_input(limit: int) -> bytes:
    """At most `limit` + 1 bytes of standard input. It is read once, when first asked for:
    a command that names `-` twice reads the same text twice. Waiting for it is what the
    user asked for, so it is not opened without waiting as files are."""
    if not _standard_input:
        stream = sys.stdin.buffer if sys.stdin is not None else None
        _standard_input.append(stream.read(limit + 1) if stream is not None else b"")
    return _standard_input[0][: limit + 1]


def forget_standard_input() -> None:
    """Lets the next read of `-` read standard input again (for a program that runs several
    commands in one process, such as the tests)."""
    _standard_input.clear()


def read_regular(path: str, limit: int) -> bytes:
    """At most `limit` + 1 bytes of a regular file (or of standard input, for `-`), opened
    without waiting.

    Raises:
        NotRegular: the path names a folder, a FIFO, a device or a socket.
        OSError: the file cannot be opened or read.
    """
    if path == STANDARD_INPUT:
        return read_standard_input(limit)
    descriptor = os.open(path, _READ_FLAGS)
    with os.fdopen(descriptor, "rb") as handle:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegular(_kind_of_file(mode))
        return handle.read(limit + 1)


def read_bytes(path: str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or a DiagnosticError saying why
    they cannot be read; never blocks, whatever the path names."""
    shown = display_path(path)
    try:
        data = read_regular(path, limit)
    except FileNotFoundError:
        raise DiagnosticError([Diagnostic("E301", "no such file", file=shown)]) from None
    except IsADirectoryError:
        raise DiagnosticError([Diagnostic("E301", "is a directory, not a file", file=shown)]) \
            from None
    except NotRegular as error:
        message = ("is a directory, not a file" if error.kind == "a directory"
                   else f"is {error.kind}; only regular files are read")
        raise DiagnosticError([Diagnostic("E301", message, file=shown)]) from None
    except OSError as error:
        raise DiagnosticError([Diagnostic("E301", f"cannot read: {error.strerror}",
                                          file=shown)]) from None
    if len(data) > limit:
        raise DiagnosticError([Diagnostic("E307", f"larger than the limit of {limit} bytes",
                                          file=shown)])
    return data


def read_text(path: str, limit: int) -> str:
    """Reads a UTF-8 text file (see `read_bytes`), or raises a DiagnosticError saying why."""
    data = read_bytes(path, limit)
    shown = display_path(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DiagnosticError([Diagnostic(
            "E301", f"not UTF-8 text (byte {error.start} cannot be decoded)", file=shown,
            help="save the file as UTF-8")]) from None
    if "\x00" in text:
        raise DiagnosticError([Diagnostic("E301", "binary data, not a text file", file=shown)])
    return text


def repository_root(folder: str | None = None) -> str:
    """The top folder of the git repository holding `folder` (the working folder by default),
    found by looking for `.git`; the folder itself when it is in no repository."""
    start = os.path.realpath(folder or os.getcwd())
    current = start
    while True:
        if os.path.exists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return start
        current = parent


@record
class Confinement:
    """The folders a command may read files from, besides the files named on its command line.

    Args:
        roots: real paths of the folders: the repository (or the working folder) and the
            folders named on the command line.
        allow_outside: read anything (`--allow-outside`).
    """

    roots: tuple[str, ...]
    allow_outside: bool = False

    @classmethod
    def here(cls, named: Sequence[str] = (), *, allow_outside: bool = False) -> Confinement:
        """The repository of the working folder, and the folders among `named`."""
        roots = [repository_root()] + [os.path.realpath(path) for path in named
                                       if os.path.isdir(path)]
        return cls(tuple(dict.fromkeys(roots)), allow_outside)

    def including(self, folder: str) -> Confinement:
        """The same folders and `folder`."""
        real = os.path.realpath(folder)
        return Confinement(tuple(dict.fromkeys((*self.roots, real))), self.allow_outside)

    def contains(self, path: str) -> bool:
        if path == STANDARD_INPUT:
            return True
        real = os.path.realpath(path)
        return self.allow_outside or any(real == root or real.startswith(root.rstrip(os.sep)
                                                                         + os.sep)
                                          for root in self.roots)

    def check(self, path: str, what: str, *, named: bool = False,
              where: tuple[str, tuple[int, int] | None, str] | None = None) -> None:
        """Raises E310 when `path` leads outside the roots.

        Args:
            what: what the path is, for the message ("the policy that x.yaml names").
            named: the path was typed on the command line: it may name a file anywhere, but
                not be a link that leads out of the roots.
            where: the file, (line, column) and JSON path where the path is written, when it
                comes from a file; the diagnostic points there.
        """
        if self.contains(path) or (named and os.path.realpath(path) == os.path.abspath(path)):
            return
        real = os.path.realpath(path)
        link = "" if real == os.path.abspath(path) else f", a link to {display_path(real)}"
        shown_roots = ", ".join(display_path(root) or "." for root in self.roots)
        raise DiagnosticError([Diagnostic(
            "E310", f"{what} is outside the folders it may be read from ({shown_roots}): "
                    f"{display_path(path)}{link}",
            file=where[0] if where else display_path(path),
            line=where[1][0] if where and where[1] else None,
            column=where[1][1] if where and where[1] else None,
            path=where[2] if where else None,
            help="a scenario or a link may only lead to files in the repository or the folders "
                 "given; to read it anyway, pass --allow-outside")])


def check_policy_name(path: str) -> None:
    """Raises E301 unless `path`, and the file a link leads to, are named `*.policy`: a file
    that is not a policy is never parsed, so no error about it ever shows what it holds."""
    if path == STANDARD_INPUT:
        return
    real = os.path.realpath(path)
    for name in (path, real):
        if not name.endswith(POLICY_SUFFIXES):
            shown = display_path(path)
            target = "" if name == path else f" (it leads to {display_path(real)})"
            raise DiagnosticError([Diagnostic(
                "E301", f"not a policy file{target}: a policy file's name ends in .policy",
                file=shown)])


def display_path(path: str) -> str:
    """A path as people should see it: relative to the working directory when inside it."""
    if path == STANDARD_INPUT:
        return STANDARD_INPUT_NAME
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith("..") else relative.replace(os.sep, "/")
