"""The collector around a command's start-up: what it makes is frozen, the collector's state kept."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from engine.cli.lifetime import long_lived_objects


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def test_objects_made_at_start_up_are_not_collected_again() -> None:
    gc.enable()
    with long_lived_objects():
        assert not gc.isenabled()  # no collection while the start-up builds them
        made = [[n] for n in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(made)  # in the permanent generation


def test_a_disabled_collector_stays_disabled() -> None:
    gc.disable()
    with long_lived_objects():
        pass
    assert not gc.isenabled()


def test_the_collector_comes_back_when_start_up_fails() -> None:
    gc.enable()
    with pytest.raises(ImportError), long_lived_objects():
        raise ImportError("no such module")
    assert gc.isenabled()
