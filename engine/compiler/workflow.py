"""Compile an execution plan into one Argo Workflow (or a CronWorkflow) plus its plan ConfigMaps.

The shape, from DESIGN.md::

    main (DAG)           setup-env ──► every flow, in parallel
    flow-<flow> (DAG)    group 1 ──► group 2 ──► ...   (``depends``: .Succeeded, or
                                                         .Succeeded || .Failed || .Errored
                                                         to continue)
    each group           one task over ``withSequence`` of its shard indexes → worker pods
    onExit               cleanup, given ``{{workflow.status}}``

One DAG template per flow keeps every DAG far below Argo's 200-task limit, and the shard plan
lives in ConfigMaps, so the Workflow's size grows with groups, not with scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hera.workflows import DAG, Container, CronWorkflow, Parameter, Task, Workflow
from hera.workflows import models as m

from engine.compiler.documents import parameter_text, workflow_document
from engine.compiler.pods import (
    PLAN_VOLUME,
    WORKSPACE_VOLUME,
    WorkerSettings,
    cleanup_template,
    setup_env_template,
    worker_template,
)
from engine.errors import CompileError, SpecError
from engine.labels import (
    ANNOTATION_DESCRIPTION,
    ANNOTATION_TITLE,
    LABEL_EXECUTION,
    LABEL_MANAGED_BY,
    LABEL_PLAN,
    LABEL_RUN,
)
from engine.plan_documents import plan_configmaps, plan_files, plan_id
from engine.planning import ExecutionPlan, GroupPlan
from engine.spec import Execution, SecretRef, WorkspaceMode

__all__ = ["CompileOptions", "CompiledExecution", "compile_plan"]

MAX_TEMPLATES = 200  # the full CRD's maxItems for spec.templates


@dataclass(frozen=True)
class CompileOptions:
    run_id: str | None = None
    """Labels the Workflow with Drover's run id; scheduled runs get theirs from the mirror."""
    namespace: str | None = None
    service_account: str | None = None
    schedule: bool = True
    """Compile a CronWorkflow when the execution has a schedule; False compiles one run."""
    artifact_repository: bool = True
    """False where the cluster has no artifact repository: no output artifacts (results, logs
    and reports stay in the facade and the pods), and no artifact-mode workspace."""
    cluster: bool = False
    """For a Kubernetes cluster (the Argo backend): refuse what only the local runner has."""


@dataclass
class CompiledExecution:
    """The Argo documents of one compiled execution: the workflow first, then ConfigMaps."""

    workflow: Workflow | CronWorkflow
    configmaps: list[dict[str, Any]] = field(default_factory=list)
    plan_id: str = ""

    @property
    def kind(self) -> str:
        return "CronWorkflow" if isinstance(self.workflow, CronWorkflow) else "Workflow"

    def workflow_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = self.workflow.to_dict()
        return document

    def documents(self) -> list[dict[str, Any]]:
        return [self.workflow_dict(), *self.configmaps]


