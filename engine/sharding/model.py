"""The planner's vocabulary: strategies, the scenarios it places, and the plan it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

__all__ = ["Placeable", "Shard", "ShardItem", "ShardPlan", "Strategy"]


class Strategy(StrEnum):
    """How a scenario group's scenarios are spread over its workers."""

    ROUND_ROBIN = "round-robin"
    """Input order, scenario i to worker i mod threads; fine when durations are alike."""
    DURATION = "duration"
    """Longest processing time first (LPT): each scenario to the least-loaded worker."""
    FILE = "file"
    """Scenarios of one directory stay on one worker unless that costs makespan."""
    TAG = "tag"
    """Scenarios sharing their first tag stay on one worker unless that costs makespan."""
    FAIL_FIRST = "fail-first"
    """Previously failed scenarios first (LPT among them), then the rest by LPT."""
    QUEUE = "queue"
    """Dynamic: workers lease the longest remaining scenario at run time; predicted as LPT."""


class Placeable(Protocol):
    """What the planner reads of a scenario: a :class:`ShardItem`, or the spec's own scenario
    as it is (planning 100,000 scenarios then copies none of them)."""

    @property
    def id(self) -> str: ...
    @property
    def duration(self) -> float | None: ...
    @property
    def location(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def last_status(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class ShardItem:
    """One scenario as the planner sees it."""

    id: str
    duration: float | None = None
    """Estimated seconds from history; ``None`` when unknown."""
    location: str = ""
    """Where it lives: ``tests/auth/test_login.py::test_ok`` or ``features/a.feature:12``."""
    tags: tuple[str, ...] = ()
    last_status: str | None = None
    """Outcome of its previous run: ``passed``, ``failed``, ``skipped`` or ``None``."""


@dataclass(frozen=True, slots=True)
class Shard:
    """The scenarios one worker runs, in execution order, and their predicted seconds."""

    index: int
    item_ids: tuple[str, ...]
    load: float


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """A complete plan: exactly ``threads`` shards holding every scenario once."""

    strategy: Strategy
    threads: int
    shards: tuple[Shard, ...]
    total: float
    """Predicted seconds of all scenarios together."""
    longest: float
    """Predicted seconds of the longest single scenario."""
    makespan: float
    """Predicted wall time: the load of the busiest shard."""
    lower_bound: float
    """No plan can beat ``max(total / threads, longest)``."""
    imbalance: float
    """``makespan / lower_bound``; 1.0 is a perfect plan (and the value for an empty group)."""
    estimated: tuple[str, ...]
    """Ids whose duration was unknown and filled in by the planner, in input order."""
