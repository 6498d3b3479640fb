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

from sqlalchemy import update
from sqlalchemy.orm import Session

from api.models import Run, RunWorker

__all__ = ["FINAL_PHASES", "record_resubmission", "record_retry"]

FINAL_PHASES = ("Succeeded", "Failed", "Error")


def record_retry(session: Session, run_id: str) -> bool:
    """Mark the run retried unless it already is (it is not final any more); True if marked."""
    changed = session.scalar(
        update(Run)
        .where(Run.id == run_id, Run.phase.in_(FINAL_PHASES))
        .values(phase="Running", attempt=Run.attempt + 1, finished_at=None, message=None)
        .returning(Run.id)
    )
    if changed is None:
        return False
    session.execute(
        update(RunWorker)
        .where(RunWorker.run_id == run_id, RunWorker.phase.in_(("Failed", "Error")))
        .values(results_read=False)
    )
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
