"""The Pipeline: stages of jobs (scripts, containers, HTTP requests) passing outputs along.

A pipeline is either a list of ``stages`` (stage k starts when every job of stage k-1 has
succeeded) or a free list of ``jobs`` ordered by ``needs``. This module fixes the shape of
one document; :mod:`engine.pipelines.validation` checks what spans jobs (the graph, the
references between jobs) and names the job and field of every problem.

Values may interpolate ``${params.NAME}``, ``${jobs.JOB.outputs.NAME}`` and
``${jobs.JOB.result}`` (see :mod:`engine.pipelines.references`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from engine.durations import Seconds
from engine.notifications.subscription import Channel, Notify
from engine.spec import (
    DATA_KEY_PATTERN,
    ExecutionName,
    KubernetesLabels,
    NonEmpty,
    Schedule,
    SecretRef,
    StepName,
)

__all__ = [
    "Backoff",
    "ContainerStep",
    "Edge",
    "HttpMethod",
    "HttpStep",
    "Job",
    "Pipeline",
    "Retries",
    "ScriptLanguage",
    "ScriptStep",
    "Stage",
    "ToolStep",
]

DataKey = Annotated[str, StringConstraints(pattern=DATA_KEY_PATTERN, max_length=63)]
JobName = StepName
ScalarValue = str | int | float | bool

JOB_KINDS = ("script", "container", "http", "tool")

# Names Drover itself uses for a job's parameters: users' outputs must not take them.
RESERVED_OUTPUTS = frozenset({"result", "condition", "exitCode"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class ScriptLanguage(StrEnum):
    BASH = "bash"
    PYTHON = "python"
    NODE = "node"


DEFAULT_IMAGES = {
    ScriptLanguage.BASH: "bash:5.2",
    ScriptLanguage.PYTHON: "python:3.12-slim",
    ScriptLanguage.NODE: "node:20-slim",
}


class ScriptStep(_Model):
    """Source code run with the runtime helpers (``input``, ``output``, ...) predefined."""

    language: ScriptLanguage
    source: Annotated[str, StringConstraints(min_length=1, strip_whitespace=False)]
    image: NonEmpty | None = Field(
        None, description="defaults to an official image of the language"
    )

    @property
    def effective_image(self) -> str:
        return self.image or DEFAULT_IMAGES[self.language]


class ContainerStep(_Model):
    """An image run with an argument list (no shell unless the command is one)."""

    image: NonEmpty
    command: list[NonEmpty] | None = Field(None, description="the image's entrypoint if unset")
    args: list[str] = Field(default_factory=list)


class HttpMethod(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    HEAD = "HEAD"
    OPTIONS = "OPTIONS"


class SecretValue(_Model):
    secret: SecretRef


HeaderValue = str | SecretValue


class HttpStep(_Model):
    """One HTTP request, run by Argo's agent (or the local runner), no pod of its own."""

    method: HttpMethod = HttpMethod.GET
    url: NonEmpty
    headers: dict[NonEmpty, HeaderValue] = Field(default_factory=dict)
    body: str | None = None
    success_condition: NonEmpty | None = Field(
        None,
        description="Argo expr over response.statusCode, response.body, response.headers; "
        "default: a 2xx status",
    )
    timeout: Seconds | None = None


class ToolStep(_Model):
    """Send a message to Slack, Discord, an email address or a webhook, through the facade's
    delivery code (the channel's secrets stay in the facade). Its result is the outcome as JSON:
    ``{"status": "delivered"|"failed", "http_status": ..., "response": ...}``."""

    channel: Channel
    message: Annotated[str, StringConstraints(min_length=1, max_length=4000)] = Field(
        description="the text (Slack, Discord, the mail; the webhook's 'message'); may use ${...}"
    )


class Backoff(_Model):
    duration: Seconds = 1
    factor: int = Field(2, ge=1, le=10, strict=True)
    max_duration: Seconds | None = None


class Retries(_Model):
    limit: int = Field(ge=1, le=20, strict=True)
    backoff: Backoff | None = None


