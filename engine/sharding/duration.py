"""Duration: longest processing time first (LPT), the classic greedy makespan heuristic.

Its makespan is at most (4/3 - 1/(3 * threads)) times the optimum (Graham, 1969).
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.sharding.loads import Assignment, longest_first
from engine.sharding.model import ShardItem

__all__ = ["place_longest_first"]


def place_longest_first(
    items: Sequence[ShardItem], durations: Sequence[float], threads: int
) -> Assignment:
    """Longest scenario first, each onto the least-loaded worker (ties: lowest index)."""
    assignment, _ = longest_first(range(len(items)), durations, [0.0] * threads)
    return assignment
