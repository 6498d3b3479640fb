"""The Execution: what a user defines and "Run now" compiles into one Argo Workflow.

An execution names a test project, flows of ordered scenario groups, global test data,
defaults, the workspace, limits and an optional schedule. Every model forbids unknown fields,
and every validation error names the field path (see :func:`load_execution`).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from engine.durations import Seconds
from engine.images import default_agent_image
from engine.notifications.subscription import Notify
from engine.sharding import Strategy

__all__ = [
    "ENTRY_FIELDS",
    "LENGTH_HINTS",
    "PATTERN_HINTS",
    "ConcurrencyPolicy",
    "Defaults",
    "Execution",
    "ExecutionFile",
    "Flow",
    "KubernetesLabels",
    "Limits",
    "Project",
    "Runner",
    "RunnerKind",
    "Scenario",
    "ScenarioGroup",
    "Schedule",
    "SecretRef",
    "Selection",
    "TestDataValue",
    "Workspace",
    "WorkspaceMode",
    "zone_named",
]

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Flow and group names become Argo task names, which `depends` cannot parse if they start
# with a digit.
STEP_NAME_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"

DATA_KEY_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
# Results are stored under a scenario's id, name and location: Postgres text refuses NUL.
NO_NUL_PATTERN = r"^[^\x00]*$"
PATTERN_HINTS = {
    NAME_PATTERN: "use lowercase letters, digits and '-', starting and ending with a letter "
    "or digit",
    STEP_NAME_PATTERN: "use lowercase letters, digits and '-', starting with a letter and ending "
    "with a letter or digit",
    DATA_KEY_PATTERN: "use letters, digits and '_', not starting with a digit (it becomes an "
    "environment variable)",
    NO_NUL_PATTERN: "it contains a NUL character (\\x00), which results cannot be stored with: "
    "give the test an id without it (pytest escapes it unless "
    "disable_test_id_escaping_and_forfeit_all_rights_to_community_support is set)",
}
"""What to tell a user whose value does not match one of the patterns."""

# Execution names become the workflow's generateName prefix and label values: Argo appends
# five characters, and node names add flow and group names, so names stay short.
ExecutionName = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=40)]
StepName = Annotated[str, StringConstraints(pattern=STEP_NAME_PATTERN, max_length=40)]
DataKey = Annotated[str, StringConstraints(pattern=DATA_KEY_PATTERN, max_length=100)]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class RunnerKind(StrEnum):
    PYTEST = "pytest"
    CUCUMBER = "cucumber"
    PLAYWRIGHT = "playwright"
    COMMAND = "command"


class Runner(_Model):
    """How a worker runs scenarios.

    ``command`` is an argument list for the ``command`` runner; ``{scenario}`` expands to one
    scenario id per run, ``{scenarios}`` to all ids of the batch as separate arguments.
    ``args`` are extra arguments for the built-in runners (e.g. ``["-x", "--maxfail=5"]``).
    """

    kind: RunnerKind = RunnerKind.PYTEST
    command: list[NonEmpty] | None = None
    args: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _command_matches_kind(self) -> Self:
        if self.kind is RunnerKind.COMMAND:
            if not self.command:
                raise ValueError("runner kind 'command' needs 'command', an argument list")
            if not any("{scenario}" in a or a == "{scenarios}" for a in self.command):
                raise ValueError("'command' must contain '{scenario}' or a '{scenarios}' argument")
        elif self.command is not None:
            raise ValueError(f"'command' applies only to runner kind 'command', not {self.kind}")
        return self


SetupCommand = NonEmpty | list[NonEmpty]


class Project(_Model):
    """The test repository: where it comes from and how its workspace is prepared."""

    name: StepName
    repo: NonEmpty | None = Field(None, description="git URL to clone")
    path: NonEmpty | None = Field(None, description="local directory to copy instead of a repo")
    ref: NonEmpty = "HEAD"
    setup: list[SetupCommand] = Field(
        default_factory=list,
        description="commands run in the workspace after checkout; a string runs with 'sh -c', "
        "a list runs as an argument list",
    )
    image: NonEmpty = Field(
        default_agent_image(),
        description="the image of setup-env, the workers and cleanup; it must contain "
        "drover-agent. Default: Drover's agent image of the installed version "
        "(drover-agent:<version>, built by 'drover images build')",
    )
    runner: Runner = Field(default_factory=Runner)

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.repo is None) == (self.path is None):
            raise ValueError("set exactly one of 'repo' (a git URL) or 'path' (a local directory)")
        return self


class SecretRef(_Model):
    """A value kept in a Kubernetes Secret; compiled to ``secretKeyRef``, never to plain text."""

    name: StepName
    key: Annotated[str, StringConstraints(pattern=r"^[-._a-zA-Z0-9]+$", max_length=253)]
    optional: bool = Field(False, description="run without it when the Secret or key is absent")


class _SecretValue(_Model):
    secret: SecretRef


TestDataValue = str | int | float | bool | _SecretValue


MAX_TEST_DATA_VALUE = 32 * 1024
"""Bytes of one test data value: it becomes an environment variable of every worker pod, and
Linux refuses a single one over 128 KiB ("Argument list too long")."""
MAX_TEST_DATA_TOTAL = 128 * 1024
"""Bytes of all test data together (every pod's environment and the Workflow's arguments)."""

MAX_SCENARIO_ID = 4000
"""The longest scenario id results are stored under (pytest writes parameters into ids)."""

LENGTH_HINTS = {
    MAX_SCENARIO_ID: "give long parameters short ids (pytest's ids=) or list the test without "
    "its parameters",
}
"""What to tell a user whose value is longer than one of these lengths allow."""

# Checked by pydantic's core, not by Python validators: a spec lists up to 100,000 scenarios.
Storable = Annotated[str, StringConstraints(pattern=NO_NUL_PATTERN)]
ScenarioId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_SCENARIO_ID, pattern=NO_NUL_PATTERN)
]

ENTRY_FIELDS: dict[str, Any] = {"exclude_unset": True, "exclude_defaults": True}
"""What of a scenario its entry in a spec or plan keeps: see :meth:`Scenario.entry`."""


class Scenario(_Model):
    id: ScenarioId
    name: Storable = ""
    location: Storable = Field(
        default_factory=lambda data: str(data.get("id", "")),
        description="file, file::node or file:line; the id when not given (a pytest node id is "
        "its own location)",
    )
    tags: list[NonEmpty] = Field(default_factory=list)
    duration: float | None = Field(None, ge=0, allow_inf_nan=False, description="estimated seconds")
    last_status: Literal["passed", "failed", "skipped"] | None = None

    def entry(self) -> dict[str, Any]:
        """The scenario as an execution or a shard plan lists it: the fields it was given, less
        those at their defaults (a location left out is the id again): 100,000 entries add up.
        Plan files write the same with pydantic's JSON serializer (``ENTRY_FIELDS``)."""
        return self.model_dump(**ENTRY_FIELDS)

    @property
    def file(self) -> str:
        """The file part of ``location`` (before ``::`` or a trailing ``:line``)."""
        head = self.location.split("::", 1)[0]
        return re.sub(r":\d+$", "", head)


