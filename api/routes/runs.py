"""Runs: list, detail with progress, results, control actions, SSE streams, the manifest."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.auth import Principal
from api.deps import MAX_ID, AdminDep, CallerDep, ReadsDep, Service, ServiceDep, SessionDep
from api.models import Run, RunWorker
from api.runs.changes import Stamp
from api.runs.control import control_run, resubmit_run
from api.runs.detail_cache import details, plans, result_pages, run_stamp
from api.runs.plans import plan_of_run
from api.runs.queries import RUN_PHASES, RunFilter, RunSort, phase_names
from api.runs.queries import list_runs as query_runs
from api.runs.queue import lease_scenarios
from api.runs.result_pages import ResultQuery, results_page_json
from api.runs.result_scope import check_results, plan_scope
from api.runs.results import ingest_results
from api.runs.verdicts import verdict_names
from api.runs.views import run_detail, run_summaries
from api.schedules.runs import adopt_scheduled_workflow
from api.schemas import (
    ErrorBody,
    LeaseIn,
    LeaseOut,
    Page,
    ResultPage,
    ResultsIn,
    RunDetail,
    RunOut,
    RunPlanGroup,
    RunPlanOut,
    RunSummary,
)
from api.sse import StreamState, delta_stream, log_events
from engine.errors import NotFound, SpecError

router = APIRouter(prefix="/runs", tags=["runs"])

FINAL = ("Succeeded", "Failed", "Error")


def _run(session: Session, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise HTTPException(404, f"run {run_id} not found")
    return run


@router.get("", response_model=Page[RunSummary])
def list_runs(
    session: SessionDep,
    _: AdminDep,
    execution_id: int | None = Query(None, ge=1, le=MAX_ID),
    schedule_id: int | None = Query(
        None, ge=1, le=MAX_ID, description="only the runs this schedule started"
    ),
    phase: list[str] | None = Query(
        None,
        max_length=20,
        description="only runs in these phases (any case; repeat or comma-separate): "
        + ", ".join(RUN_PHASES),
    ),
    verdict: list[str] | None = Query(
        None,
        max_length=20,
        description="only runs with these verdicts (repeat or comma-separate): running, "
        "passed, failed, errored, canceled",
    ),
    created_after: datetime | None = Query(None, description="created at or after (ISO 8601)"),
    created_before: datetime | None = Query(None, description="created before (ISO 8601)"),
    sort: RunSort = Query("-created_at", description="order; a leading - for descending"),
    offset: int = Query(0, ge=0),
    limit: int = Query(50, ge=1, le=500),
) -> Page[RunSummary]:
    where = RunFilter(
        execution_id=execution_id,
        schedule_id=schedule_id,
        phases=tuple(phase_names(phase)),
        verdicts=tuple(verdict_names(verdict)),
        created_after=created_after,
        created_before=created_before,
    )
    total, rows = query_runs(session, where, sort=sort, offset=offset, limit=limit)
    return Page(total=total, offset=offset, limit=limit, items=run_summaries(session, rows))


@router.get("/{run_id}", response_model=RunDetail)
def get_run(run_id: str, reads: ReadsDep, session: SessionDep, _: AdminDep) -> Response:
    """The run with its progress overall, per flow and per group, its groups and workers:
    O(groups + workers), whatever the number of its results; served again from memory while
    the run has not changed (at most a second old)."""
    stamp = reads.run(lambda connection: run_stamp(connection, run_id))
    if stamp is None:
        raise HTTPException(404, f"run {run_id} not found")
    body = details.get(run_id, stamp)
    if body is None:
        body = run_detail(session, _run(session, run_id)).model_dump_json().encode()
        details.put(run_id, stamp, body)
    return Response(body, media_type="application/json")


@router.get("/{run_id}/results", response_model=ResultPage)
def list_results(
    run_id: str,
    reads: ReadsDep,
    _: AdminDep,
    status: Literal["passed", "failed", "skipped", "error"] | None = None,
    group: str | None = Query(None, max_length=400),
    after: str | None = Query(
        None, max_length=2000, description="a page's next_cursor: the page after it (keyset)"
    ),
    offset: int = Query(0, ge=0, description="rows to skip (ignored with after)"),
    limit: int = Query(100, ge=1, le=1000),
) -> Response:
    """Every attempt of every scenario, by scenario id then attempt (1, 2, 3, ...); a page
    asked again while the run has not changed is served from memory (at most a second old)."""
    query = ResultQuery(status=status, group=group, after=after, offset=offset, limit=limit)
    key = f"{run_id}\n{status}\n{group}\n{after}\n{offset}\n{limit}"
    if result_pages.known(key):  # asked lately: still current while the run has not changed
        stamp = reads.run(lambda connection: run_stamp(connection, run_id))
        if stamp is None:
            raise HTTPException(404, f"run {run_id} not found")
        body = result_pages.get(key, stamp)
        if body is not None:
            return Response(body, media_type="application/json")
    # One round trip, the run's stamp with the page.
    page = reads.run(lambda connection: results_page_json(connection, run_id, query))
    if page is None:
        raise HTTPException(404, f"run {run_id} not found")
    result_pages.put(key, page.stamp, page.body)
    return Response(page.body, media_type="application/json")


def _workers_run(session: Session, service: Service, run_ref: str, caller: Principal) -> Run:
    """The run a worker reports to: by id, or by workflow name for the workers of a schedule's
    CronWorkflow, whose run is adopted here if the watch has not revealed it yet."""
    run = session.get(Run, run_ref) or session.scalar(
        select(Run).where(Run.workflow_name == run_ref)
    )
    if run is None and caller.schedule_id is not None and service.default_backend == "argo":
        backend = service.backend()
        try:
            workflow = backend.get(run_ref)
        except (NotFound, SpecError):
            workflow = None
        if workflow is not None:
            run = adopt_scheduled_workflow(session, service.default_backend, backend, workflow)
            session.commit()
            if run is not None:
                service.mirror.attach(run.id)
    if run is None and caller.run_id is not None:
        raise HTTPException(403, "this token belongs to another run")
    if run is None:
        raise HTTPException(404, f"run {run_ref} not found")
    if caller.is_worker and run.phase in FINAL:
        raise HTTPException(
            403, f"run {run.id} has finished ({run.phase}): its workers' token is revoked"
        )
    if not caller.may_access(run):
        raise HTTPException(403, "this token belongs to another run")
    return run


_WORKER_REFUSED: dict[int | str, dict[str, Any]] = {
    403: {
        "model": ErrorBody,
        "description": "a worker token of another run, or of a run that has finished (revoked "
        "until the run is retried)",
    },
}
_RESULT_REFUSED: dict[int | str, dict[str, Any]] = {
    **_WORKER_REFUSED,
    422: {
        "model": ErrorBody,
        "description": "a scenario outside the run's plan, or an attempt the run cannot have "
        "made (field names the result at fault), or a body that is not a batch of results",
    },
}


@router.post("/{run_id}/results", status_code=202, responses=_RESULT_REFUSED)
def post_results(
    run_id: str, body: ResultsIn, service: ServiceDep, session: SessionDep, caller: CallerDep
) -> dict[str, int]:
    """Agents report scenario results in batches; repeats are ignored (run + scenario + attempt).
    ``run_id`` may also be the run's workflow name (how a schedule's workers know their run)."""
    run = _workers_run(session, service, run_id, caller)
    check_results(plan_scope(session, run), body.results)
    inserted = ingest_results(session, run.id, body.results)
    session.commit()
    return {"received": len(body.results), "inserted": inserted}


@router.post(
    "/{run_id}/groups/{group_key}/lease", response_model=LeaseOut, responses=_WORKER_REFUSED
)
def lease(
    run_id: str,
    group_key: str,
    body: LeaseIn,
    service: ServiceDep,
    session: SessionDep,
    caller: CallerDep,
) -> LeaseOut:
    """Queue mode: the next scenarios of the group for this worker, longest expected first."""
    run = _workers_run(session, service, run_id, caller)
    if not run.queue_mode:
        raise HTTPException(409, "the run is not in queue mode")
    seconds = service.settings.lease_timeout
    got = lease_scenarios(
        session,
        run_id=run.id,
        group_key=group_key,
        worker=body.worker,
        count=body.count,
        lease_seconds=seconds,
    )
    return LeaseOut(scenarios=got.scenarios, lease_seconds=seconds, done=got.done)


@router.post("/{run_id}/cancel", response_model=RunOut)
def cancel(
    run_id: str,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    mode: Literal["stop", "terminate"] = "stop",
) -> Run:
    """``stop`` runs the exit handler (cleanup); ``terminate`` does not."""
    run = _run(session, run_id)
    return control_run(session, run, mode, service.backend(run.backend), service.mirror)


def _action(name: str) -> Any:
    def act(run_id: str, service: ServiceDep, session: SessionDep, _: AdminDep) -> Run:
        run = _run(session, run_id)
        return control_run(session, run, name, service.backend(run.backend), service.mirror)

    act.__name__ = f"{name}_run"
    act.__doc__ = {
        "retry": "Rerun the failed workers of a failed run, keeping what succeeded.",
        "suspend": "Start no new workers until resumed.",
        "resume": "Continue a suspended run.",
    }[name]
    return act


for _name in ("retry", "suspend", "resume"):
    router.post(f"/{{run_id}}/{_name}", response_model=RunOut)(_action(_name))


@router.post("/{run_id}/resubmit", status_code=201, response_model=RunOut)
def resubmit(run_id: str, service: ServiceDep, session: SessionDep, _: AdminDep) -> Run:
    """A new run from the same spec, linked to this one."""
    run = _run(session, run_id)
    started = resubmit_run(
        session,
        run,
        service.backend(run.backend),
        service.mirror,
        facade_url=service.settings.public_url,
        service_account=service.settings.service_account,
        artifact_repository=service.settings.argo_artifact_repository,
    )
    return started.run


@router.get("/{run_id}/plan", response_model=RunPlanOut)
def run_plan(run_id: str, session: SessionDep, _: AdminDep) -> Response:
    """What the run's plan predicted: per group its makespan, lower bound and each shard's
    load; for the run, the predicted makespan and the lower bound of its slowest flow."""
    if run_stamp(session.connection(), run_id) is None:
        raise HTTPException(404, f"run {run_id} not found")
    body = plans.get(run_id, "planned")
    if body is None:
        body = _plan_out(_run(session, run_id)).model_dump_json().encode()
        plans.put(run_id, "planned", body)
    return Response(body, media_type="application/json")


def _plan_out(run: Run) -> RunPlanOut:
    plan = plan_of_run(run.spec, run.strategy)
    bounds: dict[str, float] = {}
    for group in plan.groups:
        bounds[group.flow] = bounds.get(group.flow, 0.0) + group.shards.lower_bound
    return RunPlanOut(
        predicted_makespan=round(plan.predicted_makespan, 1),
        lower_bound=round(max(bounds.values(), default=0.0), 1),
        groups=[
            RunPlanGroup(
                key=group.key,
                flow=group.flow,
                strategy=str(group.shards.strategy),
                threads=group.shards.threads,
                makespan=round(group.shards.makespan, 1),
                lower_bound=round(group.shards.lower_bound, 1),
                loads=[round(shard.load, 1) for shard in group.shards.shards],
            )
            for group in plan.groups
        ],
    )


@router.get("/{run_id}/manifest")
def manifest(run_id: str, session: SessionDep, _: AdminDep) -> dict[str, Any]:
    """The compiled Workflow and its plan ConfigMaps, as submitted."""
    return _run(session, run_id).manifest


def _entities(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The run, each group and each worker, as a stream's entities: ``run``,
    ``group:<key>``, ``worker:<id>``; without durations (they grow while running: a client
    computes them from started_at), groups without their workers."""
    run = {k: v for k, v in detail.items() if k not in ("groups", "duration")}
    out: dict[str, dict[str, Any]] = {"run": run}
    for group in detail["groups"]:
        out[f"group:{group['key']}"] = {
            k: v for k, v in group.items() if k not in ("workers", "duration")
        }
        for worker in group["workers"]:
            out[f"worker:{worker['id']}"] = {k: v for k, v in worker.items() if k != "duration"}
    return out


