"""Pipelines: CRUD with version history, "run now", and their runs with per-job state and logs,
control actions (cancel, retry, suspend, resume) and resubmit."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Path, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.deps import MAX_ID, AdminDep, RowId, Service, ServiceDep, SessionDep
from api.mirror.pipelines import follower_of, job_log_nodes, refresh_pipeline_run
from api.models import Pipeline, PipelineRun, PipelineRunJob, PipelineVersion
from api.openapi import PipelineDocument
from api.pipelines.control import (
    control_pipeline_run,
    create_pipeline,
    delete_pipeline,
    get_pipeline,
    get_pipeline_run,
    replace_pipeline,
    resubmit_pipeline_run,
    resubmitted_from,
    start_pipeline_run,
)
from api.routes.schedules import follow_spec_schedule, remove_schedules, schedules_of
from api.runs.queries import RUN_PHASES, RunFilter, RunSort, phase_names
from api.runs.queries import list_runs as query_runs
from api.schemas import (
    Page,
    PipelineJobOut,
    PipelineOut,
    PipelineRunDetail,
    PipelineRunOut,
    PipelineRunRequest,
    VersionOut,
)
from api.sse import StreamState, delta_stream, log_events
from engine.errors import DroverError, NotFound
from engine.pipelines import parse_pipeline
from engine.status import FINAL_PHASES

__all__ = ["router"]

log = logging.getLogger("drover.pipelines")

router = APIRouter(tags=["pipelines"])

SPEC_BODY = Body(description="a Pipeline document (the YAML of `drover validate`, as JSON)")
PHASES_HELP = "only runs in these phases (any case; repeat or comma-separate): " + ", ".join(
    RUN_PHASES
)
RunId = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9-]+$", description="a run id")
]


@router.post("/pipelines", status_code=201, response_model=PipelineOut)
def create(
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    spec: Annotated[PipelineDocument, SPEC_BODY],
) -> Pipeline:
    """Store a pipeline; a bad one is refused with 422 naming the job and field. Its own
    ``schedule`` becomes schedules of the pipeline."""
    row = create_pipeline(session, document=spec)
    follow_spec_schedule(service, session, parse_pipeline(row.spec).schedule, pipeline_id=row.id)
    session.commit()
    return row


@router.get("/pipelines", response_model=Page[PipelineOut])
def list_pipelines(
    session: SessionDep,
    _: AdminDep,
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> Page[PipelineOut]:
    total = session.scalar(select(func.count()).select_from(Pipeline)) or 0
    rows = session.scalars(select(Pipeline).order_by(Pipeline.id).offset(offset).limit(limit))
    return Page(
        total=total, offset=offset, limit=limit, items=[PipelineOut.model_validate(r) for r in rows]
    )


@router.get("/pipelines/{pipeline_id}", response_model=PipelineOut)
def read(pipeline_id: RowId, session: SessionDep, _: AdminDep) -> Pipeline:
    return get_pipeline(session, pipeline_id=pipeline_id)


@router.put("/pipelines/{pipeline_id}", response_model=PipelineOut)
def replace(
    pipeline_id: RowId,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    spec: Annotated[PipelineDocument, SPEC_BODY],
) -> Pipeline:
    """A new version of the pipeline; runs already started are not affected, its schedules
    start the new version from now on."""
    row = replace_pipeline(session, pipeline_id=pipeline_id, document=spec)
    follow_spec_schedule(service, session, parse_pipeline(row.spec).schedule, pipeline_id=row.id)
    session.commit()
    session.refresh(row)
    return row


@router.get("/pipelines/{pipeline_id}/versions", response_model=list[VersionOut])
def versions(pipeline_id: RowId, session: SessionDep, _: AdminDep) -> list[PipelineVersion]:
    get_pipeline(session, pipeline_id=pipeline_id)
    return list(
        session.scalars(
            select(PipelineVersion)
            .where(PipelineVersion.pipeline_id == pipeline_id)
            .order_by(PipelineVersion.version)
        )
    )


@router.delete("/pipelines/{pipeline_id}", status_code=204)
def delete(pipeline_id: RowId, service: ServiceDep, session: SessionDep, _: AdminDep) -> Response:
    """Delete the pipeline, its versions and schedules; its runs stay readable."""
    remove_schedules(service, schedules_of(session, pipeline_id=pipeline_id))
    delete_pipeline(session, pipeline_id=pipeline_id)
    session.commit()
    return Response(status_code=204)


def run_out(run: PipelineRun) -> PipelineRunOut:
    return PipelineRunOut.model_validate(run).model_copy(
        update={
            "resubmitted_from": resubmitted_from(run),
            "parameters": effective_parameters(run),
            "overrides": dict(run.parameters or {}),
        }
    )


def effective_parameters(run: PipelineRun) -> dict[str, Any]:
    """Every parameter's value in the run, as its workflow was submitted with them: the
    pipeline's defaults with the run's overrides applied (``spec.arguments.parameters``)."""
    arguments = ((run.manifest.get("spec") or {}).get("arguments") or {}).get("parameters") or []
    values = {str(p["name"]): p.get("value") for p in arguments if isinstance(p, dict)}
    return {**values, **(run.parameters or {})}


def _wake(service: Service) -> None:
    """A run was started or controlled: the follower looks now, not after its idle interval."""
    follower = follower_of(service)
    if follower is not None:
        follower.wake()


@router.post("/pipelines/{pipeline_id}/run", status_code=201, response_model=PipelineRunOut)
def run_now(
    pipeline_id: RowId,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    response: Response,
    body: PipelineRunRequest | None = None,
    idempotency_key: str | None = Header(
        None, min_length=1, max_length=200, description="the same key never starts a second run"
    ),
) -> PipelineRunOut:
    started = start_pipeline_run(
        session,
        pipeline_id=pipeline_id,
        backend=service.backend(),
        parameters=body.parameters if body else None,
        idempotency_key=idempotency_key,
        service_account=service.settings.service_account,
        agent_service_account=service.settings.agent_service_account,
        facade_url=service.settings.public_url,
    )
    _wake(service)
    if not started.created:
        response.status_code = 200
    return run_out(started.run)


@router.get("/pipelines/{pipeline_id}/runs", response_model=Page[PipelineRunOut])
def list_runs(
    pipeline_id: RowId,
    session: SessionDep,
    _: AdminDep,
    phase: list[str] | None = Query(None, max_length=20, description=PHASES_HELP),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> Page[PipelineRunOut]:
    """The pipeline's runs, newest first."""
    get_pipeline(session, pipeline_id=pipeline_id)
    return list_all_runs(
        session,
        _,
        pipeline_id=pipeline_id,
        schedule_id=None,
        phase=phase,
        created_after=None,
        created_before=None,
        sort="-created_at",
        offset=offset,
        limit=limit,
    )


