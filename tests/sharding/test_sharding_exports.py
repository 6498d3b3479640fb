"""The public surface of engine.sharding stays what __all__ says."""

from __future__ import annotations

import doctest
import inspect

import engine.sharding


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(engine.sharding).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }

    assert sorted(engine.sharding.__all__) == sorted(public)
    for name in engine.sharding.__all__:
        assert getattr(engine.sharding, name).__module__ == "engine.sharding"


def test_docstring_examples_run() -> None:
    result = doctest.testmod(engine.sharding)

    assert result.attempted > 0
    assert result.failed == 0
