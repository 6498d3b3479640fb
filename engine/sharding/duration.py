"""Duration: balance predicted durations over the workers, each worker running its scenarios in
the spec's order.

Two candidate plans: consecutive runs of the spec's order cut where the predicted time is
balanced, and longest processing time first (LPT, the classic greedy, within
(4/3 - 1/(3 * threads)) of the optimum; Graham, 1969). The consecutive one wins unless its
makespan is more than ``CONSECUTIVE_SLACK`` longer: a worker then loads (pytest: collects)
only its part of the project's files, and tests run in the order and with the neighbours
their suite was written for (module fixtures, tests that rely on an earlier one). The time
that saves is not in the durations, hence the slack.

Either way a worker runs its scenarios in the spec's order, never longest first: the order
within a worker does not change its load.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from engine.sharding.loads import Assignment, longest_first
from engine.sharding.model import ShardItem

__all__ = ["CONSECUTIVE_SLACK", "place_consecutive", "place_longest_first"]

CONSECUTIVE_SLACK = 0.05
"""How much longer (relative) the consecutive plan's makespan may be than LPT's."""


def place_longest_first(
    items: Sequence[ShardItem], durations: Sequence[float], threads: int
) -> Assignment:
    """The consecutive plan if it is within the slack of LPT, else LPT; spec order in each."""
    lpt, lpt_loads = longest_first(range(len(items)), durations, [0.0] * threads)
    consecutive = place_consecutive(durations, threads)
    longest = max((sum(durations[p] for p in part) for part in consecutive), default=0.0)
    if longest <= max(lpt_loads, default=0.0) * (1 + CONSECUTIVE_SLACK):
        return consecutive
    return [sorted(part) for part in lpt]


def place_consecutive(durations: Sequence[float], threads: int) -> Assignment:
    """Consecutive runs of positions, one per worker, cut where the running total crosses a
    multiple of ``total / threads`` (a scenario goes where its midpoint falls); by count when
    every duration is zero."""
    # Scaled by the longest, so that neither tiny durations (whose share would underflow to 0)
    # nor huge ones (whose sum would overflow) change where the cuts fall.
    longest = max(durations, default=0.0)
    weights = [d / longest for d in durations] if longest > 0 else [1.0] * len(durations)
    share = sum(weights) / threads if weights else 1.0
    assignment: Assignment = [[] for _ in range(threads)]
    done = 0.0
    for position, weight in enumerate(weights):
        # A midpoint exactly on a cut goes to the earlier worker, as LPT's ties do.
        worker = min(threads - 1, max(0, math.ceil((done + weight / 2) / share) - 1))
        assignment[worker].append(position)
        done += weight
    return assignment
