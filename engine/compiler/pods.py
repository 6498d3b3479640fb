"""The three pod templates every compiled execution uses: setup-env, worker and cleanup.

Each runs the in-pod agent (``drover-agent``) from the project's image with paths as options,
so the same templates work inline in a Workflow, as reusable WorkflowTemplates (``templates/``)
and on the local runner. Nothing user-supplied goes into these argument lists: the project's
source, setup commands and scenarios reach the agent through the plan directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from hera.workflows import (
    Artifact,
    Container,
    Env,
    NoneArchiveStrategy,
    Parameter,
    Resources,
    RetryStrategy,
    S3Artifact,
    SecretEnv,
)
from hera.workflows import models as m

from engine.labels import OUT_DIR, PLAN_DIR, REPORTS_KEY_ROOT, WORKSPACE_DIR
from engine.spec import Execution, SecretRef, WorkspaceMode

__all__ = [
    "AGENT",
    "POD_CPU",
    "POD_ENV",
    "WORKER_ENV",
    "WORKER_ID",
    "WORKSPACE_ARCHIVE",
    "WorkerSettings",
    "cleanup_template",
    "setup_env_template",
    "test_data_env",
    "worker_template",
]

AGENT = "drover-agent"
WORKSPACE_ARCHIVE = f"{OUT_DIR}/workspace.tgz"
RESULTS_FILE = f"{OUT_DIR}/results.json"
SUMMARY_FILE = f"{OUT_DIR}/summary.json"
LOG_FILE = f"{OUT_DIR}/worker.log"
REPORTS_FILE = f"{OUT_DIR}/reports.tgz"
"""A worker's kept reports: its runner's native reports per attempt and each scenario's
artifacts (``drover_agent.kept``), one file so the exit handler can read every worker's."""
RUN_REPORTS_FILE = f"{OUT_DIR}/run-reports.tgz"
WORKERS_REPORTS_DIR = "/tmp/drover-in/workers"
WORKER_REPORTS_KEY = f"{REPORTS_KEY_ROOT}/{{{{workflow.name}}}}/workers/{{{{pod.name}}}}.tgz"
"""Key-only artifacts (bucket and endpoint from the artifact repository,
docs/key-only-artifacts.md): each worker pod stores its reports under one prefix, which the exit
handler loads as a directory (workflow/artifacts/s3/s3.go ``loadS3Artifact``: a key that is a
directory is downloaded whole). Optional everywhere: a cluster without an artifact repository
still runs, without reports."""
WORKERS_REPORTS_KEY = f"{REPORTS_KEY_ROOT}/{{{{workflow.name}}}}/workers"
RUN_REPORTS_KEY = f"{REPORTS_KEY_ROOT}/{{{{workflow.name}}}}/run/reports.tgz"
WORKER_ENV = "DROVER_WORKER"
WORKER_ID = "{{workflow.name}}/{{inputs.parameters.shard}}"
"""The worker's queue identity: its workflow and ``<group key>/<index>``. Unlike the pod's name
it survives pod retries (Argo names every retry's pod anew), so a retried worker's lease
requests find the scenarios its dead pod still holds, instead of waiting for them to expire."""
POD_ENV = "DROVER_POD"
"""The pod's own name (``{{pod.name}}``), new for every retry: the results it posts name it."""
POD_CPU = "1"
"""The CPU setup-env and every worker request (``resources.requests.cpu``): a test runner or
a dependency install keeps about one core busy. The scheduler, and Drover's local runner, keep
a pod Pending until its node has that much room, so runs started together queue instead of
overloading the machine."""
PLAN_VOLUME = "plan"
RETRY_ON_INFRASTRUCTURE = (
    'lastRetry.status == "Error" || (lastRetry.exitCode in ["-1", "137", "143"]'
    ' && !(lastRetry.message contains "deadline"))'
)
"""When a pod is retried: Argo's ``Error`` (init or wait container, pod deleted), or a main
container that never ended (-1) or was killed (137 SIGKILL, 143 SIGTERM: an eviction, a
preemption, a node drain, out of memory) — but not a timeout. An evicted pod is ``Failed``, not
``Error``: ``inferFailedReason`` (workflow/controller/operator.go) returns ``NodeFailed`` with
the pod's message, so ``retryPolicy: OnError`` never retried it. The agent's own verdicts (1:
tests failed, it reran them already; 2: a bad plan) are final."""
WORKSPACE_VOLUME = "workspace"
PROJECT_VOLUME = "project"


