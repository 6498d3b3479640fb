"""Retention: purge finished runs older than the configured age, and their workflows.

One policy for both kinds of run: a run created before the cut-off whose phase is final
(Succeeded, Failed, Error) is deleted, never one still going (Pending, Running, Canceling, or a
Failed run a retry has just set Running again: the delete re-checks the phase row by row).

- execution runs, with their results, groups, workers and leases (cascading), and idempotency
  keys older than the cut-off;
- pipeline runs, with their job rows and the outputs and results stored on them (cascading);
- run events older than the cut-off with their deliveries and attempt logs, unless a delivery
  of the event is still pending (it is never dropped), and tool jobs' deliveries.

Then each deleted run's workflow goes from its backend, and with it the logs (the local
backend's files, the pods on Argo); and its reports and artifacts: what the service kept under
``$DROVER_HOME/reports/<run>`` and, on the local backend, the workflow's keys in its artifact
repository (``drover/<workflow>/``). The purge says how many bytes that freed.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from api.models import Delivery, IdempotencyKey, OutboxEvent, PipelineRun, Run
from api.runs.report_store import ReportStore, directory_size
from engine.backends.base import Backend
from engine.labels import reports_key_prefix

__all__ = ["Purged", "purge"]

log = logging.getLogger("drover.retention")

FINAL = ("Succeeded", "Failed", "Error")


@dataclass(frozen=True)
class Purged:
    """The ids of the runs one purge deleted."""

    runs: list[str]
    pipeline_runs: list[str]
    freed_bytes: int = 0
    """Disk the runs' reports and artifacts took."""

    @property
    def total(self) -> int:
        return len(self.runs) + len(self.pipeline_runs)


def purge(
    session: Session,
    *,
    older_than_days: float,
    backends: Mapping[str, Backend] | None = None,
    now: datetime | None = None,
    reports: ReportStore | None = None,
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
    pending = select(Delivery.id).where(
        Delivery.event_id == OutboxEvent.id, Delivery.state == "pending"
    )
    session.execute(
        delete(OutboxEvent)
        .where(OutboxEvent.created_at < cutoff, OutboxEvent.dispatched.is_(True), ~exists(pending))
        .execution_options(synchronize_session=False)
    )  # deliveries and their attempts cascade
    session.execute(
        delete(Delivery)
        .where(
            Delivery.event_id.is_(None), Delivery.created_at < cutoff, Delivery.state != "pending"
        )
        .execution_options(synchronize_session=False)
    )
    session.commit()
    freed = sum(reports.remove(row.id) for row in runs) if reports is not None else 0
    for row in runs:
        freed += _remove_repository_reports(backends or {}, row.backend, row.workflow_name)
    _delete_workflows(
        [(row.backend, row.workflow_name) for row in (*runs, *pipeline_runs)], backends or {}
    )
    return Purged(
        runs=sorted(row.id for row in runs),
        pipeline_runs=sorted(row.id for row in pipeline_runs),
        freed_bytes=freed,
    )


def _remove_repository_reports(
    backends: Mapping[str, Backend], backend_name: str, workflow_name: str | None
) -> int:
    """The local backend's artifact repository keeps the workflow's reports under its own
    prefix (deleting the workflow leaves the repository alone); on Argo the artifact
    repository's own garbage collection (``artifactGC``) is the cluster's business."""
    store = getattr(backends.get(backend_name), "store", None)
    if store is None or not workflow_name or not hasattr(store, "repository_path"):
        return 0
    directory = Path(store.repository_path(reports_key_prefix(workflow_name)))
    freed = directory_size(directory)
    shutil.rmtree(directory, ignore_errors=True)
    return freed


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
