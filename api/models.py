"""Drover's tables. Every name starts with ``drover_`` so a database shared with Argo's own
persistence (``argo_*``, ``sync_*``, ``schema_history``) never collides. Alembic owns the schema
(``migrations/``); these classes describe it for queries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ApiToken",
    "Base",
    "Delivery",
    "DeliveryAttempt",
    "Execution",
    "ExecutionVersion",
    "IdempotencyKey",
    "LeaseItem",
    "Notification",
    "OutboxEvent",
    "Pipeline",
    "PipelineRun",
    "PipelineRunJob",
    "PipelineVersion",
    "Project",
    "Run",
    "RunGroup",
    "RunScenario",
    "RunWorker",
    "Scenario",
    "ScenarioResult",
    "Schedule",
]

Json = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: Json,
        list[Any]: Json,
        datetime: DateTime(timezone=True),
    }


def _now() -> Any:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


class Project(Base):
    __tablename__ = "drover_projects"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec: Mapped[dict[str, Any]]
    """The ``project`` block of an execution: repo or path, ref, setup, runner, image."""
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Execution(Base):
    __tablename__ = "drover_executions"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("drover_projects.id", ondelete="SET NULL")
    )
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class ExecutionVersion(Base):
    __tablename__ = "drover_execution_versions"

    execution_id: Mapped[int] = mapped_column(
        ForeignKey("drover_executions.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = _now()


class Scenario(Base):
    """A scenario's history across runs, per project: feeds the duration and fail-first plans."""

    __tablename__ = "drover_scenarios"
    # Room on each page for the next run's update of its rows (migration 0011).
    __table_args__ = (
        UniqueConstraint("project", "scenario_id"),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project: Mapped[str] = mapped_column(String(200))
    scenario_id: Mapped[str] = mapped_column(Text)
    durations: Mapped[list[Any]] = mapped_column(default=list)
    """The latest durations in seconds, newest last (a bounded window)."""
    costs: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    """What its latest runs cost a worker, where measured, newest last (``api.runs.history``)."""
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_run_id: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime] = _now()


class Run(Base):
    __tablename__ = "drover_runs"
    __table_args__ = (
        Index(None, "execution_id", "created_at"),
        Index(None, "phase", "created_at"),
        Index(None, "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    execution_id: Mapped[int | None] = mapped_column(
        ForeignKey("drover_executions.id", ondelete="SET NULL")
    )
    execution_name: Mapped[str] = mapped_column(String(200))
    execution_version: Mapped[int | None] = mapped_column(Integer)
    backend: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16), default="Pending")
    message: Mapped[str | None] = mapped_column(Text)
    workflow_name: Mapped[str | None] = mapped_column(String(253), unique=True)
    workflow_uid: Mapped[str | None] = mapped_column(String(64))
    ui_url: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    resubmitted_from: Mapped[str | None] = mapped_column(String(32))
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("drover_schedules.id", ondelete="SET NULL")
    )
    """The schedule that started the run (locally, or as an Argo CronWorkflow)."""
    strategy: Mapped[str | None] = mapped_column(String(16))
    queue_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    """The workflow's ``spec.suspend``: it starts no new workers until resumed."""
    total: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    errored: Mapped[int] = mapped_column(Integer, default=0)
    result_rows: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """How many result rows the run holds (every attempt): a results page's total, uncounted."""
    spec: Mapped[dict[str, Any]] = mapped_column(Json, deferred=True)
    """The execution as it was when the run started (loaded when read: it lists every
    scenario)."""
    manifest: Mapped[dict[str, Any]] = mapped_column(Json, deferred=True)
    """The compiled Workflow (and its plan ConfigMaps under ``configmaps``)."""
    reports: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """The run's merged reports once stored (``api.runs.report_store``): kinds and problems."""
    reports_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Disk the run's reports and artifacts take under ``$DROVER_HOME/reports``."""
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    """Moves with every change of the run, its groups and workers (event streams wait on it)."""


