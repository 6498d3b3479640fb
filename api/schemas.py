"""Response and request bodies of the HTTP API (pydantic v2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from api.mirror.transitions import as_utc
from api.openapi import AnyDocument, ExecutionDocument, PipelineDocument, ProjectDocument
from api.runs.progress import Progress
from api.runs.results import ResultIn
from api.runs.verdicts import RunVerdict, verdict_of
from engine.status import is_final

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "ErrorItem",
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
    "ResultPage",
    "ResultsIn",
    "RunDetail",
    "RunOut",
    "RunRequest",
    "RunSummary",
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
    return round(max((as_utc(end) - as_utc(start)).total_seconds(), 0.0), 3)


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


class ErrorItem(BaseModel):
    """One problem of a request that failed validation."""

    loc: list[str]
    msg: str
    type: str | None = None


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer: what is wrong, and where (the field) and how to fix it."""

    detail: str = Field(description="what is wrong, in one sentence")
    field: str | None = Field(None, description="the field at fault, as a dotted path")
    hint: str | None = Field(None, description="how to fix it")
    errors: list[ErrorItem] | None = Field(
        None, description="every problem found, when the request failed validation"
    )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "the request body is not valid JSON"),
        (401, "no valid bearer token (or session cookie)"),
        (
            403,
            "the token may not do this (a worker's token, another run's, or a worker's token "
            "whose run has finished)",
        ),
        (404, "no such resource"),
        (409, "the resource exists, or the action does not apply in its current state"),
        (413, "the request body is larger than the service accepts"),
        (422, "the request is invalid: detail names the field and the fix"),
        (502, "Argo or Kubernetes failed; retry later"),
        (503, "the database is unavailable; retry shortly"),
    )
}
"""What every operation of the API may answer besides success, documented once."""


class ProjectOut(_Out):
    id: int
    name: str
    spec: ProjectDocument
    created_at: datetime
    updated_at: datetime


class ExecutionOut(_Out):
    id: int
    name: str
    project_id: int | None
    version: int
    spec: ExecutionDocument
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
    suspended: bool = Field(
        False,
        description="suspended: no new worker starts until resumed (the phase stays Running)",
    )
    total: int
    passed: int
    failed: int
    skipped: int
    errored: int
    created_at: datetime

    @model_validator(mode="after")
    def _unfinished_has_no_end(self) -> RunOut:
        # A retried run keeps its last attempt's end until its workflow is seen running again
        # (the mirror tells copies from before the retry by it); to readers it is unfinished.
        if not is_final(self.phase):
            self.finished_at = None
        return self

    @computed_field(  # type: ignore[prop-decorator]
        description="what the results say, apart from Argo's phase: running until the run "
        "ends; passed (every planned scenario passed or was skipped), failed (a scenario "
        "failed), errored (none failed, but some errored or never ran, or the workflow "
        "failed), canceled (stopped or terminated)"
    )
    @property
    def verdict(self) -> RunVerdict:
        return verdict_of(
            self.phase,
            self.message,
            total=self.total,
            passed=self.passed,
            failed=self.failed,
            errored=self.errored,
            skipped=self.skipped,
        )


def worker_id(group_key: str | None, shard: int | None) -> str | None:
    """One id for a worker, ``<group key>/<shard>``: results carry it too, to join on."""
    if group_key is None or shard is None:
        return None
    return f"{group_key}/{shard}"


