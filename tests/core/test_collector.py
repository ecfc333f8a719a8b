"""The garbage collector around building a policy (core.cache.collector_paused, issue 20)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from policy_engine.core import cache


@pytest.fixture
def unfrozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    gc.unfreeze()
    monkeypatch.setattr(cache, "_froze", [])
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


class _Cycle:
    """Garbage that only the collector frees: an object that refers to itself."""

    def __init__(self) -> None:
        self.itself = self


def test_reloading_big_policies_does_not_keep_every_version(
        unfrozen: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A server reloading a big policy: the version being replaced is alive (and cyclic, as
    generated code is) while the next is built, so it is frozen with it; the next big load
    must give it back to the collector, or every version would stay in memory."""
    monkeypatch.setattr(cache, "FREEZE_AFTER", 1_000)
    versions = []
    frozen = []
    current = None
    for _ in range(6):
        with cache.collector_paused():
            built = (_Cycle(), _made(5_000))
        current = built
        versions.append(weakref.ref(current[0]))
        frozen.append(gc.get_freeze_count())
    del built
    assert current is not None
    alive = [version() is not None for version in versions]
    assert alive == [False] * 4 + [True] * 2  # the last one, and the one frozen beside it
    # what stays frozen does not grow by a version (5,000 objects) with each version
    assert frozen[-1] - frozen[2] < 1_000, frozen