class RunGroup(Base):
    __tablename__ = "drover_run_groups"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("drover_runs.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    flow: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(Text)
    """The group's title from the spec (its name when it has none)."""
    position: Mapped[int] = mapped_column(Integer, default=0)
    planned: Mapped[bool] = mapped_column(Boolean, default=True)
    """False for steps the plan does not know (setup-env, the exit handler)."""
    threads: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    errored: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Scenarios of the group by the status that counts (their latest attempt), kept by the
    results' ingest in its transaction: progress reads them instead of counting results."""
    shards: Mapped[list[Any]] = mapped_column(Json, default=list, deferred=True)
    """The static plan: scenario ids per shard index (loaded when read)."""
    phase: Mapped[str] = mapped_column(String(16), default="Pending")
    node_id: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class RunWorker(Base):
    __tablename__ = "drover_run_workers"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("drover_runs.id", ondelete="CASCADE"), primary_key=True
    )
    group_key: Mapped[str] = mapped_column(String(400), primary_key=True)
    shard: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[str] = mapped_column(String(16), default="Pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    planned: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Scenarios the static plan gives this shard (0 in queue mode)."""
    completed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Of those, how many have a result (kept by the ingest): a running shard runs the rest."""
    node_id: Mapped[str | None] = mapped_column(String(300))
    last_attempt_node_id: Mapped[str | None] = mapped_column(String(300))
    pod_name: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any] | None] = mapped_column(Json)
    results_read: Mapped[bool] = mapped_column(Boolean, default=False)
    """The results artifact of the finished worker has been ingested."""
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class RunScenario(Base):
    """One planned scenario of a run: where the plan put it and what it is called. Results are
    joined to it for their names, locations and tags, and counted into its group and shard."""

    __tablename__ = "drover_run_scenarios"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("drover_runs.id", ondelete="CASCADE"), primary_key=True
    )
    scenario_id: Mapped[str] = mapped_column(Text, primary_key=True)
    group_key: Mapped[str] = mapped_column(String(400))
    shard: Mapped[int | None] = mapped_column(Integer)
    """Its shard in a static plan; None in queue mode (any worker may lease it)."""
    name: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(Json, default=list)


class ScenarioResult(Base):
    __tablename__ = "drover_scenario_results"
    __table_args__ = (
        UniqueConstraint("run_id", "scenario_id", "attempt"),
        Index(None, "run_id", "status"),
        Index(None, "run_id", "group_key"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("drover_runs.id", ondelete="CASCADE"))
    scenario_id: Mapped[str] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    group_key: Mapped[str | None] = mapped_column(String(400))
    shard: Mapped[int | None] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16))
    duration: Mapped[float | None] = mapped_column(Float)
    cost: Mapped[float | None] = mapped_column(Float)
    """Seconds the worker's session spent on it, overhead included, when the runner says (what
    plans balance; ``duration`` is the runner's own figure)."""
    error: Mapped[str | None] = mapped_column(Text)
    artifacts: Mapped[list[Any]] = mapped_column(default=list)
    """File names, in ``artifact_dir`` of the worker's kept reports."""
    artifact_dir: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="agent")
    """Who reported it first: ``agent`` (posted live) or ``artifact`` (read by the mirror)."""
    properties: Mapped[list[Any] | None] = mapped_column(Json)
    """[name, value] pairs the test recorded about itself (pytest's ``record_property``)."""
    reported_at: Mapped[datetime | None]
    """When the agent produced it; ``created_at - reported_at`` is the ingest delay."""
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
    # Kept by the ingest, so that a page of results is one index range (api.runs.result_pages):
    attempt_number: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Its place among its scenario's attempts in the run: 1, 2, 3."""
    latest: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """Whether it is its scenario's last attempt in the run so far."""
    name: Mapped[str | None] = mapped_column(Text)
    """Its scenario's, from the run's plan (``RunScenario``); None outside the plan."""
    location: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any] | None] = mapped_column(Json)
    item: Mapped[str | None] = mapped_column(Text)
    """The row as a results page shows it (``api.runs.results.RESULT_JSON``), written when it
    is stored; None once a change made it stale (a page then builds it as it reads the row)."""


class LeaseItem(Base):
    """Queue mode: one scenario of a group, queued, leased to a worker, or done."""

    __tablename__ = "drover_lease_items"
    __table_args__ = (Index(None, "run_id", "group_key", "state", "expected"),)

    run_id: Mapped[str] = mapped_column(
        ForeignKey("drover_runs.id", ondelete="CASCADE"), primary_key=True
    )
    group_key: Mapped[str] = mapped_column(String(400), primary_key=True)
    scenario_id: Mapped[str] = mapped_column(Text, primary_key=True)
    expected: Mapped[float] = mapped_column(Float, default=0.0)
    state: Mapped[str] = mapped_column(String(8), default="queued")
    worker: Mapped[str | None] = mapped_column(String(300))
    """The current (or last) holder; a retried worker gets its unfinished scenarios back first."""
    leases: Mapped[int] = mapped_column(Integer, default=0)
    leased_until: Mapped[datetime | None]


