"""Executions: CRUD with version history, and "run now"."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, HTTPException, Query, Response
from sqlalchemy import func, select

from api.deps import MAX_ID, AdminDep, RowId, ServiceDep, SessionDep
from api.models import Execution, ExecutionVersion, Project
from api.openapi import ExecutionDocument
from api.routes.schedules import follow_spec_schedule, remove_schedules, schedules_of
from api.runs.control import start_run, start_run_once
from api.runs.scenario_history import ScenarioHistoryOut, scenario_history
from api.schemas import ExecutionOut, Page, RunOut, RunRequest, VersionOut
from api.specs import parse_api_execution
from engine.errors import Conflict
from engine.spec import Execution as ExecutionSpec

router = APIRouter(prefix="/executions", tags=["executions"])

SPEC_BODY = Body(description="an Execution document (the YAML of `drover validate`, as JSON)")


def _spec_json(model: ExecutionSpec) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def _project_id(session: SessionDep, model: ExecutionSpec) -> int:
    project = session.scalar(select(Project).where(Project.name == model.project.name))
    if project is None:
        project = Project(
            name=model.project.name, spec=model.project.model_dump(mode="json", exclude_none=True)
        )
        session.add(project)
        session.flush()
    return project.id


@router.post("", status_code=201, response_model=ExecutionOut)
def create_execution(
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    spec: Annotated[ExecutionDocument, SPEC_BODY],
) -> Execution:
    model = parse_api_execution(spec)
    if session.scalar(select(Execution).where(Execution.name == model.name)) is not None:
        raise HTTPException(409, f"execution {model.name!r} exists")
    row = Execution(
        name=model.name, spec=_spec_json(model), version=1, project_id=_project_id(session, model)
    )
    session.add(row)
    session.flush()
    session.add(ExecutionVersion(execution_id=row.id, version=1, spec=row.spec))
    follow_spec_schedule(service, session, model.schedule, execution_id=row.id)
    session.commit()
    return row


@router.get("", response_model=Page[ExecutionOut])
def list_executions(
    session: SessionDep,
    _: AdminDep,
    project_id: int | None = Query(None, ge=1, le=MAX_ID),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> Page[ExecutionOut]:
    query = select(Execution)
    if project_id is not None:
        query = query.where(Execution.project_id == project_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(Execution.id).offset(offset).limit(limit)).all()
    return Page(
        total=total,
        offset=offset,
        limit=limit,
        items=[ExecutionOut.model_validate(r) for r in rows],
    )


@router.get("/{execution_id}", response_model=ExecutionOut)
def get_execution(execution_id: RowId, session: SessionDep, _: AdminDep) -> Execution:
    row = session.get(Execution, execution_id)
    if row is None:
        raise HTTPException(404, f"execution {execution_id} not found")
    return row


@router.put("/{execution_id}", response_model=ExecutionOut)
def replace_execution(
    execution_id: RowId,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    spec: Annotated[ExecutionDocument, SPEC_BODY],
) -> Execution:
    row = session.get(Execution, execution_id, with_for_update=True)
    if row is None:
        raise HTTPException(404, f"execution {execution_id} not found")
    model = parse_api_execution(spec)
    row.name, row.spec, row.version = model.name, _spec_json(model), row.version + 1
    row.project_id = _project_id(session, model)
    row.updated_at = func.now()
    session.add(ExecutionVersion(execution_id=row.id, version=row.version, spec=row.spec))
    session.flush()
    follow_spec_schedule(service, session, model.schedule, execution_id=row.id)
    session.commit()
    session.refresh(row)
    return row


@router.get("/{execution_id}/versions", response_model=list[VersionOut])
def execution_versions(
    execution_id: RowId, session: SessionDep, _: AdminDep
) -> list[ExecutionVersion]:
    get_execution(execution_id, session, _)
    return list(
        session.scalars(
            select(ExecutionVersion)
            .where(ExecutionVersion.execution_id == execution_id)
            .order_by(ExecutionVersion.version)
        )
    )


@router.delete("/{execution_id}", status_code=204)
def delete_execution(
    execution_id: RowId, service: ServiceDep, session: SessionDep, _: AdminDep
) -> Response:
    execution = get_execution(execution_id, session, _)
    remove_schedules(service, schedules_of(session, execution_id=execution.id))
    session.delete(execution)
    session.commit()
    return Response(status_code=204)


@router.post("/{execution_id}/run", status_code=201, response_model=RunOut)
def run_now(
    execution_id: RowId,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    response: Response,
    body: RunRequest | None = None,
    idempotency_key: str | None = Header(
        None, max_length=200, description="the same key never starts a second run"
    ),
) -> Any:
    get_execution(execution_id, session, _)
    options: dict[str, Any] = {
        "backend": service.backend(),
        "strategy": body.strategy if body else None,
        "mirror": service.mirror,
        "facade_url": service.settings.public_url,
        "service_account": service.settings.service_account,
        "artifact_repository": service.settings.argo_artifact_repository,
    }
    if idempotency_key:
        started = start_run_once(session, idempotency_key, execution_id=execution_id, **options)
    else:
        started = start_run(session, execution_id=execution_id, **options)
    if not started.created:
        asked = options["strategy"]
        if started.run.strategy != asked:
            # A key names one request (as at Stripe): a different one under it is a conflict.
            raise Conflict(
                f"idempotency key {idempotency_key!r} was used with strategy "
                f"{started.run.strategy!r}, not {asked!r}: send the same request again, or use "
                "a new key for a new run"
            )
        response.status_code = 200
    return started.run


@router.get("/{execution_id}/scenarios", response_model=Page[ScenarioHistoryOut])
def scenarios_across_runs(
    execution_id: RowId,
    session: SessionDep,
    _: AdminDep,
    runs: int = Query(10, ge=1, le=100, description="how many of its latest runs to look at"),
    flaky: bool | None = Query(None, description="only the flaky (true) or steady (false) ones"),
    offset: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=1000),
) -> Page[ScenarioHistoryOut]:
    """Each scenario's outcomes and durations in the execution's last ``runs`` runs, newest
    first, and whether it is flaky: it passed only on a rerun, or passed in some runs and
    failed in others."""
    get_execution(execution_id, session, _)
    return scenario_history(
        session, execution_id=execution_id, runs=runs, flaky=flaky, offset=offset, limit=limit
    )