class Selection(_Model):
    """Pick scenarios from the execution's catalog: explicit ids, or tag and path filters."""

    ids: list[NonEmpty] | None = None
    tags: list[NonEmpty] = Field(
        default_factory=list, description="keep scenarios with any of these"
    )
    exclude_tags: list[NonEmpty] = Field(default_factory=list)
    paths: list[NonEmpty] = Field(default_factory=list, description="glob patterns on the file")

    def matches(self, scenario: Scenario) -> bool:
        if self.ids is not None and scenario.id not in self.ids:
            return False
        if self.tags and not set(self.tags) & set(scenario.tags):
            return False
        if set(self.exclude_tags) & set(scenario.tags):
            return False
        return not self.paths or any(_path_matches(scenario.file, p) for p in self.paths)


def _path_matches(file: str, pattern: str) -> bool:
    return fnmatch.fnmatch(file, pattern) or PurePosixPath(file).is_relative_to(pattern.rstrip("/"))


# Counts are strict: YAML's ``threads: true`` or ``retries: 2.5`` is a mistake, not a 1 or a 2
# (Argo and Kubernetes decode these fields as integers and refuse anything else).
class Defaults(_Model):
    threads: int = Field(1, ge=1, le=1000, strict=True)
    strategy: Strategy = Strategy.DURATION
    retries: int = Field(
        0, ge=0, le=10, strict=True, description="reruns of a failed scenario by the agent"
    )
    pod_retries: int = Field(
        2, ge=0, le=10, strict=True, description="Argo retries of a worker pod on errors"
    )
    timeout: Seconds | None = Field(None, description="deadline of one worker pod")
    scenario_timeout: Seconds | None = None


class ScenarioGroup(_Model):
    """Scenarios spread over ``threads`` parallel workers; groups of a flow run in order."""

    name: StepName
    title: str = ""
    scenarios: list[Scenario] = Field(default_factory=list)
    select: Selection | None = None
    threads: int | None = Field(None, ge=1, le=1000, strict=True)
    strategy: Strategy | None = None
    retries: int | None = Field(None, ge=0, le=10, strict=True)
    pod_retries: int | None = Field(None, ge=0, le=10, strict=True)
    timeout: Seconds | None = None
    scenario_timeout: Seconds | None = None
    continue_on_failure: bool = False


