"""Fail-first: every worker starts with its previously failed scenarios."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from shard_suites import suites

from engine.sharding import ShardItem, plan_shards
from engine.sharding.fail_first import previously_failed
from engine.sharding.loads import longest_first


@settings(max_examples=100, deadline=None)
@given(items=suites(), threads=st.integers(1, 12))
def test_failed_scenarios_come_first_in_every_shard(items: list[ShardItem], threads: int) -> None:
    failed = {item.id for item in items if previously_failed(item)}

    plan = plan_shards(items, threads, "fail-first")

    for shard in plan.shards:
        flags = [item_id in failed for item_id in shard.item_ids]
        assert flags == sorted(flags, reverse=True)


@settings(max_examples=100, deadline=None)
@given(items=suites(known_durations=True), threads=st.integers(1, 12))
def test_failed_scenarios_alone_are_placed_like_lpt(items: list[ShardItem], threads: int) -> None:
    failed = [item for item in items if previously_failed(item)]

    plan = plan_shards(items, threads, "fail-first")
    durations = [item.duration or 0.0 for item in failed]
    lpt_of_failed, _ = longest_first(range(len(failed)), durations, [0.0] * threads)

    for shard, expected in zip(plan.shards, lpt_of_failed, strict=True):
        ids = tuple(failed[p].id for p in expected)
        assert shard.item_ids[: len(ids)] == ids


def test_the_rest_fills_up_around_the_failed_scenarios() -> None:
    items = [
        ShardItem("slow-pass", 8.0, last_status="passed"),
        ShardItem("fail-a", 5.0, last_status="failed"),
        ShardItem("fail-b", 1.0, last_status="timedOut"),
        ShardItem("new", 4.0),
        ShardItem("skip", 2.0, last_status="skipped"),
    ]

    plan = plan_shards(items, 2, "fail-first")

    # failed: 5→w0, 1→w1; rest on top: 8→w1 (9), 4→w0 (9), 2→w0 (11)
    assert [shard.item_ids for shard in plan.shards] == [
        ("fail-a", "new", "skip"),
        ("fail-b", "slow-pass"),
    ]
    assert plan.makespan == 11.0


def test_failure_statuses_are_recognised_case_insensitively() -> None:
    statuses = ["failed", "FAILED", "error", "timedOut", "timed_out", "passed", "skipped", None]

    assert [previously_failed(ShardItem("x", last_status=s)) for s in statuses] == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
