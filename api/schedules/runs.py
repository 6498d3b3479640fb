"""Schedules on Argo: each schedule is a CronWorkflow, and the workflows it spawns become runs.

On the local backend the service's own scheduler starts runs (``api.schedules.scheduler``). On Argo
the
controller does, from a CronWorkflow Drover keeps in step with the schedule:

- ``sync_schedule`` compiles the schedule's execution (with scenario history, like a run now)
  into a CronWorkflow named after the execution and the schedule, with the plan ConfigMaps its
  workflows mount. Both are owned by the CronWorkflow, which Argo also makes the owner of every
  workflow it spawns, so nothing outlives the schedule. What the CronWorkflow was compiled from
  is kept by plan id (``drover_schedule_plans``), and its workers carry a token scoped to the
  schedule, naming their run by ``{{workflow.name}}``.
- ``remove_schedule`` deletes the CronWorkflow; ``sync_all_schedules`` brings every schedule
  and CronWorkflow into line when the service starts.
- ``adopt_scheduled_workflow`` turns a spawned workflow (labelled with the schedule and the
  CronWorkflow, but with no run id) into a run of the execution, planned exactly as the
  CronWorkflow was compiled. The mirror calls it for workflows the watch reveals; the results
  and lease routes call it when a worker reports before the watch did.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from api.auth import create_token, hash_token, new_token
from api.models import Execution as ExecutionRow
from api.models import Pipeline as PipelineRow
from api.models import Run, Schedule, SchedulePlan
from api.pipelines.control import adopt_pipeline_workflow
from api.runs.plans import (
    inject_facade,
    is_queue_mode,
    new_run_id,
    plan_with_history,
    record_plan,
    replan,
    token_secret,
)
from engine.backends.base import Backend
from engine.compiler.workflow import CompileOptions, compile_plan
from engine.errors import Conflict, NotFound, SpecError
from engine.labels import CRON_WORKFLOW, LABEL_MANAGED_BY, LABEL_PLAN, LABEL_RUN, LABEL_SCHEDULE
from engine.loading import parse_execution
from engine.pipelines import PipelineCompileOptions, compile_pipeline, parse_pipeline
from engine.plan_documents import plan_files, plan_id
from engine.spec import ConcurrencyPolicy
from engine.spec import Schedule as CronSpec

if TYPE_CHECKING:
    from engine.backends.argo import ArgoBackend

__all__ = [
    "SPAWNED_RUN_REF",
    "adopt_scheduled_workflow",
    "cron_workflow_name",
    "remove_schedule",
    "sync_all_schedules",
    "sync_schedule",
]

log = logging.getLogger("drover.schedules")

SPAWNED_RUN_REF = "{{workflow.name}}"
"""How a spawned workflow's workers name their run: the facade resolves workflow names too."""
MAX_CRON_NAME = 52
"""Argo refuses longer CronWorkflow names: the spawned workflows append ``-<unix time>``."""


def cron_workflow_name(execution_name: str, schedule_id: int) -> str:
    suffix = f"-schedule-{schedule_id}"
    return execution_name[: MAX_CRON_NAME - len(suffix)].rstrip("-.") + suffix


@dataclass(frozen=True)
class _Compiled:
    """A schedule's CronWorkflow and what a workflow it spawns is adopted from."""

    document: dict[str, Any]
    configmaps: list[dict[str, Any]]
    plan_id: str
    version: int
    spec: dict[str, Any]
    name: str


def _cron_spec(schedule: Schedule) -> CronSpec:
    return CronSpec(
        cron=[schedule.cron],
        timezone=schedule.timezone,
        concurrency_policy=ConcurrencyPolicy(schedule.concurrency_policy),
        suspend=not schedule.enabled,
    )


def _compile_execution(
    session: Session,
    schedule: Schedule,
    service_account: str | None,
    artifacts: bool = True,
    agent_service_account: str | None = None,  # executions have no HTTP steps
) -> _Compiled:
    execution = session.get(ExecutionRow, schedule.execution_id)
    if execution is None:
        raise NotFound(f"execution {schedule.execution_id} not found")
    spec = parse_execution(execution.spec).model_copy(update={"schedule": _cron_spec(schedule)})
    plan = plan_with_history(session, spec, base_dir=None)
    options = CompileOptions(
        service_account=service_account,
        artifact_repository=artifacts,
        cluster=True,
    )
    compiled = compile_plan(plan, options)
    return _Compiled(
        document=compiled.workflow_dict(),
        configmaps=compiled.configmaps,
        plan_id=compiled.plan_id,
        version=execution.version,
        spec=plan.execution.model_dump(mode="json", exclude_none=True),
        name=spec.name,
    )