class Schedule(Base):
    """Starts runs of an execution, or of a pipeline (exactly one of the two)."""

    __tablename__ = "drover_schedules"
    __table_args__ = (
        CheckConstraint("(execution_id IS NULL) <> (pipeline_id IS NULL)", name="one_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    execution_id: Mapped[int | None] = mapped_column(
        ForeignKey("drover_executions.id", ondelete="CASCADE")
    )
    pipeline_id: Mapped[int | None] = mapped_column(
        ForeignKey("drover_pipelines.id", ondelete="CASCADE")
    )
    cron: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    concurrency_policy: Mapped[str] = mapped_column(String(8), default="Forbid")
    """Argo's: Allow, Forbid (skip a firing while a run is going) or Replace."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None]
    last_run_at: Mapped[datetime | None]
    last_run_id: Mapped[str | None] = mapped_column(String(32))
    cron_workflow: Mapped[str | None] = mapped_column(String(253))
    """On Argo: the CronWorkflow that fires the schedule."""
    from_spec: Mapped[bool] = mapped_column(Boolean, default=False)
    """One of the execution's (or pipeline's) own, from its spec's ``schedule``: changed by
    editing that."""
    created_at: Mapped[datetime] = _now()


class SchedulePlan(Base):
    """What a schedule's CronWorkflow was compiled from, by plan id: a workflow it spawns is
    adopted as a run with the plan it carries, even after the schedule was compiled again."""

    __tablename__ = "drover_schedule_plans"

    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("drover_schedules.id", ondelete="CASCADE"), primary_key=True
    )
    plan_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The execution's plan id, or ``pipeline-v<version>`` for a pipeline."""
    version: Mapped[int | None] = mapped_column(Integer)
    """The execution's (or pipeline's) version compiled."""
    spec: Mapped[dict[str, Any]]
    """The execution with scenario durations from history, as planned; or the pipeline."""
    manifest: Mapped[dict[str, Any]]
    """The CronWorkflow and its plan ConfigMaps (under ``configmaps``)."""
    created_at: Mapped[datetime] = _now()


class ApiToken(Base):
    __tablename__ = "drover_api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 of the token; the token itself is shown once, at creation."""
    run_id: Mapped[str | None] = mapped_column(ForeignKey("drover_runs.id", ondelete="CASCADE"))
    """Set for a worker token: it may only report results and lease for this run."""
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("drover_schedules.id", ondelete="CASCADE")
    )
    """Set for the workers of a schedule's CronWorkflow: any run the schedule started."""
    created_at: Mapped[datetime] = _now()
    expires_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    __tablename__ = "drover_idempotency_keys"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    execution_id: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now()


# ---------------------------------------------------------------------------------- pipelines
# General job pipelines (engine.pipelines): stored like executions, run as one workflow each,
# mirrored job by job (migration 0002).


