"""The workflow operator: one reconcile pass over a Workflow, like Argo's ``operate``.

``WorkflowOperator.operate()`` walks the templates from the entrypoint, creating nodes in
``status.nodes`` exactly where Argo's controller would, and queues the pods that must start
(``launches``) or stop (``kills``). It does no I/O: the runner starts processes and reports
them back with ``pod_started`` / ``pod_finished``, then calls ``operate()`` again. DAG and
steps semantics live in ``dag.py`` and ``steps.py``; this module dispatches templates and
owns retries, pods, suspend, deadlines, exit handlers and shutdown.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from engine.backends.argo.pod_names import pod_name
from engine.backends.local import dag, exprlang, steps
from engine.backends.local.artifact_repositories import (
    ArtifactRepositoryError,
    resolve_artifact_repository,
)
from engine.backends.local.durations import parse_duration
from engine.backends.local.estimation import BaselineLookup, Estimator
from engine.backends.local.expressions import ExpressionError
from engine.backends.local.log_archive import LogArchive, log_archive
from engine.backends.local.node_selector import NodeSelector
from engine.backends.local.nodes import (
    COMPLETED_PHASES,
    FULFILLED_PHASES,
    LEAF_WORK_TYPES,
    Node,
    format_time,
    is_fulfilled,
    last_attempt,
    new_node,
    node_id,
    on_exit_node_name,
    parse_time,
    retry_attempt_name,
    retry_attempts,
)
from engine.backends.local.scope import (
    ARTIFACT_REF_PREFIX,
    ArgumentError,
    ConfigLookup,
    ObjectLookup,
    absent_reference,
    configmap_parameter,
    mark_absent_arguments,
    process_inputs,
    skipped_output_scope,
)
from engine.backends.local.status import is_valid_progress, parse_progress
from engine.backends.local.suspend_outputs import (
    is_active_suspend,
    override_with_defaults,
    raw_output_fields,
    unset_output,
)
from engine.backends.local.sync_locks import LockTable, MemoryLocks
from engine.backends.local.sync_status import lock_acquired, lock_released, lock_waiting
from engine.backends.local.template_defaults import merge_template_defaults
from engine.backends.local.variables import (
    AbsentOptionalError,
    Scope,
    go_quote,
    substitute,
    substitute_all,
    unresolved,
)

__all__ = [
    "DEADLINE_MESSAGE",
    "FAIL_FAST_MESSAGE",
    "PENDING_DEADLINE_MESSAGE",
    "TIMEOUT_MESSAGE",
    "ExecOpts",
    "PodLaunch",
    "PodOutcome",
    "TemplateLookup",
    "Terminated",
    "WorkflowOperator",
    "failed_reason",
    "format_time",
    "parse_time",
]

DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
#: A pod still Pending at the workflow's deadline (Argo's ``applyExecutionControl`` and
#: ``failNodesWithoutCreatedPodsAfterDeadlineOrShutdown``, workflow/controller/exec_control.go
#: and operator.go): the kubelet never timed it, it never ran.
PENDING_DEADLINE_MESSAGE = "Step exceeded its deadline"
#: A pod's other containers wait with this reason while its init containers run (kubelet's
#: ``convertToAPIContainerStatuses``); Argo's ``getPendingReason`` makes it the node's message.
POD_INITIALIZING = "PodInitializing"
#: A pod still Pending past its template's ``timeout`` or ``pendingTimeout`` (Argo's
#: ``checkTemplateTimeouts`` in workflow/controller/operator.go returns ``ErrTimeout``).
TIMEOUT_MESSAGE = "timeout"
FAIL_FAST_MESSAGE = "template has failed or errored children and failFast enabled"
#: A pod's initial progress (Argo's ``common.AnnotationKeyProgress``).
PROGRESS_ANNOTATION = "workflow.argoproj.io/progress"
_WORKFLOW_PHASE_OF_NODE = {
    "Pending": "Pending",
    "Running": "Running",
    "Succeeded": "Succeeded",
    "Skipped": "Succeeded",
    "Omitted": "Succeeded",
    "Failed": "Failed",
    "Error": "Error",
}

#: Resolves a ``templateRef`` (name, template, clusterScope) from the local store.
TemplateLookup = Callable[[str, str, bool], dict[str, Any] | None]
#: Writes a memoization entry: (cache ConfigMap name, key, entry JSON).
CacheSave = Callable[[str, str, str], None]


LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def _check_label_value(value: str, where: str) -> None:
    """Kubernetes' ``IsValidLabelValue``, its messages joined as Argo joins them."""
    problems = []
    if len(value) > 63:
        problems.append("must be no more than 63 characters")
    if not LABEL_VALUE.fullmatch(value):
        problems.append(
            "a valid label must be an empty string or consist of alphanumeric characters, "
            "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
            "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
            f"'{LABEL_VALUE.pattern}')"
        )
    if problems:
        raise ExpressionError(f"{where}: {';'.join(problems)}")


@dataclass(frozen=True, slots=True)
class ExecOpts:
    """How a template is being executed (Argo's ``executeTemplateOpts``)."""

    boundary_id: str | None = None
    on_exit: bool = False
    node_flag: dict[str, bool] | None = None
    template_base: tuple[str, bool] | None = None
    """The WorkflowTemplate (name, cluster scope) whose templates plain ``template:`` names
    resolve in: set once a ``templateRef`` is followed (Argo's template context); None is the
    workflow itself."""
    holder_kind: str = "steps"
    """``tasks`` when a DAG task calls the template, else ``steps`` (every other caller is a
    WorkflowStep in Argo, the entrypoint and exit handlers with an empty name): sets
    ``steps.name`` / ``tasks.name``."""


@dataclass(slots=True)
class PodLaunch:
    """A container/script node the runner must start."""

    node_id: str
    node_name: str
    template: dict[str, Any]
    deadline: float | None
    volumes: list[dict[str, Any]] | None = None
    """The workflow's volumes as substituted when the pod was created (Argo's ``woc.volumes``);
    None: ``spec.volumes`` as written (they hold no ``{{``)."""
    logs: LogArchive | None = None
    """Where its container logs are archived (``archiveLogs``), if they are."""


@dataclass(slots=True)
class Terminated:
    """A container's ``state.terminated``: its exit code (None: it never ran) and message, what
    argoexec wrote to /dev/termination-log (``WriteTerminateMessage``, util/util.go)."""

    exit_code: int | None
    message: str = ""


@dataclass(slots=True)
class PodOutcome:
    """What a finished process left behind, in Argo's output shape."""

    exit_code: int | None
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: float = 0.0
    finished_at: float = 0.0
    message: str | None = None
    """Why a non-zero outcome failed, when there is more to say than the exit code."""
    termination_message: str = ""
    """The ``main`` container's termination message (a pod that is no containerSet)."""
    containers: dict[str, Terminated] = field(default_factory=dict)
    """containerSet: each container's end."""
    scheduled: bool = True
    """False: the pod never got onto the node (removed while Pending for room, or refused
    before that), so it has no ``hostNodeName`` and used no resources."""


def failed_reason(outcome: PodOutcome) -> str:
    """Argo's ``inferFailedReason`` (workflow/controller/operator.go, v3.7+) for a pod whose
    main containers failed: the first of them, in the kubelet's order (by name), that exited
    non-zero, as "<container>: <reason> (exit code N)[: <termination message>]". The reason is
    the kubelet's, "Error" for any non-zero exit (a local process is never OOMKilled)."""
    ends = outcome.containers or {
        "main": Terminated(outcome.exit_code, outcome.termination_message)
    }
    name, end = next(
        ((n, e) for n, e in sorted(ends.items()) if e.exit_code not in (0, None)),
        ("main", Terminated(outcome.exit_code, outcome.termination_message)),
    )
    reason = f"{name}: Error (exit code {end.exit_code})"
    return f"{reason}: {end.message}" if end.message else reason


