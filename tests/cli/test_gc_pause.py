"""Bulk work without automatic garbage collection (``engine.gc_pause``): paused while any thread
is inside, the thresholds back once the last one leaves, a project's own settings kept."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from engine.gc_pause import paused_collection


@pytest.fixture(autouse=True)
def thresholds_restored() -> Iterator[tuple[int, ...]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield (700, 10, 10)
    gc.set_threshold(*before)


def test_no_automatic_collection_inside_and_the_thresholds_back_after() -> None:
    with paused_collection():
        assert gc.get_threshold() == (0, 10, 10)
        assert gc.collect() >= 0  # an explicit collection still runs
    assert gc.get_threshold() == (700, 10, 10)


def test_the_thresholds_come_back_when_the_work_fails() -> None:
    with pytest.raises(RuntimeError), paused_collection():
        raise RuntimeError("the work failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_overlapping_threads_restore_once_the_last_one_leaves() -> None:
    # Two runs in the local service: the first to leave must not resume collection for the
    # other, nor may the second put back the paused thresholds it found.
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, tuple[int, ...]] = {}

    def first() -> None:
        with paused_collection():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with paused_collection():
            second_in.set()
            first_out.wait(5)
            seen["after the first left"] = gc.get_threshold()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"after the first left": (0, 10, 10)}
    assert gc.get_threshold() == (700, 10, 10)


def test_thresholds_set_inside_are_kept() -> None:
    with paused_collection():
        gc.set_threshold(5000, 20, 20)  # the work's own choice
    assert gc.get_threshold() == (5000, 20, 20)


def test_a_collection_paused_before_stays_paused() -> None:
    gc.set_threshold(0, 10, 10)
    with paused_collection():
        pass
    assert gc.get_threshold() == (0, 10, 10)
