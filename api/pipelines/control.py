"""Pipelines: stored with version history, run one workflow per run, controlled, resubmitted.

The spec is checked by ``engine.pipelines`` (a ``SpecError`` names the job and field) and stored
as the checked document. ``start_pipeline_run`` compiles with the run id, records the run and a
Pending row per job, commits, and only then submits, under the workflow name it recorded, so a
crash in between leaves a run the follower can still find (or declare lost).

Control actions have Argo's meaning and go through ``api.backends.control``, as execution runs'
do: ``stop``/``terminate`` cancel, ``suspend``/``resume``, and ``retry``, which reruns only the
failed part of a Failed/Error run in place (succeeded jobs keep their outputs) while the run goes
back to Running for the follower. ``resubmit_pipeline_run`` starts a new run of the same pipeline
version with the same parameters; the new workflow carries the old run's id in the
``drover.dev/resubmitted-from`` annotation (the run table has no column for the link).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from api.auth import hash_token, new_token
from api.backends import CONTROL_ACTIONS, control
from api.mirror.pipelines import EXIT_TASK
from api.models import Pipeline as PipelineRow
from api.models import PipelineRun, PipelineRunJob, PipelineVersion
from api.notifications import outbox
from api.runs.attempts import workflow_runs_again
from engine.backends.argo.resubmission import resubmitted_from as resubmitted_from_workflow
from engine.backends.base import Backend
from engine.compiler.documents import parameter_text
from engine.errors import Conflict, NotFound
from engine.labels import LABEL_RUN
from engine.pipelines import Pipeline, PipelineCompileOptions, compile_pipeline, parse_pipeline
from engine.pipelines.tools import (
    TOOL_AUTHORIZATION_KEY,
    has_tool_jobs,
    lower_tool_jobs,
    tool_token_secret,
)
from engine.pipelines.validation import check_pipeline
from engine.spec import SecretRef
from engine.status import FINAL_PHASES

__all__ = [
    "ANNOTATION_RESUBMITTED_FROM",
    "CANCEL_MODES",
    "RETRYABLE_PHASES",
    "StartedPipelineRun",
    "cancel_pipeline_run",
    "control_pipeline_run",
    "control_refusal",
    "create_pipeline",
    "delete_pipeline",
    "get_pipeline",
    "get_pipeline_run",
    "pipeline_document",
    "replace_pipeline",
    "resubmit_pipeline_run",
    "resubmitted_from",
    "start_pipeline_run",
]

CANCEL_MODES = ("stop", "terminate")
RETRYABLE_PHASES = ("Failed", "Error")
ANNOTATION_RESUBMITTED_FROM = "drover.dev/resubmitted-from"
"""On a resubmitted run's workflow: the id of the run it was resubmitted from."""


def pipeline_document(document: dict[str, Any]) -> tuple[Pipeline, dict[str, Any]]:
    """Check a pipeline document (``kind`` may be left out); return it and its stored form."""
    pipeline = parse_pipeline({"kind": "Pipeline", **document})
    stored = {"kind": "Pipeline", **pipeline.model_dump(mode="json", exclude_none=True)}
    return pipeline, stored


def get_pipeline(session: Session, *, pipeline_id: int, lock: bool = False) -> PipelineRow:
    row = session.get(PipelineRow, pipeline_id, with_for_update=lock)
    if row is None:
        raise NotFound(f"pipeline {pipeline_id} not found")
    return row


def create_pipeline(session: Session, *, document: dict[str, Any]) -> PipelineRow:
    pipeline, stored = pipeline_document(document)
    if session.scalar(select(PipelineRow.id).where(PipelineRow.name == pipeline.name)):
        raise Conflict(f"pipeline {pipeline.name!r} exists")
    row = PipelineRow(name=pipeline.name, spec=stored, version=1)
    session.add(row)
    session.flush()
    session.add(PipelineVersion(pipeline_id=row.id, version=1, spec=stored))
    session.flush()
    return row


