"""A hang guard for every batch test: one that waits on a worker for minutes fails instead."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from types import FrameType

import pytest

#: Far longer than any of these tests takes; reaching it means something waits forever.
HANG_SECONDS = 300


class Hung(Exception):
    """Raised in a test that ran past the hang guard."""


@pytest.fixture(autouse=True)
def hang_guard() -> Iterator[None]:
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def hung(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"the test ran for more than {HANG_SECONDS} seconds")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
