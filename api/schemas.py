"""Response and request bodies of the HTTP API (pydantic v2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from api.progress import Progress
from api.results import ResultIn

__all__ = [
    "ErrorBody",
    "ExecutionOut",
    "GroupOut",
    "LeaseIn",
    "LeaseOut",
    "Page",
    "PipelineJobOut",
    "PipelineOut",
    "PipelineRunDetail",
    "PipelineRunOut",
    "PipelineRunRequest",
    "ProjectOut",
    "ResultOut",
    "ResultsIn",
    "RunDetail",
    "RunOut",
    "RunRequest",
    "ScheduleIn",
    "ScheduleOut",
    "ShardingPreviewIn",
    "WorkerOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    """Seconds from ``start`` to ``end`` (to now while unfinished), to the millisecond."""
    if start is None:
        return None
    if end is None:
        end = datetime.now(UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    if end.tzinfo is None:
        end = end.replace(tzinfo=UTC)
    return round(max((end - start).total_seconds(), 0.0), 3)


class _Timed(_Out):
    """Something that starts and finishes: its ``duration`` in seconds (so far, while running)."""

    started_at: datetime | None
    finished_at: datetime | None

    @computed_field(  # type: ignore[prop-decorator]
        description="seconds from started_at to finished_at (to now while unfinished); "
        "null before it started"
    )
    @property
    def duration(self) -> float | None:
        return seconds_between(self.started_at, self.finished_at)


class ErrorBody(BaseModel):
    detail: str
    field: str | None = None
    hint: str | None = None


class ProjectOut(_Out):
    id: int
    name: str
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ExecutionOut(_Out):
    id: int
    name: str
    project_id: int | None
    version: int
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategy: str | None = Field(
        None,
        description="override every group's strategy (round-robin, duration, file, tag, "
        "fail-first, queue)",
        max_length=32,
    )


class RunOut(_Timed):
    id: str
    execution_id: int | None
    execution_name: str
    schedule_id: int | None = Field(None, description="the schedule that started the run")
    backend: str
    phase: str
    message: str | None
    workflow_name: str | None
    workflow_uid: str | None
    ui_url: str | None
    attempt: int
    resubmitted_from: str | None
    queue_mode: bool
    total: int
    passed: int
    failed: int
    skipped: int
    errored: int
    created_at: datetime


class WorkerOut(_Timed):
    shard: int
    phase: str
    attempts: int
    pod_name: str | None
    message: str | None
    summary: dict[str, Any] | None


class GroupOut(BaseModel):
    key: str
    flow: str | None
    name: str
    phase: str
    threads: int
    progress: Progress
    workers: list[WorkerOut]


class RunDetail(RunOut):
    progress: Progress
    flows: dict[str, Progress]
    groups: list[GroupOut]
    setup_error: str | None = Field(
        None,
        description="why no scenario could run: setup-env's error, when it did not succeed",
    )


class ResultOut(_Out):
    scenario_id: str
    attempt: int
    status: str
    duration: float | None
    group_key: str | None
    shard: int | None
    worker: str | None
    error: str | None
    artifacts: list[Any]
    source: str
    created_at: datetime


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    total: int
    offset: int
    limit: int
    items: list[Item]


class ResultsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    results: list[ResultIn] = Field(max_length=5000)


class LeaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    worker: str = Field(min_length=1, max_length=300)
    count: int = Field(1, ge=1, le=100)


class LeaseOut(BaseModel):
    scenarios: list[str]
    lease_seconds: float
    done: bool
    """True when nothing is queued or leased any more: the worker can exit."""


class VersionOut(_Out):
    """One stored version of an execution or pipeline."""

    version: int
    created_at: datetime
    spec: dict[str, Any]


class ScheduleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    execution_id: int | None = Field(None, ge=1, le=2_147_483_647)
    pipeline_id: int | None = Field(None, ge=1, le=2_147_483_647)
    cron: str = Field(min_length=1, max_length=200)
    timezone: str = Field("UTC", max_length=64)
    enabled: bool = True
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = Field(
        "Forbid",
        description="when a run of the schedule is still going: start another (Allow), "
        "skip this one (Forbid) or terminate it and start anew (Replace)",
    )

    @model_validator(mode="after")
    def _one_target(self) -> ScheduleIn:
        if (self.execution_id is None) == (self.pipeline_id is None):
            raise ValueError("give exactly one of execution_id and pipeline_id")
        return self


class ScheduleOut(_Out):
    id: int
    execution_id: int | None = Field(None, ge=1, le=2_147_483_647)
    pipeline_id: int | None = Field(None, ge=1, le=2_147_483_647)
    cron: str
    timezone: str
    enabled: bool
    concurrency_policy: str
    cron_workflow: str | None = Field(None, description="its CronWorkflow, on Argo")
    from_spec: bool = Field(
        False, description="the execution's own schedule (its spec's): edit the execution"
    )
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_run_id: str | None


class ShardingPreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    execution: dict[str, Any] | None = Field(
        None, description="an Execution document (or give execution_id)"
    )
    execution_id: int | None = Field(
        None,
        ge=1,
        le=2_147_483_647,
        description="a stored execution, planned with the durations its earlier runs measured",
    )
    strategy: str | None = Field(None, max_length=32)

    @model_validator(mode="after")
    def _one_source(self) -> ShardingPreviewIn:
        if (self.execution is None) == (self.execution_id is None):
            raise ValueError("give exactly one of execution and execution_id")
        return self


class ShardPreview(BaseModel):
    index: int
    load: float = Field(description="predicted seconds of the shard")
    scenarios: list[str]


class GroupPreview(BaseModel):
    key: str
    strategy: str
    threads: int
    makespan: float = Field(description="predicted seconds of the group's slowest shard")
    lower_bound: float = Field(description="max(total / threads, longest scenario), seconds")
    imbalance: float
    estimated: list[str] = Field(description="scenarios whose duration was estimated")
    shards: list[ShardPreview]


class ShardingPreviewOut(BaseModel):
    predicted_makespan: float = Field(description="seconds, rounded to 0.1")
    scenarios: int
    groups: list[GroupPreview]


class ActionName(BaseModel):
    action: Literal["stop", "terminate"] = "stop"


# ---------------------------------------------------------------------------------- pipelines


class PipelineOut(_Out):
    id: int
    name: str
    version: int
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class PipelineRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="values overriding the pipeline's parameter defaults for this run",
        max_length=200,
    )


class PipelineRunOut(_Out):
    id: str
    pipeline_id: int | None
    pipeline_name: str
    pipeline_version: int | None
    backend: str
    phase: str
    message: str | None
    workflow_name: str
    workflow_uid: str | None
    parameters: dict[str, Any]
    resubmitted_from: str | None = None
    """The run this one was resubmitted from (``POST /pipeline-runs/{id}/resubmit``)."""
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PipelineJobOut(_Out):
    job: str
    kind: str
    phase: str
    node_type: str | None
    message: str | None
    outputs: dict[str, Any]
    """Output parameters by name (``condition`` included when the job sets one)."""
    result: str | None
    exit_code: str | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None


class PipelineRunDetail(PipelineRunOut):
    jobs: list[PipelineJobOut]
