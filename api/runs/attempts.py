"""A run's further attempts: retries in place and operator resubmits, each recorded once.

Whoever starts them (Drover's API, or an operator in the Argo UI, which the mirror notices),
the same conditional updates record them, so a retry seen by both the API call and the watch
still counts as one attempt.

- retry: the same workflow runs its failed nodes again. The run goes back to Running with the
  next attempt number, and its failed workers' results artifacts are to be read again.
- resubmit by an operator: a new workflow from the old one's spec (Argo labels it
  ``workflows.argoproj.io/resubmitted-from-workflow``). The run follows the new workflow as
  its next attempt; every worker runs again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from api.mirror.transitions import as_utc
from api.models import Run, RunWorker
from api.notifications import outbox
from engine.status import is_final

__all__ = ["FINAL_PHASES", "record_resubmission", "record_retry", "workflow_runs_again"]

FINAL_PHASES = ("Succeeded", "Failed", "Error")


def record_retry(session: Session, run_id: str) -> bool:
    """Mark the run retried unless it already is (it is not final any more); True if marked.

    The run keeps the retried attempt's ``started_at`` and ``finished_at`` until the mirror
    writes the retried workflow's state: a finished copy that started and ended by then is from
    before the retry (``transitions.is_stale``)."""
    changed = session.scalar(
        update(Run)
        .where(Run.id == run_id, Run.phase.in_(FINAL_PHASES))
        .values(phase="Running", attempt=Run.attempt + 1, message=None)
        .returning(Run.id)
    )
    if changed is None:
        return False
    # Every worker that did not succeed runs again: the failed ones, and those that never ran
    # (after a stop, or a failed setup-env), which the first attempt's end marked read.
    session.execute(
        update(RunWorker)
        .where(RunWorker.run_id == run_id, RunWorker.phase != "Succeeded")
        .values(results_read=False)
    )
    outbox.on_run_retried(session, run_id)
    return True


def record_resubmission(
    session: Session,
    run_id: str,
    *,
    previous: str,
    workflow_name: str,
    workflow_uid: str | None,
    ui_url: str | None,
) -> bool:
    """Make ``workflow_name`` the run's next attempt if the run still follows ``previous``."""
    changed = session.scalar(
        update(Run)
        .where(Run.id == run_id, Run.workflow_name == previous)
        .values(
            workflow_name=workflow_name,
            workflow_uid=workflow_uid,
            ui_url=ui_url,
            phase="Pending",
            attempt=Run.attempt + 1,
            finished_at=None,
            message=None,
        )
        .returning(Run.id)
    )
    if changed is None:
        return False
    session.execute(update(RunWorker).where(RunWorker.run_id == run_id).values(results_read=False))
    return True


def workflow_runs_again(workflow: dict[str, Any], started_at: datetime | None) -> bool:
    """Whether a finished run's workflow runs again, or ran again, since ``started_at``: a retry
    (by Drover or in the Argo UI) restamps ``status.startedAt`` (createNewRetryWorkflow,
    workflow/util/util.go), so only a copy that started later is one. An older copy is not: a
    watch resumed from an earlier resourceVersion replays the workflow as it was then, not yet
    started or still running."""
    status = workflow.get("status") or {}
    try:
        restarted = datetime.fromisoformat(str(status.get("startedAt")))
    except ValueError:
        return False  # not started: a copy from before its first start
    if started_at is None:
        return not is_final(status.get("phase"))
    return restarted > as_utc(started_at)