RESERVED_FLOW_NAMES = frozenset({"setup-env"})
"""Task names the compiler puts beside the flows in the ``main`` DAG."""


class Flow(_Model):
    """An ordered list of scenario groups; flows of an execution run in parallel."""

    name: StepName
    title: str = ""
    groups: list[ScenarioGroup] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, name: str) -> str:
        if name in RESERVED_FLOW_NAMES:
            raise ValueError(
                f"{name!r} is reserved: the compiled workflow has its own {name!r} step beside "
                "the flows; rename the flow (e.g. 'setup')"
            )
        return name

    @field_validator("groups")
    @classmethod
    def _unique_groups(cls, groups: list[ScenarioGroup]) -> list[ScenarioGroup]:
        _reject_duplicates([g.name for g in groups], "group name")
        return groups


class WorkspaceMode(StrEnum):
    PVC = "pvc"
    ARTIFACT = "artifact"


class Workspace(_Model):
    """The workspace setup-env prepares: a shared volume, or an artifact each worker unpacks."""

    mode: WorkspaceMode = WorkspaceMode.PVC
    size: Annotated[str, StringConstraints(pattern=r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$")] = "2Gi"
    storage_class: str | None = None
    access_mode: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] | None = Field(
        None,
        description="the claim's access mode; default: ReadWriteMany when workers run in "
        "parallel (pods on several nodes mount it at once), else ReadWriteOnce. Use "
        "ReadWriteOnce on a one-node cluster whose storage has no ReadWriteMany (kind, k3d), "
        "or mode 'artifact' where no storage class offers it",
    )


class Limits(_Model):
    # Argo's WorkflowSpec holds parallelism as int64 and priority as int32 (workflow_types.go):
    # a larger number would not even decode there.
    parallelism: int | None = Field(
        None, ge=1, le=2**63 - 1, strict=True, description="max pods running at once"
    )
    deadline: Seconds | None = Field(None, description="activeDeadlineSeconds of the workflow")
    priority: int | None = Field(None, ge=-(2**31), le=2**31 - 1, strict=True)
    ttl_after_finished: Seconds = 7 * 86400
    semaphore: str | None = Field(
        None, description="'configmap/key' of an Argo semaphore limiting concurrent runs"
    )

    @field_validator("semaphore")
    @classmethod
    def _semaphore_ref(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9][-a-z0-9.]*/[-._a-zA-Z0-9]+", value):
            raise ValueError("use 'configmap-name/key', e.g. 'drover-limits/executions'")
        return value


class ConcurrencyPolicy(StrEnum):
    ALLOW = "Allow"
    FORBID = "Forbid"
    REPLACE = "Replace"


class Schedule(_Model):
    cron: list[NonEmpty] = Field(min_length=1)
    timezone: str = "UTC"
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    suspend: bool = False
    starting_deadline: Seconds | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, crons: list[str]) -> list[str]:
        from croniter import croniter  # imported on use: most specs have no schedule

        for cron in crons:
            if not croniter.is_valid(cron):
                raise ValueError(f"{cron!r} is not a cron expression; use e.g. '0 2 * * *'")
        _reject_duplicates(crons, "cron expression")
        return crons

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, tz: str) -> str:
        if zone_named(tz) is None:
            raise ValueError(f"{tz!r} is not an IANA time zone; use e.g. 'Europe/Berlin'")
        return tz


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA time zone ``name``; None when there is none by that name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: too long for a file name
        return None


