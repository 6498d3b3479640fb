"""Pipelines: stored with version history, run one workflow per run, cancelled.

The spec is checked by ``engine.pipelines`` (a ``SpecError`` names the job and field) and stored
as the checked document. ``start_pipeline_run`` compiles with the run id, records the run and a
Pending row per job, commits, and only then submits, under the workflow name it recorded, so a
crash in between leaves a run the follower can still find (or declare lost).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from api.backends import control
from api.models import Pipeline as PipelineRow
from api.models import PipelineRun, PipelineRunJob, PipelineVersion
from api.pipeline_mirror import EXIT_TASK
from engine.backends.base import Backend
from engine.compiler.documents import parameter_text
from engine.errors import Conflict, NotFound
from engine.pipelines import Pipeline, PipelineCompileOptions, compile_pipeline, parse_pipeline
from engine.pipelines.validation import check_pipeline
from engine.status import FINAL_PHASES

__all__ = [
    "CANCEL_MODES",
    "StartedPipelineRun",
    "cancel_pipeline_run",
    "create_pipeline",
    "delete_pipeline",
    "get_pipeline",
    "get_pipeline_run",
    "pipeline_document",
    "replace_pipeline",
    "start_pipeline_run",
]

CANCEL_MODES = ("stop", "terminate")


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
    session.commit()
    return row


def replace_pipeline(
    session: Session, *, pipeline_id: int, document: dict[str, Any]
) -> PipelineRow:
    """A new version; runs already started keep the workflow they were compiled to."""
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
    session.commit()
    session.refresh(row)
    return row


def delete_pipeline(session: Session, *, pipeline_id: int) -> None:
    """Delete the pipeline and its versions; its runs stay, unlinked."""
    session.delete(get_pipeline(session, pipeline_id=pipeline_id))
    session.commit()


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
) -> StartedPipelineRun:
    """Compile the stored pipeline with ``parameters`` and submit it as one workflow.

    ``service_account`` runs the workflow's pods under it on Argo (the local runner has none).
    """
    row = get_pipeline(session, pipeline_id=pipeline_id)
    if idempotency_key is not None:
        existing = _run_for_key(session, idempotency_key, pipeline_id)
        if existing is not None:
            return StartedPipelineRun(run=existing, created=False)
    pipeline = parse_pipeline(row.spec)
    values = {key: parameter_text(value) for key, value in (parameters or {}).items()}
    run_id = secrets.token_hex(6)
    options = PipelineCompileOptions(
        run_id=run_id,
        schedule=False,
        parameters=values,
        service_account=service_account if backend.kind == "argo" else None,
    )
    workflow = compile_pipeline(pipeline, options).workflow_dict()
    metadata = workflow["metadata"]
    metadata.pop("generateName", None)
    metadata["name"] = f"{pipeline.name[:40].rstrip('-')}-{run_id}"

    inserted = session.execute(
        insert(PipelineRun)
        .values(
            id=run_id,
            pipeline_id=row.id,
            pipeline_name=pipeline.name,
            pipeline_version=row.version,
            backend=backend.kind,
            phase="Pending",
            workflow_name=metadata["name"],
            parameters=values,
            idempotency_key=idempotency_key,
            manifest=workflow,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(PipelineRun.id)
    ).scalar()
    if inserted is None:
        # A concurrent call with the same key committed first: its run is the answer.
        session.rollback()
        existing = _run_for_key(session, idempotency_key or "", pipeline_id)
        if existing is None:
            raise Conflict(f"a run for idempotency key {idempotency_key!r} is being started")
        return StartedPipelineRun(run=existing, created=False)
    session.execute(insert(PipelineRunJob).values(_job_rows(run_id, pipeline)))
    session.commit()

    try:
        backend.submit(workflow)
    except Exception as exc:
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == run_id)
            .values(phase="Error", message=f"submit failed: {exc}")
        )
        session.commit()
        raise
    return StartedPipelineRun(run=get_pipeline_run(session, run_id=run_id), created=True)


def _run_for_key(session: Session, key: str, pipeline_id: int) -> PipelineRun | None:
    run = session.scalar(select(PipelineRun).where(PipelineRun.idempotency_key == key))
    if run is not None and run.pipeline_id != pipeline_id:
        raise Conflict(f"idempotency key {key!r} was used for another pipeline")
    return run


def _job_rows(run_id: str, pipeline: Pipeline) -> list[dict[str, Any]]:
    """A Pending row per job in DAG order, then the exit job."""
    graph = check_pipeline(pipeline)
    jobs = [(name, name, graph.jobs[name].kind) for name in graph.order]
    if pipeline.on_exit is not None:
        jobs.append((pipeline.on_exit.name, EXIT_TASK, pipeline.on_exit.kind))
    return [
        {
            "run_id": run_id,
            "job": job,
            "task": task,
            "kind": kind,
            "position": position,
            "phase": "Pending",
            "outputs": {},
            "attempts": 0,
        }
        for position, (job, task, kind) in enumerate(jobs)
    ]


def cancel_pipeline_run(
    session: Session, *, run_id: str, backend: Backend, mode: str = "stop"
) -> PipelineRun:
    """``stop`` still runs the exit job; ``terminate`` does not. The run shows ``Canceling``
    until the workflow reports its final phase."""
    if mode not in CANCEL_MODES:
        raise Conflict(f"unknown cancel mode {mode!r}")
    run = get_pipeline_run(session, run_id=run_id)
    if run.phase in FINAL_PHASES:
        raise Conflict(f"the run has already finished ({run.phase})")
    control(backend, run.workflow_name, mode)
    session.execute(update(PipelineRun).where(PipelineRun.id == run_id).values(phase="Canceling"))
    session.commit()
    session.refresh(run)
    return run
