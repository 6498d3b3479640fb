"""Plan arithmetic shared by every strategy: greedy placement and the plan's figures.

Strategies speak in positions (indexes into the input sequence) and return an
:data:`Assignment`, one list of positions per worker in execution order;
:func:`build_plan` turns that into the public :class:`ShardPlan`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from engine.sharding.model import Placeable, Shard, ShardPlan, Strategy

__all__ = ["Assignment", "build_plan", "longest_first", "lower_bound"]

Assignment = list[list[int]]
"""Per worker, the positions of its units in the order it runs them."""


def longest_first(
    units: Iterable[int], weights: Sequence[float], loads: Sequence[float]
) -> tuple[Assignment, list[float]]:
    """Place units longest first, each on the least-loaded worker (LPT list scheduling).

    ``units`` index into ``weights``; ties in weight keep the units' order, ties in load go to
    the lowest worker index. Workers start from ``loads``, so placements can be chained
    (fail-first puts the rest on top of the failed scenarios). Returns the units per worker in
    placement order and the final loads. O(n log n + n log threads).
    """
    # Stable, reversed too: ties keep the units' order.
    ordered = sorted(units, key=weights.__getitem__, reverse=True)
    heap = [(load, worker) for worker, load in enumerate(loads)]
    heapq.heapify(heap)
    assignment: Assignment = [[] for _ in loads]
    for unit in ordered:
        load, worker = heap[0]
        assignment[worker].append(unit)
        heapq.heapreplace(heap, (load + weights[unit], worker))
    final = [0.0] * len(loads)
    for load, worker in heap:
        final[worker] = load
    return assignment, final


def lower_bound(total: float, longest: float, threads: int) -> float:
    """No plan finishes sooner: the work spread perfectly, or the longest single scenario."""
    return max(total / threads, longest)


def build_plan(
    strategy: Strategy,
    items: Sequence[Placeable],
    durations: Sequence[float],
    assignment: Assignment,
    estimated: tuple[str, ...],
) -> ShardPlan:
    """Compute loads, makespan and bounds for an assignment of positions to workers."""
    shards = tuple(
        Shard(
            index=worker,
            item_ids=tuple([items[position].id for position in positions]),
            load=sum(map(durations.__getitem__, positions)),
        )
        for worker, positions in enumerate(assignment)
    )
    threads = len(assignment)
    total = sum(durations)
    longest = max(durations, default=0.0)
    makespan = max(shard.load for shard in shards)
    bound = lower_bound(total, longest, threads)
    return ShardPlan(
        strategy=strategy,
        threads=threads,
        shards=shards,
        total=total,
        longest=longest,
        makespan=makespan,
        lower_bound=bound,
        imbalance=makespan / bound if bound > 0 else 1.0,
        estimated=estimated,
    )