@dataclass(frozen=True)
class WorkerSettings:
    """What differs between worker templates; groups with equal settings share one template."""

    pod_retries: int
    timeout: int | None


def test_data_env(execution: Execution) -> list[Env | SecretEnv]:
    """Test data as environment: plain values through workflow parameters, secrets by reference."""
    env: list[Env | SecretEnv] = []
    for key, value in execution.test_data.items():
        secret = getattr(value, "secret", None)
        if isinstance(secret, SecretRef):
            env.append(
                SecretEnv(
                    name=key,
                    secret_name=secret.name,
                    secret_key=secret.key,
                    optional=secret.optional or None,
                )
            )
        else:
            env.append(Env(name=key, value=f"{{{{workflow.parameters.{key}}}}}"))
    return env


def _mounts() -> list[m.VolumeMount]:
    return [
        m.VolumeMount(name=PLAN_VOLUME, mount_path=PLAN_DIR, read_only=True),
        m.VolumeMount(name=WORKSPACE_VOLUME, mount_path=WORKSPACE_DIR),
    ]


def _own_workspace(mode: WorkspaceMode) -> list[m.Volume] | None:
    # In artifact mode each pod gets a private, empty workspace the agent fills itself.
    if mode is WorkspaceMode.ARTIFACT:
        return [m.Volume(name=WORKSPACE_VOLUME, empty_dir=m.EmptyDirVolumeSource())]
    return None


def _project_on_the_node(execution: Execution) -> tuple[list[m.Volume], list[m.VolumeMount]]:
    """A ``path:`` project (the local runner's host): mounted read-only at the same path, so a
    pod's private /tmp hides nothing. Only the pods that may prepare a workspace need it."""
    path = execution.project.path
    if not path or not PurePosixPath(path).is_absolute():
        return [], []
    volume = m.Volume(
        name=PROJECT_VOLUME, host_path=m.HostPathVolumeSource(path=path, type="Directory")
    )
    return [volume], [m.VolumeMount(name=PROJECT_VOLUME, mount_path=path, read_only=True)]


def setup_env_template(execution: Execution) -> Container:
    mode = execution.workspace.mode
    args = ["setup", "--plan-dir", PLAN_DIR, "--workspace", WORKSPACE_DIR]
    outputs = None
    if mode is WorkspaceMode.ARTIFACT:
        args += ["--pack", WORKSPACE_ARCHIVE]
        outputs = [
            Artifact(name="workspace", path=WORKSPACE_ARCHIVE, archive=NoneArchiveStrategy())
        ]
    mounts, volumes = _mounts(), _own_workspace(mode) or []
    project_volumes, project_mounts = _project_on_the_node(execution)
    volumes += project_volumes
    mounts += project_mounts
    return Container(
        name="setup-env",
        image=execution.project.image,
        command=[AGENT],
        args=args,
        env=test_data_env(execution),
        volume_mounts=mounts,
        volumes=volumes or None,
        outputs=outputs,
        resources=Resources(cpu_request=POD_CPU),
        retry_strategy=_infrastructure_retries(2),
    )


def worker_template(
    execution: Execution,
    name: str,
    settings: WorkerSettings,
    *,
    artifacts: bool = True,
) -> Container:
    """One group's worker pod. ``artifacts=False`` (no artifact repository on the cluster) keeps
    its results, log and reports in the pod: Argo's executor fails a pod whose output artifact
    file exists when no repository is configured ("artifact storage is not configured":
    ``ArtifactLocation.Get`` in pkg/apis/workflow/v1alpha1/workflow_types.go, reached from
    ``saveArtifactFromFile`` in workflow/executor/executor.go; ``optional`` only forgives a
    missing file). The agent reports results to the facade directly either way."""
    mode = execution.workspace.mode
    args = [
        "run",
        "--plan-dir", PLAN_DIR,
        "--workspace", WORKSPACE_DIR,
        "--shard", "{{inputs.parameters.shard}}",
        "--results", RESULTS_FILE,
        "--summary", SUMMARY_FILE,
        "--log", LOG_FILE,
        "--reports", REPORTS_FILE,
    ]  # fmt: skip
    if settings.pod_retries:
        # Argo defines {{retries}} only in templates with a retryStrategy (and refuses it
        # elsewhere); without one, every pod is attempt 0, the agent's default.
        args += ["--attempt", "{{retries}}"]
    inputs: list[Parameter | Artifact] = [Parameter(name="shard")]
    mounts, volumes = _mounts(), _own_workspace(mode) or []
    if mode is WorkspaceMode.ARTIFACT:
        args += ["--unpack", WORKSPACE_ARCHIVE]
        inputs.append(Artifact(name="workspace", path=WORKSPACE_ARCHIVE))
    else:
        # A memoized resubmit keeps setup-env Skipped on a new, empty claim: the first worker
        # then prepares the shared workspace (once, under a lock) instead of running on nothing.
        args.append("--prepare-if-missing")
        project_volumes, project_mounts = _project_on_the_node(execution)
        volumes += project_volumes
        mounts += project_mounts
    env: list[Env | SecretEnv] = [
        Env(name=WORKER_ENV, value=WORKER_ID),
        Env(name=POD_ENV, value="{{pod.name}}"),
        *test_data_env(execution),
    ]
    return Container(
        name=name,
        image=execution.project.image,
        command=[AGENT],
        args=args,
        env=env,
        inputs=inputs,
        outputs=[
            *(_worker_artifacts() if artifacts else []),
            Parameter(name="summary", value_from=m.ValueFrom(path=SUMMARY_FILE, default="{}")),
        ],
        volume_mounts=mounts,
        volumes=volumes or None,
        resources=Resources(cpu_request=POD_CPU),
        active_deadline_seconds=settings.timeout,
        # Test failures exit non-zero and are final for the pod: the agent already reruns
        # failed scenarios itself. Pod retries cover infrastructure errors only.
        retry_strategy=_infrastructure_retries(settings.pod_retries)
        if settings.pod_retries
        else None,
    )


