"""The garbage collector around building a policy (core.cache.collector_paused, issue 20)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from policy_engine.core import cache


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # what a test froze goes back to the collector


def _made(count: int) -> list[list[int]]:
    return [[index] for index in range(count)]


def test_many_objects_made_while_paused_are_frozen(unfrozen: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "FREEZE_AFTER", 1_000)
    with cache.collector_paused():
        assert not gc.isenabled()
        kept = _made(5_000)
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)  # no collector pass goes over them again


def test_a_few_objects_are_left_to_the_collector(unfrozen: None,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "FREEZE_AFTER", 100_000)
    with cache.collector_paused():
        kept = _made(100)
    assert gc.isenabled() and kept
    assert gc.get_freeze_count() == 0


def test_a_collector_the_caller_paused_stays_paused(unfrozen: None,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "FREEZE_AFTER", 1_000)
    gc.disable()
    try:
        with cache.collector_paused():
            kept = _made(5_000)
        assert not gc.isenabled() and kept
        assert gc.get_freeze_count() == 0
    finally:
        gc.enable()


def test_an_error_while_paused_still_resumes_the_collector() -> None:
    with pytest.raises(ValueError), cache.collector_paused():
        raise ValueError
    assert gc.isenabled()