def replace_pipeline(
    session: Session, *, pipeline_id: int, document: dict[str, Any]
) -> PipelineRow:
    """A new version; runs already started keep the workflow they were compiled to. Like
    ``create_pipeline`` and ``delete_pipeline``, the caller commits."""
    row = get_pipeline(session, pipeline_id=pipeline_id, lock=True)
    pipeline, stored = pipeline_document(document)
    taken = session.scalar(
        select(PipelineRow.id).where(PipelineRow.name == pipeline.name, PipelineRow.id != row.id)
    )
    if taken:
        raise Conflict(f"pipeline {pipeline.name!r} exists")
    row.name, row.spec, row.version = pipeline.name, stored, row.version + 1
    row.updated_at = func.now()
    session.add(PipelineVersion(pipeline_id=row.id, version=row.version, spec=stored))
    session.flush()
    return row


def delete_pipeline(session: Session, *, pipeline_id: int) -> None:
    """Delete the pipeline and its versions; its runs stay, unlinked."""
    session.delete(get_pipeline(session, pipeline_id=pipeline_id))
    session.flush()


def get_pipeline_run(session: Session, *, run_id: str) -> PipelineRun:
    run = session.get(PipelineRun, run_id)
    if run is None:
        raise NotFound(f"pipeline run {run_id} not found")
    return run


@dataclass(frozen=True)
class StartedPipelineRun:
    run: PipelineRun
    created: bool
    """False when the idempotency key returned the run it started before."""


def start_pipeline_run(
    session: Session,
    *,
    pipeline_id: int,
    backend: Backend,
    parameters: dict[str, str | int | float | bool] | None = None,
    idempotency_key: str | None = None,
    service_account: str | None = None,
    agent_service_account: str | None = None,
    schedule_id: int | None = None,
    facade_url: str | None = None,
) -> StartedPipelineRun:
    """Compile the stored pipeline with ``parameters`` and submit it as one workflow.

    ``facade_url``: where the run's tool jobs reach the facade (they cannot run without it).

    ``service_account`` runs the workflow's pods under it on Argo (the local runner has none),
    ``agent_service_account`` Argo's agent, which runs its HTTP steps (default: the same);
    ``schedule_id``: the local scheduler's schedule that started the run.
    """
    row = get_pipeline(session, pipeline_id=pipeline_id)
    if idempotency_key is not None:
        existing = _run_for_key(session, idempotency_key, pipeline_id, parameters or {})
        if existing is not None:
            return StartedPipelineRun(run=existing, created=False)
    return _submit_run(
        session,
        pipeline_id=row.id,
        version=row.version,
        spec=row.spec,
        backend=backend,
        parameters=parameters or {},
        idempotency_key=idempotency_key,
        service_account=service_account,
        agent_service_account=agent_service_account,
        schedule_id=schedule_id,
        facade_url=facade_url,
    )


def resubmit_pipeline_run(
    session: Session,
    *,
    run_id: str,
    backend: Backend,
    service_account: str | None = None,
    agent_service_account: str | None = None,
    facade_url: str | None = None,
) -> PipelineRun:
    """A new run of the version ``run_id`` ran, with its parameters, linked to it.

    Like ``argo resubmit``: every job runs again, whatever the old run's phase; the old run
    stays as it is.
    """
    old = get_pipeline_run(session, run_id=run_id)
    version = None
    if old.pipeline_id is not None and old.pipeline_version is not None:
        version = session.get(PipelineVersion, (old.pipeline_id, old.pipeline_version))
    if old.pipeline_id is None or version is None:
        raise Conflict(
            f"the pipeline of run {run_id} was deleted: it cannot be resubmitted; "
            "store the pipeline again and start a new run"
        )
    return _submit_run(
        session,
        pipeline_id=old.pipeline_id,
        version=version.version,
        spec=version.spec,
        backend=backend,
        parameters=old.parameters,
        service_account=service_account,
        agent_service_account=agent_service_account,
        resubmitted_from=old.id,
        facade_url=facade_url,
    ).run


