"""Unknown durations: filled with the median of the known ones, and reported."""

from __future__ import annotations

from engine.sharding import ShardItem, plan_shards


def test_unknown_durations_take_the_median_of_the_known_ones() -> None:
    items = [
        ShardItem("a", 10.0),
        ShardItem("b"),
        ShardItem("c", 2.0),
        ShardItem("d", 400.0),
        ShardItem("e"),
    ]

    plan = plan_shards(items, 1)

    assert plan.estimated == ("b", "e")
    assert plan.total == 10.0 + 2.0 + 400.0 + 2 * 10.0


def test_an_even_number_of_known_durations_averages_the_middle_two() -> None:
    items = [ShardItem("a", 1.0), ShardItem("b", 3.0), ShardItem("c", 5.0), ShardItem("d", 100.0)]

    plan = plan_shards([*items, ShardItem("unknown")], 5)

    assert plan.estimated == ("unknown",)
    assert plan.total == 109.0 + 4.0


def test_with_no_history_every_scenario_gets_the_default_duration() -> None:
    items = [ShardItem("a"), ShardItem("b"), ShardItem("c")]

    default = plan_shards(items, 2)
    custom = plan_shards(items, 2, default_duration=12.5)

    assert default.estimated == custom.estimated == ("a", "b", "c")
    assert default.total == 90.0
    assert custom.total == 37.5
    assert [shard.load for shard in custom.shards] == [25.0, 12.5]


def test_known_durations_of_zero_are_kept_and_count_for_the_median() -> None:
    plan = plan_shards([ShardItem("a", 0.0), ShardItem("b", 0.0), ShardItem("c")], 3)

    assert plan.estimated == ("c",)
    assert (plan.total, plan.makespan, plan.imbalance) == (0.0, 0.0, 1.0)


def test_integer_durations_are_accepted() -> None:
    plan = plan_shards([ShardItem("a", 3), ShardItem("b", 4)], 1)

    assert plan.total == 7.0
    assert plan.estimated == ()