@router.get("/pipeline-runs", response_model=Page[PipelineRunOut])
def list_all_runs(
    session: SessionDep,
    _: AdminDep,
    pipeline_id: int | None = Query(None, ge=1, le=MAX_ID, description="only this pipeline's"),
    schedule_id: int | None = Query(
        None, ge=1, le=MAX_ID, description="only the runs this schedule started"
    ),
    phase: list[str] | None = Query(None, max_length=20, description=PHASES_HELP),
    created_after: datetime | None = Query(None, description="created at or after (ISO 8601)"),
    created_before: datetime | None = Query(None, description="created before (ISO 8601)"),
    sort: RunSort = Query("-created_at", description="order; a leading - for descending"),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> Page[PipelineRunOut]:
    """Runs of every pipeline (also of deleted ones), newest first unless ``sort`` says."""
    where = RunFilter(
        pipeline_id=pipeline_id,
        schedule_id=schedule_id,
        phases=tuple(phase_names(phase)),
        created_after=created_after,
        created_before=created_before,
    )
    total, rows = query_runs(
        session, where, sort=sort, offset=offset, limit=limit, model=PipelineRun
    )
    return Page(total=total, offset=offset, limit=limit, items=[run_out(r) for r in rows])


def _refresh(service: Service, session: Session, run: PipelineRun) -> None:
    """Read the workflow now, so a reader sees the latest state; stored state if it fails."""
    try:
        refresh_pipeline_run(session, run_id=run.id, backend=service.backends.get(run.backend))
    except (SQLAlchemyError, OSError, DroverError) as exc:
        session.rollback()
        log.warning("refresh of pipeline run %s failed: %s", run.id, exc)
    session.expire_all()  # the refresh wrote with UPDATE statements: reload what is read next


def run_detail(session: Session, run: PipelineRun) -> PipelineRunDetail:
    jobs = session.scalars(
        select(PipelineRunJob)
        .where(PipelineRunJob.run_id == run.id)
        .order_by(PipelineRunJob.position)
    )
    return PipelineRunDetail(
        **run_out(run).model_dump(),
        jobs=[PipelineJobOut.model_validate(j) for j in jobs],
    )


@router.get("/pipeline-runs/{run_id}", response_model=PipelineRunDetail)
def read_run(
    run_id: RunId, service: ServiceDep, session: SessionDep, _: AdminDep
) -> PipelineRunDetail:
    """The run with each job's phase, message, outputs and result."""
    _refresh(service, session, get_pipeline_run(session, run_id=run_id))
    return run_detail(session, get_pipeline_run(session, run_id=run_id))


def _control(service: Service, session: Session, run_id: str, action: str) -> PipelineRunOut:
    """One code path for every action: read the workflow first, so the phase the action is
    checked against is current, then act through the run's backend and wake the follower."""
    run = get_pipeline_run(session, run_id=run_id)
    _refresh(service, session, run)
    run = get_pipeline_run(session, run_id=run_id)
    controlled = control_pipeline_run(
        session, run_id=run_id, action=action, backend=service.backend(run.backend)
    )
    _wake(service)
    return run_out(controlled)


@router.post("/pipeline-runs/{run_id}/cancel", response_model=PipelineRunOut)
def cancel(
    run_id: RunId,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    mode: Literal["stop", "terminate"] = "stop",
) -> PipelineRunOut:
    """``stop`` still runs the exit job; ``terminate`` does not."""
    return _control(service, session, run_id, mode)


def _action(name: str) -> Any:
    def act(run_id: RunId, service: ServiceDep, session: SessionDep, _: AdminDep) -> PipelineRunOut:
        return _control(service, session, run_id, name)

    act.__name__ = f"{name}_pipeline_run"
    act.__doc__ = {
        "retry": "Rerun the failed and errored jobs of a Failed or Error run in place (Argo's "
        "retry); succeeded jobs keep their outputs, the exit job runs again. 409 for a run "
        "in any other phase.",
        "suspend": "Start no new jobs until resumed.",
        "resume": "Continue a suspended run.",
    }[name]
    return act


for _name in ("retry", "suspend", "resume"):
    router.post(f"/pipeline-runs/{{run_id}}/{_name}", response_model=PipelineRunOut)(_action(_name))


@router.post("/pipeline-runs/{run_id}/resubmit", status_code=201, response_model=PipelineRunOut)
def resubmit(
    run_id: RunId, service: ServiceDep, session: SessionDep, _: AdminDep
) -> PipelineRunOut:
    """A new run of the same pipeline version with the same parameters, linked to this one
    (``resubmitted_from``); every job runs again. 409 if the pipeline was deleted."""
    run = get_pipeline_run(session, run_id=run_id)
    started = resubmit_pipeline_run(
        session,
        run_id=run_id,
        backend=service.backend(run.backend),
        service_account=service.settings.service_account,
        agent_service_account=service.settings.agent_service_account,
        facade_url=service.settings.public_url,
    )
    _wake(service)
    return run_out(started)


def _entities(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The run and each job, without durations (they grow while running: a client computes
    them from started_at)."""
    run = {k: v for k, v in detail.items() if k not in ("jobs", "duration")}
    jobs = {
        f"job:{job['job']}": {k: v for k, v in job.items() if k != "duration"}
        for job in detail["jobs"]
    }
    return {"run": run, **jobs}


@router.get("/pipeline-runs/{run_id}/events", response_class=StreamingResponse)
def events(
    run_id: RunId,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    last_event_id: str | None = Header(
        None, alias="Last-Event-ID", max_length=100, description="resume after this event"
    ),
) -> StreamingResponse:
    """Server-sent events: ``snapshot`` (the run with its jobs), then a ``delta`` whenever
    something changes (``run`` and ``job:<name>``, changed fields only), then ``end``. Every
    event has an id; a reconnecting ``EventSource`` resumes from its ``Last-Event-ID``."""
    get_pipeline_run(session, run_id=run_id)
    session.close()  # the stream holds no connection between reads
    reads = service.stream_reads
    assert reads is not None, "the app's lifespan makes it"

    def fetch(s: Session) -> StreamState | None:
        run = s.get(PipelineRun, run_id)
        if run is None:
            return None
        detail = run_detail(s, run).model_dump(mode="json")
        return StreamState(
            entities=_entities(detail),
            snapshot=detail,
            final=detail["phase"] in FINAL_PHASES,
            end={"phase": detail["phase"]},
        )

    async def read() -> StreamState | None:  # one read per half second for all its streams
        return await reads.read(f"pipeline-run:{run_id}", fetch, max_age=0.5)

    stream = delta_stream(f"pipeline-run:{run_id}", read, last_event_id=last_event_id)
    return StreamingResponse(stream, media_type="text/event-stream")


@router.get("/pipeline-runs/{run_id}/logs", response_class=StreamingResponse)
def logs(
    run_id: RunId,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    job: str | None = Query(None, max_length=63, description="only this job's log"),
    follow: bool = False,
) -> StreamingResponse:
    """Server-sent events: one ``log`` event per line (``<pod>: <line>``), then ``end``."""
    run = get_pipeline_run(session, run_id=run_id)
    backend = service.backend(run.backend)
    name = run.workflow_name
    nodes: list[str | None] = [None]
    if job is not None:
        row = session.get(PipelineRunJob, (run_id, job))
        if row is None:
            raise NotFound(f"pipeline run {run_id} has no job {job!r}")
        nodes = list(job_log_nodes(backend.get(name), row.task, follow=follow))
    stream = log_events(backend, name, nodes, follow=follow)
    return StreamingResponse(stream, media_type="text/event-stream")
