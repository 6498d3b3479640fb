"""``plan_shards``: check the input, estimate unknown durations, run a strategy, sum it up."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from engine.errors import SpecError
from engine.sharding.duration import place_longest_first
from engine.sharding.estimates import fill_durations
from engine.sharding.fail_first import place_fail_first
from engine.sharding.file import place_by_directory
from engine.sharding.loads import Assignment, build_plan
from engine.sharding.model import Placeable, ShardPlan, Strategy
from engine.sharding.queue import simulate_queue
from engine.sharding.round_robin import place_round_robin
from engine.sharding.tag import place_by_tag

__all__ = ["plan_shards"]

Placer = Callable[[Sequence[Placeable], Sequence[float], int], Assignment]

_PLACERS: Mapping[Strategy, Placer] = {
    Strategy.ROUND_ROBIN: place_round_robin,
    Strategy.DURATION: place_longest_first,
    Strategy.FILE: place_by_directory,
    Strategy.TAG: place_by_tag,
    Strategy.FAIL_FIRST: place_fail_first,
    Strategy.QUEUE: simulate_queue,
}


def plan_shards(
    items: Sequence[Placeable],
    threads: int,
    strategy: Strategy | str = Strategy.DURATION,
    *,
    default_duration: float = 30.0,
) -> ShardPlan:
    """Spread scenarios over exactly ``threads`` workers; pure and deterministic.

    Every scenario lands in exactly one shard, and a shard's ids are in execution order.
    Unknown durations become the median of the known ones (``default_duration`` when none
    is known) and are listed in ``ShardPlan.estimated``.

    >>> from engine.sharding import ShardItem
    >>> plan = plan_shards([ShardItem("a", 3.0), ShardItem("b", 2.0), ShardItem("c", 1.0)], 2)
    >>> [shard.item_ids for shard in plan.shards], plan.makespan
    ([('a',), ('b', 'c')], 3.0)

    Raises :class:`~engine.errors.SpecError` naming the field (``threads``, ``strategy``,
    ``default_duration``, ``items[3].id``, ...) for invalid input.
    """
    chosen = _parse_strategy(strategy)
    _check_threads(threads)
    _check_seconds("default_duration", default_duration)
    _check_items(items)
    durations, estimated = fill_durations(items, float(default_duration))
    assignment = _PLACERS[chosen](items, durations, threads)
    return build_plan(chosen, items, durations, assignment, estimated)


def _parse_strategy(strategy: Strategy | str) -> Strategy:
    try:
        return Strategy(strategy)
    except ValueError:
        choices = ", ".join(member.value for member in Strategy)
        raise SpecError(
            "strategy", f"unknown sharding strategy {strategy!r}", hint=f"one of: {choices}"
        ) from None


def _check_threads(threads: int) -> None:
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise SpecError("threads", f"must be a whole number of workers >= 1, got {threads!r}")


def _check_seconds(path: str, value: object) -> None:
    valid = (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )
    if not valid:
        raise SpecError(path, f"must be a finite number of seconds >= 0, got {value!r}")


_PLACEABLE = ("id", "duration", "location", "tags", "last_status")


def _check_items(items: Sequence[Placeable]) -> None:
    # Fast path for the common, valid case (100,000 items in a few ms); the loop below
    # finds and names the first problem.
    try:
        known = [item.duration for item in items if item.duration is not None]
        # Plain numbers (no bool), none negative, and a finite sum: none is NaN or infinite.
        if (
            len({item.id for item in items}) == len(items)
            and set(map(type, known)) <= {int, float}
            and (not known or (min(known) >= 0 and math.isfinite(sum(known))))
        ):
            return
    except AttributeError:
        pass  # not a scenario: named below
    first_seen: dict[str, int] = {}
    for position, item in enumerate(items):
        missing = [name for name in _PLACEABLE if not hasattr(item, name)]
        if missing:
            raise SpecError(
                f"items[{position}]",
                f"expected a scenario (a ShardItem), got {type(item).__name__} without "
                + ", ".join(missing),
            )
        if item.duration is not None:
            _check_seconds(f"items[{position}].duration", item.duration)
        earlier = first_seen.setdefault(item.id, position)
        if earlier != position:
            raise SpecError(
                f"items[{position}].id",
                f"duplicate scenario id {item.id!r}",
                hint=f"first used by items[{earlier}]",
            )
