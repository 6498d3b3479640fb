"""Bad input fails with a SpecError naming the offending field."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import SpecError
from engine.sharding import ShardItem, plan_shards

ITEMS = [ShardItem("a", 1.0), ShardItem("b", 2.0)]


@pytest.mark.parametrize("threads", [0, -3, True, 2.0, "4", None])
def test_threads_must_be_a_positive_whole_number(threads: Any) -> None:
    with pytest.raises(SpecError) as caught:
        plan_shards(ITEMS, threads)

    assert caught.value.path == "threads"
    assert ">= 1" in caught.value.message


@pytest.mark.parametrize("strategy", ["random", "", "Duration", None])
def test_unknown_strategy_lists_the_choices(strategy: Any) -> None:
    with pytest.raises(SpecError) as caught:
        plan_shards(ITEMS, 2, strategy)

    assert caught.value.path == "strategy"
    assert caught.value.hint is not None
    assert "round-robin" in caught.value.hint
    assert "fail-first" in caught.value.hint


def test_duplicate_ids_name_both_positions() -> None:
    items = [ShardItem("a"), ShardItem("b"), ShardItem("a")]

    with pytest.raises(SpecError) as caught:
        plan_shards(items, 2)

    assert caught.value.path == "items[2].id"
    assert "'a'" in caught.value.message
    assert caught.value.hint == "first used by items[0]"


@pytest.mark.parametrize("duration", [-1.0, float("nan"), float("inf"), True, "5"])
def test_durations_must_be_finite_non_negative_seconds(duration: Any) -> None:
    items = [ShardItem("a", 1.0), ShardItem("b", duration)]

    with pytest.raises(SpecError) as caught:
        plan_shards(items, 2)

    assert caught.value.path == "items[1].duration"


@pytest.mark.parametrize("default", [-1.0, float("nan"), float("inf")])
def test_default_duration_must_be_finite_non_negative_seconds(default: float) -> None:
    with pytest.raises(SpecError) as caught:
        plan_shards(ITEMS, 2, default_duration=default)

    assert caught.value.path == "default_duration"


def test_items_must_be_shard_items() -> None:
    with pytest.raises(SpecError) as caught:
        plan_shards([ShardItem("a"), {"id": "b"}], 2)  # type: ignore[list-item]

    assert caught.value.path == "items[1]"
