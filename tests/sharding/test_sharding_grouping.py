"""File and tag strategies: related scenarios stay together unless that costs makespan."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shard_suites import suites

from engine.sharding import ShardItem, ShardPlan, plan_shards
from engine.sharding.estimates import fill_durations
from engine.sharding.grouping import GROUPING_SLACK
from engine.sharding.loads import longest_first
from engine.sharding.locations import directory_of, file_of


def _shards_holding(plan: ShardPlan, ids: set[str]) -> set[int]:
    return {shard.index for shard in plan.shards if ids & set(shard.item_ids)}


def _runs_contiguously(plan: ShardPlan, ids: set[str]) -> bool:
    (index,) = _shards_holding(plan, ids)
    order = plan.shards[index].item_ids
    spots = [position for position, item_id in enumerate(order) if item_id in ids]
    return spots == list(range(spots[0], spots[0] + len(ids)))


@pytest.mark.parametrize(
    ("location", "file", "directory"),
    [
        ("tests/auth/test_login.py::test_ok", "tests/auth/test_login.py", "tests/auth"),
        ("tests/auth/test_login.py::TestA::test_b[x-1]", "tests/auth/test_login.py", "tests/auth"),
        ("features/a.feature:12", "features/a.feature", "features"),
        ("features/a.feature:12:5", "features/a.feature", "features"),
        ("./tests/x.py::t", "tests/x.py", "tests"),
        ("tests\\win\\x.py::t", "tests/win/x.py", "tests/win"),
        ("top.py::t", "top.py", ""),
        ("", "", ""),
    ],
)
def test_location_parts(location: str, file: str, directory: str) -> None:
    assert file_of(location) == file
    assert directory_of(location) == directory


@st.composite
def _equal_directories(draw: st.DrawFn) -> tuple[list[ShardItem], int, int]:
    """Directories of equal whole-second totals, a multiple of the worker count of them."""
    threads = draw(st.integers(1, 5))
    directories = threads * draw(st.integers(1, 3))
    total = draw(st.integers(10, 60))
    items: list[ShardItem] = []
    for d in range(directories):
        cuts = sorted(draw(st.sets(st.integers(1, total - 1), max_size=6)))
        parts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        items += [
            ShardItem(f"d{d}-{n}", float(part), f"tests/d{d}/test_{n % 2}.py::t{n}")
            for n, part in enumerate(parts)
        ]
    draw(st.randoms()).shuffle(items)
    return items, threads, directories


@settings(max_examples=100, deadline=None)
@given(case=_equal_directories())
def test_file_keeps_every_directory_whole_when_that_costs_nothing(
    case: tuple[list[ShardItem], int, int],
) -> None:
    items, threads, directories = case

    plan = plan_shards(items, threads, "file")

    assert plan.makespan == plan.lower_bound
    for d in range(directories):
        ids = {item.id for item in items if item.location.startswith(f"tests/d{d}/")}
        assert len(_shards_holding(plan, ids)) == 1
        assert _runs_contiguously(plan, ids)


def test_file_splits_one_directory_by_file_before_splitting_files() -> None:
    items = [
        ShardItem(f"{f}{n}", 1.0, f"tests/only/test_{f}.py::t{n}") for f in "ab" for n in range(5)
    ]

    plan = plan_shards(items, 2, "file")

    assert plan.makespan == plan.lower_bound == 5.0
    for f in "ab":
        assert len(_shards_holding(plan, {f"{f}{n}" for n in range(5)})) == 1


def test_file_uses_every_worker_when_there_are_fewer_directories() -> None:
    items = [ShardItem(f"{d}{n}", 1.0, f"{d}/test_{n}.py::t") for d in "xy" for n in range(6)]

    plan = plan_shards(items, 4, "file")

    assert all(shard.item_ids for shard in plan.shards)
    assert plan.makespan == plan.lower_bound == 3.0


def test_file_splits_a_directory_that_alone_exceeds_the_lower_bound() -> None:
    big = [ShardItem(f"big{n}", 10.0, f"big/test_{n}.py::t") for n in range(6)]
    small = [ShardItem(f"small{n}", 10.0, "small/test.py::t") for n in range(2)]

    plan = plan_shards(big + small, 4, "file")

    assert plan.makespan == plan.lower_bound == 20.0
    assert len(_shards_holding(plan, {"small0", "small1"})) == 1  # still whole: costs nothing


def test_file_leaves_an_idle_worker_when_splitting_would_not_help() -> None:
    items = [ShardItem(f"a{n}", 1.0, "a/test.py::t") for n in range(10)]
    items.append(ShardItem("b", 10.0, "b/test.py::t"))

    plan = plan_shards(items, 3, "file")

    assert plan.makespan == plan.lower_bound == 10.0
    assert len(_shards_holding(plan, {f"a{n}" for n in range(10)})) == 1


@pytest.mark.parametrize("strategy", ["file", "tag"])
@settings(max_examples=100, deadline=None)
@given(items=suites(), threads=st.integers(1, 12))
def test_grouping_costs_at_most_the_slack_over_the_bound_or_lpt(
    strategy: str, items: list[ShardItem], threads: int
) -> None:
    grouped = plan_shards(items, threads, strategy)
    # LPT over single scenarios (the duration strategy may beat it with consecutive runs).
    durations, _ = fill_durations(items, 30.0)
    _, lpt_loads = longest_first(range(len(items)), durations, [0.0] * threads)

    allowed = max(grouped.lower_bound * (1 + GROUPING_SLACK), max(lpt_loads))
    assert grouped.makespan <= allowed * (1 + 1e-9)


def test_tag_groups_by_first_tag_and_keeps_untagged_together() -> None:
    items = [
        ShardItem("s1", 4.0, "a.py::1", ("smoke", "fast")),
        ShardItem("e1", 4.0, "b.py::1", ("e2e",)),
        ShardItem("u1", 2.0, "c.py::1"),
        ShardItem("s2", 4.0, "a.py::2", ("smoke",)),
        ShardItem("e2", 4.0, "b.py::2", ("e2e", "smoke")),
        ShardItem("u2", 6.0, "d.py::1"),
    ]

    plan = plan_shards(items, 3, "tag")

    assert [shard.item_ids for shard in plan.shards] == [("s1", "s2"), ("e1", "e2"), ("u1", "u2")]
    assert plan.makespan == plan.lower_bound == 8.0


def test_tag_splits_a_large_tag_group_by_file() -> None:
    items = [ShardItem(f"{f}{n}", 1.0, f"{f}.py::t{n}", ("smoke",)) for f in "ab" for n in range(4)]

    plan = plan_shards(items, 2, "tag")

    assert [shard.item_ids for shard in plan.shards] == [
        ("a0", "a1", "a2", "a3"),
        ("b0", "b1", "b2", "b3"),
    ]


def test_an_untagged_group_is_not_confused_with_a_tag() -> None:
    items = [ShardItem("t", 1.0, tags=("",)), ShardItem("u", 1.0)]

    plan = plan_shards(items, 2, "tag")

    assert [shard.item_ids for shard in plan.shards] == [("t",), ("u",)]


@pytest.mark.parametrize("strategy", ["file", "tag"])
def test_grouping_plans_a_large_suite_quickly(strategy: str) -> None:
    rng = random.Random(3)
    items = [
        ShardItem(
            f"s{i}",
            rng.lognormvariate(3, 1),
            f"tests/d{rng.randrange(300)}/test_{rng.randrange(8)}.py::t{i}",
            (f"tag{rng.randrange(40)}",),
        )
        for i in range(30_000)
    ]

    started = time.perf_counter()
    plan = plan_shards(items, 32, strategy)
    elapsed = time.perf_counter() - started

    assert plan.imbalance <= 1 + GROUPING_SLACK + 1e-9
    assert elapsed < 10.0
