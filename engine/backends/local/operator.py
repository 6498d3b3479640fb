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
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from engine.backends.local import dag, steps
from engine.backends.local.durations import parse_duration
from engine.backends.local.expressions import ExpressionError, evaluate_when
from engine.backends.local.nodes import (
    COMPLETED_PHASES,
    FULFILLED_PHASES,
    LEAF_WORK_TYPES,
    Node,
    new_node,
    node_id,
    on_exit_node_name,
    retry_attempt_name,
)
from engine.backends.local.scope import ArgumentError, ConfigLookup, process_inputs
from engine.backends.local.variables import substitute, substitute_all, unresolved

__all__ = [
    "DEADLINE_MESSAGE",
    "ExecOpts",
    "PodLaunch",
    "PodOutcome",
    "TemplateLookup",
    "WorkflowOperator",
    "format_time",
    "parse_time",
]

DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"
_WORKFLOW_PHASE_OF_NODE = {
    "Pending": "Running",
    "Running": "Running",
    "Succeeded": "Succeeded",
    "Skipped": "Succeeded",
    "Omitted": "Succeeded",
    "Failed": "Failed",
    "Error": "Error",
}

#: Resolves a ``templateRef`` (name, template, clusterScope) from the local store.
TemplateLookup = Callable[[str, str, bool], dict[str, Any] | None]


def format_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class ExecOpts:
    """How a template is being executed (Argo's ``executeTemplateOpts``)."""

    boundary_id: str | None = None
    on_exit: bool = False
    node_flag: dict[str, bool] | None = None


@dataclass(slots=True)
class PodLaunch:
    """A container/script node the runner must start."""

    node_id: str
    node_name: str
    template: dict[str, Any]
    deadline: float | None


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


