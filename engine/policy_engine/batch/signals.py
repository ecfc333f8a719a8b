"""Batch signals: SIGINT and SIGTERM stop a batch cleanly, as an `Interrupted` exception.

While `stop_on_signals` is active, either signal raises `Interrupted` in the main thread,
wherever it is, so a wait on a worker or a slow read ends at once. Two kinds of sections
delay it: `holding` (writing a chunk of output and counting it: the first signal waits until
the chunk is whole, a second one does not) and `shielded` (stopping the worker processes:
nothing cuts it short). A delayed signal is raised when its section ends.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A batch stopped by a signal. A BaseException, as KeyboardInterrupt is, so that no
    `except Exception` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_status(self) -> int:
        """128 plus the signal's number, as a shell reports a command a signal ended."""
        return 128 + self.signum


class _Guard:
    def __init__(self) -> None:
        self.signum: int | None = None
        self.raised = False  # once stopping, later signals change nothing
        self.holding = 0
        self.shielded = 0

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is None:
            self.signum = signum
            if self.shielded or self.holding:
                return  # raised when the section ends
        elif self.raised or self.shielded:
            return
        # A first signal outside any section, or a second one while a write holds the first.
        self._raise()

    def release(self) -> None:
        if self.signum is not None and not (self.raised or self.holding or self.shielded):
            self._raise()

    def _raise(self) -> None:
        assert self.signum is not None
        self.raised = True
        raise Interrupted(self.signum)


_ACTIVE: _Guard | None = None


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turns SIGINT and SIGTERM into `Interrupted` while the block runs (in the main thread;
    elsewhere signals cannot be handled, and nothing changes)."""
    global _ACTIVE
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    guard, outer = _Guard(), _ACTIVE
    previous = {number: signal.getsignal(number) for number in STOP_SIGNALS}
    for number in STOP_SIGNALS:
        signal.signal(number, guard.handle)
    _ACTIVE = guard
    try:
        yield
    finally:
        guard.shielded += 1  # a signal now would cut the restoring short
        for number, handler in previous.items():
            signal.signal(number, handler)
        _ACTIVE = outer


@contextmanager
def holding() -> Iterator[None]:
    """A section the first signal must not cut: output written and counted together."""
    guard = _ACTIVE
    if guard is None:
        yield
        return
    guard.holding += 1
    try:
        yield
    finally:
        guard.holding -= 1
    guard.release()


@contextmanager
def shielded() -> Iterator[None]:
    """A section no signal may cut: stopping and reaping the worker processes."""
    guard = _ACTIVE
    if guard is None:
        yield
        return
    guard.shielded += 1
    try:
        yield
    finally:
        guard.shielded -= 1
    guard.release()
