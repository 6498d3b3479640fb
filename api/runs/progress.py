"""Progress of a run, overall, per flow and per group, from mirrored rows (pure)."""

from __future__ import annotations

from collections.abc import Iterable
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
    """A group's counters as the ingest keeps them, and how many of its scenarios run now."""

    key: str
    flow: str
    total: int
    passed: int
    failed: int
    errored: int
    skipped: int
    running: int
    """Static plan: unreported scenarios of its running shards; queue mode: leased ones."""


def compute_progress(
    groups: Iterable[GroupFacts],
) -> tuple[Progress, dict[str, Progress], dict[str, Progress]]:
    """Overall, per flow and per group, from each group's counters: O(groups)."""
    per_group: dict[str, Progress] = {}
    per_flow: dict[str, Progress] = {}
    overall = Progress()
    for group in groups:
        completed = group.passed + group.failed + group.errored + group.skipped
        progress = _finish(
            Progress(
                total=group.total,
                completed=completed,
                passed=group.passed,
                failed=group.failed,
                errored=group.errored,
                skipped=group.skipped,
                running=max(min(group.running, group.total - completed), 0),
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