def resubmitted_from(run: PipelineRun) -> str | None:
    """The id of the run ``run`` was resubmitted from, read from its workflow's annotation."""
    annotations = (run.manifest.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(ANNOTATION_RESUBMITTED_FROM)
    return str(value) if value else None


def _submit_run(
    session: Session,
    *,
    pipeline_id: int,
    version: int,
    spec: dict[str, Any],
    backend: Backend,
    parameters: dict[str, Any],
    idempotency_key: str | None = None,
    service_account: str | None = None,
    agent_service_account: str | None = None,
    resubmitted_from: str | None = None,
    schedule_id: int | None = None,
    facade_url: str | None = None,
) -> StartedPipelineRun:
    """Compile ``spec`` (version ``version`` of the pipeline), record the run, then submit."""
    pipeline = declared = parse_pipeline(spec)
    values = {key: parameter_text(value) for key, value in parameters.items()}
    run_id = secrets.token_hex(6)
    tool_token = None
    objects: list[dict[str, Any]] = []
    cluster = backend.kind == "argo"
    if has_tool_jobs(pipeline) and facade_url:
        tool_token = new_token()
        authorization: str | SecretRef = tool_token
        if cluster:
            # Argo shows the Workflow (UI, archive): the token reaches its agent in a Secret.
            secret = tool_token_secret(run_id, tool_token, {LABEL_RUN: run_id})
            objects.append(secret)
            authorization = SecretRef(name=secret["metadata"]["name"], key=TOOL_AUTHORIZATION_KEY)
        pipeline = lower_tool_jobs(
            pipeline, facade_url=facade_url, run_id=run_id, token=authorization
        )
    options = PipelineCompileOptions(
        run_id=run_id,
        schedule=False,
        parameters=values,
        service_account=service_account if cluster else None,
        agent_service_account=agent_service_account if cluster else None,
    )
    workflow = compile_pipeline(pipeline, options).workflow_dict()
    metadata = workflow["metadata"]
    metadata.pop("generateName", None)
    metadata["name"] = f"{pipeline.name[:40].rstrip('-')}-{run_id}"
    if resubmitted_from is not None:
        metadata.setdefault("annotations", {})[ANNOTATION_RESUBMITTED_FROM] = resubmitted_from

    inserted = session.execute(
        insert(PipelineRun)
        .values(
            id=run_id,
            pipeline_id=pipeline_id,
            pipeline_name=pipeline.name,
            pipeline_version=version,
            backend=backend.kind,
            phase="Pending",
            workflow_name=metadata["name"],
            parameters=values,
            idempotency_key=idempotency_key,
            manifest=workflow,
            schedule_id=schedule_id,
            tool_token_hash=hash_token(tool_token) if tool_token else None,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(PipelineRun.id)
    ).scalar()
    if inserted is None:
        # A concurrent call with the same key committed first: its run is the answer.
        session.rollback()
        existing = _run_for_key(session, idempotency_key or "", pipeline_id, parameters)
        if existing is None:
            raise Conflict(f"a run for idempotency key {idempotency_key!r} is being started")
        return StartedPipelineRun(run=existing, created=False)
    session.execute(insert(PipelineRunJob).values(_job_rows(run_id, declared)))
    session.commit()

    try:
        backend.submit(workflow, objects=objects)
    except Exception as exc:
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == run_id)
            .values(phase="Error", message=f"submit failed: {exc}")
        )
        outbox.on_pipeline_failed_to_start(session, run_id, f"submit failed: {exc}")
        session.commit()
        raise
    return StartedPipelineRun(run=get_pipeline_run(session, run_id=run_id), created=True)


def adopt_pipeline_workflow(
    session: Session,
    *,
    pipeline_id: int,
    version: int | None,
    spec: dict[str, Any],
    workflow: dict[str, Any],
    backend_name: str,
    schedule_id: int,
) -> str | None:
    """Record a workflow a pipeline's schedule spawned (its CronWorkflow) as a run of that
    version; the follower then mirrors it. The run's id, None if it was recorded already."""
    pipeline = parse_pipeline(spec)
    run_id = _record_workflow_run(
        session,
        workflow,
        backend_name=backend_name,
        pipeline_id=pipeline_id,
        pipeline_name=pipeline.name,
        version=version,
        parameters={},
        schedule_id=schedule_id,
    )
    if run_id is not None:
        session.execute(insert(PipelineRunJob).values(_job_rows(run_id, pipeline)))
    return run_id