class WorkerOut(_Timed):
    id: str = Field(description="``<group key>/<shard>``; results of the worker carry it")
    group_key: str
    shard: int
    phase: str
    attempts: int
    planned: int = Field(description="scenarios the static plan gives it (0 in queue mode)")
    completed: int = Field(description="of those, how many have a result")
    pod_name: str | None
    message: str | None
    summary: dict[str, Any] | None

    @model_validator(mode="before")
    @classmethod
    def _with_id(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {**data, "id": worker_id(data.get("group_key"), data.get("shard"))}
        return {
            name: getattr(data, name)
            for name in (
                "group_key", "shard", "phase", "attempts", "planned", "completed", "pod_name",
                "message", "summary", "started_at", "finished_at",
            )
        } | {"id": worker_id(data.group_key, data.shard)}  # fmt: skip


class GroupOut(_Timed):
    key: str
    flow: str | None
    name: str
    title: str = Field(description="the group's title in the spec (its name when none)")
    phase: str
    threads: int
    progress: Progress
    workers: list[WorkerOut]


class RunSummary(RunOut):
    """A run in a list: with its progress (percentage, running, pending)."""

    progress: Progress


class RunDetail(RunSummary):
    flows: dict[str, Progress]
    groups: list[GroupOut]
    setup_error: str | None = Field(
        None,
        description="why no scenario could run: setup-env's error, when it did not succeed",
    )


class ResultOut(BaseModel):
    id: int = Field(description="GET /results/{id}/artifacts/{name} serves each of artifacts")
    scenario_id: str
    name: str | None = Field(description="the scenario's name in the plan")
    location: str | None = Field(description="its file, file::node or file:line")
    tags: list[str]
    attempt: int = Field(description="1, 2, 3, ... : the scenario's attempts in this run, in order")
    run_attempt: int = Field(description="the run's attempt (retry or resubmit) it belongs to")
    latest: bool = Field(description="the scenario's latest attempt: the one that counts")
    status: str
    duration: float | None
    started_at: datetime | None = Field(description="when it started (finished_at - duration)")
    finished_at: datetime | None = Field(description="when the agent reported it finished")
    group_key: str | None
    shard: int | None
    worker_id: str | None = Field(description="the id of its worker in the run's detail")
    worker: str | None = Field(description="the pod that ran it")
    error: str | None
    artifacts: list[Any]
    artifact_dir: str | None = None
    properties: list[tuple[str, str]] = Field(
        default_factory=list, description="what the test recorded about itself (record_property)"
    )
    source: str
    created_at: datetime


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    total: int
    offset: int
    limit: int
    items: list[Item]


class ResultPage(Page[ResultOut]):
    next_cursor: str | None = Field(
        None,
        description="pass as ``after`` for the next page (keyset: as fast on page 2,000 as on "
        "page 1); null on the last page",
    )


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
    spec: AnyDocument


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

    execution: ExecutionDocument | None = Field(
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


class RunPlanGroup(BaseModel):
    key: str
    flow: str
    strategy: str
    threads: int
    makespan: float = Field(description="predicted seconds of the group's slowest shard")
    lower_bound: float = Field(description="max(total / threads, longest scenario), seconds")
    loads: list[float] = Field(description="predicted seconds of each shard, by shard index")


class RunPlanOut(BaseModel):
    """What the run's plan predicted, to set beside what happened (the worker timeline)."""

    predicted_makespan: float = Field(
        description="seconds: the slowest flow's groups' makespans one after another (setup "
        "not included)"
    )
    lower_bound: float = Field(
        description="seconds: no plan of these groups could end sooner (the slowest flow's "
        "groups' lower bounds one after another)"
    )
    groups: list[RunPlanGroup]


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
    spec: PipelineDocument
    created_at: datetime
    updated_at: datetime


class PipelineRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="values overriding the pipeline's parameter defaults for this run",
        max_length=200,
    )


class PipelineRunOut(_Timed):
    id: str
    pipeline_id: int | None
    pipeline_name: str
    pipeline_version: int | None
    schedule_id: int | None = None
    backend: str
    phase: str
    message: str | None
    workflow_name: str
    workflow_uid: str | None
    parameters: dict[str, Any] = Field(
        description="every parameter's value in this run: the pipeline's defaults, with the "
        "run's overrides applied"
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="the values this run was started with"
    )
    resubmitted_from: str | None = None
    """The run this one was resubmitted from (``POST /pipeline-runs/{id}/resubmit``)."""
    created_at: datetime


class PipelineJobOut(_Timed):
    job: str
    stage: str | None = Field(None, description="its stage, in a pipeline of stages")
    kind: str
    phase: str
    node_type: str | None
    message: str | None
    outputs: dict[str, Any]
    """Output parameters by name (``condition`` included when the job sets one)."""
    result: str | None = Field(
        description="what the job printed (its last 256 kB), where Argo keeps it: always for an "
        "HTTP job (the response), for a script or container job when another job refers to it "
        "(${jobs.<name>.result}); else null, and the run's logs have it"
    )
    exit_code: str | None
    attempts: int
    started_at: datetime | None
    finished_at: datetime | None


class PipelineRunDetail(PipelineRunOut):
    jobs: list[PipelineJobOut]