class WorkflowOperator:
    """Reconciles one Workflow object (manifest + ``status``) in place."""

    def __init__(
        self,
        workflow: dict[str, Any],
        *,
        clock: Callable[[], float] = time.time,
        config_lookup: ConfigLookup = lambda kind, name, key: None,
        object_lookup: ObjectLookup = lambda kind, name: None,
        baseline_lookup: BaselineLookup = lambda label, value, namespace: None,
        locks: LockTable | None = None,
        cache_save: CacheSave = lambda configmap, key, entry: None,
        template_lookup: TemplateLookup = lambda name, template, cluster: None,
        host_name: str = "localhost",
    ) -> None:
        self.wf = workflow
        self.spec: dict[str, Any] = workflow["spec"]
        self.name: str = workflow["metadata"]["name"]
        self.status: dict[str, Any] = workflow.setdefault("status", {})
        self.nodes: dict[str, Node] = self.status.setdefault("nodes", {})
        self.clock = clock
        self.config_lookup = config_lookup
        self.object_lookup = object_lookup
        self.estimator = Estimator(workflow, baseline_lookup)
        self.cache_save = cache_save
        self.template_lookup = template_lookup
        self.host_name = host_name
        self.templates = {t["name"]: t for t in self.spec.get("templates") or []}
        self.launches: list[PodLaunch] = []
        self.kills: dict[str, str] = {}
        self.kill_reasons: dict[str, str] = {}
        self.active_pods: set[str] = {
            n["id"]
            for n in self.nodes.values()
            if n["type"] in LEAF_WORK_TYPES
            and n["phase"] in ("Pending", "Running")
            and not _pod_to_create(n)
        }
        self.node_deadlines: dict[str, float] = {}
        # Pods whose timing waits for their start or applies only while they are Pending.
        self.start_deadlines: dict[str, float] = {}
        self.timeout_deadlines: dict[str, float] = {}
        self.pending_deadlines: dict[str, float] = {}
        self.locks: LockTable = locks if locks is not None else MemoryLocks()
        self.held: dict[str, list[str]] = {}
        """Holder key → the locks it holds (this workflow's, and its nodes')."""
        self.lock_waiters: set[str] = set()
        self.daemons_stopped: set[str] = set()
        self.child_sets: dict[str, set[str]] = {}
        self.finished_epoch: dict[str, float] = {}
        self.wakeups: list[float] = []
        self.cache: dict[str, Any] = {}
        self.now = clock()
        self.global_parameter_error: str | None = None
        self.global_scope = self._build_global_scope()
        self.volumes_templated = "{{" in json.dumps(self.spec.get("volumes") or [])
        self.volumes: list[dict[str, Any]] = list(self.spec.get("volumes") or [])

    # ------------------------------------------------------------------ scope and lookups

    def _build_global_scope(self) -> dict[str, str]:
        meta = self.wf["metadata"]
        scope = {
            "workflow.name": self.name,
            "workflow.namespace": meta.get("namespace", "default"),
            "workflow.uid": meta.get("uid", ""),
            "workflow.creationTimestamp": meta.get("creationTimestamp", ""),
            "workflow.serviceAccountName": self.spec.get("serviceAccountName", "default"),
            "workflow.mainEntrypoint": self.spec.get("entrypoint", ""),
            "workflow.priority": str(self.spec.get("priority", 0)),
        }
        params = []
        for param in (self.spec.get("arguments") or {}).get("parameters") or []:
            value = param.get("value")
            value_from = param.get("valueFrom") or {}
            ref = value_from.get("configMapKeyRef")
            if value is None and ref:
                # setGlobalParameters: a ConfigMap not found takes valueFrom.default, else the
                # workflow fails before it starts.
                name, key = str(ref.get("name", "")), str(ref.get("key", ""))
                try:
                    value = configmap_parameter(self.object_lookup, name, key)
                except ArgumentError as error:
                    if value_from.get("default") is None:
                        self.global_parameter_error = (
                            f"failed to set global parameter {param['name']} from configmap "
                            f"with name {name} and key {key}: {error}"
                        )
                        value = ""
                    else:
                        value = str(value_from["default"])
            if value is None:
                value = param.get("default", "")
            text = value if isinstance(value, str) else json.dumps(value)
            scope[f"workflow.parameters.{param['name']}"] = text
            params.append({"name": param["name"], "value": text})
        scope["workflow.parameters"] = json.dumps(params, separators=(",", ":"))
        scope["workflow.parameters.json"] = scope["workflow.parameters"]
        for kind in ("labels", "annotations"):
            values = {str(k): str(v) for k, v in (meta.get(kind) or {}).items()}
            for key, value in values.items():
                scope[f"workflow.{kind}.{key}"] = value
            scope[f"workflow.{kind}"] = json.dumps(values, separators=(",", ":"))
            scope[f"workflow.{kind}.json"] = scope[f"workflow.{kind}"]
        scheduled = (meta.get("annotations") or {}).get("workflows.argoproj.io/scheduled-time")
        scope["workflow.scheduledTime"] = str(scheduled or scope["workflow.creationTimestamp"])
        scope.update(_timestamp_variables(scope["workflow.creationTimestamp"]))
        for param in (self.status.get("outputs") or {}).get("parameters") or []:
            scope[f"workflow.outputs.parameters.{param['name']}"] = str(param.get("value", ""))
        return scope

    def _apply_workflow_metadata(self) -> None:
        """``spec.workflowMetadata`` onto the workflow as it starts (``updateWorkflowMetadata``):
        labels and annotations, then ``labelsFrom`` expressions over the global variables, each
        also a ``workflow.labels.*`` / ``workflow.annotations.*`` variable from then on."""
        wanted = self.spec.get("workflowMetadata") or {}
        if not wanted:
            return
        for name, value in (wanted.get("labels") or {}).items():
            where = f"invalid label value {go_quote(str(value))} for label {go_quote(str(name))}"
            _check_label_value(str(value), where)
            self._set_metadata("labels", str(name), str(value))
        for name, value in (wanted.get("annotations") or {}).items():
            self._set_metadata("annotations", str(name), str(value))
        for name, source in (wanted.get("labelsFrom") or {}).items():
            expression = str((source or {}).get("expression", ""))
            label = f"label {go_quote(str(name))} expression {go_quote(expression)}"
            try:
                value = exprlang.evaluate(expression, exprlang.build_env(self.global_scope))
            except exprlang.ExprError as exc:
                raise ExpressionError(f"failed to evaluate {label}: {exc}") from None
            if not isinstance(value, str):
                raise ExpressionError(
                    f"failed to evaluate {label} evaluted to "
                    f"{exprlang.go_type_name(value)} but must be a string"
                )
            where = (
                f"invalid label value {go_quote(str(value))} for label {go_quote(str(name))} "
                f"and expression {go_quote(expression)}"
            )
            _check_label_value(value, where)
            self._set_metadata("labels", str(name), value)
        for kind in ("labels", "annotations"):
            values = {str(k): str(v) for k, v in (self.wf["metadata"].get(kind) or {}).items()}
            self.global_scope[f"workflow.{kind}"] = json.dumps(values, separators=(",", ":"))
            self.global_scope[f"workflow.{kind}.json"] = self.global_scope[f"workflow.{kind}"]

    def _set_metadata(self, kind: str, name: str, value: str) -> None:
        self.wf["metadata"].setdefault(kind, {})[name] = value
        self.global_scope[f"workflow.{kind}.{name}"] = value

    def substitute_volumes(self, scope: Scope) -> None:
        """Argo's ``substituteParamsInVolumes``: the workflow's volumes, as the pods created from
        now on in this pass get them, with ``scope`` substituted (``AbsentOptionalError`` for a
        reference to an absent optional)."""
        if self.volumes_templated:
            self.volumes = substitute_all(self.volumes, scope)

    def skipped_outputs(
        self,
        prefix: str,
        node: Node,
        holder: dict[str, Any],
        base: tuple[str, bool] | None,
        include_artifacts: bool,
    ) -> dict[str, str | None]:
        """Argo's ``addSkippedNodeOutputsToScope`` for the node of ``holder`` (a task or step):
        the outputs its template declares when it was Skipped or Omitted (``skipped_output_scope``;
        nothing when the template cannot be resolved, e.g. a templated ``templateRef``)."""
        if node.get("outputs") or node.get("phase") not in ("Skipped", "Omitted"):
            return {}
        key = f"skipped-outputs:{node['id']}:{prefix}"
        scope: dict[str, str | None] | None = self.cache.get(key)
        if scope is None:
            try:
                template = self.resolve_template(holder, base)
            except ArgumentError:
                template = {}
            scope = skipped_output_scope(prefix, node, template, include_artifacts)
            self.cache[key] = scope
        return scope

    def template_base_of(
        self, holder: dict[str, Any], base: tuple[str, bool] | None
    ) -> tuple[str, bool] | None:
        """The template context a holder's template runs in (its children resolve there)."""
        ref = holder.get("templateRef")
        if ref and "inline" not in holder:
            return str(ref.get("name", "")), bool(ref.get("clusterScope"))
        return base

    def resolve_template(
        self, holder: dict[str, Any], base: tuple[str, bool] | None = None
    ) -> dict[str, Any]:
        """The template a task/step/hook names (``template``, ``inline`` or ``templateRef``);
        a plain name resolves in ``base`` (a WorkflowTemplate) when set."""
        if "inline" in holder:
            template = dict(holder["inline"])
            template.setdefault("name", "")
        elif "templateRef" in holder:
            ref = holder["templateRef"]
            found = self.template_lookup(
                ref.get("name", ""), ref.get("template", ""), bool(ref.get("clusterScope"))
            )
            if found is None:
                raise ArgumentError(
                    f"template '{ref.get('template')}' not found in WorkflowTemplate "
                    f"'{ref.get('name')}' (register it with `apply`)"
                )
            template = found
        elif base is not None:
            name = str(holder.get("template", ""))
            found = self.template_lookup(base[0], name, base[1])
            if found is None:
                kind = "ClusterWorkflowTemplate" if base[1] else "WorkflowTemplate"
                raise ArgumentError(f"template '{name}' not found in {kind} '{base[0]}'")
            template = found
        else:
            name = holder.get("template", "")
            if name not in self.templates:
                raise ArgumentError(f"template '{name}' not found")
            template = self.templates[name]
        defaults = self.spec.get("templateDefaults")
        return merge_template_defaults(defaults, template) if defaults else template

    # ------------------------------------------------------------------ node bookkeeping

    def get_node(self, name: str) -> Node | None:
        return self.nodes.get(node_id(self.name, name))

    def get_node_id(self, name: str) -> str:
        return node_id(self.name, name)

    def artifact_owner(self, node: Node) -> str:
        """The pod node whose stored artifacts a node's outputs are: a Retry node's are its
        last attempt's, not a hook's (``buildLocalScope`` reads ``possiblyGetRetryChildNode``,
        which passes over the hook children, workflow/controller/operator.go)."""
        attempt = last_attempt(node, self.nodes) if node["type"] == "Retry" else None
        if attempt is not None:
            return self.artifact_owner(attempt)
        return str(node["id"])

    def init_node(
        self,
        name: str,
        node_type: str,
        template_name: str | None,
        opts: ExecOpts,
        phase: str,
        message: str = "",
    ) -> Node:
        boundary = self.nodes.get(opts.boundary_id) if opts.boundary_id else None
        node = new_node(
            workflow_name=self.name,
            name=name,
            node_type=node_type,
            phase=phase,
            started_at=format_time(self.now),
            boundary=boundary,
            template_name=template_name,
            message=message,
        )
        if opts.node_flag:
            node["nodeFlag"] = dict(opts.node_flag)
        estimate = self.estimator.node_seconds(name)  # initializeNode
        if estimate:
            node["estimatedDuration"] = estimate
        self.nodes[node["id"]] = node
        if phase in FULFILLED_PHASES:
            self.finished_epoch[node["id"]] = self.now
        return node

    def add_child(self, parent_name: str, child_name: str) -> None:
        parent = self.get_node(parent_name)
        if parent is None:
            return
        child_id = node_id(self.name, child_name)
        children = parent.setdefault("children", [])
        if len(children) < 16:
            if child_id not in children:
                children.append(child_id)
            return
        # Wide parents (a DAG of thousands of tasks): keep a set beside the list.
        known = self.child_sets.get(parent["id"])
        if known is None or len(known) != len(children):
            known = set(children)
            self.child_sets[parent["id"]] = known
        if child_id not in known:
            children.append(child_id)
            known.add(child_id)

    def mark_phase(self, name: str, phase: str, message: str | None = None) -> Node:
        node = self.nodes[node_id(self.name, name)]
        if node["phase"] != phase:
            node["phase"] = phase
            if phase in FULFILLED_PHASES and not node.get("finishedAt"):
                node["finishedAt"] = format_time(self.now)
                self.finished_epoch[node["id"]] = self.now
            if phase == "Succeeded" and "memoizationStatus" in node:
                self._save_memoized(node)
            if phase in FULFILLED_PHASES and node["type"] in ("Steps", "DAG"):
                self.kill_daemoned_children(node["id"])
            if phase in FULFILLED_PHASES and self.held:
                self._release_locks_of(self._holder_key(node["id"]))
        if message is not None:
            if message:
                node["message"] = message
            else:
                node.pop("message", None)
        return node

    def outbound_nodes(self, nid: str) -> list[str]:
        """Argo's ``getOutboundNodes``: the nodes a successor hangs off."""
        node = self.nodes[nid]
        node_type = node["type"]
        if node_type in (*LEAF_WORK_TYPES, "Skipped", "Suspend"):
            return [nid]
        children = node.get("children") or []
        if node_type == "Retry":
            return self.outbound_nodes(children[-1]) if children else [nid]
        if node_type == "TaskGroup":
            if not children:
                return [nid]
            found: list[str] = []
            for child in children:
                found.extend(self.outbound_nodes(child))
            return found
        outbound: list[str] = []
        for out in node.get("outboundNodes") or []:
            outbound.extend(self.outbound_nodes(out))
        return outbound

    def is_waiting_on_pod(self, node: Node) -> bool:
        """True while nothing can change for this node until a pod reports back."""
        if node["phase"] in FULFILLED_PHASES or node["id"] in self.lock_waiters:
            return False
        if node["type"] in LEAF_WORK_TYPES:
            return not _pod_to_create(node)
        if node["type"] == "Retry":  # its last attempt, not a hook (executeTemplate)
            attempt = last_attempt(node, self.nodes)
            return attempt is not None and self.is_waiting_on_pod(attempt)
        return False

    # ------------------------------------------------------------------ control state

    @property
    def shutdown(self) -> str | None:
        value = self.spec.get("shutdown")
        if value:
            return str(value)
        deadline = self.workflow_deadline()
        if deadline is not None and self.now >= deadline:
            return "Deadline"
        return None

    def _not_started_message(self) -> str:
        """Why a node that was to start now fails instead (a suspend or HTTP node)."""
        return PENDING_DEADLINE_MESSAGE if self.shutdown == "Deadline" else self.shutdown_message()

    def shutdown_message(self) -> str:
        strategy = self.shutdown
        if strategy == "Deadline":
            return DEADLINE_MESSAGE
        return f"Stopped with strategy '{strategy}'"

    def _retry_stopped_message(self) -> str:
        """Why a failed attempt is not retried once the workflow is stopping
        (``processNodeRetries``; the deadline is a Go ``time.Time`` printed with ``%s``)."""
        deadline = self.workflow_deadline()
        if self.shutdown != "Deadline" or deadline is None:
            return self.shutdown_message()
        printed = datetime.fromtimestamp(deadline, UTC).strftime("%Y-%m-%d %H:%M:%S +0000 UTC")
        return f"retry exceeded workflow deadline {printed}"

    def should_execute(self, on_exit: bool) -> bool:
        strategy = self.shutdown
        if strategy is None:
            return True
        return on_exit and strategy in ("Stop", "Deadline")

    def workflow_deadline(self) -> float | None:
        seconds = self.spec.get("activeDeadlineSeconds")
        started = self.status.get("startedAt")
        if seconds is None or not started:
            return None
        return parse_time(started) + float(seconds)

    def wake_at(self, epoch: float) -> None:
        self.wakeups.append(epoch)

    def next_wakeup(self) -> float | None:
        candidates = [w for w in self.wakeups if w > self.now]
        deadline = self.workflow_deadline()
        if deadline is not None and deadline > self.now and self.active_pods:
            candidates.append(deadline)
        for deadlines in (self.node_deadlines, self.pending_deadlines):
            candidates.extend(
                d for n, d in deadlines.items() if n in self.active_pods and d > self.now
            )
        return min(candidates) if candidates else None

    def check_parallelism(self, template: dict[str, Any], boundary_id: str | None) -> bool:
        limit = self.spec.get("parallelism")
        # Pods only (woc.activePods, getActivePodsCounter in node_counters.go): an HTTP node
        # runs in Argo's agent, not in a pod of its own.
        if limit is not None and (
            sum(1 for n in self.active_pods if self.nodes[n]["type"] == "Pod") >= int(limit)
        ):
            return False
        if boundary_id is None:
            return True
        boundary_tmpl = self.cache.get(f"template:{boundary_id}")
        if boundary_tmpl and boundary_tmpl.get("parallelism") is not None:
            if boundary_tmpl.get("failFast") is True and self.failed_fast(boundary_id):
                return False
            # getActiveChildren (node_counters.go): Pending or Running pods, steps and DAGs.
            active = sum(
                1
                for n in self.nodes.values()
                if n.get("boundaryID") == boundary_id
                and n["type"] in ("Pod", "DAG", "Steps")
                and n["phase"] in ("Pending", "Running")
            )
            if active >= int(boundary_tmpl["parallelism"]):
                return False
        return True

    def _result_referenced(self, node_name: str, boundary_id: str | None) -> bool:
        """Whether a pod's stdout is kept as its ``outputs.result``: only when the template
        that called it refers to it (``includeScriptOutput`` and ``hasOutputResultRef`` in
        Argo's operator.go: ``tasks.<name>.outputs.result`` or ``tasks['<name>']...``)."""
        parent = self.cache.get(f"template:{boundary_id}") if boundary_id else None
        if not parent:
            return False
        name = step_or_task_name(node_name)
        kind = "tasks" if "dag" in parent else "steps" if "steps" in parent else ""
        # One text per boundary template, not one per pod it starts (a loop may start
        # thousands).
        dumped = self.cache.get(f"template-text:{boundary_id}")
        if dumped is None or dumped[0] is not parent:
            dumped = (parent, json.dumps(parent, separators=(",", ":")))
            self.cache[f"template-text:{boundary_id}"] = dumped
        text = dumped[1]
        return bool(
            re.search(rf"{kind}\.{name}\.outputs\.result", text)
            or re.search(rf"{kind}\[['\"]{name}['\"]\]\.outputs.result", text)
        )

    def failed_fast(self, boundary_id: str) -> bool:
        """Template ``failFast`` (with ``parallelism``): once a child failed or errored, no
        new child starts and the template fails with Argo's message (see ``FAIL_FAST_MESSAGE``).
        """
        if self.cache.get(f"failfast:{boundary_id}"):
            return True
        if any(
            n.get("boundaryID") == boundary_id
            and n["type"] in LEAF_WORK_TYPES
            and n["phase"] in ("Failed", "Error")
            for n in self.nodes.values()
        ):
            self.cache[f"failfast:{boundary_id}"] = True
            return True
        return False

    # ------------------------------------------------------------------ the reconcile pass

    def operate(self) -> None:
        self.now = self.clock()
        self.wakeups = []
        if self.status.get("phase") in ("Succeeded", "Failed", "Error"):
            return
        if "artifactRepositoryRef" not in self.status:  # operate's first step
            try:
                self.status["artifactRepositoryRef"] = resolve_artifact_repository(
                    self.spec.get("artifactRepositoryRef"),
                    str(self.wf["metadata"].get("namespace", "default")),
                    self.object_lookup,
                )
            except ArtifactRepositoryError as unresolved:
                self._complete_workflow("Error", str(unresolved))
                return
        if not self.status.get("phase") or self.status["phase"] == "Pending":
            if self.global_parameter_error is not None:  # operate's markWorkflowFailed
                message = f"failed to set global parameters: {self.global_parameter_error}"
                self._complete_workflow("Failed", message)
                return
            if self.spec.get("synchronization"):
                try:
                    waiting = self._try_acquire(None, self.spec["synchronization"])
                except ArgumentError as exc:
                    self._complete_workflow("Error", str(exc))
                    return
                if waiting is not None:  # postponed: Pending, with the lock it waits for
                    self.status["phase"] = "Pending"
                    self.status["message"] = waiting[1]
                    self.wf["metadata"].setdefault("labels", {})["workflows.argoproj.io/phase"] = (
                        "Pending"
                    )
                    return
                self.status.pop("message", None)
            self.status["phase"] = "Running"
            if "startedAt" not in self.status:  # markWorkflowPhase
                self.status["startedAt"] = format_time(self.now)
                estimate = self.estimator.workflow_seconds()
                if estimate:
                    self.status["estimatedDuration"] = estimate
            try:
                self._apply_workflow_metadata()
            except ExpressionError as exc:  # Argo's markWorkflowError
                self._complete_workflow("Error", str(exc))
                return
        started = parse_time(self.status["startedAt"])
        self.global_scope["workflow.duration"] = f"{self.now - started:.6f}"
        if self.global_scope.get("workflow.status") in (None, "Pending", "Running"):
            self.global_scope["workflow.status"] = str(self.status.get("phase", "Running"))
        if self.volumes_templated:
            # Each reconcile starts from spec.volumes with the global parameters substituted
            # (Argo's operate); task and step references follow as they resolve.
            self.volumes = substitute_all(self.spec.get("volumes") or [], self.global_scope)
        if self.shutdown is not None:
            self._shut_down_running()
        self._enforce_pod_deadlines()
        if self.spec.get("suspend"):
            # Argo's operate returns here (workflow/controller/operator.go, after pod
            # reconciliation: "workflow suspended"): no template is executed, so nothing new
            # starts, and nothing completes, not even a workflow whose last pods have ended.
            return
        entry = {"template": self.spec.get("entrypoint", "")}
        if "workflowTemplateRef" in self.spec:
            entry = {"template": self.spec.get("entrypoint", "")}
        root, error = self.execute_template_err(
            self.name, entry, self.spec.get("arguments") or {}, ExecOpts()
        )
        if error is not None:  # operate: the workflow errors, no hook or exit handler runs
            self._complete_workflow("Error", f"error in entry template execution: {error}")
            return
        if root is None:
            return
        # As Argo's operate: the status and failures the hooks and the exit handler see are the
        # entrypoint's, set before the workflow-level hooks run.
        workflow_phase = _WORKFLOW_PHASE_OF_NODE[root["phase"]]
        self.global_scope["workflow.status"] = workflow_phase
        self.global_scope["workflow.failures"] = self._failures_json()
        if not self._workflow_lifecycle_hooks(root) or root["phase"] not in FULFILLED_PHASES:
            return
        # An exit handler already started goes on whatever the shutdown (Argo's operate); only
        # a new one waits for a strategy that lets exit handlers run.
        started = self.get_node(on_exit_node_name(self.name)) is not None
        exit_hook = self._workflow_exit_hook() if started or self.should_execute(True) else None
        on_exit: Node | None = None
        if exit_hook is not None:
            # Flagged hooked, as operate passes ``nodeFlag: {Hooked: true}`` (operator.go).
            on_exit, error = self.execute_template_err(
                on_exit_node_name(self.name),
                exit_hook,
                exit_hook.get("arguments") or {},
                ExecOpts(on_exit=True, node_flag={"hooked": True}),
            )
            if error is not None:
                self._complete_workflow("Error", f"error in exit template execution : {error}")
                return
            if on_exit is None or on_exit["phase"] not in FULFILLED_PHASES:
                return
        # The entrypoint's message (none for a failed DAG), or the shutdown that stopped it; a
        # deadline is no shutdown strategy there.
        message = root.get("message", "")
        if root["phase"] in ("Failed", "Error") and self.shutdown in ("Stop", "Terminate"):
            message = self.shutdown_message()
        if (
            workflow_phase == "Succeeded"
            and on_exit is not None
            and on_exit["phase"] in ("Failed", "Error")
        ):
            workflow_phase, message = on_exit["phase"], on_exit.get("message", "")
        self._complete_workflow(workflow_phase, message)

    def _workflow_exit_hook(self) -> dict[str, Any] | None:
        hooks = self.spec.get("hooks") or {}
        if "exit" in hooks:
            return dict(hooks["exit"])
        if self.spec.get("onExit"):
            return {"template": self.spec["onExit"]}
        return None

    def _pod_name(self, node_name: str, template: dict[str, Any]) -> str:
        """``{{pod.name}}``: the pod Argo would create for the node (``getPodName``)."""
        node = {"id": node_id(self.name, node_name), "name": node_name}
        return pod_name(self.wf, {**node, "templateName": template.get("name", "")})

    def _failures_json(self) -> str:
        """``{{workflow.failures}}``: every Failed or Error node, of any type, as JSON quoted as
        a Go string (``strconv.Quote``, so substitution keeps the inner quotes); ``"null"``
        when there is none."""
        failures = [
            {
                "displayName": node["displayName"],
                "message": node.get("message", ""),
                "templateName": node.get("templateName")
                or (node.get("templateRef") or {}).get("template", ""),
                "phase": node["phase"],
                "podName": pod_name(self.wf, node),
                "finishedAt": node.get("finishedAt"),
            }
            for node in self.nodes.values()
            if node["phase"] in ("Failed", "Error")
        ]
        listed = json.dumps(failures or None, separators=(",", ":"), ensure_ascii=False)
        return json.dumps(listed, ensure_ascii=False)

    def _complete_workflow(self, phase: str, message: str) -> None:
        self.status["phase"] = phase
        self.status["finishedAt"] = format_time(self.now)
        if message:
            self.status["message"] = message
        else:
            self.status.pop("message", None)
        self.status["conditions"] = [{"type": "Completed", "status": "True"}]
        for key in list(self.held):  # ReleaseAll
            self._release_locks_of(key)
        self.status.pop("synchronization", None)
        for node in self.nodes.values():
            node.pop("synchronizationStatus", None)
        labels = self.wf["metadata"].setdefault("labels", {})
        labels["workflows.argoproj.io/phase"] = phase
        labels["workflows.argoproj.io/completed"] = "true"

    @property
    def completed(self) -> bool:
        return self.status.get("phase") in ("Succeeded", "Failed", "Error")

    def _shut_down_running(self) -> None:
        """Argo's ``applyExecutionControl`` (workflow/controller/exec_control.go): stop the
        pods of a shutdown or past the workflow's deadline, but not a fulfilled node's: a
        daemon that is up is left to ``killDaemonedChildren`` when its steps/DAG node ends."""
        message = self.shutdown_message()
        for nid in list(self.active_pods):
            if (
                nid not in self.kill_reasons
                and not is_fulfilled(self.nodes[nid])
                and not self._is_exit_handler_pod(nid)
            ):
                reason = message
                if self.shutdown == "Deadline" and self.nodes[nid]["phase"] == "Pending":
                    reason = PENDING_DEADLINE_MESSAGE
                self.kill_reasons[nid] = reason
                self.kills[nid] = reason
        for node in self.nodes.values():
            if node["type"] == "Suspend" and node["phase"] == "Running":
                self.mark_phase(node["name"], "Failed", message)

    def _is_exit_handler_pod(self, nid: str) -> bool:
        if self.shutdown == "Terminate":
            return False
        node = self.nodes[nid]
        chain = [node]
        while chain[-1].get("boundaryID"):
            chain.append(self.nodes[chain[-1]["boundaryID"]])
        return any(".onExit" in n["name"] for n in chain) or ".onExit" in node["name"]

    def _enforce_pod_deadlines(self) -> None:
        for nid in list(self.active_pods):
            if nid in self.kill_reasons:
                continue
            deadline = self.node_deadlines.get(nid)
            reason: str | None = None
            if self.nodes[nid]["phase"] == "Pending":
                pending_limit = self.pending_deadlines.get(nid)
                if pending_limit is not None and self.now >= pending_limit:
                    reason = TIMEOUT_MESSAGE
                elif deadline is not None and self.now >= deadline:
                    reason = self._pending_deadline_reason(nid)
            elif deadline is not None and self.now >= deadline:
                reason = DEADLINE_MESSAGE
            if reason is not None:
                self.kill_reasons[nid] = reason
                self.kills[nid] = reason

    def _pending_deadline_reason(self, nid: str) -> str:
        """Why a pod that never started is failed at its deadline: the workflow's deadline
        (Argo's controller fails it), its template's ``timeout`` (``checkTemplateTimeouts``),
        else a boundary's timeout (kept as for a running pod)."""
        workflow_deadline = self.workflow_deadline()
        if workflow_deadline is not None and self.now >= workflow_deadline:
            return PENDING_DEADLINE_MESSAGE
        timeout = self.timeout_deadlines.get(nid)
        if timeout is not None and self.now >= timeout:
            return TIMEOUT_MESSAGE
        return DEADLINE_MESSAGE

    # ------------------------------------------------------------------ template dispatch

    def execute_template(
        self,
        node_name: str,
        holder: dict[str, Any],
        arguments: dict[str, Any],
        opts: ExecOpts,
    ) -> Node | None:
        """Argo's ``executeTemplate``: returns the node, or None when it may not start yet."""
        return self.execute_template_err(node_name, holder, arguments, opts)[0]

    def execute_template_err(
        self,
        node_name: str,
        holder: dict[str, Any],
        arguments: dict[str, Any],
        opts: ExecOpts,
    ) -> tuple[Node | None, str | None]:
        """``execute_template`` with the error Argo's ``executeTemplate`` returns when the
        template cannot be resolved or given its inputs (``ResolveTemplate``, ``ProcessArgs``):
        the node is then in Error (``initializeNodeOrMarkError``: a new one is Skipped), and a
        DAG or step group reports the error on its own node too."""
        try:
            return self._execute_template(node_name, holder, arguments, opts), None
        except _TemplateError as exc:
            message = str(exc)
            if self.get_node(node_name) is None:
                self.init_node(node_name, "Skipped", exc.template_name, opts, "Error", message)
            return self.mark_phase(node_name, "Error", message), message

    def _execute_template(
        self,
        node_name: str,
        holder: dict[str, Any],
        arguments: dict[str, Any],
        opts: ExecOpts,
    ) -> Node | None:
        node = self.get_node(node_name)
        if node is not None and (node["phase"] in FULFILLED_PHASES or self.is_waiting_on_pod(node)):
            return node
        try:
            template = self.resolve_template(holder, opts.template_base)
        except ArgumentError as exc:
            raise _TemplateError(str(exc), holder.get("template")) from None
        opts = replace(opts, template_base=self.template_base_of(holder, opts.template_base))
        # Argo records the caller's reference: templateName, or templateRef for a templateRef.
        template_name = (
            None if "templateRef" in holder else (template.get("name") or holder.get("template"))
        )
        if node is None:
            if not self.should_execute(opts.on_exit) and _template_kind(template) in (
                "suspend",
                "http",
            ):
                # Created, then failed by failNodesWithoutCreatedPodsAfterDeadlineOrShutdown
                # (operator.go). Steps and DAGs go on: their pods fail as they are created.
                self.init_node(node_name, _node_type_of(template), template_name, opts, "Pending")
                return self.mark_phase(node_name, "Failed", self._not_started_message())
            if not self.check_parallelism(template, opts.boundary_id):
                return None
        retry_strategy = _retry_strategy(template, self.spec)
        extra_scope = (
            {}
            if retry_strategy is not None or _template_kind(template) not in POD_KINDS
            else {"pod.name": self._pod_name(node_name, template)}
        )
        extra_scope["node.name"] = node_name
        extra_scope[f"{opts.holder_kind}.name"] = str(holder.get("name") or "")
        outputs_spec = template.get("outputs") or {}
        for param in outputs_spec.get("parameters") or []:
            path = (param.get("valueFrom") or {}).get("path")
            if path:
                extra_scope[f"outputs.parameters.{param['name']}.path"] = str(path)
        for artifact in outputs_spec.get("artifacts") or []:
            if artifact.get("path"):
                extra_scope[f"outputs.artifacts.{artifact['name']}.path"] = str(artifact["path"])
        cached = self.cache.get(f"processed:{node_name}") if node is not None else None
        try:
            if cached is not None:
                processed, inputs_record = cached
            else:
                processed, inputs_record = process_inputs(
                    template, arguments, self.global_scope, self.object_lookup, extra_scope
                )
                if retry_strategy is None and _template_kind(processed) in ("dag", "steps"):
                    # A running DAG/steps node re-enters every pass with the same inputs.
                    self.cache[f"processed:{node_name}"] = (processed, inputs_record)
        except (ArgumentError, ExpressionError) as exc:
            raise _TemplateError(str(exc), template_name) from None

        memo = processed.get("memoize")
        if memo and (node is None or node["phase"] not in FULFILLED_PHASES):
            hit = self._memoized_hit(node_name, processed, template_name, opts, node, memo)
            if hit is not None:
                return hit
        top_name = node_name
        sync = processed.get("synchronization")
        if sync and (node is None or node["id"] in self.lock_waiters):
            try:
                waiting = self._try_acquire(node_id(self.name, node_name), sync)
            except ArgumentError as exc:
                node = node or self.init_node(
                    node_name, _node_type_of(processed), template_name, opts, "Pending"
                )
                self.lock_waiters.discard(node["id"])
                return self.mark_phase(node_name, "Error", str(exc))
            if waiting is not None:
                lock_name, message = waiting
                if node is None:
                    node_type = "Retry" if retry_strategy is not None else _node_type_of(processed)
                    node = self.init_node(node_name, node_type, template_name, opts, "Pending")
                node["message"] = message
                node["synchronizationStatus"] = {"waiting": lock_name}
                self.lock_waiters.add(node["id"])
                return node
            if node is not None:  # acquired after waiting: start it now
                self.lock_waiters.discard(node["id"])
                node.pop("synchronizationStatus", None)
                node.pop("message", None)
                if node["type"] in LEAF_WORK_TYPES:
                    self.cache[f"acquired:{node['id']}"] = True
                else:
                    node["phase"] = "Running"

        if node is not None and node.get("startedAt") is None:
            # "Memoized nodes don't have StartedAt" (executeTemplate): a failed pod a memoized
            # resubmit left Pending starts again now.
            node["startedAt"] = format_time(self.now)
        retry_node_name: str | None = None
        if retry_strategy is not None:
            retry_node_name = node_name
            retry_node = node or self.init_node(node_name, "Retry", template_name, opts, "Running")
            if inputs_record:
                retry_node["inputs"] = inputs_record
            strategy = _retry_strategy(processed, self.spec) or {}
            if not self._process_node_retries(retry_node, strategy):
                return retry_node
            if retry_node["phase"] in FULFILLED_PHASES:
                return retry_node
            # Attempts only: the template's hooks are children too (executeTemplate reads
            # getChildNodeIdsAndLastRetriedNode).
            attempts = retry_attempts(retry_node, self.nodes)
            last = self.nodes[attempts[-1]] if attempts else None
            if last is not None and last["phase"] not in FULFILLED_PHASES:
                node_name, node = last["name"], last
            else:
                attempt = len(attempts)
                node_name = retry_attempt_name(retry_node_name, attempt)
                self.add_child(retry_node_name, node_name)
                node = None
                processed = substitute_all(
                    processed,
                    {
                        "retries": str(attempt),
                        **(
                            {"pod.name": self._pod_name(node_name, processed)}
                            if _template_kind(processed) in POD_KINDS
                            else {}
                        ),
                        "node.name": node_name,
                        **self._last_retry_scope(last),
                    },
                )
            opts = replace(opts, node_flag={**(opts.node_flag or {}), "retried": True})

        kind = _template_kind(processed)
        if kind in ("container", "script", "http", "containerSet", "data"):
            node = self._execute_pod(node_name, processed, opts, node, inputs_record, template)
        elif kind == "steps":
            node = steps.execute_steps(self, node_name, processed, opts, inputs_record)
        elif kind == "dag":
            node = dag.execute_dag(self, node_name, processed, opts, inputs_record)
        elif kind == "suspend":
            node = self._execute_suspend(node_name, processed, opts, node, inputs_record)
        else:  # pragma: no cover - refused by validation
            node = node or self.init_node(
                node_name, "Pod", template_name, opts, "Error", f"unsupported template '{kind}'"
            )

        if memo:
            self._mark_memoized_miss(top_name, memo)
        if "templateRef" in holder:
            for named in {top_name, node_name}:
                created = self.get_node(named)
                if created is not None and "templateRef" not in created:
                    created["templateRef"] = dict(holder["templateRef"])
                    created.pop("templateName", None)
        if retry_node_name is not None:
            retry_after = self.get_node(retry_node_name)
            assert retry_after is not None
            if (
                retry_after["phase"] not in FULFILLED_PHASES
                and node is not None
                and node["phase"] in FULFILLED_PHASES
            ):
                return self.execute_template(
                    retry_node_name, holder, arguments, replace(opts, node_flag=None)
                )
            return retry_after
        return node

    # ------------------------------------------------------------------ synchronization

    def _lock_limits(self, sync: dict[str, Any]) -> list[tuple[str, int]]:
        """(lock name, limit) of every mutex/semaphore a ``synchronization`` block names."""
        namespace = str(self.wf["metadata"].get("namespace", "default"))
        locks: list[tuple[str, int]] = []
        mutexes = [*(sync.get("mutexes") or []), *([sync["mutex"]] if sync.get("mutex") else [])]
        for mutex in mutexes:
            locks.append((f"{mutex.get('namespace', namespace)}/Mutex/{mutex.get('name')}", 1))
        semaphores = [
            *(sync.get("semaphores") or []),
            *([sync["semaphore"]] if sync.get("semaphore") else []),
        ]
        for semaphore in semaphores:
            ref = semaphore.get("configMapKeyRef")
            if not ref:
                raise ArgumentError(
                    "synchronization: only configMapKeyRef semaphores are supported locally"
                )
            name, key = str(ref.get("name", "")), str(ref.get("key", ""))
            raw = self.config_lookup("ConfigMap", name, key)
            try:
                limit = int(str(raw).strip())
            except ValueError:
                raise ArgumentError(
                    f"failed to get semaphore limit: ConfigMap '{name}' key '{key}' "
                    "not found or not an integer (register it with `apply`)"
                ) from None
            ns = semaphore.get("namespace", namespace)
            locks.append((f"{ns}/ConfigMap/{name}/{key}", limit))
        return locks

    def _try_acquire(self, holder: str | None, sync: dict[str, Any]) -> tuple[str, str] | None:
        """Take every lock ``sync`` names for node ``holder`` (None: the workflow), or none:
        (lock name, message) of the one it waits on. The table is the machine's
        (``FileLocks``): other workflows' runners see the same locks."""
        limits = self._lock_limits(sync)
        key = self._holder_key(holder)
        blocked, holders = self.locks.try_acquire(key, limits)
        if blocked is not None:
            for lock, _ in limits:  # tryAcquireImpl: LockWaiting on each of its locks
                lock_waiting(self.status, lock, holders[lock])
            limit = dict(limits)[blocked]
            free = limit - len(holders[blocked])
            return blocked, f"Waiting for {blocked} lock. Lock status: {free}/{limit}"
        for lock, _ in limits:
            lock_acquired(self.status, key, lock)
        self.held[key] = [lock for lock, _ in limits]
        return None

    def _holder_key(self, node: str | None) -> str:
        """``getHolderKey``: ``<namespace>/<workflow>``, and ``/<node id>`` for a node."""
        key = f"{self.wf['metadata'].get('namespace', 'default')}/{self.name}"
        return f"{key}/{node}" if node else key

    def _release_locks_of(self, key: str) -> None:
        """``Release``: the locks ``key`` holds (its node ended, or the workflow)."""
        for lock in self.held.pop(key, []):
            self.locks.release(key, lock)
            lock_released(self.status, key, lock)

    # ------------------------------------------------------------------ memoization

    @staticmethod
    def _memo_address(memo: dict[str, Any]) -> tuple[str, str]:
        cache = ((memo.get("cache") or {}).get("configMap") or {}).get("name", "")
        return str(cache), str(memo.get("key", ""))

    def _memoized_hit(
        self,
        node_name: str,
        template: dict[str, Any],
        template_name: str | None,
        opts: ExecOpts,
        node: Node | None,
        memo: dict[str, Any],
    ) -> Node | None:
        """Argo's memoization lookup: a fresh cache entry makes the node Succeeded with its
        outputs (``memoizationStatus.hit``), without running anything."""
        cache_name, key = self._memo_address(memo)
        raw = self.config_lookup("ConfigMap", cache_name, key)
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            created = parse_time(str(entry.get("creationTimestamp", "")))
        except (json.JSONDecodeError, ValueError, AttributeError):
            return None
        if memo.get("maxAge"):
            with contextlib.suppress(ValueError):
                if created + parse_duration(str(memo["maxAge"])) <= self.now:
                    return None
        if node is None:
            node = self.init_node(
                node_name, _node_type_of(template), template_name, opts, "Succeeded"
            )
        if entry.get("outputs"):
            node["outputs"] = entry["outputs"]
        node["memoizationStatus"] = {"hit": True, "key": key, "cacheName": cache_name}
        self.mark_phase(node_name, "Succeeded")
        return node

    def _mark_memoized_miss(self, node_name: str, memo: dict[str, Any]) -> None:
        node = self.get_node(node_name)
        if node is None or "memoizationStatus" in node:
            return
        cache_name, key = self._memo_address(memo)
        node["memoizationStatus"] = {"hit": False, "key": key, "cacheName": cache_name}
        if node["phase"] == "Succeeded":
            self._save_memoized(node)

    def _save_memoized(self, node: Node) -> None:
        status = node["memoizationStatus"]
        if status.get("hit") or self.cache.get(f"memo-saved:{node['id']}"):
            return
        self.cache[f"memo-saved:{node['id']}"] = True
        stamp = format_time(self.now)
        entry = {
            "nodeID": node["id"],
            "outputs": node.get("outputs") or {},
            "creationTimestamp": stamp,
            "lastHitTimestamp": stamp,
        }
        self.cache_save(
            str(status["cacheName"]), str(status["key"]), json.dumps(entry, separators=(",", ":"))
        )

    def container_deadline(self, template: dict[str, Any], on_exit: bool = False) -> float | None:
        """Earliest of the template's own deadline and the workflow's (not for an exit
        handler's pod: Argo's pod builder ignores the workflow's deadline "so they still run if
        the deadline has passed", workflow/controller/workflowpod.go). A steps or DAG template
        bounds nothing: only a pod's template sets its pod's deadline there."""
        candidates: list[float] = []
        # A pod held for debugging has no deadline of its own (createWorkflowPod).
        keys = ("timeout",) if _debugged(template) else ("activeDeadlineSeconds", "timeout")
        for key in keys:
            if template.get(key) not in (None, ""):
                with contextlib.suppress(ValueError):
                    candidates.append(self.now + parse_duration(str(template[key])))
        workflow_deadline = None if on_exit else self.workflow_deadline()
        if workflow_deadline is not None:
            candidates.append(workflow_deadline)
        return min(candidates) if candidates else None

    def open_boundary(
        self,
        node_name: str,
        node_type: str,
        template: dict[str, Any],
        opts: ExecOpts,
        inputs_record: dict[str, Any],
    ) -> Node:
        """The DAG or Steps node of ``template``, created Running on first visit."""
        node = self.get_node(node_name)
        if node is None:
            node = self.init_node(node_name, node_type, template.get("name"), opts, "Running")
            if inputs_record:
                node["inputs"] = inputs_record
        if node["phase"] not in FULFILLED_PHASES:
            self.cache[f"template:{node['id']}"] = template
        return node

    def _missing_volume(self, template: dict[str, Any]) -> str | None:
        """A volume the pod's containers mount that neither the template, the workflow nor its
        claim templates define (``addVolumeReferences``, workflowpod.go)."""
        if "http" in template:
            return None
        defined = {v.get("name") for v in [*(template.get("volumes") or []), *self.volumes]}
        for claim in self.spec.get("volumeClaimTemplates") or []:
            defined.add((claim.get("metadata") or {}).get("name"))
        body = template.get("container") or template.get("script") or template.get("containerSet")
        containers = [body or {}, *(template.get("initContainers") or [])]
        containers += template.get("sidecars") or []
        for container in containers:
            for mount in container.get("volumeMounts") or []:
                if mount.get("name") not in defined:
                    return str(mount.get("name"))
        return None

    def _execute_pod(
        self,
        node_name: str,
        template: dict[str, Any],
        opts: ExecOpts,
        node: Node | None,
        inputs_record: dict[str, Any],
        as_written: dict[str, Any],
    ) -> Node:
        acquired = node is not None and self.cache.pop(f"acquired:{node['id']}", False)
        if node is not None and not acquired and node["id"] in self.active_pods:
            return node  # createWorkflowPod: a pod that exists is not created again
        node_type = "HTTP" if "http" in template else "Pod"
        if node is None:
            node = self.init_node(node_name, node_type, template.get("name"), opts, "Pending")
        if inputs_record:
            node["inputs"] = inputs_record
        if not self.should_execute(opts.on_exit):
            # createWorkflowPod creates no pod while shutting down and fails the node
            # (workflowpod.go); past the workflow's deadline it creates none and the node
            # fails as a Pending one (failNodesWithoutCreatedPodsAfterDeadlineOrShutdown).
            message = (
                PENDING_DEADLINE_MESSAGE
                if self.shutdown == "Deadline"
                else f"workflow shutdown with strategy: {self.shutdown}"
            )
            return self.mark_phase(node_name, "Failed", message)
        dangling = _dangling_tags(template, as_written)
        if dangling:
            return self.mark_phase(node_name, "Error", f"failed to resolve {dangling[0]}")
        missing = self._missing_volume(template)
        if missing is not None:  # createWorkflowPod's error, returned by executeTemplate
            raise _TemplateError(f"volume '{missing}' not found in workflow spec", None)
        deadline = self.container_deadline(template, opts.on_exit)
        node_deadline = deadline
        if "http" not in template:
            node_deadline = self._pod_deadlines(node["id"], template, opts)
        if node_deadline is not None:
            self.node_deadlines[node["id"]] = node_deadline
        self.active_pods.add(node["id"])
        if "http" not in template and "data" not in template:
            # The HTTP agent keeps every response as the result, and a data template's pod
            # reports its value (createWorkflowPod's includeScriptOutput).
            self.cache[f"result:{node['id']}"] = self._result_referenced(
                node_name, opts.boundary_id
            )
        volumes = self.volumes if self.volumes_templated else None
        logs = log_archive(self.spec, template, self.name, self._pod_name(node_name, template))
        self.launches.append(PodLaunch(node["id"], node_name, template, deadline, volumes, logs))
        initial = None if "http" in template else self._initial_progress(template)
        if initial is not None:
            node["progress"] = initial
        if template.get("daemon"):
            self.cache[f"daemon:{node['id']}"] = True
        if "containerSet" in template:
            self._init_container_nodes(node, template, opts)
        return node

    def _initial_progress(self, template: dict[str, Any]) -> str | None:
        """The pod's ``workflow.argoproj.io/progress`` annotation (``spec.podMetadata``'s, then
        the template's ``metadata``), if a valid progress: its node's from the pod's creation
        (workflowpod.go ``ProgressToApply``, applied by ``submitPod`` / ``setNodeProgress``)."""
        annotations = {
            **((self.spec.get("podMetadata") or {}).get("annotations") or {}),
            **((template.get("metadata") or {}).get("annotations") or {}),
        }
        value = annotations.get(PROGRESS_ANNOTATION)
        return None if value is None else parse_progress(str(value))

    def _pod_deadlines(self, nid: str, template: dict[str, Any], opts: ExecOpts) -> float | None:
        """The deadline of a pod while it waits to start; records the timing that depends on
        its start (``activeDeadlineSeconds``: Kubernetes counts it from the pod's
        ``status.startTime``, which a pod gets once bound to a node) and the limits that
        apply only while it is Pending (``timeout`` and ``pendingTimeout`` from the node's
        start, Argo's ``checkTemplateTimeouts``)."""
        with contextlib.suppress(ValueError):
            if template.get("activeDeadlineSeconds") not in (None, ""):
                self.start_deadlines[nid] = parse_duration(str(template["activeDeadlineSeconds"]))
        for key, deadlines in (
            ("timeout", self.timeout_deadlines),
            ("pendingTimeout", self.pending_deadlines),
        ):
            if template.get(key) not in (None, ""):
                with contextlib.suppress(ValueError):
                    deadlines[nid] = self.now + parse_duration(str(template[key]))
        unstarted = {k: v for k, v in template.items() if k != "activeDeadlineSeconds"}
        return self.container_deadline(unstarted, opts.on_exit)

    def _init_container_nodes(self, pod: Node, template: dict[str, Any], opts: ExecOpts) -> None:
        """Argo's ``executeContainerSet``: a Container node per container, bounded by the pod,
        linked along the containers' ``dependencies`` (roots hang off the pod node)."""
        containers = (template.get("containerSet") or {}).get("containers") or []
        child_opts = ExecOpts(pod["id"], opts.on_exit, opts.node_flag)
        for container in containers:
            name = f"{pod['name']}.{container['name']}"
            if self.get_node(name) is None:
                self.init_node(name, "Container", template.get("name"), child_opts, "Pending")
        for container in containers:
            name = f"{pod['name']}.{container['name']}"
            dependencies = container.get("dependencies") or []
            if not dependencies:
                self.add_child(pod["name"], name)
            for dependency in dependencies:
                self.add_child(f"{pod['name']}.{dependency}", name)

    def _execute_suspend(
        self,
        node_name: str,
        template: dict[str, Any],
        opts: ExecOpts,
        node: Node | None,
        inputs_record: dict[str, Any],
    ) -> Node:
        if node is None:
            node = self.init_node(node_name, "Suspend", template.get("name"), opts, "Running")
            if inputs_record:  # initializeExecutableNode records the template's inputs
                node["inputs"] = inputs_record
            raw = raw_output_fields(template)
            if raw:
                node["outputs"] = {"parameters": raw}
        if node["phase"] in FULFILLED_PHASES:
            return node
        if self.shutdown is not None and not opts.on_exit:
            return self.mark_phase(node_name, "Failed", self.shutdown_message())
        duration = (template.get("suspend") or {}).get("duration")
        if duration not in (None, ""):
            until = parse_time(node["startedAt"]) + parse_duration(str(duration))
            if self.now >= until:
                unset = override_with_defaults(node)  # else executeSuspend errors
                if unset is not None:
                    raise _TemplateError(unset, template.get("name"))
                return self.mark_phase(node_name, "Succeeded")
            self.wake_at(until)
        return node

    # ------------------------------------------------------------------ retries

    def _process_node_retries(self, node: Node, strategy: dict[str, Any]) -> bool:
        """Argo's ``processNodeRetries``; False means "wait for the backoff". It counts the
        attempts alone, not the hook children (``getChildNodeIdsAndLastRetriedNode``)."""
        if node["phase"] in FULFILLED_PHASES:
            return True
        children = retry_attempts(node, self.nodes)
        if not children:
            return True
        last = self.nodes[children[-1]]
        if last["phase"] not in FULFILLED_PHASES:
            return True
        if last["phase"] not in ("Failed", "Error"):
            if last.get("outputs"):
                node["outputs"] = json.loads(json.dumps(last["outputs"]))
            self.mark_phase(
                node["name"], last["phase"] if last["phase"] != "Skipped" else "Succeeded"
            )
            return True
        if self.shutdown is not None:
            self.mark_phase(node["name"], last["phase"], self._retry_stopped_message())
            return True
        limit = strategy.get("limit")
        # The backoff is waited out before the policy, the limit or the expression is read
        # (v3.6 on): an attempt that will not be retried still waits, as long as one is left.
        backoff = strategy.get("backoff")
        if backoff:
            first = self.nodes[children[0]]
            max_deadline = None
            if backoff.get("maxDuration"):
                max_deadline = _started_epoch(first) + parse_duration(str(backoff["maxDuration"]))
                if self.now >= max_deadline:
                    self.mark_phase(node["name"], last["phase"], "Max duration limit exceeded")
                    return True
            wait = parse_duration(str(backoff.get("duration", "0")))
            factor = float(str(backoff.get("factor", "0") or "0"))
            if factor > 0:
                wait *= factor ** (len(children) - 1)
            if backoff.get("cap"):
                wait = min(wait, parse_duration(str(backoff["cap"])))
            finished = self.finished_epoch.get(last["id"])
            if finished is None:
                finished = _finished_epoch(last)
            until = finished + wait
            if max_deadline is not None and until > max_deadline:
                self.mark_phase(
                    node["name"], last["phase"], "Backoff would exceed max duration limit"
                )
                return True
            if self.now < until and limit is not None and len(children) <= int(str(limit)):
                self.wake_at(until)
                node["message"] = f"Backoff for {_humanize(wait)}"
                return False
            node.pop("message", None)
        if not self._policy_retries(strategy, last):
            self.mark_phase(node["name"], last["phase"], last.get("message", ""))
            return True
        if limit is not None and len(children) > int(str(limit)):
            self.mark_phase(node["name"], last["phase"], "No more retries left")
            return True
        expression = strategy.get("expression")
        if expression:
            try:
                retried = exprlang.eval_bool(
                    expression, exprlang.build_env(self._retry_expression_scope(children, last))
                )
            except exprlang.ExprError as exc:  # Argo errors the retry node
                self.mark_phase(node["name"], "Error", str(exc))
                return True
            if not retried:
                self.mark_phase(
                    node["name"], last["phase"], "retryStrategy.expression evaluated to false"
                )
        return True

    @staticmethod
    def _policy_retries(strategy: dict[str, Any], last: Node) -> bool:
        """Whether ``retryPolicy`` retries an attempt that ended ``last["phase"]``."""
        policy = strategy.get("retryPolicy") or "OnFailure"
        if policy == "OnTransientError":
            return _is_transient(str(last.get("message", "")))
        on_failed = policy in ("Always", "OnFailure")
        on_error = policy in ("Always", "OnError")
        return not (
            (last["phase"] == "Failed" and not on_failed)
            or (last["phase"] == "Error" and not on_error)
        )

    @staticmethod
    def _last_retry_scope(last: Node | None, no_exit_code: str = "0") -> dict[str, str]:
        """``lastRetry.*`` in a retried template's body: the previous attempt's (an exit code
        it never had is ``no_exit_code``), else ``exitCode`` and ``duration`` "0" and the others
        empty (``executeTemplate`` in Argo's operator.go)."""
        if last is None:
            return {
                "lastRetry.exitCode": "0",
                "lastRetry.status": "",
                "lastRetry.duration": "0",
                "lastRetry.message": "",
            }
        started, finished = _started_epoch(last), _finished_epoch(last)
        return {
            "lastRetry.exitCode": str((last.get("outputs") or {}).get("exitCode", no_exit_code)),
            "lastRetry.status": str(last["phase"]),
            "lastRetry.duration": str(int(finished - started)),
            "lastRetry.message": str(last.get("message", "")),
        }

    def _retry_expression_scope(self, children: list[str], last: Node) -> dict[str, str]:
        """What ``retryStrategy.expression`` sees: ``retries`` (attempts so far, less one) and
        ``lastRetry.*``, nothing global (``buildRetryStrategyLocalScope``); an exit code the
        attempt never had is "-1" there."""
        return {"retries": str(len(children) - 1), **self._last_retry_scope(last, "-1")}

    # ------------------------------------------------------------------ hooks

    def run_on_exit_node(
        self,
        hook: dict[str, Any] | None,
        parent_name: str,
        boundary_id: str | None,
        scope: dict[str, str],
    ) -> tuple[bool, Node | None]:
        """Argo's ``runOnExitNode`` for a task or step exit hook: run when its ``expression``,
        if any, holds (one that cannot be evaluated errors the hook's node)."""
        if hook is None or not self.should_execute(True):
            return False, None
        name = on_exit_node_name(parent_name)
        expression = hook.get("expression")
        if expression and self.get_node(name) is None:
            try:
                execute = exprlang.eval_bool(
                    str(expression), exprlang.build_env({**self.global_scope, **scope})
                )
            except exprlang.ExprError as exc:
                opts = ExecOpts(boundary_id, True, {"hooked": True})
                errored = self.init_node(name, "Skipped", hook.get("template"), opts, "Error")
                errored["message"] = str(exc)
                self.add_child(parent_name, name)
                return True, errored
            if not execute:
                return False, None
        hook = substitute_all(hook, {**self.global_scope, **scope})
        node = self.execute_template(
            name, hook, hook.get("arguments") or {}, ExecOpts(boundary_id, True, {"hooked": True})
        )
        self.add_child(parent_name, name)
        return True, node

    def _hook_error(
        self,
        hook_node_name: str,
        hook: dict[str, Any],
        parent: Node,
        boundary_id: str | None,
        node_flag: dict[str, bool],
        error: Exception,
    ) -> None:
        """A hook that cannot start (its expression or arguments): a Skipped node in Error."""
        opts = ExecOpts(boundary_id, False, node_flag)
        self.init_node(hook_node_name, "Skipped", hook.get("template"), opts, "Error", str(error))
        self.add_child(parent["name"], hook_node_name)

    def run_lifecycle_hooks(
        self,
        hooks: dict[str, Any] | None,
        parent: Node,
        boundary_id: str | None,
        scope: Scope,
        node_flag: dict[str, bool] | None = None,
    ) -> bool:
        """Argo's ``executeTmplLifeCycleHook``: run each non-exit hook whose ``expression``
        holds (once started, a hook node keeps being reconciled); True once all are fulfilled.
        Hook nodes are flagged ``hooked`` (``node_flag``, by default that alone).

        A hook is ``<parent node name>.hooks.<hook name>``, a child of the parent node. An
        expression that cannot be evaluated errors the hook node with the evaluation message.
        """
        if not hooks:
            return True
        node_flag = node_flag or {"hooked": True}
        completed = True
        full = {**self.global_scope, **scope}
        for hook_name in sorted(hooks):
            if hook_name == "exit":
                continue
            hook = hooks[hook_name] or {}
            hook_node_name = f"{parent['name']}.hooks.{hook_name}"
            existing = self.get_node(hook_node_name)
            if existing is None:
                if not self.should_execute(False):
                    continue
                try:
                    execute = exprlang.eval_bool(
                        str(hook.get("expression", "")), exprlang.build_env(full)
                    )
                except exprlang.ExprError as exc:
                    self._hook_error(hook_node_name, hook, parent, boundary_id, node_flag, exc)
                    continue
                if not execute:
                    continue
            try:  # resolveExitTmplArgument, after markAbsentOptionalArgs
                body = mark_absent_arguments(
                    {k: v for k, v in hook.items() if k != "expression"}, full
                )
                resolved = substitute_all(body, full)
            except ExpressionError as exc:
                if existing is None:
                    self._hook_error(hook_node_name, hook, parent, boundary_id, node_flag, exc)
                continue
            node = self.execute_template(
                hook_node_name,
                resolved,
                resolved.get("arguments") or {},
                ExecOpts(boundary_id, False, node_flag),
            )
            if node is not None:
                self.add_child(parent["name"], hook_node_name)
            if node is None or node["phase"] not in FULFILLED_PHASES:
                completed = False
        return completed

    def _workflow_lifecycle_hooks(self, root: Node | None) -> bool:
        """Workflow-level ``spec.hooks`` (not ``exit``), over the entrypoint's status."""
        hooks = {k: v for k, v in (self.spec.get("hooks") or {}).items() if k != "exit"}
        if not hooks or root is None:
            return True
        scope = {"workflow.status": self.global_scope["workflow.status"]}
        return self.run_lifecycle_hooks(hooks, root, None, scope, {"hooked": True})

    # ------------------------------------------------------------------ runner callbacks

    def pod_unschedulable(self, nid: str, reason: str, message: str) -> bool:
        """The scheduler found no room for the pod: while it stays Pending, the node carries
        the pod's ``PodScheduled`` condition as ``<reason>: <message>`` (Argo's
        ``assessNodeStatus`` / ``getPendingReason``, workflow/controller/operator.go).
        True when the node changed."""
        node = self.nodes.get(nid)
        text = f"{reason}: {message}" if message else reason
        if node is None or node["phase"] != "Pending" or node.get("message") == text:
            return False
        node["message"] = text
        return True

    def pod_progress(self, nid: str, progress: str) -> bool:
        """A pod's self-reported progress onto its node, as taskresult.go
        ``taskResultReconciliation`` copies a task result's: only a valid one. True when the
        node changed."""
        node = self.nodes.get(nid)
        if node is None or not is_valid_progress(progress) or node.get("progress") == progress:
            return False
        node["progress"] = progress
        return True

    def pod_initializing(self, nid: str) -> bool:
        """The pod's init containers run: it stays Pending, and Argo's ``getPendingReason``
        reads the waiting reason kubelet gives its other containers meanwhile. True if the
        node changed."""
        node = self.nodes[nid]
        if node["phase"] != "Pending" or node.get("message") == POD_INITIALIZING:
            return False
        node["message"] = POD_INITIALIZING
        return True

    def pod_started(self, nid: str) -> None:
        node = self.nodes[nid]
        if node["phase"] == "Pending":
            node["phase"] = "Running"
            # Leaving Pending clears the Pending reason (Argo's ``assessNodeStatus``).
            node.pop("message", None)
            node["hostNodeName"] = self.host_name
            self.pending_deadlines.pop(nid, None)
            seconds = self.start_deadlines.pop(nid, None)
            if seconds is not None:
                until = self.clock() + seconds
                self.node_deadlines[nid] = min(self.node_deadlines.get(nid, until), until)
            if self.cache.get(f"daemon:{nid}"):
                # A daemon is up once its pod runs; successors go on (Argo: ``daemoned``).
                node["daemoned"] = True
                node["podIP"] = "127.0.0.1"
                self._mark_retry_parent_daemoned(node)

    def _mark_retry_parent_daemoned(self, node: Node) -> None:
        parent = self.get_node(node["name"].rsplit("(", 1)[0]) if "(" in node["name"] else None
        if parent is not None and parent["type"] == "Retry":
            parent["daemoned"] = True

    def kill_daemoned_children(self, boundary_id: str) -> None:
        """Argo's ``killDaemonedChildren``: once a boundary is done its daemons are stopped and
        their nodes marked Succeeded (no longer daemoned)."""
        for node in self.nodes.values():
            if node.get("boundaryID") != boundary_id or not node.get("daemoned"):
                continue
            node.pop("daemoned", None)
            if node["phase"] not in FULFILLED_PHASES:
                node["phase"] = "Succeeded"
                node["finishedAt"] = format_time(self.now)
                self.finished_epoch[node["id"]] = self.now
            if node["id"] in self.active_pods and node["type"] in LEAF_WORK_TYPES:
                self.daemons_stopped.add(node["id"])
                self.kills[node["id"]] = "daemon stopped"

    def pod_finished(self, nid: str, outcome: PodOutcome) -> None:
        self.now = self.clock()
        node = self.nodes[nid]
        self.active_pods.discard(nid)
        self.kills.pop(nid, None)
        for deadlines in (self.start_deadlines, self.timeout_deadlines, self.pending_deadlines):
            deadlines.pop(nid, None)
        reason = self.kill_reasons.pop(nid, None)
        if nid in self.daemons_stopped:  # stopped on purpose; its node is already Succeeded
            self.daemons_stopped.discard(nid)
            return
        if outcome.error:
            phase, message = "Error", outcome.error
        elif reason is not None:
            phase, message = "Failed", reason
        elif outcome.exit_code == 0:
            # assessNodeStatus: a daemon is to run until its scope ends; one that exits is Failed.
            phase, message = ("Failed" if self.cache.get(f"daemon:{nid}") else "Succeeded"), ""
        else:
            phase = "Failed"
            message = outcome.message or failed_reason(outcome)
        node.pop("daemoned", None)  # its pod has ended (assessNodeStatus)
        outputs = dict(outcome.outputs)
        if not self.cache.pop(f"result:{nid}", True):
            outputs.pop("result", None)
        if outputs:
            node["outputs"] = outputs
            self._publish_global_outputs(outputs, nid)
        duration = (
            max(1, round(outcome.finished_at - outcome.started_at)) if outcome.finished_at else 1
        )
        if outcome.scheduled:
            node["resourcesDuration"] = {"cpu": duration, "memory": duration}
            node.setdefault("hostNodeName", self.host_name)
        self.mark_phase(node["name"], phase, message)
        if outcome.finished_at:
            self.finished_epoch[nid] = outcome.finished_at
            node["finishedAt"] = format_time(outcome.finished_at)
        for container, end in outcome.containers.items():
            # assessNodeStatus: a container node after its container's state; exit code 64 is
            # the emissary's own error (a missing command, a failed dependency).
            child = self.get_node(f"{node['name']}.{container}")
            if child is None:
                continue
            if end.exit_code == 0:
                self.mark_phase(child["name"], "Succeeded")
            elif end.exit_code is None:
                self.mark_phase(child["name"], phase if phase != "Succeeded" else "Failed", message)
            else:
                ended = f"{container}: Error (exit code {end.exit_code}): {end.message}"
                self.mark_phase(child["name"], "Error" if end.exit_code == 64 else "Failed", ended)

    def _publish_global_outputs(self, outputs: dict[str, Any], owner: str | None = None) -> None:
        """``globalName`` outputs become ``workflow.outputs.*`` and ``status.outputs``."""
        status_outputs = self.status.get("outputs") or {}

        def put(kind: str, entry: dict[str, Any]) -> None:
            # An output already there is updated in place, a new one appended
            # (AddParamToGlobalScope, workflow/util/util.go; addArtifactToGlobalScope).
            listed = status_outputs.setdefault(kind, [])
            at = next((i for i, e in enumerate(listed) if e["name"] == entry["name"]), None)
            if at is None:
                listed.append(entry)
            else:
                listed[at] = entry

        for param in outputs.get("parameters") or []:
            if param.get("globalName"):
                entry = {"name": param["globalName"], "value": str(param.get("value", ""))}
                put("parameters", entry)
                self.global_scope[f"workflow.outputs.parameters.{entry['name']}"] = entry["value"]
        for artifact in outputs.get("artifacts") or []:
            if artifact.get("globalName") and owner is not None:
                entry = {k: v for k, v in artifact.items() if k not in ("globalName", "path")}
                entry["name"] = artifact["globalName"]
                put("artifacts", entry)
                self.global_scope[f"workflow.outputs.artifacts.{entry['name']}"] = (
                    f"{ARTIFACT_REF_PREFIX}{owner}/{artifact['name']}"
                )
        if status_outputs:
            self.status["outputs"] = status_outputs

    # ------------------------------------------------------------------ control requests

    def request_shutdown(self, strategy: str) -> None:
        self.spec["shutdown"] = strategy

    def set_suspended(self, suspended: bool) -> None:
        if suspended:
            self.spec["suspend"] = True
            return
        self.spec.pop("suspend", None)
        self.now = self.clock()
        waiting = [n for n in self.nodes.values() if is_active_suspend(n)]
        if any(unset_output(n) for n in waiting):
            return  # ResumeWorkflow changes nothing then (LocalBackend.resume refuses it)
        for node in waiting:
            override_with_defaults(node)
            # ResumeWorkflow: the message set on the node, then who resumed it (nobody here)
            message = f"{node['message']}; " if node.get("message") else ""
            self.mark_phase(node["name"], "Succeeded", message or None)

    def set_node_values(
        self, selector: str, outputs: dict[str, str], phase: str | None, message: str | None
    ) -> None:
        """``updateSuspendedNode`` (workflow/util/util.go) on the running Suspend nodes the node
        field selector matches: their supplied ``outputs``, ``message`` and ``phase`` (resume:
        Succeeded, stop: Failed; ``argo node set`` any, checked by ``LocalBackend.set_node``)."""
        matcher = NodeSelector.parse(selector)
        self.now = self.clock()
        for node in list(self.nodes.values()):
            if not (is_active_suspend(node) and matcher.matches(node)):
                continue
            for param in (node.get("outputs") or {}).get("parameters") or []:
                if param["name"] in outputs:
                    param["value"] = outputs[param["name"]]
                    param.pop("valueFrom", None)
                    self._publish_global_outputs({"parameters": [param]}, node["id"])
            if message:
                node["message"] = message
            if phase:
                self.mark_phase(node["name"], phase, node.get("message"))

    def template_outputs(self, template: dict[str, Any], scope: Scope) -> dict[str, Any] | None:
        """Outputs of a DAG/steps template, read from its tasks' or steps' outputs.

        Raises ``ExpressionError`` when a ``valueFrom.expression`` fails or yields nil, or a
        parameter reads an absent optional, without a ``valueFrom.default`` to fall back on
        (Argo's ``getTemplateOutputsFromScope`` and ``resolveParameter``), or when an artifact's
        ``from`` cannot be resolved and it is not optional; the node then errors.
        """
        spec = template.get("outputs") or {}
        full = {**self.global_scope, **scope}
        params = []
        for param in spec.get("parameters") or []:
            value_from = param.get("valueFrom") or {}
            raw = value_from.get("parameter", param.get("value"))
            if absent_reference(raw, full):
                if "default" not in value_from:
                    raise AbsentOptionalError(
                        f"output parameter {go_quote(param['name'])}: {go_quote(str(raw))} is an "
                        "absent optional (skipped/omitted node output with no default)"
                    )
                raw = None
            if raw is None and "expression" in value_from:
                expression = str(value_from["expression"])
                try:
                    result = exprlang.evaluate(expression, exprlang.build_env(full))
                    if result is None:  # an unhandled absent optional, as a {{= }} tag
                        raise exprlang.ExprError(
                            f"failed to evaluate expression {go_quote(expression)}"
                        )
                    raw = exprlang.go_format(result)
                except exprlang.ExprError:
                    if "default" not in value_from:
                        raise
            if raw is None:
                raw = value_from.get("default", "")
            try:
                value = substitute(str(raw), full)
            except AbsentOptionalError:
                if "default" not in value_from:
                    raise
                value = str(value_from["default"])
            if unresolved(value) and "default" in value_from:
                value = str(value_from["default"])
            entry = {"name": param["name"], "value": value}
            if param.get("globalName"):
                entry["globalName"] = param["globalName"]
            params.append(entry)
        artifacts = []
        for artifact in spec.get("artifacts") or []:
            if artifact.get("fromExpression"):
                result = exprlang.evaluate(
                    str(artifact["fromExpression"]), exprlang.build_env(full)
                )
                source = "" if result is None else exprlang.go_format(result)
            elif artifact.get("from"):
                source = substitute(str(artifact["from"]), full)
                if unresolved(source):  # resolveArtifact: an optional one is left out
                    if artifact.get("optional"):
                        continue
                    tag = str(artifact["from"]).strip().removeprefix("{{").removesuffix("}}")
                    raise ExpressionError(
                        f"unable to resolve outputs from scope: Unable to resolve: "
                        f"{go_quote(tag.strip())}"
                    )
            else:
                continue
            artifacts.append({"name": artifact["name"], "from": source})
        outputs: dict[str, Any] = {}
        if params:
            outputs["parameters"] = params
            self._publish_global_outputs(outputs)
        if artifacts:
            outputs["artifacts"] = artifacts
        return outputs or None


