"""Batch output: the output lines, written so that a run cut short cannot pass for a whole one.

A regular file is written under a temporary name in its own folder (`.NAME.XXXX.tmp`) and
renamed to its name only when the run completes; until then, a file of that name is left as
it was. A run that is interrupted ends its output with a marker line and keeps it as
`OUTPUT.partial`; a run that fails removes it. Standard output (`-`) and files that are not
regular files (`/dev/null`, a named pipe) are written directly, and an interrupted run ends
them with the same marker line. Any failure to write is diagnostic E312.
"""

from __future__ import annotations

import errno
import json
import os
import stat
import sys
import tempfile
from typing import IO

from policy_engine.core.diagnostics import Diagnostic, DiagnosticError
from policy_engine.core.files import display_path

STANDARD_OUTPUT = "<standard output>"
#: The suffix an interrupted run's output is kept under.
PARTIAL_SUFFIX = ".partial"

_HELP = {
    errno.ENOSPC: "the disk is full: free some space, or write the output somewhere else",
    errno.EDQUOT: "the disk quota is used up: free some space, or write the output somewhere "
                  "else",
    errno.EFBIG: "the file is larger than the system allows: write the output somewhere else",
    errno.EACCES: "you may not write there: choose a folder you can write to",
    errno.EPERM: "you may not write there: choose a folder you can write to",
    errno.EROFS: "the disk is read-only: choose a folder you can write to",
    errno.ENOENT: "the folder does not exist: create it, or choose another",
    errno.ENOTDIR: "a part of the path is not a folder: choose another place for the output",
    errno.EISDIR: "that is a folder: give the name of a file to write",
    errno.EPIPE: "the program reading the output stopped reading it",
    errno.EBADF: "the file is closed: redirect standard output to a file, or name a file to "
                 "write",
}


def output_error(shown: str, error: OSError) -> DiagnosticError:
    """E312 for an output that cannot be written: the file as shown, and the reason."""
    reason = error.strerror or str(error) or type(error).__name__
    return DiagnosticError([Diagnostic(
        "E312", f"cannot write: {reason}", file=shown,
        help=_HELP.get(error.errno or 0,
                       "check the disk and the path, or write the output somewhere else"))])


def partial_marker(reason: str, rows: int) -> str:
    """The last line of an output cut short: no row line has `partial`, every one has `line`."""
    return json.dumps({"partial": True, "reason": reason, "rows": rows}) + "\n"