class Execution(_Model):
    """A named, reusable definition of a test execution."""

    name: ExecutionName
    title: str = ""
    project: Project
    scenarios: list[Scenario] = Field(
        default_factory=list, description="catalog that groups pick from with 'select'"
    )
    flows: list[Flow] = Field(min_length=1)
    test_data: dict[DataKey, TestDataValue] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)
    workspace: Workspace = Field(default_factory=Workspace)
    limits: Limits = Field(default_factory=Limits)
    schedule: Schedule | None = None
    labels: KubernetesLabels = Field(default_factory=dict)
    notify: list[Notify] = Field(
        default_factory=list, description="who to tell about this execution's runs, and how"
    )

    @field_validator("test_data")
    @classmethod
    def _small_test_data(cls, data: dict[str, TestDataValue]) -> dict[str, TestDataValue]:
        total = 0
        for key, value in data.items():
            if isinstance(value, _SecretValue):
                continue
            size = len(str(value).encode())
            total += size + len(key)
            if size > MAX_TEST_DATA_VALUE:
                raise ValueError(
                    f"{key} is {size:,} bytes, at most {MAX_TEST_DATA_VALUE:,} are allowed: put "
                    "large data in a file of the project, or in a Secret"
                )
        if total > MAX_TEST_DATA_TOTAL:
            raise ValueError(
                f"test data is {total:,} bytes, at most {MAX_TEST_DATA_TOTAL:,} are allowed: put "
                "large data in a file of the project, or in a Secret"
            )
        return data

    @field_validator("flows")
    @classmethod
    def _unique_flows(cls, flows: list[Flow]) -> list[Flow]:
        _reject_duplicates([f.name for f in flows], "flow name")
        return flows

    @model_validator(mode="after")
    def _groups_resolve(self) -> Self:
        _reject_duplicates([s.id for s in self.scenarios], "scenario id in 'scenarios'")
        catalog = {s.id: s for s in self.scenarios}
        owner: dict[str, str] = {}
        for fi, flow in enumerate(self.flows):
            for gi, group in enumerate(flow.groups):
                where = f"flows[{fi}].groups[{gi}]"
                if group.scenarios and group.select:
                    raise ValueError(f"{where}: set 'scenarios' or 'select', not both")
                if group.select and group.select.ids:
                    unknown = [i for i in group.select.ids if i not in catalog]
                    if unknown:
                        raise ValueError(f"{where}.select.ids: unknown scenario ids {unknown[:5]}")
                chosen = self.group_scenarios(group)
                if not chosen:
                    raise ValueError(
                        f"{where}: the group has no scenarios; list 'scenarios' or a 'select' "
                        "that matches some of the execution's 'scenarios'"
                    )
                for scenario in chosen:
                    here = f"{flow.name}/{group.name}"
                    if scenario.id in owner:
                        raise ValueError(
                            f"{where}: scenario id {scenario.id!r} appears twice "
                            f"(in {owner[scenario.id]} and {here}); scenario ids must be unique"
                        )
                    owner[scenario.id] = here
        return self

    def group_scenarios(self, group: ScenarioGroup) -> list[Scenario]:
        """The scenarios a group runs: its own list, or the catalog filtered by its selection."""
        if group.select is None:
            return list(group.scenarios)
        return [s for s in self.scenarios if group.select.matches(s)]

    def iter_groups(self) -> Iterator[tuple[Flow, ScenarioGroup]]:
        for flow in self.flows:
            for group in flow.groups:
                yield flow, group

    def effective(self, group: ScenarioGroup) -> Defaults:
        """The group's settings with the execution defaults filled in."""
        own = group.model_dump(
            include=set(Defaults.model_fields), exclude_none=True, exclude_unset=False
        )
        return self.defaults.model_copy(update=own)


_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
RESERVED_LABEL_PREFIXES = ("drover.dev/", "workflows.argoproj.io/", "app.kubernetes.io/managed-by")
"""Label keys that Drover or Argo's controller set and read themselves."""


def label_problem(key: str, value: str) -> str | None:
    """Why Kubernetes (or Drover) would refuse the label ``key: value``, or None.

    Kubernetes' rules (apimachinery ``IsQualifiedName`` and ``IsValidLabelValue``): the key is
    a name of at most 63 characters, optionally after a DNS-subdomain prefix and '/'; the value
    is empty or such a name.
    """
    if key.startswith(RESERVED_LABEL_PREFIXES):
        return "the key is reserved for Drover and Argo; choose another prefix"
    prefix, _, name = key.rpartition("/")
    if "/" in prefix or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix))):
        return "the key's prefix must be a lowercase DNS subdomain, e.g. 'example.com/team'"
    if len(name) > 63 or not _LABEL_NAME.match(name):
        return (
            "the key's name must be at most 63 letters, digits, '-', '_' or '.', starting "
            "and ending with a letter or digit"
        )
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        return (
            "the value must be empty or at most 63 letters, digits, '-', '_' or '.', starting "
            "and ending with a letter or digit"
        )
    return None


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        problem = label_problem(key, value)
        if problem:
            raise ValueError(f"label {key!r}: {problem}")
    return labels


KubernetesLabels = Annotated[dict[str, str], AfterValidator(_check_labels)]
"""User labels that go onto Argo objects: refused with the reason unless Kubernetes takes them."""


class ExecutionFile(Execution):
    """An execution with the header its spec file may carry (which parse_execution drops)."""

    model_config = ConfigDict(defer_build=True)  # built on first use: only JSON files use it

    kind: Literal["Execution"] = "Execution"
    api_version: Any = Field(None, alias="apiVersion")


def _reject_duplicates(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)


def execution_json_schema() -> dict[str, Any]:
    """JSON schema of the execution spec (for editors and the API docs)."""
    return Execution.model_json_schema()