class _TemplateError(Exception):
    """A template that cannot be resolved or given its inputs (``execute_template_err``)."""

    def __init__(self, message: str, template_name: str | None) -> None:
        super().__init__(message)
        self.template_name = template_name


_TRANSIENT_MESSAGES = (
    "connection reset by peer",
    "connection refused",
    "i/o timeout",
    "net/http: TLS handshake timeout",
    "http2: client connection lost",
    "etcdserver: leader changed",
    "etcdserver: request timed out",
    "the object has been modified; please apply your changes to the latest version",
)


def _is_transient(message: str) -> bool:
    """Argo's ``IsTransientErr`` for a node message: known transient errors, or a match of
    ``TRANSIENT_ERROR_PATTERN`` (an environment variable of the controller, here the runner)."""
    pattern = os.environ.get("TRANSIENT_ERROR_PATTERN")
    if pattern and re.search(pattern, message):
        return True
    return any(text in message for text in _TRANSIENT_MESSAGES)


_STRFTIME_CHARS = "aAbBcCdDeFgGhHIjklmMnprRsStTuUVwWxXyYzZ"


def _timestamp_variables(created: str) -> dict[str, str]:
    """``workflow.creationTimestamp.<c>`` for each strftime character, ``.RFC3339`` and ``.s``."""
    try:
        stamp = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return {}
    scope = {"workflow.creationTimestamp.RFC3339": stamp.strftime("%Y-%m-%dT%H:%M:%SZ")}
    for char in _STRFTIME_CHARS:
        if char == "s":
            value = str(int(stamp.timestamp()))
        elif char in "lk":  # hour without padding (12h / 24h)
            hour = stamp.hour if char == "k" else (stamp.hour % 12 or 12)
            value = f"{hour:2d}"
        else:
            try:
                value = stamp.strftime(f"%{char}")
            except ValueError:
                continue
        scope[f"workflow.creationTimestamp.{char}"] = value
    return scope