@router.get("/{run_id}/events", response_class=StreamingResponse)
def events(
    run_id: str,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    last_event_id: str | None = Header(
        None, alias="Last-Event-ID", max_length=100, description="resume after this event"
    ),
) -> StreamingResponse:
    """Server-sent events: ``snapshot`` (the run's detail), then a ``delta`` whenever it
    changes, holding only what changed (``run``, ``group:<key>``, ``worker:<id>``, changed
    fields only), then ``end``. Every event has an id: a reconnecting ``EventSource`` sends it
    as ``Last-Event-ID`` and the stream resumes with what changed since (or a new snapshot
    when this process no longer knows the id).

    An open stream holds no database connection: it waits for the run to change (see
    ``api.runs.changes``); one read of the run then serves every stream of it (see
    ``api.stream_reads``).
    """
    _run(session, run_id)
    session.close()
    mirror, changes, reads = service.mirror, service.changes, service.stream_reads
    assert changes is not None and reads is not None, "the app's lifespan starts them"

    def fetch(s: Session) -> StreamState | None:
        run = s.get(Run, run_id)
        if run is None:
            return None
        stamp: Stamp = (run.updated_at, run.phase)
        detail = run_detail(s, run).model_dump(mode="json")
        return StreamState(
            entities=_entities(detail),
            snapshot=detail,
            final=detail["phase"] in FINAL,
            end={"phase": detail["phase"], "verdict": detail["verdict"]},
            stamp=stamp,
        )

    def stale(state: StreamState | None) -> bool:
        return state is not None and changes.changed_since(run_id, state.stamp)

    async def read() -> StreamState | None:
        state = await reads.read(f"run:{run_id}", fetch, stale=stale)
        if state is not None and state.final and run_id in mirror.followed:
            # Final, but the mirror has not read every result yet: more may change.
            return replace(state, final=False)
        return state

    async def wait(state: StreamState) -> None:
        await changes.wait(run_id, state.stamp, timeout=1.0)

    stream = delta_stream(
        f"run:{run_id}", read, last_event_id=last_event_id, wait=wait, keep_alive=15
    )
    return StreamingResponse(stream, media_type="text/event-stream")