def notice_pipeline_workflow(
    session: Session, backend_name: str, workflow: dict[str, Any]
) -> str | None:
    """What an operator did to a pipeline run in the Argo UI, seen in a watched workflow.

    A retry runs the run's own workflow again: the run goes back to Running and the follower
    mirrors it anew. A resubmit is a new workflow labelled ``resubmitted-from-workflow``: it
    becomes a new run of the same version and parameters, linked to the old one, as
    ``resubmit_pipeline_run`` would have made it. Returns the run's id, None for workflows that
    are no pipeline run's.
    """
    meta = workflow.get("metadata") or {}
    status = workflow.get("status") or {}
    name = str(meta.get("name") or "")
    run = session.scalar(
        select(PipelineRun).where(
            PipelineRun.backend == backend_name, PipelineRun.workflow_name == name
        )
    )
    if run is not None:
        runs_again = status.get("phase") and workflow_runs_again(workflow, run.started_at)
        if run.phase in FINAL_PHASES and runs_again:
            session.execute(
                update(PipelineRun)
                .where(PipelineRun.id == run.id, PipelineRun.phase.in_(FINAL_PHASES))
                .values(
                    phase="Running", message=None, finished_at=None, updated_at=datetime.now(UTC)
                )
            )
        return run.id
    source = resubmitted_from_workflow(workflow)
    old = session.scalar(
        select(PipelineRun).where(
            PipelineRun.backend == backend_name, PipelineRun.workflow_name == source
        )
    )
    if source is None or old is None:
        return None
    run_id = _record_workflow_run(
        session,
        workflow,
        backend_name=backend_name,
        pipeline_id=old.pipeline_id,
        pipeline_name=old.pipeline_name,
        version=old.pipeline_version,
        parameters=old.parameters,
        schedule_id=old.schedule_id,
        resubmitted_from=old.id,
    )
    if run_id is not None:
        jobs = session.scalars(
            select(PipelineRunJob)
            .where(PipelineRunJob.run_id == old.id)
            .order_by(PipelineRunJob.position)
        ).all()
        rows = [
            {
                "run_id": run_id,
                "job": j.job,
                "task": j.task,
                "kind": j.kind,
                "position": j.position,
                "phase": "Pending",
                "outputs": {},
                "attempts": 0,
            }
            for j in jobs
        ]
        if rows:
            session.execute(insert(PipelineRunJob).values(rows))
    return run_id


def _record_workflow_run(
    session: Session,
    workflow: dict[str, Any],
    *,
    backend_name: str,
    pipeline_id: int | None,
    pipeline_name: str,
    version: int | None,
    parameters: dict[str, Any],
    schedule_id: int | None,
    resubmitted_from: str | None = None,
) -> str | None:
    """A Pending run for a workflow Drover did not submit but saw (spawned by a schedule, or
    resubmitted in the Argo UI); None if that workflow has its run already."""
    meta = workflow.get("metadata") or {}
    manifest = {k: v for k, v in workflow.items() if k != "status"}
    if resubmitted_from is not None:
        manifest.setdefault("metadata", {}).setdefault("annotations", {})[
            ANNOTATION_RESUBMITTED_FROM
        ] = resubmitted_from
    run_id: str | None = session.execute(
        insert(PipelineRun)
        .values(
            id=secrets.token_hex(6),
            pipeline_id=pipeline_id,
            pipeline_name=pipeline_name,
            pipeline_version=version,
            backend=backend_name,
            phase="Pending",
            workflow_name=meta["name"],
            workflow_uid=meta.get("uid"),
            schedule_id=schedule_id,
            parameters=parameters,
            manifest=manifest,
        )
        .on_conflict_do_nothing(index_elements=["workflow_name"])
        .returning(PipelineRun.id)
    ).scalar()
    return run_id