class Edge(StrEnum):
    """When a job runs, relative to how its needs ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    ALWAYS = "always"


class Job(_Model):
    """One unit of work: exactly one of ``script``, ``container`` or ``http``."""

    name: JobName
    title: str = ""
    needs: list[JobName] = Field(default_factory=list)
    on: Edge = Field(Edge.SUCCESS, description="run after the needs succeeded, failed, or either")
    when: NonEmpty | None = Field(
        None, description="condition over earlier jobs' outputs, conditions and parameters"
    )
    script: ScriptStep | None = None
    container: ContainerStep | None = None
    http: HttpStep | None = None
    tool: ToolStep | None = None
    inputs: dict[DataKey, str] = Field(
        default_factory=dict, description="values a script reads with input(name)"
    )
    outputs: list[DataKey] = Field(
        default_factory=list, description="names a script writes with output(name, value)"
    )
    env: dict[DataKey, str] = Field(default_factory=dict)
    secrets: dict[DataKey, SecretRef] = Field(
        default_factory=dict, description="environment variables read from Kubernetes Secrets"
    )
    retries: Retries | None = None
    timeout: Seconds | None = None

    @model_validator(mode="before")
    @classmethod
    def _yaml_on_key(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on:` key as the boolean true (the GitHub Actions problem).
        if isinstance(data, dict) and True in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        kinds = [k for k in JOB_KINDS if getattr(self, k) is not None]
        if len(kinds) != 1:
            found = f"got {', '.join(kinds)}" if kinds else "got none"
            raise ValueError(
                f"set exactly one of 'script', 'container', 'http' or 'tool' ({found})"
            )
        if self.http is not None and (self.env or self.secrets or self.outputs or self.inputs):
            raise ValueError(
                "an http job takes no env, secrets, inputs or outputs; interpolate values "
                "into url, headers or body, and read its response body as ${jobs.NAME.result}"
            )
        if self.tool is not None and (self.env or self.secrets or self.outputs or self.inputs):
            raise ValueError(
                "a tool job takes no env, secrets, inputs or outputs; interpolate values into "
                "its message, and read its outcome as ${jobs.NAME.result}"
            )
        reserved = [o for o in self.outputs if o in RESERVED_OUTPUTS]
        if reserved:
            raise ValueError(f"outputs: {reserved[0]!r} is reserved; choose another name")
        if len(set(self.outputs)) != len(self.outputs):
            raise ValueError("outputs: names must be unique")
        if len(set(self.needs)) != len(self.needs):
            raise ValueError("needs: a job is listed twice")
        return self

    @property
    def kind(self) -> Literal["script", "container", "http", "tool"]:
        if self.script is not None:
            return "script"
        if self.tool is not None:
            return "tool"
        return "container" if self.container is not None else "http"


class Stage(_Model):
    name: StepName
    title: str = ""
    jobs: list[Job] = Field(min_length=1)


class Pipeline(_Model):
    """A named pipeline of jobs; ``kind: Pipeline`` in a document."""

    name: ExecutionName
    title: str = ""
    parameters: dict[DataKey, ScalarValue] = Field(
        default_factory=dict, description="defaults; a run may override them"
    )
    variables: dict[DataKey, ScalarValue] = Field(
        default_factory=dict,
        description="declared variables with initial values (get_variable/set_variable)",
    )
    stages: list[Stage] | None = None
    jobs: list[Job] | None = None
    on_exit: Job | None = Field(None, description="runs after everything, whatever the outcome")
    timeout: Seconds | None = Field(None, description="deadline of the whole run")
    # Counts are strict, as an execution's are: YAML's ``true`` or ``2.5`` is a mistake.
    parallelism: int | None = Field(None, ge=1, le=2**63 - 1, strict=True)  # Argo's int64
    schedule: Schedule | None = None
    labels: KubernetesLabels = Field(default_factory=dict)
    notify: list[Notify] = Field(
        default_factory=list, description="who to tell about this pipeline's runs, and how"
    )

    @model_validator(mode="after")
    def _stages_or_jobs(self) -> Self:
        if (self.stages is None) == (self.jobs is None):
            raise ValueError("set exactly one of 'stages' (ordered) or 'jobs' (ordered by needs)")
        if self.stages is not None and not self.stages:
            raise ValueError("stages: at least one stage is needed")
        if self.jobs is not None and not self.jobs:
            raise ValueError("jobs: at least one job is needed")
        return self

    def all_jobs(self) -> list[Job]:
        """Every job of the DAG in document order (the exit job is not part of it)."""
        if self.jobs is not None:
            return list(self.jobs)
        return [job for stage in self.stages or [] for job in stage.jobs]
