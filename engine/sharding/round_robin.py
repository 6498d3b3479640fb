"""Round-robin: scenario i goes to worker i mod threads, ignoring durations."""

from __future__ import annotations

from collections.abc import Sequence

from engine.sharding.loads import Assignment
from engine.sharding.model import Placeable

__all__ = ["place_round_robin"]


def place_round_robin(
    items: Sequence[Placeable], durations: Sequence[float], threads: int
) -> Assignment:
    """Deal the scenarios out in input order, like cards."""
    return [list(range(worker, len(items), threads)) for worker in range(threads)]
