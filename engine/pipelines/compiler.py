"""Compile a checked pipeline into one Argo Workflow (or a CronWorkflow).

The shape::

    main (DAG, failFast off)   one task per job, named after the job
        depends                from each job's needs and its `on` edge:
                                 success  N.Succeeded  (or N.Skipped too if N has a `when`)
                                 failure  (N.Failed || N.Errored), any need
                                 always   any completed phase of every need
        when                   the job's condition (engine.pipelines.conditions)
        arguments              inputs, referenced outputs, variables handed on
    job-<name>                 a script, container or http template per job
    on-exit                    the optional exit job (``onExit``), given {{workflow.status}}

Outputs and conditions are output parameters read from ``/tmp/drover/...`` files
(see engine.pipelines.runtime_helpers); ``${...}`` references become task arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hera.workflows import CronWorkflow, Workflow
from hera.workflows import models as m
from hera.workflows.models.io.argoproj.workflow.v1alpha1 import HTTPHeader

from engine.compiler.documents import parameter_text, workflow_document
from engine.errors import CompileError, SpecError
from engine.labels import (
    ANNOTATION_DESCRIPTION,
    ANNOTATION_TITLE,
    LABEL_MANAGED_BY,
    LABEL_RUN,
)
from engine.pipelines.conditions import compile_condition
from engine.pipelines.model import Edge, Job, Pipeline
from engine.pipelines.references import Reference, find_references, replace_references
from engine.pipelines.runtime_helpers import (
    CONDITION_FILE,
    INPUT_ENV_PREFIX,
    OUTPUTS_DIR,
    UNSET,
    VARIABLES_DIR,
    interpreter,
    with_helpers,
)
from engine.pipelines.validation import JobGraph, check_pipeline, job_texts

__all__ = ["LABEL_PIPELINE", "CompiledPipeline", "PipelineCompileOptions", "compile_pipeline"]

LABEL_PIPELINE = "drover.dev/pipeline"
ENTRYPOINT = "main"
EXIT_TEMPLATE = "on-exit"
DEFAULT_SUCCESS = "response.statusCode >= 200 && response.statusCode < 300"
TTL_AFTER_FINISHED = 7 * 86400


@dataclass(frozen=True)
class PipelineCompileOptions:
    run_id: str | None = None
    namespace: str | None = None
    service_account: str | None = None
    agent_service_account: str | None = None
    """What Argo's agent (HTTP steps) runs as, when not ``service_account``: the agent reads
    the Secrets of its headers through the Kubernetes API, a right the job pods need not have
    (see :func:`_agent_apart`)."""
    schedule: bool = True
    """Compile a CronWorkflow when the pipeline has a schedule; False compiles one run."""
    parameters: dict[str, str] = field(default_factory=dict)
    """Values overriding the pipeline's parameter defaults for this run."""


@dataclass
class CompiledPipeline:
    workflow: Workflow | CronWorkflow

    @property
    def kind(self) -> str:
        return "CronWorkflow" if isinstance(self.workflow, CronWorkflow) else "Workflow"

    def workflow_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = self.workflow.to_dict()
        return document

    def documents(self) -> list[dict[str, Any]]:
        return [self.workflow_dict()]