class BatchOutput:
    """Where a batch writes its lines: a file, or standard output for `-`.

    Lines go straight to the file descriptor with `os.write`, each write finished however
    often a signal interrupts it: a buffered stream may drop the rest of a write that a
    signal cut short, and an output must never lose a line in the middle.

    Use as a context manager: leaving it without `commit` or `abandon` removes the temporary
    file.

    Raises:
        DiagnosticError: E312, the output cannot be opened.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.shown = STANDARD_OUTPUT if path == "-" else display_path(path)
        self.temporary: str | None = None
        self.target = ""  # the file the temporary one is renamed to
        self.finished = False
        self._writing = False  # True while a write is under way; a signal may cut it
        self._fd: int | None = None  # None: a stream without a descriptor (a test's capture)
        self._owned = True  # whether closing the output closes the descriptor
        self._stream: IO[bytes] | None = None
        self._open()

    def _open(self) -> None:
        if self.path == "-":
            if sys.stdout is None:  # file descriptor 1 was closed when Python started
                raise output_error(self.shown, OSError(errno.EBADF, "standard output is closed"))
            self._owned = False
            try:
                sys.stdout.flush()  # what was printed before comes first
            except OSError as error:
                raise output_error(self.shown, error) from None
            try:
                self._fd = sys.stdout.fileno()
            except (OSError, ValueError):  # io.UnsupportedOperation: no descriptor
                self._stream = sys.stdout.buffer
            return
        target = os.path.realpath(self.path)  # write through a symbolic link, not over it
        try:
            mode = os.stat(target).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as error:
            raise output_error(self.shown, error) from None
        try:
            if mode is not None and stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
            if mode is not None and not stat.S_ISREG(mode):  # /dev/null, a named pipe
                self._fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                return
            folder, name = os.path.split(target)
            self._fd, self.temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp",
                                                        dir=folder)
            os.chmod(self.temporary, stat.S_IMODE(mode) if mode is not None else _new_mode())
            self.target = target
        except OSError as error:
            self._close()
            self._remove()
            raise output_error(self.shown, error) from None

    def __enter__(self) -> BatchOutput:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.finished:
            self.discard()

    @property
    def torn(self) -> bool:
        """Whether a write was cut in the middle (by a second signal): the output may end
        within a line."""
        return self._writing

    @property
    def direct(self) -> bool:
        """Written directly (standard output, or a file that is not a regular file), not
        under a temporary name."""
        return not self.target

    def write(self, text: str) -> None:
        """Writes `text`, all of it.

        Raises:
            DiagnosticError: E312, it cannot be written.
            BrokenPipeError: standard output's reader went away (that is not an error).
        """
        # Lines are JSON: a lone surrogate can only be inside a string, where its escape
        # (backslashreplace writes `\udXXX`) reads back as the same text.
        data = memoryview(text.encode("utf-8", "backslashreplace"))
        self._writing = True
        try:
            if self._fd is None:
                assert self._stream is not None
                self._stream.write(data)
                self._stream.flush()
            else:
                while data:
                    data = data[os.write(self._fd, data):]
        except BrokenPipeError:
            if self.path == "-":
                raise
            raise output_error(self.shown, OSError(errno.EPIPE, os.strerror(errno.EPIPE))) \
                from None
        except OSError as error:
            raise output_error(self.shown, error) from None
        self._writing = False

    def flush(self) -> None:
        """Nothing is buffered: every `write` is on its way to the file when it returns."""

    def commit(self) -> None:
        """Finishes a complete output: closed and given its name.

        Raises:
            DiagnosticError: E312, it cannot be closed or renamed.
        """
        try:
            self._close()
            if self.temporary is not None:
                os.replace(self.temporary, self.target)
                self.temporary = None
        except OSError as error:
            self.discard()
            raise output_error(self.shown, error) from None
        self.finished = True

    def abandon(self, reason: str, rows: int) -> str | None:
        """Ends an output cut short with the marker line; a file written under a temporary
        name is kept as `OUTPUT.partial`.

        Returns:
            Where the partial output is, as messages show it (OUTPUT itself when `direct`),
            or None when it could not be kept.
        """
        marker = partial_marker(reason, rows)
        try:
            self.write(("\n" if self.torn else "") + marker)
            self.finished = True
            self._close()
            if self.temporary is None:
                return self.shown
            os.replace(self.temporary, self.target + PARTIAL_SUFFIX)
            self.temporary = None
            return display_path(self.path) + PARTIAL_SUFFIX
        except (OSError, DiagnosticError):
            self.discard()
            return None

    def discard(self) -> None:
        """Gives the output up: the temporary file is removed, nothing is renamed."""
        self.finished = True
        try:
            self._close()
        except OSError:
            pass  # a write failed already; the file goes
        self._remove()

    def _close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and self._owned:
            os.close(fd)

    def _remove(self) -> None:
        if self.temporary is not None:
            try:
                os.unlink(self.temporary)
            except OSError:
                pass
            self.temporary = None


def _new_mode() -> int:
    """The mode `open` would give a new file: 0o666 without the bits the umask takes away."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def open_output(path: str) -> BatchOutput:
    """Opens the output of a batch (see `BatchOutput`).

    Raises:
        DiagnosticError: E312, it cannot be opened (no such folder, a folder, no permission).
    """
    return BatchOutput(path)
