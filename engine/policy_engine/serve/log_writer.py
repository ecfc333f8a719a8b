"""Decision log writer: whole lines appended, files rotated by size, fsync by policy, failures
never silent.

Lines are never torn. Each batch of lines is one `write` system call on a file opened with
`O_APPEND`, made under a lock by the one process that owns the file (each worker process
writes files of its own, named with its process id). A write cut short (a disk that fills up
in the middle of it) is undone with `ftruncate` back to the last whole line before it is
reported. A process killed with SIGKILL in the middle of a write larger than a memory page can
still leave part of it; such a tail, with no line break at its end, is cut off by the next
server that opens the folder, once the process that wrote it is gone.

When a line cannot be written (the disk is full, the folder went away) the log is unhealthy:
`/ready` answers 503 and the metrics say so. Then, by `on_log_failure`, the server refuses to
give the decision (`refuse`), or gives it and keeps the line in memory to write later
(`answer`, up to `pending_max` lines; a line past that is counted as lost and reported in the
server's log). Each later write tries the kept lines first, so the log heals by itself once
there is room again.
"""

from __future__ import annotations

import collections
import datetime
import errno
import logging
import os
import re
import threading
from collections.abc import Sequence

from policy_engine.serve.config import STANDARD_OUTPUT, FsyncPolicy, OnLogFailure
from policy_engine.serve.metrics import Metrics

log = logging.getLogger("policy_engine.serve")

#: A decision log file: the moment it was opened, the writing process and a sequence number.
FILE_NAME = re.compile(r"^decisions-\d{8}T\d{6}Z-(?P<pid>\d+)-\d{4}\.jsonl$")
_OPEN_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
               | getattr(os, "O_CLOEXEC", 0))


