"""Retention: purge runs (with their results, groups, workers, leases) and idempotency keys
older than the configured age, and their workflows (the local backend's files)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.models import IdempotencyKey, Run
from engine.backends.base import Backend

__all__ = ["purge"]

log = logging.getLogger("drover.retention")

FINAL = ("Succeeded", "Failed", "Error")


def purge(
    session: Session,
    *,
    older_than_days: float,
    backends: Mapping[str, Backend] | None = None,
    now: datetime | None = None,
) -> list[str]:
    """Delete finished runs created before the cut-off; returns their ids."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=older_than_days)
    rows = session.execute(
        select(Run.id, Run.backend, Run.workflow_name).where(
            Run.created_at < cutoff, Run.phase.in_(FINAL)
        )
    ).all()
    ids = [row.id for row in rows]
    if ids:
        session.execute(delete(Run).where(Run.id.in_(ids)))  # results etc. cascade
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    session.commit()
    for row in rows:
        backend = (backends or {}).get(row.backend)
        if backend is not None and row.workflow_name:
            try:
                backend.delete(row.workflow_name)
            except Exception as exc:  # the workflow may be gone already
                log.info("could not delete workflow %s: %s", row.workflow_name, exc)
    return ids