def _worker_artifacts() -> list[Parameter | Artifact]:
    return [
        Artifact(name="results", path=RESULTS_FILE, archive=NoneArchiveStrategy(), optional=True),
        # The worker's own log, readable after Argo garbage-collects the pod.
        Artifact(name="log", path=LOG_FILE, archive=NoneArchiveStrategy(), optional=True),
        S3Artifact(
            name="reports",
            path=REPORTS_FILE,
            archive=NoneArchiveStrategy(),
            optional=True,
            key=WORKER_REPORTS_KEY,
        ),
    ]


def _infrastructure_retries(limit: int) -> RetryStrategy:
    """Retry a pod up to ``limit`` times when its node or Kubernetes failed it, not its tests.

    ``retryPolicy: Always`` lets the expression decide. No ``backoff``: Argo's
    ``processNodeRetries`` (workflow/controller/operator.go, v3.6 on) waits out the backoff
    after any failed attempt while retries are left, *before* it reads the policy and the
    expression, so every worker whose tests failed — final, not retried — would hold its group
    and the run for the first delay (10 s, formerly). What is retried needs no pause: an
    evicted, preempted or drained pod's replacement is scheduled elsewhere, and an attempt
    killed for memory fails again whenever it runs.
    """
    return RetryStrategy(limit=limit, retry_policy="Always", expression=RETRY_ON_INFRASTRUCTURE)


def cleanup_template(execution: Execution, *, artifacts: bool = True) -> Container:
    """The exit handler: a summary, and the run's reports merged from every worker's (JUnit XML,
    Playwright's and cucumber's HTML reports), stored as its ``reports`` output artifact. With a
    shared workspace it mounts it, for the project's own report tools (node_modules)."""
    args = [
        "cleanup",
        "--plan-dir", PLAN_DIR,
        "--status", "{{workflow.status}}",
        "--workers", WORKERS_REPORTS_DIR,
        "--out", RUN_REPORTS_FILE,
    ]  # fmt: skip
    mounts = [m.VolumeMount(name=PLAN_VOLUME, mount_path=PLAN_DIR, read_only=True)]
    if execution.workspace.mode is not WorkspaceMode.ARTIFACT:
        args += ["--workspace", WORKSPACE_DIR]
        mounts.append(m.VolumeMount(name=WORKSPACE_VOLUME, mount_path=WORKSPACE_DIR))
    return Container(
        name="cleanup",
        image=execution.project.image,
        command=[AGENT],
        args=args,
        # Without an artifact repository there are no workers' reports to load or keep.
        inputs=[
            S3Artifact(
                name="workers", path=WORKERS_REPORTS_DIR, optional=True, key=WORKERS_REPORTS_KEY
            )
        ]
        if artifacts
        else None,
        outputs=[
            S3Artifact(
                name="reports",
                path=RUN_REPORTS_FILE,
                archive=NoneArchiveStrategy(),
                optional=True,
                key=RUN_REPORTS_KEY,
            )
        ]
        if artifacts
        else None,
        volume_mounts=mounts,
    )