def compile_pipeline(
    pipeline: Pipeline, options: PipelineCompileOptions | None = None
) -> CompiledPipeline:
    """Build the Hera Workflow (or CronWorkflow) of ``pipeline`` (checked again here)."""
    options = options or PipelineCompileOptions()
    graph = check_pipeline(pipeline)
    tools = [job.name for job in pipeline.all_jobs() if job.tool is not None]
    if pipeline.on_exit is not None and pipeline.on_exit.tool is not None:
        tools.append(pipeline.on_exit.name)
    if tools:
        raise CompileError(
            f"job {tools[0]!r} is a tool job: it sends through the Drover process that holds "
            "the channel's secrets, which compiles it as a request to itself — run the pipeline "
            "with drover run (sends from that command) or start it through the API (drover "
            "serve); a standalone Workflow or CronWorkflow cannot send it"
        )
    unknown = sorted(set(options.parameters) - set(pipeline.parameters))
    if unknown:
        raise SpecError(f"parameters.{unknown[0]}", "the pipeline declares no such parameter")
    conditions_read = _conditions_read(graph)
    builder = _JobTemplates(pipeline, graph, conditions_read)
    templates: list[m.Template] = [
        _main_dag(pipeline, graph, builder),
        *(builder.template(graph.jobs[name]) for name in graph.order),
    ]
    if pipeline.on_exit is not None:
        templates.append(builder.template(pipeline.on_exit, name=EXIT_TEMPLATE))
    account = _agent_apart(templates, options)
    labels = {
        **pipeline.labels,
        LABEL_MANAGED_BY: "drover",
        LABEL_PIPELINE: pipeline.name,
    }
    if options.run_id:
        labels[LABEL_RUN] = options.run_id
    jobs = len(graph.order)
    annotations = {
        ANNOTATION_TITLE: pipeline.title or pipeline.name,
        ANNOTATION_DESCRIPTION: f"pipeline of {jobs} job{'s' if jobs != 1 else ''}",
    }
    arguments = [
        m.Parameter(name=key, value=options.parameters.get(key, parameter_text(value)))
        for key, value in pipeline.parameters.items()
    ]
    spec: dict[str, Any] = dict(
        entrypoint=ENTRYPOINT,
        on_exit=EXIT_TEMPLATE if pipeline.on_exit is not None else None,
        templates=templates,
        arguments=m.Arguments(parameters=arguments) if arguments else None,
        pod_gc=m.PodGC(strategy="OnPodSuccess"),
        ttl_strategy=m.TTLStrategy(seconds_after_completion=TTL_AFTER_FINISHED),
        parallelism=pipeline.parallelism,
        active_deadline_seconds=pipeline.timeout,
        service_account_name=account,
    )
    workflow = workflow_document(
        name=pipeline.name,
        schedule=pipeline.schedule if options.schedule else None,
        namespace=options.namespace,
        labels=labels,
        annotations=annotations,
        spec=spec,
    )
    return CompiledPipeline(workflow=workflow)


def _agent_apart(templates: list[m.Template], options: PipelineCompileOptions) -> str | None:
    """The workflow's service account; with HTTP steps and an agent account, the agent's.

    Argo runs every HTTP template of a workflow in one agent pod under the workflow-level
    ``serviceAccountName`` (workflow/controller/agent.go ``createAgentPod``), and the agent
    reads a header's ``valueFrom.secretKeyRef`` with that account's token
    (workflow/executor/agent.go ``executeHTTPTemplateRequest`` → util/util.go ``GetSecrets``:
    a Secrets ``get``). A pod template's own ``serviceAccountName`` wins over the workflow's
    (workflow/controller/workflowpod.go ``setupServiceAccount``), so the job pods keep the
    workflow account, which may not read Secrets, and only the agent holds that right.
    """
    agent = options.agent_service_account
    if not agent or not any(t.http is not None for t in templates):
        return options.service_account
    for template in templates:
        if template.script is not None or template.container is not None:
            template.service_account_name = options.service_account or "default"
    return agent


def _template_name(job: Job) -> str:
    return f"job-{job.name}"


def _conditions_read(graph: JobGraph) -> set[str]:
    """Jobs whose condition some later job reads (only those export it)."""
    read: set[str] = set()
    for job in graph.jobs.values():
        references = [r for _, text in job_texts(job) for r in find_references(text)]
        if job.when is not None:
            references += compile_condition(job.when).references
        read.update(r.job for r in references if r.kind == "condition" and r.job)
    return read


# ---------------------------------------------------------------------------- the DAG


def _main_dag(pipeline: Pipeline, graph: JobGraph, builder: _JobTemplates) -> m.Template:
    tasks = [
        m.DAGTask(
            name=name,
            template=_template_name(graph.jobs[name]),
            depends=_depends(graph, name),
            when=compile_condition(w).argo if (w := graph.jobs[name].when) else None,
            arguments=builder.arguments(graph.jobs[name]),
        )
        for name in graph.order
    ]
    # failFast off: which jobs still run after a failure is decided by `depends` alone.
    return m.Template(name=ENTRYPOINT, dag=m.DAGTemplate(tasks=tasks, fail_fast=False))


def _depends(graph: JobGraph, name: str) -> str | None:
    needs = graph.needs[name]
    if not needs:
        return None
    edge = graph.jobs[name].on
    parts = [_need_results(graph, need, edge) for need in needs]
    if edge is Edge.FAILURE:
        return " || ".join(parts)
    return " && ".join(parts)