def _compile_pipeline(
    session: Session,
    schedule: Schedule,
    service_account: str | None,
    artifacts: bool = True,
    agent_service_account: str | None = None,
) -> _Compiled:
    row = session.get(PipelineRow, schedule.pipeline_id)
    if row is None:
        raise NotFound(f"pipeline {schedule.pipeline_id} not found")
    pipeline = parse_pipeline(row.spec).model_copy(update={"schedule": _cron_spec(schedule)})
    document = compile_pipeline(
        pipeline,
        PipelineCompileOptions(
            service_account=service_account, agent_service_account=agent_service_account
        ),
    ).workflow_dict()
    plan_id = f"pipeline-v{row.version}"
    for labels in _labels_of(document):
        labels[LABEL_PLAN] = plan_id
    return _Compiled(
        document=document,
        configmaps=[],
        plan_id=plan_id,
        version=row.version,
        spec=row.spec,
        name=pipeline.name,
    )


def _labels_of(cron: dict[str, Any]) -> list[dict[str, str]]:
    """The CronWorkflow's labels and those it gives the workflows it spawns."""
    return [
        cron["metadata"].setdefault("labels", {}),
        cron["spec"].setdefault("workflowMetadata", {}).setdefault("labels", {}),
    ]


def sync_schedule(
    session: Session,
    schedule: Schedule,
    backend: ArgoBackend,
    *,
    facade_url: str | None = None,
    service_account: str | None = None,
    artifact_repository: bool = True,
    agent_service_account: str | None = None,
) -> dict[str, Any]:
    """Compile ``schedule`` into its CronWorkflow and create or update it on Argo.

    The plan snapshot and worker token are added to the session; the caller commits once the
    CronWorkflow is applied (a failure leaves the database as it was)."""
    compile_target = _compile_pipeline if schedule.pipeline_id else _compile_execution
    compiled = compile_target(
        session,
        schedule,
        service_account,
        artifact_repository,
        agent_service_account,
    )
    document = compiled.document
    name = cron_workflow_name(compiled.name, schedule.id)
    document["metadata"]["name"] = name
    for labels in _labels_of(document):
        labels[LABEL_SCHEDULE] = str(schedule.id)
    objects = list(compiled.configmaps)
    if facade_url and schedule.execution_id:
        token = new_token()
        create_token(
            session, name=f"workers of schedule {schedule.id}", schedule_id=schedule.id, token=token
        )
        # In a Secret owned by the CronWorkflow (never in its spec), one per token: runs still
        # going keep the Secret their pods were started with.
        secret_name = f"drover-schedule-{schedule.id}-token-{hash_token(token)[:10]}"
        secret = token_secret(secret_name, token, {LABEL_SCHEDULE: str(schedule.id)})
        inject_facade(document, facade_url, SPAWNED_RUN_REF, secret_name)
        objects.append(secret)

    manifest = {"workflow": document, "configmaps": compiled.configmaps}
    session.execute(
        insert(SchedulePlan)
        .values(
            schedule_id=schedule.id,
            plan_id=compiled.plan_id,
            version=compiled.version,
            spec=compiled.spec,
            manifest=manifest,
        )
        .on_conflict_do_update(
            index_elements=["schedule_id", "plan_id"],
            set_={"version": compiled.version, "manifest": manifest},
        )
    )
    applied = backend.apply_cron(document, objects=objects)
    if schedule.cron_workflow and schedule.cron_workflow != name:
        backend.delete_cron(schedule.cron_workflow)  # renamed
    schedule.cron_workflow = name
    return applied


def remove_schedule(schedule: Schedule, backend: ArgoBackend) -> None:
    """Delete the schedule's CronWorkflow (its ConfigMaps and spawned workflows go with it)."""
    if schedule.cron_workflow and not backend.delete_cron(schedule.cron_workflow):
        log.info(
            "CronWorkflow %s of schedule %d was gone already", schedule.cron_workflow, schedule.id
        )


