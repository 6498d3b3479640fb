"""Queue: the predicted plan of the dynamic mode.

At run time workers lease scenarios from one queue sorted longest first; whichever worker
frees up first takes the next one. If the estimates hold, that is exactly list scheduling of
the sorted queue, so the prediction is the LPT plan: the worker that frees up first is the
least-loaded one, and simultaneous requests are served in worker order. The real run beats
any static plan when durations drift, because no worker sits idle while work remains.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.sharding.loads import Assignment, longest_first
from engine.sharding.model import Placeable

__all__ = ["simulate_queue"]


def simulate_queue(
    items: Sequence[Placeable], durations: Sequence[float], threads: int
) -> Assignment:
    """Which worker would lease which scenario, in lease order, if the estimates hold."""
    assignment, _ = longest_first(range(len(items)), durations, [0.0] * threads)
    return assignment
