"""Response and request bodies of the HTTP API (pydantic v2)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class RunOut(_Out):
    id: str
    execution_id: int | None
    execution_name: str
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
    started_at: datetime | None
    finished_at: datetime | None


class WorkerOut(_Out):
    shard: int
    phase: str
    attempts: int
    pod_name: str | None
    message: str | None
    summary: dict[str, Any] | None
    started_at: datetime | None
    finished_at: datetime | None


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


class Page(BaseModel):
    total: int
    offset: int
    limit: int
    items: list[Any]


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

    execution: dict[str, Any] = Field(description="an Execution document")
    strategy: str | None = Field(None, max_length=32)


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