class WorkflowOperator:
    """Reconciles one Workflow object (manifest + ``status``) in place."""

    def __init__(
        self,
        workflow: dict[str, Any],
        *,
        clock: Callable[[], float] = time.time,
        config_lookup: ConfigLookup = lambda kind, name, key: None,
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
        self.template_lookup = template_lookup
        self.host_name = host_name
        self.templates = {t["name"]: t for t in self.spec.get("templates") or []}
        self.launches: list[PodLaunch] = []
        self.kills: dict[str, str] = {}
        self.kill_reasons: dict[str, str] = {}
        self.active_pods: set[str] = {
            n["id"]
            for n in self.nodes.values()
            if n["type"] in LEAF_WORK_TYPES and n["phase"] in ("Pending", "Running")
        }
        self.node_deadlines: dict[str, float] = {}
        self.finished_epoch: dict[str, float] = {}
        self.wakeups: list[float] = []
        self.cache: dict[str, Any] = {}
        self.now = clock()
        self.global_scope = self._build_global_scope()

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
            ref = (param.get("valueFrom") or {}).get("configMapKeyRef")
            if value is None and ref:
                value = self.config_lookup("ConfigMap", ref.get("name", ""), ref.get("key", ""))
            if value is None:
                value = param.get("default", "")
            text = value if isinstance(value, str) else json.dumps(value)
            scope[f"workflow.parameters.{param['name']}"] = text
            params.append({"name": param["name"], "value": text})
        scope["workflow.parameters"] = json.dumps(params, separators=(",", ":"))
        for kind in ("labels", "annotations"):
            for key, value in (meta.get(kind) or {}).items():
                scope[f"workflow.{kind}.{key}"] = str(value)
        for param in (self.status.get("outputs") or {}).get("parameters") or []:
            scope[f"workflow.outputs.parameters.{param['name']}"] = str(param.get("value", ""))
        return scope

    def resolve_template(self, holder: dict[str, Any]) -> dict[str, Any]:
        """The template a task/step/hook names (``template``, ``inline`` or ``templateRef``)."""
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
        else:
            name = holder.get("template", "")
            if name not in self.templates:
                raise ArgumentError(f"template '{name}' not found")
            template = self.templates[name]
        defaults = self.spec.get("templateDefaults")
        if defaults:
            merged = dict(defaults)
            for key, value in template.items():
                if isinstance(value, dict) and isinstance(merged.get(key), dict):
                    merged[key] = {**merged[key], **value}
                else:
                    merged[key] = value
            template = merged
        return template

    # ------------------------------------------------------------------ node bookkeeping

    def get_node(self, name: str) -> Node | None:
        return self.nodes.get(node_id(self.name, name))

    def get_node_id(self, name: str) -> str:
        return node_id(self.name, name)

    def artifact_owner(self, node: Node) -> str:
        """The pod node whose stored artifacts a node's outputs are (Retry: last attempt)."""
        children = node.get("children") or []
        if node["type"] == "Retry" and children and children[-1] in self.nodes:
            return self.artifact_owner(self.nodes[children[-1]])
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
        if child_id not in children:
            children.append(child_id)

    def mark_phase(self, name: str, phase: str, message: str | None = None) -> Node:
        node = self.nodes[node_id(self.name, name)]
        if node["phase"] != phase:
            node["phase"] = phase
            if phase in FULFILLED_PHASES and not node.get("finishedAt"):
                node["finishedAt"] = format_time(self.now)
                self.finished_epoch[node["id"]] = self.now
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
        if node["phase"] in FULFILLED_PHASES:
            return False
        if node["type"] in LEAF_WORK_TYPES:
            return True
        if node["type"] == "Retry":
            children = node.get("children") or []
            return bool(children) and self.is_waiting_on_pod(self.nodes[children[-1]])
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

    def shutdown_message(self) -> str:
        strategy = self.shutdown
        if strategy == "Deadline":
            return DEADLINE_MESSAGE
        return f"Stopped with strategy '{strategy}'"

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
        candidates.extend(
            d for n, d in self.node_deadlines.items() if n in self.active_pods and d > self.now
        )
        return min(candidates) if candidates else None

    def check_parallelism(self, template: dict[str, Any], boundary_id: str | None) -> bool:
        limit = self.spec.get("parallelism")
        if limit is not None and len(self.active_pods) >= int(limit):
            return False
        if boundary_id is None:
            return True
        boundary_tmpl = self.cache.get(f"template:{boundary_id}")
        if boundary_tmpl and boundary_tmpl.get("parallelism") is not None:
            active = sum(
                1
                for n in self.nodes.values()
                if n.get("boundaryID") == boundary_id
                and n["type"] in (*LEAF_WORK_TYPES, "DAG", "Steps", "Suspend")
                and n["phase"] not in FULFILLED_PHASES
            )
            if active >= int(boundary_tmpl["parallelism"]):
                return False
        return True

    # ------------------------------------------------------------------ the reconcile pass

    def operate(self) -> None:
        self.now = self.clock()
        self.wakeups = []
        if self.status.get("phase") in ("Succeeded", "Failed", "Error"):
            return
        if not self.status.get("phase") or self.status["phase"] == "Pending":
            self.status["phase"] = "Running"
            self.status.setdefault("startedAt", format_time(self.now))
        started = parse_time(self.status["startedAt"])
        self.global_scope["workflow.duration"] = f"{self.now - started:.6f}"
        if self.shutdown is not None:
            self._shut_down_running()
        self._enforce_pod_deadlines()
        entry = {"template": self.spec.get("entrypoint", "")}
        if "workflowTemplateRef" in self.spec:
            entry = {"template": self.spec.get("entrypoint", "")}
        root = self.execute_template(self.name, entry, self.spec.get("arguments") or {}, ExecOpts())
        if root is None or root["phase"] not in FULFILLED_PHASES:
            return
        workflow_phase = _WORKFLOW_PHASE_OF_NODE[root["phase"]]
        exit_hook = self._workflow_exit_hook() if self.should_execute(True) else None
        on_exit: Node | None = None
        if exit_hook is not None:
            self.global_scope["workflow.status"] = workflow_phase
            self.global_scope["workflow.failures"] = self._failures_json()
            on_exit = self.execute_template(
                on_exit_node_name(self.name),
                exit_hook,
                exit_hook.get("arguments") or {},
                ExecOpts(on_exit=True),
            )
            if on_exit is None or on_exit["phase"] not in FULFILLED_PHASES:
                return
        message = root.get("message", "")
        if root["phase"] in ("Failed", "Error") and self.shutdown is not None:
            message = self.shutdown_message()
        if (
            workflow_phase == "Succeeded"
            and on_exit is not None
            and on_exit["phase"] in ("Failed", "Error")
        ):
            workflow_phase, message = on_exit["phase"], on_exit.get("message", "")
        if workflow_phase in ("Failed", "Error") and not message:
            message = self._first_failure_message()
        self._complete_workflow(workflow_phase, message)

    def _workflow_exit_hook(self) -> dict[str, Any] | None:
        hooks = self.spec.get("hooks") or {}
        if "exit" in hooks:
            return dict(hooks["exit"])
        if self.spec.get("onExit"):
            return {"template": self.spec["onExit"]}
        return None

    def _failures_json(self) -> str:
        failures = []
        for node in self.nodes.values():
            if node["type"] in LEAF_WORK_TYPES and node["phase"] in ("Failed", "Error"):
                failures.append(
                    {
                        "displayName": node["displayName"],
                        "message": node.get("message", ""),
                        "templateName": node.get("templateName", ""),
                        "phase": node["phase"],
                        "podName": node["id"],
                        "finishedAt": node.get("finishedAt") or "",
                    }
                )
        return json.dumps(failures, separators=(",", ":"))

    def _first_failure_message(self) -> str:
        for node in self.nodes.values():
            if (
                node["phase"] in ("Failed", "Error")
                and node.get("message")
                and node["type"] in LEAF_WORK_TYPES
            ):
                return str(node["message"])
        return ""

    def _complete_workflow(self, phase: str, message: str) -> None:
        self.status["phase"] = phase
        self.status["finishedAt"] = format_time(self.now)
        if message:
            self.status["message"] = message
        else:
            self.status.pop("message", None)
        self.status["conditions"] = [{"type": "Completed", "status": "True"}]
        labels = self.wf["metadata"].setdefault("labels", {})
        labels["workflows.argoproj.io/phase"] = phase
        labels["workflows.argoproj.io/completed"] = "true"

    @property
    def completed(self) -> bool:
        return self.status.get("phase") in ("Succeeded", "Failed", "Error")

    def _shut_down_running(self) -> None:
        message = self.shutdown_message()
        for nid in list(self.active_pods):
            if nid not in self.kill_reasons and not self._is_exit_handler_pod(nid):
                self.kill_reasons[nid] = message
                self.kills[nid] = message
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
            deadline = self.node_deadlines.get(nid)
            if deadline is not None and self.now >= deadline and nid not in self.kill_reasons:
                self.kill_reasons[nid] = DEADLINE_MESSAGE
                self.kills[nid] = DEADLINE_MESSAGE

    # ------------------------------------------------------------------ template dispatch

    def execute_template(
        self,
        node_name: str,
        holder: dict[str, Any],
        arguments: dict[str, Any],
        opts: ExecOpts,
    ) -> Node | None:
        """Argo's ``executeTemplate``: returns the node, or None when it may not start yet."""
        node = self.get_node(node_name)
        if node is not None and (node["phase"] in FULFILLED_PHASES or self.is_waiting_on_pod(node)):
            return node
        try:
            template = self.resolve_template(holder)
        except ArgumentError as exc:
            return node or self.init_node(
                node_name, "Skipped", holder.get("template"), opts, "Error", str(exc)
            )
        template_name = template.get("name") or holder.get("template")
        if node is None:
            if not self.should_execute(opts.on_exit):
                return self.init_node(
                    node_name,
                    "Skipped",
                    template_name,
                    opts,
                    "Skipped",
                    f"workflow shutdown with strategy: {self.spec.get('shutdown') or 'Deadline'}",
                )
            if self.spec.get("suspend") and not opts.on_exit:
                return None
            if not self.check_parallelism(template, opts.boundary_id):
                return None
        retry_strategy = template.get("retryStrategy")
        extra_scope = {} if retry_strategy else {"pod.name": node_id(self.name, node_name)}
        extra_scope["node.name"] = node_name
        cached = self.cache.get(f"processed:{node_name}") if node is not None else None
        try:
            if cached is not None:
                processed, inputs_record = cached
            else:
                processed, inputs_record = process_inputs(
                    template, arguments, self.global_scope, self.config_lookup, extra_scope
                )
                if not retry_strategy and _template_kind(processed) in ("dag", "steps"):
                    # A running DAG/steps node re-enters every pass with the same inputs.
                    self.cache[f"processed:{node_name}"] = (processed, inputs_record)
        except (ArgumentError, ExpressionError) as exc:
            node_type = "Retry" if retry_strategy else _node_type_of(template)
            failed = node or self.init_node(node_name, node_type, template_name, opts, "Error")
            return self.mark_phase(node_name, "Error", str(exc)) if failed else None

        retry_node_name: str | None = None
        if retry_strategy:
            retry_node_name = node_name
            retry_node = node or self.init_node(node_name, "Retry", template_name, opts, "Running")
            if inputs_record:
                retry_node["inputs"] = inputs_record
            if not self._process_node_retries(retry_node, processed["retryStrategy"]):
                return retry_node
            if retry_node["phase"] in FULFILLED_PHASES:
                return retry_node
            children = retry_node.get("children") or []
            last = self.nodes[children[-1]] if children else None
            if last is not None and last["phase"] not in FULFILLED_PHASES:
                node_name, node = last["name"], last
            else:
                attempt = len(children)
                node_name = retry_attempt_name(retry_node_name, attempt)
                self.add_child(retry_node_name, node_name)
                node = None
                processed = substitute_all(
                    processed,
                    {
                        "retries": str(attempt),
                        "pod.name": node_id(self.name, node_name),
                        "node.name": node_name,
                    },
                )
            opts = replace(opts, node_flag={**(opts.node_flag or {}), "retried": True})

        kind = _template_kind(processed)
        if kind in ("container", "script", "http"):
            node = self._execute_pod(node_name, processed, opts, node, inputs_record)
        elif kind == "steps":
            node = steps.execute_steps(self, node_name, processed, opts, inputs_record)
        elif kind == "dag":
            node = dag.execute_dag(self, node_name, processed, opts, inputs_record)
        elif kind == "suspend":
            node = self._execute_suspend(node_name, processed, opts, node)
        else:  # pragma: no cover - refused by validation
            node = node or self.init_node(
                node_name, "Pod", template_name, opts, "Error", f"unsupported template '{kind}'"
            )

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

    def container_deadline(self, template: dict[str, Any], boundary_id: str | None) -> float | None:
        """Earliest of the template's own deadline, its boundaries' timeouts and the workflow's."""
        candidates: list[float] = []
        for key in ("activeDeadlineSeconds", "timeout"):
            if template.get(key) not in (None, ""):
                with contextlib.suppress(ValueError):
                    candidates.append(self.now + parse_duration(str(template[key])))
        current = boundary_id
        while current:
            if current in self.node_deadlines:
                candidates.append(self.node_deadlines[current])
            current = self.nodes[current].get("boundaryID") if current in self.nodes else None
        workflow_deadline = self.workflow_deadline()
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
            self.record_boundary_deadline(node, template)
        return node

    def record_boundary_deadline(self, node: Node, template: dict[str, Any]) -> None:
        """DAG/steps ``timeout`` bounds every pod inside it."""
        for key in ("timeout", "activeDeadlineSeconds"):
            if template.get(key) not in (None, "") and node["id"] not in self.node_deadlines:
                try:
                    started = parse_time(node["startedAt"])
                    self.node_deadlines[node["id"]] = started + parse_duration(str(template[key]))
                except ValueError:
                    pass

    def _execute_pod(
        self,
        node_name: str,
        template: dict[str, Any],
        opts: ExecOpts,
        node: Node | None,
        inputs_record: dict[str, Any],
    ) -> Node:
        if node is not None:
            return node
        node_type = "HTTP" if "http" in template else "Pod"
        node = self.init_node(node_name, node_type, template.get("name"), opts, "Pending")
        if inputs_record:
            node["inputs"] = inputs_record
        dangling = unresolved({k: v for k, v in template.items() if k not in ("outputs", "inputs")})
        if dangling:
            return self.mark_phase(node_name, "Error", f"failed to resolve {dangling[0]}")
        deadline = self.container_deadline(template, opts.boundary_id)
        if deadline is not None:
            self.node_deadlines[node["id"]] = deadline
        self.active_pods.add(node["id"])
        self.launches.append(PodLaunch(node["id"], node_name, template, deadline))
        return node

    def _execute_suspend(
        self, node_name: str, template: dict[str, Any], opts: ExecOpts, node: Node | None
    ) -> Node:
        if node is None:
            node = self.init_node(node_name, "Suspend", template.get("name"), opts, "Running")
        if node["phase"] in FULFILLED_PHASES:
            return node
        if self.shutdown is not None and not opts.on_exit:
            return self.mark_phase(node_name, "Failed", self.shutdown_message())
        duration = (template.get("suspend") or {}).get("duration")
        if duration not in (None, ""):
            until = parse_time(node["startedAt"]) + parse_duration(str(duration))
            if self.now >= until:
                self._set_suspend_outputs(node, template)
                return self.mark_phase(node_name, "Succeeded")
            self.wake_at(until)
        self.cache[f"suspend-template:{node['id']}"] = template
        return node

    def _set_suspend_outputs(self, node: Node, template: dict[str, Any]) -> None:
        params = []
        for param in (template.get("outputs") or {}).get("parameters") or []:
            value_from = param.get("valueFrom") or {}
            value = param.get("value", value_from.get("default"))
            if value is not None:
                params.append({"name": param["name"], "value": str(value)})
        if params:
            node["outputs"] = {"parameters": params}

    # ------------------------------------------------------------------ retries

    def _process_node_retries(self, node: Node, strategy: dict[str, Any]) -> bool:
        """Argo's ``processNodeRetries``; False means "wait for the backoff"."""
        if node["phase"] in FULFILLED_PHASES:
            return True
        children = node.get("children") or []
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
            self.mark_phase(node["name"], last["phase"], self.shutdown_message())
            return True
        backoff = strategy.get("backoff")
        if backoff:
            first = self.nodes[children[0]]
            max_deadline = None
            if backoff.get("maxDuration"):
                max_deadline = parse_time(first["startedAt"]) + parse_duration(
                    str(backoff["maxDuration"])
                )
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
                finished = parse_time(last.get("finishedAt") or last["startedAt"])
            until = finished + wait
            if max_deadline is not None and until > max_deadline:
                self.mark_phase(
                    node["name"], last["phase"], "Backoff would exceed max duration limit"
                )
                return True
            if self.now < until and self._can_retry(node, last, strategy):
                self.wake_at(until)
                node["message"] = f"Backoff for {_humanize(wait)}"
                return False
            node.pop("message", None)
        if not self._can_retry(node, last, strategy):
            self.mark_phase(
                node["name"], last["phase"], node.get("_stop_message") or last.get("message", "")
            )
            node.pop("_stop_message", None)
            return True
        return True

    def _can_retry(self, node: Node, last: Node, strategy: dict[str, Any]) -> bool:
        policy = strategy.get("retryPolicy") or "OnFailure"
        on_failed = policy in ("Always", "OnFailure")
        on_error = policy in ("Always", "OnError", "OnTransientError")
        if (last["phase"] == "Failed" and not on_failed) or (
            last["phase"] == "Error" and not on_error
        ):
            return False
        expression = strategy.get("expression")
        if expression and not self._retry_expression_allows(expression, last):
            node["_stop_message"] = "retryStrategy.expression evaluated to false"
            return False
        limit = strategy.get("limit")
        if limit is not None and len(node.get("children") or []) > int(str(limit)):
            node["_stop_message"] = "No more retries left"
            return False
        return True

    def _retry_expression_allows(self, expression: str, last: Node) -> bool:
        started = parse_time(last["startedAt"])
        finished = parse_time(last.get("finishedAt") or last["startedAt"])
        values = {
            "lastRetry.exitCode": (last.get("outputs") or {}).get("exitCode", "-1"),
            "lastRetry.status": json.dumps(last["phase"]),
            "lastRetry.duration": str(int(finished - started)),
            "lastRetry.message": json.dumps(last.get("message", "")),
        }
        text = re.sub(r"\b(?:asInt|asFloat|int|float)\(([^()]*)\)", r"\1", expression)
        for name, value in values.items():
            text = text.replace(name, str(value))
        try:
            return evaluate_when(text)
        except ExpressionError:
            return False

    # ------------------------------------------------------------------ hooks

    def run_on_exit_node(
        self,
        hook: dict[str, Any] | None,
        parent_name: str,
        boundary_id: str | None,
        scope: dict[str, str],
    ) -> tuple[bool, Node | None]:
        """Argo's ``runOnExitNode`` for a task or step exit hook."""
        if hook is None or not self.should_execute(True):
            return False, None
        hook = substitute_all(hook, {**self.global_scope, **scope})
        name = on_exit_node_name(parent_name)
        node = self.execute_template(
            name, hook, hook.get("arguments") or {}, ExecOpts(boundary_id, True, {"hooked": True})
        )
        self.add_child(parent_name, name)
        return True, node

    # ------------------------------------------------------------------ runner callbacks

    def pod_started(self, nid: str) -> None:
        node = self.nodes[nid]
        if node["phase"] == "Pending":
            node["phase"] = "Running"
            node["hostNodeName"] = self.host_name

    def pod_finished(self, nid: str, outcome: PodOutcome) -> None:
        self.now = self.clock()
        node = self.nodes[nid]
        self.active_pods.discard(nid)
        self.kills.pop(nid, None)
        reason = self.kill_reasons.pop(nid, None)
        if outcome.error:
            phase, message = "Error", outcome.error
        elif reason is not None:
            phase, message = "Failed", reason
        elif outcome.exit_code == 0:
            phase, message = "Succeeded", ""
        else:
            phase = "Failed"
            message = outcome.message or f"Error (exit code {outcome.exit_code})"
        if outcome.outputs:
            node["outputs"] = outcome.outputs
            self._publish_global_outputs(outcome.outputs)
        duration = (
            max(1, round(outcome.finished_at - outcome.started_at)) if outcome.finished_at else 1
        )
        node["resourcesDuration"] = {"cpu": duration, "memory": duration}
        node.setdefault("hostNodeName", self.host_name)
        self.mark_phase(node["name"], phase, message)
        if outcome.finished_at:
            self.finished_epoch[nid] = outcome.finished_at
            node["finishedAt"] = format_time(outcome.finished_at)

    def _publish_global_outputs(self, outputs: dict[str, Any]) -> None:
        globals_out = []
        for param in outputs.get("parameters") or []:
            if param.get("globalName"):
                globals_out.append(
                    {"name": param["globalName"], "value": str(param.get("value", ""))}
                )
        if not globals_out:
            return
        status_outputs = self.status.setdefault("outputs", {}).setdefault("parameters", [])
        for param in globals_out:
            status_outputs[:] = [p for p in status_outputs if p["name"] != param["name"]]
            status_outputs.append(param)
            self.global_scope[f"workflow.outputs.parameters.{param['name']}"] = param["value"]

    # ------------------------------------------------------------------ control requests

    def request_shutdown(self, strategy: str) -> None:
        self.spec["shutdown"] = strategy

    def set_suspended(self, suspended: bool) -> None:
        if suspended:
            self.spec["suspend"] = True
            return
        self.spec.pop("suspend", None)
        self.now = self.clock()
        for node in self.nodes.values():
            if node["type"] == "Suspend" and node["phase"] == "Running":
                template = self.cache.get(f"suspend-template:{node['id']}") or {}
                self._set_suspend_outputs(node, template)
                self.mark_phase(node["name"], "Succeeded")

    def template_outputs(
        self, template: dict[str, Any], scope: dict[str, str]
    ) -> dict[str, Any] | None:
        """Outputs of a DAG/steps template, read from its tasks' or steps' outputs."""
        spec = template.get("outputs") or {}
        full = {**self.global_scope, **scope}
        params = []
        for param in spec.get("parameters") or []:
            value_from = param.get("valueFrom") or {}
            raw = value_from.get("parameter", param.get("value"))
            if raw is None and "expression" in value_from:
                raw = _simple_expression(str(value_from["expression"]), full)
            if raw is None:
                raw = value_from.get("default", "")
            value = substitute(str(raw), full)
            if unresolved(value) and "default" in value_from:
                value = str(value_from["default"])
            entry = {"name": param["name"], "value": value}
            if param.get("globalName"):
                entry["globalName"] = param["globalName"]
            params.append(entry)
        artifacts = []
        for artifact in spec.get("artifacts") or []:
            source = substitute(str(artifact.get("from") or ""), full)
            artifacts.append({"name": artifact["name"], "from": source})
        outputs: dict[str, Any] = {}
        if params:
            outputs["parameters"] = params
            self._publish_global_outputs(outputs)
        if artifacts:
            outputs["artifacts"] = artifacts
        return outputs or None


def _simple_expression(expression: str, scope: dict[str, str]) -> str:
    """``valueFrom.expression`` where simple: ``cond ? a : b`` over tasks/steps outputs."""
    text = re.sub(r"\b(tasks|steps)\['([^']+)'\]", r"\1.\2", expression)

    def reference(match: re.Match[str]) -> str:
        return json.dumps(scope.get(match.group(0), ""))

    text = re.sub(r"\b(?:tasks|steps|inputs)\.[\w\-]+(?:\.[\w\-]+)*", reference, text)
    if "?" in text and ":" in text:
        condition, _, rest = text.partition("?")
        when_true, _, when_false = rest.partition(":")
        chosen = when_true if evaluate_when(condition) else when_false
    else:
        chosen = text
    chosen = chosen.strip()
    try:
        return str(json.loads(chosen))
    except json.JSONDecodeError:
        return chosen.strip("'")


def _template_kind(template: dict[str, Any]) -> str:
    for kind in ("container", "script", "http", "steps", "dag", "suspend"):
        if kind in template:
            return kind
    return "unknown"


def _node_type_of(template: dict[str, Any]) -> str:
    return {"steps": "Steps", "dag": "DAG", "suspend": "Suspend", "http": "HTTP"}.get(
        _template_kind(template), "Pod"
    )


def _humanize(seconds: float) -> str:
    if seconds < 60:
        return f"{round(seconds)} seconds"
    return f"{round(seconds / 60)} minutes"


__all__ += ["COMPLETED_PHASES"]