def compile_plan(plan: ExecutionPlan, options: CompileOptions | None = None) -> CompiledExecution:
    """Build the Hera Workflow (or CronWorkflow) and plan ConfigMaps for ``plan``."""
    options = options or CompileOptions()
    execution = plan.execution
    if options.cluster and execution.project.path:
        raise SpecError(
            "project.path",
            f"{execution.project.path!r} is a directory of the machine that compiled the run; "
            "a cluster's nodes do not have it (the pod would wait for the hostPath until its "
            "deadline), and Pod Security 'baseline' forbids hostPath volumes",
            "on a cluster give the project as 'repo' (a git URL, with 'ref'); 'path' projects "
            "run on the local runner (drover run)",
        )
    files = plan_files(plan)
    pid = plan_id(files)
    labels = _labels(execution, options, pid)
    configmaps = plan_configmaps(
        files,
        name_prefix=f"drover-plan-{pid}",
        labels={k: v for k, v in labels.items() if k != LABEL_RUN},
    )
    if options.namespace:
        for configmap in configmaps:
            configmap["metadata"]["namespace"] = options.namespace

    artifacts = options.artifact_repository
    if not artifacts and execution.workspace.mode is WorkspaceMode.ARTIFACT:
        raise SpecError(
            "workspace.mode",
            "'artifact' passes the workspace through the artifact repository, and the cluster "
            "has none (DROVER_ARGO_ARTIFACT_REPOSITORY=false)",
            "use workspace.mode: pvc, or configure an artifact repository",
        )
    worker_names = _worker_template_names(plan)
    templates: list[Container | DAG] = [
        _main_dag(plan),
        *(_flow_dag(plan, flow.name, worker_names) for flow in execution.flows),
        setup_env_template(execution),
        *(worker_template(execution, n, s, artifacts=artifacts) for s, n in worker_names.items()),
        cleanup_template(execution, artifacts=artifacts),
    ]
    if len(templates) > MAX_TEMPLATES:
        raise CompileError(
            f"the workflow would have {len(templates)} templates, Argo allows {MAX_TEMPLATES}: "
            "use fewer flows or fewer distinct pod_retries/timeout settings"
        )

    spec: dict[str, Any] = dict(
        entrypoint="main",
        on_exit="cleanup",
        templates=templates,
        arguments=_arguments(execution),
        volumes=[_plan_volume(configmaps)],
        volume_claim_templates=_workspace_claims(plan),
        # Keep a failed run's workspace for ``argo retry``: deletePVCs (operator.go) skips
        # OnWorkflowSuccess claims of a Failed/Error workflow, createNewRetryWorkflow
        # (workflow/util/util.go) empties status.persistentVolumeClaims, and createPVCs then
        # finds the claim it owns and reuses it, prepared. OnWorkflowCompletion deleted it, so a
        # retry mounted a new empty claim while setup-env stayed Succeeded. A kept claim goes
        # with its workflow (owner reference) when ttlStrategy deletes it.
        volume_claim_gc=m.VolumeClaimGC(strategy="OnWorkflowSuccess"),
        pod_gc=m.PodGC(strategy="OnPodSuccess"),
        ttl_strategy=m.TTLStrategy(seconds_after_completion=execution.limits.ttl_after_finished),
        parallelism=execution.limits.parallelism,
        active_deadline_seconds=execution.limits.deadline,
        priority=execution.limits.priority,
        synchronization=_synchronization(execution) if options.cluster else None,
        service_account_name=options.service_account,
    )
    workflow = workflow_document(
        name=execution.name,
        schedule=execution.schedule if options.schedule else None,
        namespace=options.namespace,
        labels=labels,
        annotations=_annotations(plan),
        spec=spec,
    )
    return CompiledExecution(workflow=workflow, configmaps=configmaps, plan_id=pid)


def _labels(execution: Execution, options: CompileOptions, pid: str) -> dict[str, str]:
    labels = {
        **execution.labels,
        LABEL_MANAGED_BY: "drover",
        LABEL_EXECUTION: execution.name,
        LABEL_PLAN: pid,
    }
    if options.run_id:
        labels[LABEL_RUN] = options.run_id
    return labels


MAX_TITLED_STEPS = 50
"""Flow and group titles listed in the description; more are summarised in one line."""


def _annotations(plan: ExecutionPlan) -> dict[str, str]:
    execution = plan.execution
    flows = len(execution.flows)
    summary = (
        f"{plan.scenario_count} scenarios in {len(plan.groups)} groups of {flows} "
        f"flow{'s' if flows != 1 else ''} on {plan.worker_count} workers"
    )
    return {
        ANNOTATION_TITLE: execution.title or execution.name,
        ANNOTATION_DESCRIPTION: "\n".join([summary, *_step_titles(execution)]),
    }


def _step_titles(execution: Execution) -> list[str]:
    """Flow and group titles as a Markdown list under the description.

    A DAG task has no display name in Argo (``DAGTask`` has no such field; v4's
    ``workflows.argoproj.io/display-name`` is a template annotation, and groups share their
    worker template), so titles travel in the workflow's description annotation, which the
    Argo UI renders as Markdown in the workflow list (ui/src/workflows/components/
    workflows-row/workflows-row.tsx, ``ANNOTATION_DESCRIPTION``).
    """
    lines: list[str] = []
    for flow in execution.flows:
        titled = [g for g in flow.groups if g.title]
        if not flow.title and not titled:
            continue
        lines.append(f"- {flow.name}" + (f": {_one_line(flow.title)}" if flow.title else ""))
        lines += [f"  - {g.name}: {_one_line(g.title)}" for g in titled]
    if len(lines) > MAX_TITLED_STEPS:
        lines = [*lines[:MAX_TITLED_STEPS], f"- ... {len(lines) - MAX_TITLED_STEPS} more"]
    return ["", *lines] if lines else []


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _arguments(execution: Execution) -> list[Parameter] | None:
    params = [
        Parameter(name=key, value=parameter_text(value))
        for key, value in execution.test_data.items()
        if not isinstance(getattr(value, "secret", None), SecretRef)
    ]
    return params or None


def _plan_volume(configmaps: list[dict[str, Any]]) -> m.Volume:
    return m.Volume(
        name=PLAN_VOLUME,
        projected=m.ProjectedVolumeSource(
            sources=[
                m.VolumeProjection(config_map=m.ConfigMapProjection(name=c["metadata"]["name"]))
                for c in configmaps
            ]
        ),
    )


