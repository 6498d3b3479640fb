"""A run's verdict as the API shows it: ``engine.verdict`` plus the runs a user stopped."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final, Literal, get_args

from sqlalchemy import case, not_, or_

from api.models import Run
from engine.errors import SpecError
from engine.verdict import Verdict, run_verdict

__all__ = [
    "CANCELED_PHASES",
    "RunVerdict",
    "stopped_by_user",
    "verdict_names",
    "verdict_of",
    "verdict_sql",
]

RunVerdict = Literal["running", "passed", "failed", "errored", "canceled"]
VERDICTS: Final[tuple[str, ...]] = get_args(RunVerdict)

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


def stopped_by_user(message: str | None) -> bool:
    """Whether a final workflow's message says a stop or terminate ended it."""
    return (message or "").startswith((STOPPED_PREFIX, SHUTDOWN_PREFIX))


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
    if phase in CANCELED_PHASES or stopped_by_user(message):
        return "canceled"
    verdict = run_verdict(
        phase, total=total, passed=passed, failed=failed, errored=errored, skipped=skipped
    )
    return _NAMES[verdict]


def verdict_sql() -> Any:
    """:func:`verdict_of` as a SQL expression over a run's row, to filter runs by verdict in
    the database (tests/api/test_frontend_runs.py checks the two agree row by row)."""
    canceled = or_(
        Run.phase.in_(CANCELED_PHASES),
        Run.message.startswith(STOPPED_PREFIX, autoescape=True),
        Run.message.startswith(SHUTDOWN_PREFIX, autoescape=True),
    )
    not_run = Run.total - (Run.passed + Run.errored + Run.skipped)
    return case(
        (canceled, "canceled"),
        (not_(Run.phase.in_(("Succeeded", "Failed", "Error"))), "running"),
        (Run.failed > 0, "failed"),
        (or_(Run.errored > 0, not_run > 0, Run.phase != "Succeeded"), "errored"),
        else_="passed",
    )


def verdict_names(values: Sequence[str] | None) -> list[str]:
    """Verdicts from any case, repeated or comma-separated; an unknown one is a ``SpecError``
    naming the ``verdict`` field and the verdicts there are."""
    names: list[str] = []
    for value in values or ():
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            if name not in VERDICTS:
                fix = f"one of {', '.join(VERDICTS)}"
                raise SpecError("verdict", f"unknown verdict {name!r}", fix)
            if name not in names:
                names.append(name)
    return names
