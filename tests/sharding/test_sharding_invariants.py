"""Properties every strategy keeps: a complete, exact, deterministic, self-consistent plan."""

from __future__ import annotations

import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shard_suites import ALL_STRATEGIES, suites, threads

from engine.sharding import ShardItem, Strategy, plan_shards

pytestmark = pytest.mark.timeout(120)


def _durations_by_id(items: list[ShardItem]) -> dict[str, float]:
    """Each scenario's duration, unknown ones filled with the median of the known ones."""
    known = [item.duration for item in items if item.duration is not None]
    filled = statistics.median(known) if known else 30.0
    return {item.id: float(filled if item.duration is None else item.duration) for item in items}


@settings(max_examples=200, deadline=None)
@given(items=suites(), threads=threads, strategy=st.sampled_from(ALL_STRATEGIES))
def test_every_scenario_lands_once_in_exactly_threads_shards_with_true_figures(
    items: list[ShardItem], threads: int, strategy: Strategy
) -> None:
    plan = plan_shards(items, threads, strategy)

    assert plan.strategy is strategy
    assert plan.threads == threads
    assert [shard.index for shard in plan.shards] == list(range(threads))
    placed = [item_id for shard in plan.shards for item_id in shard.item_ids]
    assert sorted(placed) == sorted(item.id for item in items)
    assert len(placed) == len(set(placed))

    duration = _durations_by_id(items)

    for shard in plan.shards:
        assert shard.load == pytest.approx(sum(duration[i] for i in shard.item_ids), abs=1e-6)
    assert plan.total == pytest.approx(sum(duration.values()), abs=1e-6)
    assert plan.longest == max(duration.values(), default=0.0)
    assert plan.makespan == max(shard.load for shard in plan.shards)
    assert plan.lower_bound == max(plan.total / threads, plan.longest)
    assert plan.makespan >= plan.lower_bound * (1 - 1e-9)
    if plan.lower_bound > 0:
        assert plan.imbalance == plan.makespan / plan.lower_bound
    else:
        assert plan.imbalance == 1.0
    assert plan.estimated == tuple(item.id for item in items if item.duration is None)
    assert all(math.isfinite(shard.load) for shard in plan.shards)


@settings(max_examples=100, deadline=None)
@given(items=suites(), threads=threads, strategy=st.sampled_from(ALL_STRATEGIES))
def test_same_input_gives_the_same_plan(
    items: list[ShardItem], threads: int, strategy: Strategy
) -> None:
    first = plan_shards(items, threads, strategy)
    again = plan_shards(list(items), threads, strategy.value)

    assert first == again


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_fewer_scenarios_than_workers_leaves_the_extra_shards_empty(strategy: Strategy) -> None:
    items = [ShardItem("a", 5.0, "x/a.py::t"), ShardItem("b", 3.0, "x/a.py::u")]

    plan = plan_shards(items, 4, strategy)

    assert sorted(len(shard.item_ids) for shard in plan.shards) == [0, 0, 1, 1]
    assert plan.makespan == 5.0
    assert plan.imbalance == 1.0


@pytest.mark.parametrize("strategy", ALL_STRATEGIES)
def test_an_empty_group_gives_empty_shards(strategy: Strategy) -> None:
    plan = plan_shards([], 3, strategy)

    assert [shard.item_ids for shard in plan.shards] == [(), (), ()]
    assert (plan.total, plan.makespan, plan.lower_bound, plan.imbalance) == (0.0, 0.0, 0.0, 1.0)
