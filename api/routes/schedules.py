"""Schedules: cron expressions that start runs of an execution (in-process scheduler locally)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Query, Response
from sqlalchemy import func, select

from api.deps import AdminDep, RowId, SessionDep
from api.models import Execution, Schedule
from api.scheduler import next_fire_time
from api.schemas import Page, ScheduleIn, ScheduleOut

router = APIRouter(prefix="/schedules", tags=["schedules"])


def _apply(session: SessionDep, schedule: Schedule, body: ScheduleIn) -> None:
    if session.get(Execution, body.execution_id) is None:
        raise HTTPException(404, f"execution {body.execution_id} not found")
    schedule.execution_id, schedule.cron, schedule.timezone = (
        body.execution_id,
        body.cron,
        body.timezone,
    )
    schedule.enabled = body.enabled
    schedule.next_run_at = (
        next_fire_time(body.cron, body.timezone, datetime.now(UTC)) if body.enabled else None
    )


@router.post("", status_code=201, response_model=ScheduleOut)
def create_schedule(body: ScheduleIn, session: SessionDep, _: AdminDep) -> Schedule:
    schedule = Schedule()
    _apply(session, schedule, body)
    session.add(schedule)
    session.commit()
    return schedule


@router.get("", response_model=Page)
def list_schedules(
    session: SessionDep,
    _: AdminDep,
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> Page:
    total = session.scalar(select(func.count()).select_from(Schedule)) or 0
    rows = session.scalars(select(Schedule).order_by(Schedule.id).offset(offset).limit(limit))
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
    schedule_id: RowId, body: ScheduleIn, session: SessionDep, _: AdminDep
) -> Schedule:
    schedule = get_schedule(schedule_id, session, _)
    _apply(session, schedule, body)
    session.commit()
    return schedule


@router.delete("/{schedule_id}", status_code=204)
def delete_schedule(schedule_id: RowId, session: SessionDep, _: AdminDep) -> Response:
    session.delete(get_schedule(schedule_id, session, _))
    session.commit()
    return Response(status_code=204)