def step_or_task_name(node_name: str) -> str:
    """``getStepOrDAGTaskName``: the step or task a node runs for, without the loop, retry and
    step-group suffixes (``.fanout1(0:1)(0)[0]`` -> ``fanout1``)."""
    end, opener = len(node_name), ""
    for index in range(len(node_name) - 1, -1, -1):
        char = node_name[index]
        if opener:
            opener = "" if char == opener else opener
        elif char in ")]":
            opener = "(" if char == ")" else "["
        else:
            end = index + 1
            break
    return node_name[:end].rsplit(".", 1)[-1]


POD_KINDS = ("container", "script", "containerSet", "data")
"""Templates that run as a pod of their own (Argo's ``IsPodType``, of those the runner has)."""


def _dangling_tags(processed: dict[str, Any], as_written: dict[str, Any]) -> list[str]:
    """References in the template as written that no scope resolved: Argo refuses them when
    the workflow is submitted (``resolveAllVariables``, validate.go); the local runner, which
    checks no scopes then, errors the pod instead. An expression that fails is left as written
    and runs (``expressionReplaceCore``: ``SubstituteParams`` allows unresolved tags), and
    ``{{...}}`` text an argument brought in is not a tag of the template."""
    dangling = [tag for tag in unresolved(_pod_body(processed)) if not tag.startswith("{{=")]
    if not dangling:
        return []
    written = set(unresolved(_pod_body(as_written)))
    return [tag for tag in dangling if tag in written]