class LogUnavailable(Exception):
    """A line could not be written and the server refuses to answer without it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _reason(error: OSError) -> str:
    return (error.strerror or str(error)) if error.errno is not None else str(error)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def repair_folder(folder: str) -> list[str]:
    """Cuts the torn last line (no line break at its end) off the log files of processes
    that are gone; returns the files repaired."""
    repaired: list[str] = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return repaired
    for name in names:
        match = FILE_NAME.match(name)
        if match is None or _alive(int(match["pid"])):
            continue
        path = os.path.join(folder, name)
        try:
            with open(path, "rb+") as file:
                size = file.seek(0, os.SEEK_END)
                if size == 0:
                    continue
                file.seek(size - 1)
                if file.read(1) == b"\n":
                    continue
                keep = _last_line_end(file, size)
                file.truncate(keep)
            repaired.append(path)
            log.warning("decision log %s ended in a torn line (its process was killed while "
                        "writing); cut back to its last whole line", path)
        except OSError as error:
            log.warning("decision log %s could not be checked: %s", path, _reason(error))
    return repaired


def _last_line_end(file: object, size: int) -> int:
    """The offset just after the last line break, reading backwards in blocks."""
    import io

    assert isinstance(file, io.BufferedRandom)
    position = size
    while position > 0:
        start = max(0, position - 65536)
        file.seek(start)
        block = file.read(position - start)
        found = block.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        position = start
    return 0


class DecisionLogWriter:
    """Appends decision log lines to a folder of rotated files, or to standard output.

    Args:
        target: the folder, or `-` for standard output.
        max_bytes: a file is rotated before a write would take it past this (a file holds at
            least one batch of lines, however large).
    """

    def __init__(self, target: str, metrics: Metrics, *, max_bytes: int,
                 fsync: FsyncPolicy, fsync_interval: float, on_failure: OnLogFailure,
                 pending_max: int) -> None:
        self.target = target
        self.metrics = metrics
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self.on_failure = on_failure
        self.pending_max = pending_max
        self.error: str | None = None  # why the last write failed; None when healthy
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._pending: collections.deque[bytes] = collections.deque()
        self._fd = -1
        self._size = 0
        self._file_number = 0
        self._written = 0  # batches written, counted; `_synced` of them are on disk
        self._synced = 0
        self._path: str | None = None
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        self._closed = False
        if target == STANDARD_OUTPUT:
            self._fd = 1
        else:
            os.makedirs(target, exist_ok=True)
            repair_folder(target)
            self._open_next()
        metrics.log_healthy(True)

    @property
    def to_standard_output(self) -> bool:
        return self.target == STANDARD_OUTPUT

    @property
    def path(self) -> str | None:
        """The file being written now (None for standard output)."""
        return self._path

    # ------------------------------------------------------------ files
    def _open_next(self) -> None:
        while True:
            self._file_number += 1
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
            name = f"decisions-{stamp}-{os.getpid()}-{self._file_number:04d}.jsonl"
            path = os.path.join(self.target, name)
            try:
                self._fd = os.open(path, _OPEN_FLAGS, 0o640)
            except FileExistsError:
                continue
            self._path = path
            self._size = 0
            return

    def _rotate(self) -> None:
        """Closes the current file (on disk first, whatever the fsync policy) and opens the
        next."""
        old = self._fd
        self._fd = -1
        try:
            os.fsync(old)
        finally:
            os.close(old)
        self._synced = self._written
        self.metrics.log_rotated()
        self._open_next()

    # ------------------------------------------------------------ writing
    def write(self, lines: Sequence[bytes]) -> tuple[bool, int]:
        """Appends lines, whole, in one write.

        Returns:
            (written, ticket): whether the lines are in the log now (False: kept in memory to
            write later, in `answer` mode), and the number to pass to `wait_synced`.

        Raises:
            LogUnavailable: in `refuse` mode, the lines could not be written; none of them is
                in the log.
        """
        chunk = b"".join(lines)
        with self._lock:
            if self._closed:
                raise LogUnavailable("the server is shutting down")
            try:
                if self._pending:
                    self._write_pending()
                self._append(chunk)
            except OSError as error:
                return self._failed(error, lines), self._written
            if self.error is not None:
                self.error = None
                self.metrics.log_healthy(True)
                log.warning("the decision log can be written again")
            self.metrics.log_written(len(lines))
            return True, self._written

    def _append(self, chunk: bytes) -> None:
        if not self.to_standard_output and self._size and \
                self._size + len(chunk) > self.max_bytes:
            self._rotate()
        done = 0
        try:
            while done < len(chunk):
                count = os.write(self._fd, chunk[done:] if done else chunk)
                if count <= 0:  # pragma: no cover - write never returns 0 for a file
                    raise OSError(errno.EIO, "the write made no progress")
                done += count
                if done < len(chunk) and not self.to_standard_output:
                    # A short write to a file means the next one fails; undo it whole.
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError:
            if done and not self.to_standard_output:
                try:
                    os.ftruncate(self._fd, self._size)
                except OSError:  # pragma: no cover - keep the first error
                    pass
            raise
        self._size += len(chunk)
        self._written += 1

    def _write_pending(self) -> None:
        while self._pending:
            self._append(self._pending[0])
            self._pending.popleft()
            self.metrics.log_written(1)
            self.metrics.log_pending(len(self._pending))

    def _failed(self, error: OSError, lines: Sequence[bytes]) -> bool:
        reason = _reason(error)
        self.metrics.log_failed(len(lines))
        if self.error is None:
            log.error("the decision log cannot be written: %s (%s)", reason,
                      "decisions are refused until it can" if self.on_failure == "refuse"
                      else "decisions are answered and their lines kept in memory")
            self.metrics.log_healthy(False)
        self.error = reason
        if self.on_failure == "refuse":
            raise LogUnavailable(reason)
        for line in lines:
            if len(self._pending) >= self.pending_max:
                self.metrics.log_lost(1)
                log.error("decision log line lost: %d lines are already waiting in memory "
                          "(the limit) and the log still cannot be written: %s",
                          len(self._pending), reason)
                continue
            self._pending.append(line)
        self.metrics.log_pending(len(self._pending))
        return False

    # ------------------------------------------------------------ on disk
    def wait_synced(self, ticket: int) -> None:
        """Blocks until the batch numbered `ticket` is on disk (fsync). Callers arriving
        while one fsync runs share the next: one fsync covers every batch written before
        it started."""
        if self.to_standard_output:
            return
        with self._sync_lock:
            if self._synced >= ticket:
                return
            self._sync_now()

    def _sync_now(self) -> None:
        with self._lock:
            if self._fd < 0 or self._closed:
                return
            upto = self._written
            fd = os.dup(self._fd)
        try:
            os.fsync(fd)
        except OSError as error:
            log.error("the decision log could not be synced to disk: %s", _reason(error))
            self.metrics.log_failed(0)
            return
        finally:
            os.close(fd)
        self._synced = max(self._synced, upto)

    def start(self) -> None:
        """Starts the thread that syncs every `fsync_interval` seconds (`interval` policy)
        and retries lines kept in memory."""
        if self._syncer is None:
            self._syncer = threading.Thread(target=self._sync_loop, name="decision-log-sync",
                                            daemon=True)
            self._syncer.start()

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.fsync_interval):
            if self._pending:
                self.write(())
            if self.fsync == "interval" and self._synced < self._written:
                with self._sync_lock:
                    self._sync_now()

    def close(self) -> None:
        """Writes what is kept in memory if it can, syncs and closes; says what was lost."""
        self._stop.set()
        if self._syncer is not None:
            self._syncer.join(timeout=10)
        with self._lock:
            if self._closed:
                return
            try:
                self._write_pending()
            except OSError as error:
                self.metrics.log_lost(len(self._pending))
                log.error("%d decision log lines were never written: %s", len(self._pending),
                          _reason(error))
            if not self.to_standard_output and self._fd >= 0:
                try:
                    os.fsync(self._fd)
                except OSError as error:
                    log.error("the decision log could not be synced to disk: %s",
                              _reason(error))
                os.close(self._fd)
                self._fd = -1
            self._closed = True