class Pipeline(Base):
    __tablename__ = "drover_pipelines"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec: Mapped[dict[str, Any]]
    """The checked ``kind: Pipeline`` document."""
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class PipelineVersion(Base):
    __tablename__ = "drover_pipeline_versions"

    pipeline_id: Mapped[int] = mapped_column(
        ForeignKey("drover_pipelines.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = _now()


class PipelineRun(Base):
    __tablename__ = "drover_pipeline_runs"
    __table_args__ = (
        Index(None, "pipeline_id", "created_at"),
        Index(None, "phase", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pipeline_id: Mapped[int | None] = mapped_column(
        ForeignKey("drover_pipelines.id", ondelete="SET NULL")
    )
    pipeline_name: Mapped[str] = mapped_column(String(200))
    pipeline_version: Mapped[int | None] = mapped_column(Integer)
    backend: Mapped[str] = mapped_column(String(16))
    phase: Mapped[str] = mapped_column(String(16), default="Pending")
    message: Mapped[str | None] = mapped_column(Text)
    workflow_name: Mapped[str] = mapped_column(String(253), unique=True)
    workflow_uid: Mapped[str | None] = mapped_column(String(64))
    schedule_id: Mapped[int | None] = mapped_column(
        ForeignKey("drover_schedules.id", ondelete="SET NULL")
    )
    """The schedule that started the run (locally, or as an Argo CronWorkflow)."""
    parameters: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The parameter values this run overrode (the pipeline's defaults apply to the rest)."""
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    """The ``Idempotency-Key`` header that started the run: the same key never starts another."""
    tool_token_hash: Mapped[str | None] = mapped_column(String(64))
    """SHA-256 of the token its tool jobs show the facade's tool endpoint (migration 0006)."""
    manifest: Mapped[dict[str, Any]]
    """The compiled Workflow, as submitted."""
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = _now()


class PipelineRunJob(Base):
    """One job of a pipeline run, as its task node in the workflow's main DAG reports it."""

    __tablename__ = "drover_pipeline_run_jobs"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("drover_pipeline_runs.id", ondelete="CASCADE"), primary_key=True
    )
    job: Mapped[str] = mapped_column(String(63), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    """Order of the job in the DAG (topological; the exit job last)."""
    task: Mapped[str] = mapped_column(String(63))
    """Its node's name after ``<workflow>.``: the job name, or ``onExit`` for the exit job."""
    stage: Mapped[str | None] = mapped_column(String(63))
    """Its stage in a staged pipeline (None for ``jobs`` ordered by ``needs``, the exit job)."""
    kind: Mapped[str] = mapped_column(String(16))
    """``script``, ``container`` or ``http``."""
    phase: Mapped[str] = mapped_column(String(16), default="Pending")
    node_type: Mapped[str | None] = mapped_column(String(16))
    """Argo's node type: Pod, HTTP, Retry, or Skipped for a job that did not run."""
    node_id: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str | None] = mapped_column(Text)
    outputs: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Output parameters by name (including ``condition`` when the job sets one)."""
    result: Mapped[str | None] = mapped_column(Text)
    """``outputs.result``: a script's standard output, an HTTP job's response body."""
    exit_code: Mapped[str | None] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


# ------------------------------------------------------------------------------ notifications
# Run events in an outbox, subscriptions, and the deliveries of events to them with a log of
# every attempt (migration 0006; api.notifications).


class OutboxEvent(Base):
    """One run event, written in the transaction of the transition that caused it."""

    __tablename__ = "drover_events"
    __table_args__ = (Index(None, "dispatched", "id"), Index(None, "run_id"))

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    key: Mapped[str] = mapped_column(String(600), unique=True)
    """The event's id (``run.finished/<run>/<attempt>``): a transition never makes two."""
    type: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    """The ``engine.notifications.Event`` as JSON."""
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
    """Its deliveries have been created (one per matching subscription)."""
    created_at: Mapped[datetime] = _now()


class Notification(Base):
    """A subscription made over the API (``notify:`` entries of specs are not stored here)."""

    __tablename__ = "drover_notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    spec: Mapped[dict[str, Any]]
    """The ``engine.notifications.Notify``: events, filter, channel (secret references only)."""
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Delivery(Base):
    """One event to one subscription: pending until delivered, or failed for good."""

    __tablename__ = "drover_deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "source"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("drover_events.id", ondelete="CASCADE"))
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("drover_notifications.id", ondelete="SET NULL")
    )
    source: Mapped[str] = mapped_column(String(300))
    """``notification:<id>``, ``execution:<name>#<i>``, ``pipeline:<name>#<i>``, ``tool:...``."""
    channel: Mapped[dict[str, Any]]
    destination: Mapped[str] = mapped_column(String(300))
    """What the rate limit and the circuit breaker count by (a host, a secret reference)."""
    state: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = _now()
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _now()


class DeliveryAttempt(Base):
    __tablename__ = "drover_delivery_attempts"
    __table_args__ = (Index(None, "delivery_id", "attempt"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("drover_deliveries.id", ondelete="CASCADE"))
    attempt: Mapped[int] = mapped_column(Integer)
    ok: Mapped[bool] = mapped_column(Boolean)
    http_status: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    response: Mapped[str | None] = mapped_column(Text)
    """The start of the response body (or the SMTP server's reply)."""
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.clock_timestamp()
    )