def _default_access_mode(plan: ExecutionPlan) -> str:
    """ReadWriteMany as soon as two workers may run at once: the scheduler spreads them over
    nodes, and a ReadWriteOnce volume attaches to one node only (the others' pods stay in
    ContainerCreating with a Multi-Attach error). Sequential pods can share ReadWriteOnce."""
    concurrent = sum(
        max(g.settings.threads for g in plan.flow_groups(flow.name))
        for flow in plan.execution.flows
    )
    return "ReadWriteMany" if concurrent > 1 else "ReadWriteOnce"


def _workspace_claims(plan: ExecutionPlan) -> list[m.PersistentVolumeClaim] | None:
    execution = plan.execution
    workspace = execution.workspace
    if workspace.mode is not WorkspaceMode.PVC:
        return None
    return [
        m.PersistentVolumeClaim(
            metadata=m.ObjectMeta(name=WORKSPACE_VOLUME),
            spec=m.PersistentVolumeClaimSpec(
                access_modes=[workspace.access_mode or _default_access_mode(plan)],
                storage_class_name=workspace.storage_class,
                resources=m.VolumeResourceRequirements(
                    requests={"storage": m.Quantity(workspace.size)}
                ),
            ),
        )
    ]


def _synchronization(execution: Execution) -> m.Synchronization | None:
    """The semaphore of ``limits`` (a ConfigMap of the cluster, so only for a cluster: on the
    local runner, where no such ConfigMap is, the machine node limits concurrent runs)."""
    if execution.limits.semaphore is None:
        return None
    name, key = execution.limits.semaphore.split("/", 1)
    return m.Synchronization(
        semaphores=[m.SemaphoreRef(config_map_key_ref=m.ConfigMapKeySelector(name=name, key=key))]
    )


def _worker_template_names(plan: ExecutionPlan) -> dict[WorkerSettings, str]:
    distinct = sorted({_worker_settings(g) for g in plan.groups}, key=_settings_order)
    if len(distinct) == 1:
        return {distinct[0]: "worker"}
    return {s: f"worker-{i}" for i, s in enumerate(distinct)}


def _settings_order(settings: WorkerSettings) -> tuple[int, int]:
    return settings.pod_retries, settings.timeout or 0


def _worker_settings(group: GroupPlan) -> WorkerSettings:
    return WorkerSettings(pod_retries=group.settings.pod_retries, timeout=group.settings.timeout)


def _flow_template_name(flow: str) -> str:
    return f"flow-{flow}"


def _main_dag(plan: ExecutionPlan) -> DAG:
    artifact_mode = plan.execution.workspace.mode is WorkspaceMode.ARTIFACT
    with DAG(name="main") as dag:
        Task(name="setup-env", template="setup-env")
        for flow in plan.execution.flows:
            arguments = (
                [
                    m.Artifact(
                        name="workspace", from_="{{tasks.setup-env.outputs.artifacts.workspace}}"
                    )
                ]
                if artifact_mode
                else None
            )
            Task(
                name=flow.name,
                template=_flow_template_name(flow.name),
                depends="setup-env",
                arguments=arguments,
            )
    return dag


def _flow_dag(plan: ExecutionPlan, flow: str, worker_names: dict[WorkerSettings, str]) -> DAG:
    artifact_mode = plan.execution.workspace.mode is WorkspaceMode.ARTIFACT
    inputs = [m.Artifact(name="workspace")] if artifact_mode else None
    # failFast off: whether a failed group stops its flow is decided by `depends` alone.
    with DAG(name=_flow_template_name(flow), inputs=inputs, fail_fast=False) as dag:
        previous: GroupPlan | None = None
        for group in plan.flow_groups(flow):
            # One parameter, "<group key>/<index>", keeps 10,000-worker manifests small.
            arguments: list[Parameter | m.Artifact] = [
                Parameter(name="shard", value=f"{group.key}/{{{{item}}}}")
            ]
            if artifact_mode:
                arguments.append(
                    m.Artifact(name="workspace", from_="{{inputs.artifacts.workspace}}")
                )
            Task(
                name=group.name,
                template=worker_names[_worker_settings(group)],
                arguments=arguments,
                with_sequence=m.Sequence(count=str(group.settings.threads)),
                depends=_depends_on(previous),
            )
            previous = group
    return dag


def _depends_on(previous: GroupPlan | None) -> str | None:
    if previous is None:
        return None
    if previous.continue_on_failure:
        # A group whose last finished worker errored (a pod deleted, an init or wait container
        # failing) is Errored, not Failed: Argo gives a fan-out TaskGroup the phase of its
        # failed-or-errored child (completableTaskGroupPhase, dag.go), and
        # evaluateDependsLogic's TaskResults keep Failed and Errored apart.
        name = previous.name
        return f"({name}.Succeeded || {name}.Failed || {name}.Errored)"
    return f"{previous.name}.Succeeded"