@router.get("/{run_id}/logs", response_class=StreamingResponse)
def logs(
    run_id: str,
    service: ServiceDep,
    session: SessionDep,
    _: AdminDep,
    worker: str | None = Query(
        None, max_length=300, description="a node id, node name or pod display name"
    ),
    follow: bool = False,
) -> StreamingResponse:
    """Server-sent events: one ``log`` event per line (``<pod>: <line>``), then ``end``."""
    run = _run(session, run_id)
    if run.workflow_name is None:
        raise HTTPException(409, "the run has no workflow yet")
    backend = service.backend(run.backend)
    name = run.workflow_name
    workers = [
        w
        for w in session.scalars(select(RunWorker).where(RunWorker.run_id == run_id))
        if worker in (None, w.last_attempt_node_id, w.node_id, w.pod_name)
    ]
    node = worker
    if worker is not None and workers and worker == workers[0].pod_name:
        # A pod name (as run detail shows it) is no node name: ask for the pod's node.
        node = workers[0].last_attempt_node_id or workers[0].node_id or worker
    # Workers whose pods may be gone (Argo's podGC): their saved ``log`` artifact stands in.
    saved = [
        (w.pod_name or w.last_attempt_node_id or "", str(w.last_attempt_node_id))
        for w in workers
        if w.last_attempt_node_id and w.phase in FINAL
    ]
    session.close()  # the stream needs no database connection
    stream = log_events(backend, name, [node], follow=follow, saved=saved)
    return StreamingResponse(stream, media_type="text/event-stream")
