"""Schedules: cron expressions that start runs of an execution or of a pipeline.

Locally the service's scheduler fires them; on Argo each is a CronWorkflow, applied here in the
same request (an Argo failure leaves the schedule as it was) and re-applied when its execution
or pipeline changes. The ``schedule`` in an execution's or pipeline's own spec becomes
schedules of it too, changed only by changing the spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.deps import AdminDep, RowId, Service, ServiceDep, SessionDep
from api.models import Execution, Pipeline, Schedule
from api.schedules.runs import remove_schedule, sync_schedule
from api.schedules.scheduler import next_fire_time
from api.schemas import Page, ScheduleIn, ScheduleOut
from engine.backends.argo import ArgoBackend
from engine.spec import Schedule as CronSpec

router = APIRouter(prefix="/schedules", tags=["schedules"])


def _cron_backend(service: Service) -> ArgoBackend | None:
    """The Argo backend when it runs the service's schedules (None: the local scheduler does)."""
    backend = service.backends.get(service.default_backend)
    return backend if isinstance(backend, ArgoBackend) else None


def apply_schedules(service: Service, session: Session, schedules: Sequence[Schedule]) -> None:
    """Apply each schedule's CronWorkflow on Argo (nothing to do locally); the caller commits."""
    backend = _cron_backend(service)
    if backend is None:
        return
    for schedule in schedules:
        sync_schedule(
            session,
            schedule,
            backend,
            facade_url=service.settings.public_url,
            service_account=service.settings.service_account,
            artifact_repository=service.settings.argo_artifact_repository,
            agent_service_account=service.settings.agent_service_account,
        )


def remove_schedules(service: Service, schedules: Sequence[Schedule]) -> None:
    backend = _cron_backend(service)
    if backend is not None:
        for schedule in schedules:
            remove_schedule(schedule, backend)


def schedules_of(
    session: Session, *, execution_id: int | None = None, pipeline_id: int | None = None
) -> list[Schedule]:
    """The schedules of one execution, or of one pipeline."""
    return list(
        session.scalars(
            select(Schedule)
            .where(Schedule.execution_id == execution_id, Schedule.pipeline_id == pipeline_id)
            .order_by(Schedule.id)
        )
    )


def follow_spec_schedule(
    service: Service,
    session: Session,
    cron_spec: CronSpec | None,
    *,
    execution_id: int | None = None,
    pipeline_id: int | None = None,
) -> None:
    """Keep the schedules an execution's (or pipeline's) spec declares, one per cron expression,
    in step with it; then apply every schedule of it (it changed). The caller commits."""
    target = {"execution_id": execution_id, "pipeline_id": pipeline_id}
    wanted = cron_spec.cron if cron_spec else []
    owned = [s for s in schedules_of(session, **target) if s.from_spec]
    stale = [s for s in owned if s.cron not in wanted]
    remove_schedules(service, stale)
    for schedule in stale:
        session.delete(schedule)
    kept = {s.cron: s for s in owned if s.cron in wanted}
    for cron in wanted:
        assert cron_spec is not None
        schedule = kept.get(cron) or Schedule(**target, cron=cron, from_spec=True)
        settings = (cron_spec.timezone, str(cron_spec.concurrency_policy), not cron_spec.suspend)
        current = (schedule.timezone, schedule.concurrency_policy, schedule.enabled)
        if cron not in kept or settings != current:
            schedule.timezone, schedule.concurrency_policy, schedule.enabled = settings
            schedule.next_run_at = (
                next_fire_time(cron, schedule.timezone, datetime.now(UTC))
                if schedule.enabled
                else None
            )
        session.add(schedule)
    session.flush()
    apply_schedules(service, session, schedules_of(session, **target))


def _target(schedule: Schedule) -> str:
    if schedule.pipeline_id is not None:
        return f"pipeline {schedule.pipeline_id}"
    return f"execution {schedule.execution_id}"


def _editable(schedule: Schedule) -> Schedule:
    if schedule.from_spec:
        kind = "pipelines" if schedule.pipeline_id is not None else "executions"
        raise HTTPException(
            409,
            f"schedule {schedule.id} is the schedule in {_target(schedule)}'s spec: change or "
            f"remove it there (PUT /api/v1/{kind}/{{id}})",
        )
    return schedule


def _apply(session: SessionDep, schedule: Schedule, body: ScheduleIn) -> None:
    if body.execution_id is not None and session.get(Execution, body.execution_id) is None:
        raise HTTPException(404, f"execution {body.execution_id} not found")
    if body.pipeline_id is not None and session.get(Pipeline, body.pipeline_id) is None:
        raise HTTPException(404, f"pipeline {body.pipeline_id} not found")
    schedule.execution_id, schedule.pipeline_id = body.execution_id, body.pipeline_id
    schedule.cron, schedule.timezone = body.cron, body.timezone
    schedule.enabled = body.enabled
    schedule.concurrency_policy = body.concurrency_policy
    schedule.next_run_at = (
        next_fire_time(body.cron, body.timezone, datetime.now(UTC)) if body.enabled else None
    )


@router.post("", status_code=201, response_model=ScheduleOut)
def create_schedule(
    body: ScheduleIn, service: ServiceDep, session: SessionDep, _: AdminDep
) -> Schedule:
    schedule = Schedule()
    _apply(session, schedule, body)
    session.add(schedule)
    session.flush()
    apply_schedules(service, session, [schedule])
    session.commit()
    return schedule


@router.get("", response_model=Page[ScheduleOut])
def list_schedules(
    session: SessionDep,
    _: AdminDep,
    execution_id: int | None = Query(
        None, ge=1, le=2_147_483_647, description="only the schedules of this execution"
    ),
    pipeline_id: int | None = Query(
        None, ge=1, le=2_147_483_647, description="only the schedules of this pipeline"
    ),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> Page[ScheduleOut]:
    query = select(Schedule)
    if execution_id is not None:
        query = query.where(Schedule.execution_id == execution_id)
    if pipeline_id is not None:
        query = query.where(Schedule.pipeline_id == pipeline_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Schedule.id).offset(offset).limit(limit))
    return Page(
        total=total, offset=offset, limit=limit, items=[ScheduleOut.model_validate(r) for r in rows]
    )


@router.get("/{schedule_id}", response_model=ScheduleOut)
def get_schedule(schedule_id: RowId, session: SessionDep, _: AdminDep) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise HTTPException(404, f"schedule {schedule_id} not found")
    return schedule


@router.put("/{schedule_id}", response_model=ScheduleOut)
def replace_schedule(
    schedule_id: RowId, body: ScheduleIn, service: ServiceDep, session: SessionDep, _: AdminDep
) -> Schedule:
    schedule = _editable(get_schedule(schedule_id, session, _))
    moved = (schedule.execution_id, schedule.pipeline_id) != (body.execution_id, body.pipeline_id)
    _apply(session, schedule, body)
    if moved:
        remove_schedules(service, [schedule])  # a CronWorkflow named after the old target
    apply_schedules(service, session, [schedule])
    session.commit()
    return schedule


@router.delete("/{schedule_id}", status_code=204)
def delete_schedule(
    schedule_id: RowId, service: ServiceDep, session: SessionDep, _: AdminDep
) -> Response:
    schedule = _editable(get_schedule(schedule_id, session, _))
    remove_schedules(service, [schedule])
    session.delete(schedule)
    session.commit()
    return Response(status_code=204)