def sync_all_schedules(
    session: Session,
    backend: ArgoBackend,
    *,
    facade_url: str | None = None,
    service_account: str | None = None,
    artifact_repository: bool = True,
    agent_service_account: str | None = None,
) -> list[str]:
    """Make Argo's CronWorkflows match the schedules: each one applied, Drover's CronWorkflows of
    schedules that no longer exist deleted. A schedule that cannot be compiled any more is
    logged and skipped (its CronWorkflow stays as it was); Argo being unreachable raises.
    Returns the names applied."""
    applied, kept = [], set()
    for schedule in session.scalars(select(Schedule).order_by(Schedule.id)).all():
        kept.add(schedule.cron_workflow)
        try:
            sync_schedule(
                session,
                schedule,
                backend,
                facade_url=facade_url,
                service_account=service_account,
                artifact_repository=artifact_repository,
                agent_service_account=agent_service_account,
            )
        except (SpecError, NotFound, Conflict) as exc:
            session.rollback()
            log.warning("schedule %d not applied to Argo: %s", schedule.id, exc)
            continue
        session.commit()
        applied.append(str(schedule.cron_workflow))
    kept.update(applied)
    for cron in backend.crons.list(label_selector=f"{LABEL_MANAGED_BY}=drover,{LABEL_SCHEDULE}"):
        name = str((cron.get("metadata") or {}).get("name") or "")
        if name and name not in kept:
            log.info("deleting CronWorkflow %s: its schedule is gone", name)
            backend.delete_cron(name)
    return applied


def adopt_scheduled_workflow(
    session: Session, backend_name: str, backend: Backend, workflow: dict[str, Any]
) -> Run | None:
    """The run of a workflow a schedule's CronWorkflow spawned, recorded on first sight (by
    whoever sees it first: concurrent callers get the same run). None for other workflows."""
    meta = workflow.get("metadata") or {}
    labels = meta.get("labels") or {}
    name = str(meta.get("name") or "")
    if not name or not labels.get(CRON_WORKFLOW) or labels.get(LABEL_RUN):
        return None
    try:
        schedule_id = int(labels.get(LABEL_SCHEDULE, ""))
    except ValueError:
        return None
    snapshot = session.get(SchedulePlan, (schedule_id, str(labels.get(LABEL_PLAN, ""))))
    schedule = session.get(Schedule, schedule_id)
    if snapshot is None or schedule is None:
        log.warning(
            "workflow %s names schedule %s, plan %s: not known",
            name,
            schedule_id,
            labels.get(LABEL_PLAN),
        )
        return None
    if schedule.pipeline_id is not None:
        pipeline_run = adopt_pipeline_workflow(
            session,
            pipeline_id=schedule.pipeline_id,
            version=snapshot.version,
            spec=snapshot.spec,
            workflow=workflow,
            backend_name=backend_name,
            schedule_id=schedule_id,
        )
        if pipeline_run is not None:
            _fired(session, schedule_id, pipeline_run)
            log.info("pipeline run %s: workflow %s of schedule %d", pipeline_run, name, schedule_id)
        return None  # the pipeline follower mirrors it
    plan = replan(parse_execution(snapshot.spec))
    if plan_id(plan_files(plan)) != snapshot.plan_id:
        log.warning("schedule %d: plan %s no longer plans the same", schedule_id, snapshot.plan_id)
    run_id = session.scalar(
        insert(Run)
        .values(
            id=new_run_id(),
            execution_id=schedule.execution_id,
            execution_name=plan.execution.name,
            execution_version=snapshot.version,
            backend=backend_name,
            phase="Pending",
            workflow_name=name,
            workflow_uid=meta.get("uid"),
            ui_url=backend.ui_url(name),
            queue_mode=is_queue_mode(plan),
            total=plan.scenario_count,
            spec=snapshot.spec,
            manifest=snapshot.manifest,
            schedule_id=schedule_id,
        )
        .on_conflict_do_nothing(index_elements=["workflow_name"])
        .returning(Run.id)
    )
    if run_id is None:  # adopted already, by the watch or a worker's report
        return session.scalar(select(Run).where(Run.workflow_name == name))
    record_plan(session, run_id, plan)
    _fired(session, schedule_id, run_id)
    log.info("run %s: workflow %s of schedule %d", run_id, name, schedule_id)
    return session.get(Run, run_id)


def _fired(session: Session, schedule_id: int, run_id: str) -> None:
    session.execute(
        update(Schedule)
        .where(Schedule.id == schedule_id)
        .values(last_run_id=run_id, last_run_at=datetime.now(UTC))
    )
