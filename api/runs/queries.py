"""Listing runs (of executions and of pipelines): the filters and orders a frontend's run
table needs, validated at the edge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from api.models import PipelineRun, Run
from api.runs.verdicts import verdict_sql
from engine.errors import SpecError

__all__ = ["RUN_PHASES", "RunFilter", "RunSort", "list_runs", "phase_names"]

RUN_PHASES: Final = ("Pending", "Running", "Succeeded", "Failed", "Error", "Canceling")
"""Every phase a run is stored with: Argo's workflow phases, and ``Canceling`` (ours)."""

RunSort = Literal[
    "created_at", "-created_at", "started_at", "-started_at", "finished_at", "-finished_at",
    "duration", "-duration",
]  # fmt: skip


def phase_names(
    values: Sequence[str] | None, *, field: str = "phase", known: Sequence[str] = RUN_PHASES
) -> list[str]:
    """Phase names as stored, from any case, repeated or comma-separated; an unknown one is a
    ``SpecError`` naming ``field`` and the phases there are."""
    by_lower = {p.lower(): p for p in known}
    names: list[str] = []
    for value in values or ():
        for part in value.split(","):
            name = part.strip()
            if not name:
                continue
            phase = by_lower.get(name.lower())
            if phase is None:
                raise SpecError(field, f"unknown phase {name!r}", f"one of {', '.join(known)}")
            if phase not in names:
                names.append(phase)
    return names


RunModel = type[Run] | type[PipelineRun]


@dataclass(frozen=True)
class RunFilter:
    execution_id: int | None = None
    pipeline_id: int | None = None
    schedule_id: int | None = None
    phases: tuple[str, ...] = ()
    verdicts: tuple[str, ...] = ()
    """Runs of executions only: their verdict (``api.runs.verdicts``)."""
    created_after: datetime | None = None
    created_before: datetime | None = None


def _filtered(query: Select[Any], where: RunFilter, model: RunModel) -> Select[Any]:
    if where.created_after and where.created_before and where.created_after > where.created_before:
        raise SpecError("created_after", "is later than created_before", "swap the two dates")
    if where.execution_id is not None and model is Run:
        query = query.where(Run.execution_id == where.execution_id)
    if where.pipeline_id is not None and model is PipelineRun:
        query = query.where(PipelineRun.pipeline_id == where.pipeline_id)
    if where.schedule_id is not None:
        query = query.where(model.schedule_id == where.schedule_id)
    if where.phases:
        query = query.where(model.phase.in_(where.phases))
    if where.verdicts and model is Run:
        query = query.where(verdict_sql().in_(where.verdicts))
    if where.created_after is not None:
        query = query.where(model.created_at >= where.created_after)
    if where.created_before is not None:
        query = query.where(model.created_at < where.created_before)
    return query


def _order(sort: RunSort, model: RunModel) -> list[Any]:
    name = sort.lstrip("-")
    column: Any
    if name == "duration":
        column = func.coalesce(model.finished_at, func.now()) - model.started_at
    else:
        column = getattr(model, name)
    ordered = column.desc() if sort.startswith("-") else column.asc()
    return [ordered.nulls_last(), model.id]


def list_runs(
    session: Session,
    where: RunFilter,
    *,
    sort: RunSort,
    offset: int,
    limit: int,
    model: RunModel = Run,
) -> tuple[int, list[Any]]:
    """How many runs of ``model`` match, and the page of them in ``sort`` order (ties by id)."""
    query = _filtered(select(model), where, model)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*_order(sort, model)).offset(offset).limit(limit)).all()
    return total, list(rows)
