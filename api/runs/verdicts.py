"""A run's verdict as the API shows it: ``engine.verdict`` plus the runs a user stopped."""

from __future__ import annotations

from typing import Final, Literal

from engine.verdict import Verdict, run_verdict

__all__ = ["CANCELED_PHASES", "RunVerdict", "verdict_of"]

RunVerdict = Literal["running", "passed", "failed", "errored", "canceled"]

CANCELED_PHASES: Final = frozenset({"Canceling", "Canceled", "Stopped"})
"""Phases that mean the user stopped the run (``Canceling`` is ours, while it stops)."""

STOPPED_PREFIX: Final = "Stopped with strategy"
"""Argo's message of a workflow that ended because it was stopped or terminated: ``operate``
in workflow/controller/operator.go sets ``Stopped with strategy '<Stop|Terminate>'`` when the
main node failed under a shutdown strategy (the local runner writes the same)."""

SHUTDOWN_PREFIX: Final = "workflow shutdown with strategy"
"""A node's message when a shutdown kept it from running (``createWorkflowPod`` in
workflow/controller/workflowpod.go, ``applyExecutionControl`` in exec_control.go); it becomes
the workflow's message when the run was stopped before any node failed (``operate`` in
operator.go takes the main node's message unless it failed), e.g. stopped during setup: the
phase is then Succeeded with nothing run."""

_NAMES: Final[dict[Verdict, RunVerdict]] = {
    Verdict.RUNNING: "running",
    Verdict.PASSED: "passed",
    Verdict.FAILED: "failed",
    Verdict.ERROR: "errored",
}


def verdict_of(
    phase: str,
    message: str | None,
    *,
    total: int,
    passed: int,
    failed: int,
    errored: int,
    skipped: int,
) -> RunVerdict:
    """``canceled`` for a run being stopped or stopped; else what its results say."""
    if phase in CANCELED_PHASES or (message or "").startswith((STOPPED_PREFIX, SHUTDOWN_PREFIX)):
        return "canceled"
    verdict = run_verdict(
        phase, total=total, passed=passed, failed=failed, errored=errored, skipped=skipped
    )
    return _NAMES[verdict]
