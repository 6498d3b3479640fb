"""Fill in unknown scenario durations so every scenario has a predicted cost."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from engine.sharding.model import Placeable

__all__ = ["fill_durations"]


def fill_durations(
    items: Sequence[Placeable], default_duration: float
) -> tuple[list[float], tuple[str, ...]]:
    """Return every item's duration by position, and the ids that were estimated.

    An unknown duration becomes the median of the known ones (a typical scenario of this
    suite), or ``default_duration`` when nothing is known yet.
    """
    known = [item.duration for item in items if item.duration is not None]
    fallback = float(statistics.median(known)) if known else default_duration
    durations = [fallback if item.duration is None else float(item.duration) for item in items]
    estimated = tuple(item.id for item in items if item.duration is None)
    return durations, estimated