def _run_for_key(
    session: Session, key: str, pipeline_id: int, parameters: dict[str, Any]
) -> PipelineRun | None:
    """The run ``key`` started; a different request under the same key is a conflict (as at
    Stripe: a key names one request, its retries must send the same)."""
    run = session.scalar(select(PipelineRun).where(PipelineRun.idempotency_key == key))
    if run is None:
        return None
    if run.pipeline_id != pipeline_id:
        raise Conflict(f"idempotency key {key!r} was used for another pipeline")
    asked = {k: parameter_text(v) for k, v in parameters.items()}
    if asked != (run.parameters or {}):
        raise Conflict(
            f"idempotency key {key!r} was used with other parameters "
            f"({json.dumps(run.parameters, sort_keys=True)}): send the same request again, "
            "or use a new key for a new run"
        )
    return run


def _job_rows(run_id: str, pipeline: Pipeline) -> list[dict[str, Any]]:
    """A Pending row per job in DAG order, then the exit job."""
    graph = check_pipeline(pipeline)
    stage_of = {job.name: stage.name for stage in pipeline.stages or [] for job in stage.jobs}
    jobs = [(name, name, graph.jobs[name].kind) for name in graph.order]
    if pipeline.on_exit is not None:
        jobs.append((pipeline.on_exit.name, EXIT_TASK, pipeline.on_exit.kind))
    return [
        {
            "run_id": run_id,
            "job": job,
            "task": task,
            "stage": stage_of.get(job) if task == job else None,
            "kind": kind,
            "position": position,
            "phase": "Pending",
            "outputs": {},
            "attempts": 0,
        }
        for position, (job, task, kind) in enumerate(jobs)
    ]


def control_refusal(phase: str, action: str) -> str | None:
    """Why ``action`` cannot apply to a run in ``phase`` (Argo's rules), or None if it can."""
    if action not in CONTROL_ACTIONS:
        return f"unknown action {action!r}; one of {', '.join(CONTROL_ACTIONS)}"
    if action == "retry":
        if phase not in RETRYABLE_PHASES:
            return f"only a Failed or Error pipeline run can be retried (this one is {phase})"
    elif phase in FINAL_PHASES:
        return f"the run has already finished ({phase})"
    return None


def control_pipeline_run(
    session: Session, *, run_id: str, action: str, backend: Backend
) -> PipelineRun:
    """Apply one of ``api.backends.CONTROL_ACTIONS`` to the run's workflow, with Argo's meaning.

    The backend acts first; then the run shows ``Canceling`` (stop, terminate) until the
    workflow reports its final phase, or, after a retry, ``Running`` again, so the follower
    reads the workflow once more: the retried jobs' nodes are gone (their rows go back to
    Pending) and come back with their new phases, while succeeded jobs keep theirs.
    """
    run = get_pipeline_run(session, run_id=run_id)
    refusal = control_refusal(run.phase, action)
    if refusal is not None:
        raise Conflict(refusal)
    control(backend, run.workflow_name, action)
    if action in CANCEL_MODES:
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == run_id)
            .values(phase="Canceling", updated_at=datetime.now(UTC))
        )
    elif action == "retry":
        # Conditional: the follower may have seen the retried workflow first. The new
        # updated_at makes the follower drop a read of the workflow from before the retry.
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == run_id, PipelineRun.phase.in_(RETRYABLE_PHASES))
            .values(phase="Running", message=None, finished_at=None, updated_at=datetime.now(UTC))
        )
    session.commit()
    session.refresh(run)
    return run


def cancel_pipeline_run(
    session: Session, *, run_id: str, backend: Backend, mode: str = "stop"
) -> PipelineRun:
    """``stop`` still runs the exit job; ``terminate`` does not. The run shows ``Canceling``
    until the workflow reports its final phase."""
    if mode not in CANCEL_MODES:
        raise Conflict(f"unknown cancel mode {mode!r}")
    return control_pipeline_run(session, run_id=run_id, action=mode, backend=backend)
