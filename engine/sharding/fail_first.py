"""Fail-first: scenarios that failed last time run first, for the fastest red signal.

The failed scenarios are placed LPT on idle workers; the rest are then placed LPT on top of
those loads, so each worker starts with its failed scenarios and the plan stays balanced.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.sharding.loads import Assignment, longest_first
from engine.sharding.model import Placeable

__all__ = ["FAILURE_STATUSES", "place_fail_first", "previously_failed"]

FAILURE_STATUSES = frozenset({"failed", "error", "timedout", "timed_out"})
"""Previous outcomes (compared case-insensitively) that count as a failure."""


def previously_failed(item: Placeable) -> bool:
    """Whether the scenario's last recorded outcome was a failure."""
    return item.last_status is not None and item.last_status.lower() in FAILURE_STATUSES


def place_fail_first(
    items: Sequence[Placeable], durations: Sequence[float], threads: int
) -> Assignment:
    """Failed scenarios first on every worker (LPT among them), then the rest by LPT."""
    failed = [position for position, item in enumerate(items) if previously_failed(item)]
    others = [position for position, item in enumerate(items) if not previously_failed(item)]
    first, loads = longest_first(failed, durations, [0.0] * threads)
    then, _ = longest_first(others, durations, loads)
    return [head + tail for head, tail in zip(first, then, strict=True)]
