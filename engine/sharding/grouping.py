"""Keep related scenarios on one worker, and split a group only when keeping it costs time.

Shared by the file and tag strategies. Scenarios are grouped by a hierarchy of keys (file:
directory, then file; tag: first tag, then file); below the last key a group splits into its
single scenarios. The rule:

1. Start with the top-level groups; a group that alone runs longer than the target (below)
   is split right away, as often as needed. Place the groups LPT by their total duration.
2. The plan is accepted when its makespan is within the target -- :data:`GROUPING_SLACK` over
   the lower bound ``max(total / threads, longest)``, or LPT over single scenarios when even
   that cannot reach the slack -- and no worker is left idle while the makespan exceeds the
   lower bound.
3. Otherwise split one group a level down (directory → files → scenarios): the largest
   splittable group on the busiest worker, or if that worker holds single scenarios only, the
   largest splittable group anywhere; then place again from step 2.

Fully split, the plan *is* LPT over single scenarios, so the loop always ends within target;
it normally stops after a few splits, leaving most groups whole. After :data:`MAX_SPLITS`
splits it gives up on grouping and returns the LPT plan over single scenarios. Within a
worker, groups run longest first and a group's scenarios keep their input order.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from engine.sharding.loads import Assignment, longest_first, lower_bound
from engine.sharding.model import Placeable

__all__ = ["GROUPING_SLACK", "MAX_SPLITS", "GroupKey", "place_groups"]

GroupKey = Callable[[Placeable], Hashable]
"""Names the group a scenario belongs to at one level of the hierarchy."""

GROUPING_SLACK = 0.03
"""How much longer than the lower bound a plan may be to keep groups whole (3%)."""

MAX_SPLITS = 256
"""Bound on re-planning rounds; past it the plan falls back to single-scenario LPT."""

# Comparisons of float sums accumulated in different orders.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class _Group:
    positions: tuple[int, ...]
    """Input positions, ascending, so a group runs in input order."""
    total: float
    depth: int
    """How many levels of keys formed it; the next split uses ``levels[depth]``."""

    @property
    def first(self) -> int:
        return self.positions[0]

    @property
    def splittable(self) -> bool:
        return len(self.positions) > 1


def place_groups(
    items: Sequence[Placeable],
    durations: Sequence[float],
    threads: int,
    levels: Sequence[GroupKey],
) -> Assignment:
    """Place scenarios group by group, splitting groups only as far as makespan requires."""
    idle = [0.0] * threads
    singles, single_loads = longest_first(range(len(items)), durations, idle)
    bound = lower_bound(sum(durations), max(durations, default=0.0), threads)
    target = max(bound * (1 + GROUPING_SLACK), max(single_loads)) * (1 + _EPSILON)

    groups = _split_oversized(
        _partition(range(len(items)), levels[0], 1, items, durations),
        target,
        levels,
        items,
        durations,
    )
    for _ in range(MAX_SPLITS):
        placement, loads = longest_first(range(len(groups)), [g.total for g in groups], idle)
        makespan = max(loads)
        idle_worker = any(not placed for placed in placement)
        if makespan <= target and not (idle_worker and makespan > bound * (1 + _EPSILON)):
            return _expand(placement, groups)
        victim = _group_to_split(groups, placement, loads)
        if victim is None:
            return _expand(placement, groups)
        children = _split(groups.pop(victim), levels, items, durations)
        for child in children:
            bisect.insort(groups, child, key=lambda group: group.first)
    return singles


def _partition(
    positions: Iterable[int],
    key: GroupKey,
    depth: int,
    items: Sequence[Placeable],
    durations: Sequence[float],
) -> list[_Group]:
    """Groups by ``key``, in order of first appearance, each keeping input order."""
    members: dict[Hashable, list[int]] = {}
    for position in positions:
        members.setdefault(key(items[position]), []).append(position)
    return [
        _Group(tuple(group), sum(durations[p] for p in group), depth) for group in members.values()
    ]


def _split(
    group: _Group,
    levels: Sequence[GroupKey],
    items: Sequence[Placeable],
    durations: Sequence[float],
) -> list[_Group]:
    """One level down; levels that would not divide the group are skipped."""
    for depth in range(group.depth, len(levels)):
        children = _partition(group.positions, levels[depth], depth + 1, items, durations)
        if len(children) > 1:
            return children
    return [_Group((p,), durations[p], len(levels)) for p in group.positions]


def _split_oversized(
    groups: Iterable[_Group],
    target: float,
    levels: Sequence[GroupKey],
    items: Sequence[Placeable],
    durations: Sequence[float],
) -> list[_Group]:
    """Split every group that alone runs longer than the target: it can never stay whole.

    Doing this up front, without re-planning after each split, keeps the planner fast when
    groups are few and workers many.
    """
    pending = list(groups)
    kept: list[_Group] = []
    while pending:
        group = pending.pop()
        if group.total > target and group.splittable:
            pending.extend(_split(group, levels, items, durations))
        else:
            kept.append(group)
    return sorted(kept, key=lambda group: group.first)


def _group_to_split(
    groups: Sequence[_Group], placement: Assignment, loads: Sequence[float]
) -> int | None:
    """Index of the largest splittable group on the busiest worker, else anywhere."""
    busiest = max(range(len(loads)), key=lambda worker: (loads[worker], -worker))
    for candidates in (placement[busiest], range(len(groups))):
        splittable = [index for index in candidates if groups[index].splittable]
        if splittable:
            return min(splittable, key=lambda index: (-groups[index].total, groups[index].first))
    return None


def _expand(placement: Assignment, groups: Sequence[_Group]) -> Assignment:
    return [[p for index in placed for p in groups[index].positions] for placed in placement]