def _pod_body(template: dict[str, Any]) -> dict[str, Any]:
    """What of a template reaches its pod: all but its inputs, outputs and metrics."""
    return {k: v for k, v in template.items() if k not in ("outputs", "inputs", "metrics")}


def _retry_strategy(template: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any] | None:
    """A template's own retryStrategy, else the workflow's (``retryStrategy`` in Argo's
    operator.go): the spec's applies to every template, steps and DAGs included. An empty one
    (``retryStrategy: {}``) is a strategy too: its attempts go on without limit."""
    own = template.get("retryStrategy")
    return own if own is not None else spec.get("retryStrategy")


def _template_kind(template: dict[str, Any]) -> str:
    for kind in ("container", "script", "http", "containerSet", "data", "steps", "dag", "suspend"):
        if kind in template:
            return kind
    return "unknown"


def _node_type_of(template: dict[str, Any]) -> str:
    return {"steps": "Steps", "dag": "DAG", "suspend": "Suspend", "http": "HTTP"}.get(
        _template_kind(template), "Pod"
    )


_GO_ZERO_TIME = -62135596800.0
"""Go's zero ``time.Time`` (0001-01-01T00:00:00Z) as a Unix time."""


def _debugged(template: dict[str, Any]) -> bool:
    """A main container asks for ``ARGO_DEBUG_PAUSE_BEFORE``/``AFTER`` (workflowpod.go)."""
    main = template.get("container") or template.get("script")
    containers = [main] if main else (template.get("containerSet") or {}).get("containers") or []
    names = ("ARGO_DEBUG_PAUSE_BEFORE", "ARGO_DEBUG_PAUSE_AFTER")
    return any(e.get("name") in names for c in containers for e in c.get("env") or [])


def _pod_to_create(node: Node) -> bool:
    """A Pending pod node with no start: a failed pod a memoized resubmit made Pending again
    (``FormulateResubmitWorkflow``); its pod does not exist, it "can be re-run"
    (``podReconciliation``, workflow/controller/operator.go)."""
    return (
        node["type"] in LEAF_WORK_TYPES and node["phase"] == "Pending" and not node.get("startedAt")
    )


def _started_epoch(node: Node) -> float:
    """A node's ``startedAt``; Go's zero time when it has none (a retry attempt a memoized
    resubmit started again: ``executeTemplate`` starts the Retry node, not its attempt)."""
    return parse_time(node["startedAt"]) if node.get("startedAt") else _GO_ZERO_TIME


def _finished_epoch(node: Node) -> float:
    return parse_time(node["finishedAt"]) if node.get("finishedAt") else _started_epoch(node)


def _humanize(seconds: float) -> str:
    if seconds < 60:
        return f"{round(seconds)} seconds"
    return f"{round(seconds / 60)} minutes"


__all__ += ["COMPLETED_PHASES"]
