"""Retention: purge finished runs older than the configured age, and their workflows.

One policy for both kinds of run: a run created before the cut-off whose phase is final
(Succeeded, Failed, Error) is deleted, never one still going (Pending, Running, Canceling, or a
Failed run a retry has just set Running again: the delete re-checks the phase row by row).

- execution runs, with their results, groups, workers and leases (cascading), and idempotency
  keys older than the cut-off;
- pipeline runs, with their job rows and the outputs and results stored on them (cascading).

Then each deleted run's workflow goes from its backend, and with it the logs (the local
backend's files, the pods on Argo).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from api.models import IdempotencyKey, PipelineRun, Run
from engine.backends.base import Backend

__all__ = ["Purged", "purge"]

log = logging.getLogger("drover.retention")

FINAL = ("Succeeded", "Failed", "Error")


@dataclass(frozen=True)
class Purged:
    """The ids of the runs one purge deleted."""

    runs: list[str]
    pipeline_runs: list[str]

    @property
    def total(self) -> int:
        return len(self.runs) + len(self.pipeline_runs)


def purge(
    session: Session,
    *,
    older_than_days: float,
    backends: Mapping[str, Backend] | None = None,
    now: datetime | None = None,
) -> Purged:
    """Delete finished runs (both kinds) created before the cut-off, then their workflows."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    runs = session.execute(
        delete(Run)
        .where(Run.created_at < cutoff, Run.phase.in_(FINAL))
        .returning(Run.id, Run.backend, Run.workflow_name)
        .execution_options(synchronize_session=False)
    ).all()  # results etc. cascade
    pipeline_runs = session.execute(
        delete(PipelineRun)
        .where(PipelineRun.created_at < cutoff, PipelineRun.phase.in_(FINAL))
        .returning(PipelineRun.id, PipelineRun.backend, PipelineRun.workflow_name)
        .execution_options(synchronize_session=False)
    ).all()  # job rows cascade
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    session.commit()
    _delete_workflows(
        [(row.backend, row.workflow_name) for row in (*runs, *pipeline_runs)], backends or {}
    )
    return Purged(
        runs=sorted(row.id for row in runs), pipeline_runs=sorted(row.id for row in pipeline_runs)
    )


def _delete_workflows(
    workflows: Sequence[tuple[str, str | None]], backends: Mapping[str, Backend]
) -> None:
    """Delete each ``(backend, workflow name)``; one that fails is logged and skipped."""
    for backend_name, workflow_name in workflows:
        backend = backends.get(backend_name)
        if backend is not None and workflow_name:
            try:
                backend.delete(workflow_name)
            except Exception as exc:  # the workflow may be gone already
                log.info("could not delete workflow %s: %s", workflow_name, exc)
