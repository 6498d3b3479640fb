"""Scenario progress of a run: what the plan promised, read against the workflow's status.

Workers report their scenario counts in the ``summary`` output parameter when they finish;
until then a running worker's planned scenarios count as running and the rest as pending.
Pure: the CLI's live view and the API's progress both come from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.planning import ExecutionPlan, GroupPlan
from engine.status import RunState, WorkerState, is_final

__all__ = ["Progress", "group_progress", "run_progress"]


@dataclass(frozen=True)
class Progress:
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    running: int = 0
    not_run: int = 0
    """Scenarios of workers that ended without a summary, or whose group never started."""

    @property
    def completed(self) -> int:
        return self.passed + self.failed + self.skipped

    @property
    def pending(self) -> int:
        return max(self.total - self.completed - self.running - self.not_run, 0)

    @property
    def percentage(self) -> float:
        return (
            round(100.0 * (self.completed + self.not_run) / self.total, 1) if self.total else 100.0
        )

    def __add__(self, other: Progress) -> Progress:
        return Progress(
            total=self.total + other.total,
            passed=self.passed + other.passed,
            failed=self.failed + other.failed,
            skipped=self.skipped + other.skipped,
            running=self.running + other.running,
            not_run=self.not_run + other.not_run,
        )

    def as_dict(self) -> dict[str, int | float]:
        return {
            "total": self.total,
            "completed": self.completed,
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
            "running": self.running,
            "pending": self.pending,
            "not_run": self.not_run,
            "percentage": self.percentage,
        }


def _worker_progress(planned: int, worker: WorkerState | None, run_final: bool) -> Progress:
    if worker is None or worker.phase in ("Pending", ""):
        return Progress(total=planned, not_run=planned if run_final else 0)
    if worker.summary is not None and is_final(worker.phase):
        counts = worker.summary
        reported = counts.passed + counts.failed + counts.skipped + counts.error
        return Progress(
            total=planned,
            passed=counts.passed,
            # An agent's "error" (the runner never reported the scenario) is a failure to users.
            failed=counts.failed + counts.error,
            skipped=counts.skipped,
            not_run=max(planned - reported, 0),
        )
    if is_final(worker.phase) or worker.phase in ("Skipped", "Omitted"):
        return Progress(total=planned, not_run=planned)
    return Progress(total=planned, running=planned)


def group_progress(group: GroupPlan, state: RunState) -> Progress:
    total = Progress()
    for index, planned in enumerate(group.workers):
        worker = state.workers.get((group.key, index))
        total += _worker_progress(len(planned), worker, state.final)
    return total


def run_progress(plan: ExecutionPlan, state: RunState) -> dict[str, Progress]:
    """Progress per group key, in plan order."""
    return {group.key: group_progress(group, state) for group in plan.groups}
