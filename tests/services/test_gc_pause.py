"""The cyclic collector's pause: counted across overlapping users, restored however they end."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from plexm8.services.gc_pause import gc_paused


@pytest.fixture(autouse=True)
def _collector_enabled() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_pauses_end_with_the_last_one() -> None:
    # An automatic refresh in one thread while a sync runs in another: the first to finish must not turn it on.
    entered, release = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with gc_paused():
            entered.set()
            release.wait(10)
            seen.append(gc.isenabled())

    thread = threading.Thread(target=other)
    with gc_paused():
        thread.start()
        assert entered.wait(10)
    assert not gc.isenabled()  # the other user is still inside
    release.set()
    thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_a_failure_inside_restores_the_collector() -> None:
    with pytest.raises(RuntimeError, match="boom"), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()
