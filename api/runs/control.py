"""Starting and controlling runs: the one code path the API and ``drover run`` share.

``start_run`` plans (with scenario history), compiles with the run id, records the run with its
groups, workers and (queue mode) lease items, submits to the backend and hands the run to the
mirror. The run row is committed *before* the submission, under the workflow name it will have,
so a crash in between leaves a run the mirror can still find.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from api.auth import create_token, new_token
from api.backends import CONTROL_ACTIONS, control
from api.mirror.executions import Mirror
from api.models import Execution as ExecutionRow
from api.models import IdempotencyKey, Run
from api.notifications import outbox
from api.runs.attempts import record_retry
from api.runs.plans import (
    inject_facade,
    is_queue_mode,
    new_run_id,
    plan_with_history,
    record_plan,
    token_secret,
    worker_token_secret,
)
from engine.backends.base import Backend
from engine.compiler.workflow import CompileOptions, compile_plan
from engine.errors import BackendError, Conflict, DroverError, NotFound
from engine.gc_pause import paused_collection
from engine.labels import LABEL_RUN
from engine.loading import parse_execution
from engine.spec import Execution

__all__ = [
    "CONTROL_ACTIONS",
    "StartedRun",
    "control_run",
    "new_run_id",
    "resubmit_run",
    "start_run",
    "start_run_once",
]

FINAL = ("Succeeded", "Failed", "Error")


@dataclass(frozen=True)
class StartedRun:
    run: Run
    created: bool
    """False when an idempotency key returned an existing run."""
    worker_token: str | None = None


@paused_collection()  # a large run's spec, plan, manifest and rows are made here
def start_run(
    session: Session,
    *,
    backend: Backend,
    execution_id: int | None = None,
    spec: Execution | None = None,
    strategy: str | None = None,
    base_dir: Path | None = None,
    facade_url: str | None = None,
    mirror: Mirror | None = None,
    idempotency_key: str | None = None,
    resubmitted_from: str | None = None,
    service_account: str | None = None,
    artifact_repository: bool = True,
    schedule_id: int | None = None,
) -> StartedRun:
    """Start one run of a stored execution (``execution_id``) or of an ad-hoc ``spec``.

    ``base_dir`` resolves a relative ``project.path`` (the spec file's folder for the CLI; without
    it a relative path is refused);
    ``facade_url`` tells workers where to post results and lease (with a run-scoped token);
    ``service_account`` runs the workflow's pods under it on Argo (the local runner has none);
    ``artifact_repository=False``: the Argo namespace has none, so no output artifacts;
    ``schedule_id``: the local scheduler's schedule that started the run.
    """
    row: ExecutionRow | None = None
    if execution_id is not None:
        row = session.get(ExecutionRow, execution_id)
        if row is None:
            raise NotFound(f"execution {execution_id} not found")
        spec = parse_execution(row.spec)
    if spec is None:
        raise ValueError("start_run needs execution_id or spec")
    plan = plan_with_history(session, spec, base_dir=base_dir, strategy=strategy)
    spec = plan.execution

    run_id = new_run_id()
    options = CompileOptions(
        run_id=run_id,
        schedule=False,
        service_account=service_account if backend.kind == "argo" else None,
        artifact_repository=artifact_repository or backend.kind != "argo",
        cluster=backend.kind == "argo",
    )
    compiled = compile_plan(plan, options)
    workflow = compiled.workflow_dict()
    metadata = workflow["metadata"]
    metadata.pop("generateName", None)
    metadata["name"] = f"{spec.name[:40].rstrip('-')}-{run_id}"
    token = new_token() if facade_url else None
    objects = list(compiled.configmaps)
    if facade_url and token:
        # The token lives in a Secret of the run; it stops working once the run has finished
        # (api.auth.authenticate), and the Secret goes with the Workflow that owns it.
        secret = token_secret(worker_token_secret(run_id), token, {LABEL_RUN: run_id})
        inject_facade(workflow, facade_url, run_id, secret["metadata"]["name"])
        objects.append(secret)

    source = session.get(Run, resubmitted_from) if resubmitted_from else None
    run = Run(
        id=run_id,
        # A resubmitted run stays a run of the execution (and version) its source ran.
        execution_id=row.id if row else (source.execution_id if source else None),
        execution_name=spec.name,
        execution_version=row.version if row else (source.execution_version if source else None),
        backend=backend.kind,
        phase="Pending",
        workflow_name=metadata["name"],
        strategy=strategy,
        queue_mode=is_queue_mode(plan),
        schedule_id=schedule_id,
        total=plan.scenario_count,
        spec=spec.model_dump(mode="json", exclude_none=True),
        manifest={"workflow": workflow, "configmaps": compiled.configmaps},
        resubmitted_from=resubmitted_from,
    )
    session.add(run)
    session.flush()
    record_plan(session, run_id, plan)
    if token is not None:
        create_token(session, name=f"worker of run {run_id}", run_id=run_id, token=token)
    if idempotency_key is not None:
        session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == idempotency_key)
            .values(run_id=run_id)
        )
    session.commit()

    try:
        backend.submit(workflow, objects=objects)
    except Exception as exc:
        session.rollback()
        session.execute(
            update(Run)
            .where(Run.id == run_id)
            .values(phase="Error", message=f"submit failed: {exc}", finished_at=func.now())
        )
        # The key no longer names this run: the client's retry with the same key starts anew.
        session.execute(delete(IdempotencyKey).where(IdempotencyKey.run_id == run_id))
        outbox.on_run_failed_to_start(session, run_id, f"submit failed: {exc}")
        session.commit()
        if isinstance(exc, DroverError):
            raise
        raise BackendError(
            f"submitting the workflow failed: {exc}; retrying (with the same Idempotency-Key) "
            "starts the run anew"
        ) from exc
    ui = backend.ui_url(metadata["name"])
    if ui:
        session.execute(update(Run).where(Run.id == run_id).values(ui_url=ui))
        session.commit()
    if mirror is not None:
        mirror.attach(run_id)
    session.refresh(run)
    return StartedRun(run=run, created=True, worker_token=token)


def start_run_once(
    session: Session, key: str, *, execution_id: int, wait_seconds: float = 60.0, **kwargs: Any
) -> StartedRun:
    """``start_run`` guarded by an idempotency key: however many concurrent callers, one run.

    The key row is inserted first; its primary key makes concurrent inserts wait for the first
    transaction, which commits the key together with its run.
    """
    claimed = session.execute(
        insert(IdempotencyKey)
        .values(key=key, execution_id=execution_id)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(IdempotencyKey.key)
    ).scalar()
    if claimed is not None:
        return start_run(session, execution_id=execution_id, idempotency_key=key, **kwargs)
    session.rollback()
    deadline = time.monotonic() + wait_seconds
    while True:
        existing = session.get(IdempotencyKey, key, populate_existing=True)
        if existing is not None and existing.execution_id != execution_id:
            raise Conflict(f"idempotency key {key!r} was used for another execution")
        if existing is not None and existing.run_id is not None:
            run = session.get(Run, existing.run_id)
            if run is not None:
                return StartedRun(run=run, created=False)
        if existing is None:
            # The first caller failed and rolled back: this caller takes over.
            return start_run_once(
                session, key, execution_id=execution_id, wait_seconds=wait_seconds, **kwargs
            )
        if time.monotonic() > deadline:
            raise Conflict(f"a run for idempotency key {key!r} is still being started")
        session.rollback()
        time.sleep(0.05)


def control_run(
    session: Session, run: Run, action: str, backend: Backend, mirror: Mirror | None
) -> Run:
    """stop | terminate | suspend | resume | retry, with Argo's meaning."""
    if action not in CONTROL_ACTIONS:
        raise Conflict(f"unknown action {action!r}")
    if run.workflow_name is None:
        raise Conflict("the run has no workflow yet")
    if action == "retry" and run.phase not in ("Failed", "Error"):
        raise Conflict(f"only a failed run can be retried (it is {run.phase})")
    if action != "retry" and run.phase in FINAL:
        raise Conflict(f"the run has already finished ({run.phase})")
    control(backend, run.workflow_name, action)
    if action in ("stop", "terminate"):
        session.execute(update(Run).where(Run.id == run.id).values(phase="Canceling"))
    if action == "retry":
        # The mirror may have seen the retried workflow first; then it is recorded already.
        record_retry(session, run.id)
    session.commit()
    if mirror is not None:
        mirror.attach(run.id)
    session.refresh(run)
    return run


def resubmit_run(
    session: Session, run: Run, backend: Backend, mirror: Mirror | None, **kwargs: Any
) -> StartedRun:
    """A new run of the same execution spec, linked to ``run``."""
    spec = parse_execution(run.spec)
    return start_run(
        session, backend=backend, spec=spec, mirror=mirror, resubmitted_from=run.id, **kwargs
    )
