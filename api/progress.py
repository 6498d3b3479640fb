"""Progress of a run, overall, per flow and per group, from mirrored rows (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import BaseModel

__all__ = ["GroupFacts", "Progress", "compute_progress"]


class Progress(BaseModel):
    total: int = 0
    completed: int = 0
    passed: int = 0
    failed: int = 0
    errored: int = 0
    """Scenarios whose runner reported an error (a broken fixture, a crash), apart from failed."""
    skipped: int = 0
    running: int = 0
    pending: int = 0
    percentage: float = 0.0

    def add(self, other: Progress) -> Progress:
        data = {k: getattr(self, k) + getattr(other, k) for k in _COUNTS}
        return _finish(Progress(**data))


_COUNTS = ("total", "completed", "passed", "failed", "errored", "skipped", "running")


@dataclass(frozen=True)
class GroupFacts:
    key: str
    flow: str
    total: int
    shards: list[list[str]]
    phase: str
    running_shards: frozenset[int]
    leased: int | None = None
    """Queue mode: how many scenarios are leased right now (replaces the static shard view)."""


def compute_progress(
    groups: Iterable[GroupFacts], statuses: Mapping[str, str]
) -> tuple[Progress, dict[str, Progress], dict[str, Progress]]:
    """``statuses`` maps scenario id to the status that counts (``passed``, ``failed``, ...)."""
    per_group: dict[str, Progress] = {}
    per_flow: dict[str, Progress] = {}
    overall = Progress()
    for group in groups:
        ids = [i for shard in group.shards for i in shard]
        done = [statuses[i] for i in ids if i in statuses]
        if group.leased is not None:
            running = group.leased
        else:
            running = sum(
                1
                for index in group.running_shards
                if index < len(group.shards)
                for i in group.shards[index]
                if i not in statuses
            )
        progress = _finish(
            Progress(
                total=group.total,
                completed=len(done),
                passed=done.count("passed"),
                failed=done.count("failed"),
                errored=done.count("error"),
                skipped=done.count("skipped"),
                running=running,
            )
        )
        per_group[group.key] = progress
        per_flow[group.flow] = per_flow.get(group.flow, Progress()).add(progress)
        overall = overall.add(progress)
    return overall, per_flow, per_group


def _finish(progress: Progress) -> Progress:
    pending = max(progress.total - progress.completed - progress.running, 0)
    percentage = round(100.0 * progress.completed / progress.total, 1) if progress.total else 0.0
    return progress.model_copy(update={"pending": pending, "percentage": percentage})