def _need_results(graph: JobGraph, need: str, edge: Edge) -> str:
    conditional = graph.jobs[need].when is not None
    if edge is Edge.SUCCESS:
        results = ["Succeeded", "Skipped"] if conditional else ["Succeeded"]
    elif edge is Edge.FAILURE:
        results = ["Failed", "Errored"]
    else:
        results = ["Succeeded", "Failed", "Errored", "Skipped", "Omitted"]
    if len(results) == 1:
        return f"{need}.{results[0]}"
    return "(" + " || ".join(f"{need}.{result}" for result in results) + ")"


def variable_sources(graph: JobGraph, name: str) -> list[str]:
    """Script jobs whose variables reach ``name``, in pipeline order.

    A need hands its variables on only when it surely ran whenever ``name`` runs (no `when`
    of its own, and an edge of success or failure); a container or http need hands on what
    it received itself.
    """
    found: set[str] = set()
    job = graph.jobs[name]
    for need in graph.needs[name]:
        producer = graph.jobs[need]
        if producer.when is not None or job.on is Edge.ALWAYS:
            continue
        if producer.script is not None:
            found.add(need)
        else:
            found.update(variable_sources(graph, need))
    return sorted(found, key=graph.position)


# ---------------------------------------------------------------------------- templates


class _JobTemplates:
    """A job's template and the task arguments that feed it."""

    def __init__(self, pipeline: Pipeline, graph: JobGraph, conditions_read: set[str]) -> None:
        self.pipeline = pipeline
        self.graph = graph
        self.conditions_read = conditions_read

    # -- what flows in

    def _carried(self, job: Job) -> list[Reference]:
        """Job references in template fields: each becomes an input parameter."""
        carried: list[Reference] = []
        for where, text in job_texts(job):
            if where.startswith("inputs."):
                continue  # inputs are parameters already
            for reference in find_references(text):
                if reference.kind != "param" and reference not in carried:
                    carried.append(reference)
        return carried

    def _sources(self, job: Job) -> list[str]:
        if job.script is None or not self.pipeline.variables or job.name not in self.graph.jobs:
            return []
        return variable_sources(self.graph, job.name)

    def arguments(self, job: Job) -> m.Arguments | None:
        parameters = [
            m.Parameter(name=key, value=self._task_text(value)) for key, value in job.inputs.items()
        ]
        parameters += [
            m.Parameter(name=r.parameter_name, value="{{" + r.argo() + "}}")
            for r in self._carried(job)
        ]
        for index, source in enumerate(self._sources(job), start=1):
            parameters += [
                m.Parameter(
                    name=f"var-{key}-{index}",
                    value=f"{{{{tasks.{source}.outputs.parameters.var-{key}}}}}",
                )
                for key in self.pipeline.variables
            ]
        return m.Arguments(parameters=parameters) if parameters else None

    def _inputs(self, job: Job) -> m.Inputs | None:
        names = [*job.inputs, *(r.parameter_name for r in self._carried(job))]
        names += [
            f"var-{key}-{index}"
            for index in range(1, len(self._sources(job)) + 1)
            for key in self.pipeline.variables
        ]
        return m.Inputs(parameters=[m.Parameter(name=n) for n in names]) if names else None

    @staticmethod
    def _task_text(text: str) -> str:
        """A value at task level, where task outputs are in scope."""
        return replace_references(text, lambda r: "{{" + r.argo() + "}}")

    @staticmethod
    def _template_text(text: str) -> str:
        """A value inside a template: job references arrive as input parameters."""

        def render(reference: Reference) -> str:
            if reference.kind == "param":
                return "{{" + reference.argo() + "}}"
            return "{{inputs.parameters." + reference.parameter_name + "}}"

        return replace_references(text, render)

    # -- what flows out

    def _outputs(self, job: Job) -> m.Outputs | None:
        parameters = [
            m.Parameter(
                name=name,
                value_from=m.ValueFrom(path=f"{OUTPUTS_DIR}/{name}", default=""),
            )
            for name in job.outputs
        ]
        if job.name in self.conditions_read:
            parameters.append(
                m.Parameter(
                    name="condition", value_from=m.ValueFrom(path=CONDITION_FILE, default="false")
                )
            )
        if job.script is not None and self.pipeline.variables and job.name in self.graph.jobs:
            parameters += [
                m.Parameter(
                    name=f"var-{key}",
                    value_from=m.ValueFrom(path=f"{VARIABLES_DIR}/{key}", default=UNSET),
                )
                for key in self.pipeline.variables
            ]
        return m.Outputs(parameters=parameters) if parameters else None

    # -- the template

    def _env(self, job: Job, extra: dict[str, str]) -> list[m.EnvVar] | None:
        env = [
            m.EnvVar(name=f"{INPUT_ENV_PREFIX}{key}", value=f"{{{{inputs.parameters.{key}}}}}")
            for key in job.inputs
        ]
        env += [m.EnvVar(name=k, value=self._template_text(v)) for k, v in job.env.items()]
        env += [
            m.EnvVar(
                name=k,
                value_from=m.EnvVarSource(
                    secret_key_ref=m.SecretKeySelector(
                        name=ref.name, key=ref.key, optional=ref.optional or None
                    )
                ),
            )
            for k, ref in job.secrets.items()
        ]
        env += [m.EnvVar(name=k, value=v) for k, v in extra.items()]
        return env or None

    def _variable_env(self, job: Job) -> dict[str, str]:
        variables = self.pipeline.variables
        if job.script is None or not variables:
            return {}
        sources = self._sources(job)
        env = {"DROVER_VARIABLE_KEYS": " ".join(variables), "DROVER_VAR_SOURCES": str(len(sources))}
        env.update({f"DROVER_VAR_{key}": parameter_text(value) for key, value in variables.items()})
        for index in range(1, len(sources) + 1):
            env.update(
                {
                    f"DROVER_VAR_{key}__{index}": f"{{{{inputs.parameters.var-{key}-{index}}}}}"
                    for key in variables
                }
            )
        return env

    def template(self, job: Job, name: str | None = None) -> m.Template:
        is_exit = name == EXIT_TEMPLATE
        extra = self._variable_env(job)
        if is_exit:
            extra["DROVER_WORKFLOW_STATUS"] = "{{workflow.status}}"
        retry = None
        if job.retries is not None:
            backoff = job.retries.backoff
            retry = m.RetryStrategy(
                limit=m.IntOrString(root=job.retries.limit),
                retry_policy="Always",
                backoff=m.Backoff(
                    duration=f"{backoff.duration}s",
                    factor=m.IntOrString(root=backoff.factor),
                    max_duration=f"{backoff.max_duration}s" if backoff.max_duration else None,
                )
                if backoff
                else None,
            )
        base: dict[str, Any] = dict(
            name=name or _template_name(job),
            inputs=self._inputs(job) if not is_exit else None,
            outputs=self._outputs(job) if not is_exit else None,
            retry_strategy=retry,
        )
        if job.script is not None:
            return m.Template(
                **base,
                active_deadline_seconds=_deadline(job.timeout),
                script=m.ScriptTemplate(
                    image=job.script.effective_image,
                    command=[interpreter(job.script.language)],
                    source=with_helpers(job.script.language, job.script.source),
                    env=self._env(job, extra),
                ),
            )
        if job.container is not None:
            return m.Template(
                **base,
                active_deadline_seconds=_deadline(job.timeout),
                container=m.Container(
                    image=job.container.image,
                    command=job.container.command,
                    args=[self._template_text(a) for a in job.container.args] or None,
                    env=self._env(job, extra),
                ),
            )
        assert job.http is not None
        http = job.http
        headers = [
            HTTPHeader(name=key, value=self._template_text(value))
            if isinstance(value, str)
            else HTTPHeader(
                name=key,
                value_from=m.HTTPHeaderSource(
                    secret_key_ref=m.SecretKeySelector(name=value.secret.name, key=value.secret.key)
                ),
            )
            for key, value in http.headers.items()
        ]
        return m.Template(
            **base,
            http=m.HTTP(
                method=str(http.method),
                url=self._template_text(http.url),
                headers=headers or None,
                body=self._template_text(http.body) if http.body is not None else None,
                timeout_seconds=http.timeout or job.timeout,
                success_condition=http.success_condition or DEFAULT_SUCCESS,
            ),
        )


def _deadline(seconds: int | None) -> m.IntOrString | None:
    return m.IntOrString(root=seconds) if seconds is not None else None
