"""A stand-in Argo Server (neither Argo nor Kubernetes can run here) that speaks only swagger.json.

Every request first passes :class:`SwaggerContract` (unknown path/method → 404, unknown query
names or bad values → 400, body not valid against its swagger definition → 400); created
workflows are also checked as the API server would with Argo's full CRDs. Behind that, a small
in-memory store keeps workflows, cron workflows and templates with resourceVersions and an
event log, so watch streams can resume, repeat, drop and expire like the real thing.

Kubernetes calls: in client auth mode the Argo Server calls the Kubernetes API with the caller's
own token (Argo's ``server/auth/gatekeeper.go``, ``getClients``, case ``Client``). The fake
records each call an operation makes that way in ``kube_calls`` (:data:`SERVER_CALLS`, plus one
``delete pods`` per pod a retry resets), and with ``authorize`` set it answers 403 as the server
passes on Kubernetes' Forbidden (``server/utils/errors.go``: 403 → PermissionDenied).

Fault knobs: ``fail_next`` (statuses for the next requests), ``stream_faults`` (drop/repeat/
error/end the watch), ``compact()`` (expire old resourceVersions), workflows stored with
``compressedNodes`` or offloaded nodes.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.backends.argo.permissions import Permission
from engine.backends.argo.pod_names import pod_name
from engine.backends.argo.status_codec import compress_nodes
from engine.labels import CRON_WORKFLOW
from tests.argo_backend.http_stub import Request, Response
from tests.argo_backend.swagger_contract import ContractViolation, Operation, contract
from tests.argo_reference import crd_errors

TOKEN = "Bearer argo-test-token"
FINAL = {"Succeeded", "Failed", "Error"}


def _wf(*verbs: str, resource: str = "workflows") -> list[Permission]:
    return [Permission(v, resource, "argoproj.io") for v in verbs]


# What each Argo Server operation does with the caller's clients (Argo v3.6/v4 sources):
# server/workflow/workflow_server.go (ListWorkflows first asks auth.CanI list; Retry and Resubmit
# read the workflow; Suspend/Resume get + update via workflow/util/util.go; Stop/Terminate get +
# patch via util.patchShutdownStrategy; WorkflowLogs → util/logs/workflow-logger.go: pods
# list/watch, pods/log get, workflows watch), server/cronworkflow/cron_workflow_server.go
# (Suspend/Resume patch), server/workflowtemplate/workflow_template_server.go,
# server/workflowarchive/archived_workflow_server.go (auth.CanI list/get/delete workflows), and
# server/artifacts/artifact_server.go (workflows get; the artifact driver reads the repository's
# Secrets with the caller's kubeClient). Lint validates without touching the API.
SERVER_CALLS: dict[str, list[Permission]] = {
    "WorkflowService_CreateWorkflow": _wf("create"),
    "WorkflowService_GetWorkflow": _wf("get"),
    "WorkflowService_ListWorkflows": _wf("list"),
    "WorkflowService_WatchWorkflows": _wf("watch"),
    "WorkflowService_DeleteWorkflow": _wf("get", "delete"),
    "WorkflowService_RetryWorkflow": _wf("get", "update"),
    "WorkflowService_ResubmitWorkflow": _wf("get", "create"),
    "WorkflowService_SuspendWorkflow": _wf("get", "update"),
    "WorkflowService_ResumeWorkflow": _wf("get", "update"),
    "WorkflowService_StopWorkflow": _wf("get", "patch"),
    "WorkflowService_TerminateWorkflow": _wf("get", "patch"),
    "WorkflowService_LintWorkflow": [],
    "WorkflowService_WorkflowLogs": [
        *_wf("get", "watch"),
        Permission("list", "pods"),
        Permission("watch", "pods"),
        Permission("get", "pods", subresource="log"),
    ],
    "CronWorkflowService_CreateCronWorkflow": _wf("create", resource="cronworkflows"),
    "CronWorkflowService_GetCronWorkflow": _wf("get", resource="cronworkflows"),
    "CronWorkflowService_ListCronWorkflows": _wf("list", resource="cronworkflows"),
    "CronWorkflowService_UpdateCronWorkflow": _wf("update", resource="cronworkflows"),
    "CronWorkflowService_DeleteCronWorkflow": _wf("get", "delete", resource="cronworkflows"),
    "CronWorkflowService_SuspendCronWorkflow": _wf("get", "patch", resource="cronworkflows"),
    "CronWorkflowService_ResumeCronWorkflow": _wf("get", "patch", resource="cronworkflows"),
    "CronWorkflowService_LintCronWorkflow": [],
    "WorkflowTemplateService_CreateWorkflowTemplate": _wf("create", resource="workflowtemplates"),
    "WorkflowTemplateService_GetWorkflowTemplate": _wf("get", resource="workflowtemplates"),
    "WorkflowTemplateService_ListWorkflowTemplates": _wf("list", resource="workflowtemplates"),
    "WorkflowTemplateService_UpdateWorkflowTemplate": _wf("update", resource="workflowtemplates"),
    "WorkflowTemplateService_DeleteWorkflowTemplate": _wf("delete", resource="workflowtemplates"),
    "WorkflowTemplateService_LintWorkflowTemplate": [],
    "ArchivedWorkflowService_ListArchivedWorkflows": _wf("list"),
    "ArchivedWorkflowService_GetArchivedWorkflow": _wf("get"),
    "ArchivedWorkflowService_DeleteArchivedWorkflow": _wf("delete"),
    # RetryArchivedWorkflow: get (CanI), the live workflow's get, create, and the reset nodes'
    # pods deleted through the caller; ResubmitArchivedWorkflow: get, then SubmitWorkflow.
    "ArchivedWorkflowService_RetryArchivedWorkflow": [
        *_wf("get", "create"),
        Permission("delete", "pods"),
    ],
    "ArchivedWorkflowService_ResubmitArchivedWorkflow": _wf("get", "create"),
    "ArtifactService_GetArtifactFile": [*_wf("get"), Permission("get", "secrets")],
    "InfoService_GetVersion": [],
    "InfoService_GetInfo": [],
}


@dataclass
class StreamFaults:
    drop_every: int = 0
    """Drop every n-th event of a connection."""
    repeat_every: int = 0
    """Send every n-th event twice."""
    error_after: int = 0
    """After n events of a connection, send an error frame and end it."""
    end_after: int = 0
    """End each connection after n events."""
    error_message: str = "rpc error: code = Internal desc = watch broke"


@dataclass
class Stored:
    obj: dict[str, Any]
    compressed: bool = False
    offloaded: bool = False


def select_fields(value: Any, paths: list[list[str]]) -> Any:
    """Argo's ``fields=`` (inclusion form): keep only the listed paths."""
    if not paths or any(not p for p in paths):
        return value
    if isinstance(value, list):
        return [select_fields(item, paths) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key in dict.fromkeys(p[0] for p in paths):
        if key in value:
            out[key] = select_fields(value[key], [p[1:] for p in paths if p[0] == key])
    return out


def _fields(query: dict[str, list[str]]) -> list[list[str]] | None:
    raw = (query.get("fields") or [""])[0]
    if not raw:
        return None
    assert not raw.startswith("-"), "only the inclusion form is modelled"
    return [p.split(".") for p in raw.split(",")]


def _matches(labels: dict[str, str], selector: str | None) -> bool:
    for term in filter(None, (selector or "").split(",")):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class FakeArgo:
    def __init__(self, namespace: str = "drover", *, validate_crd: bool = True) -> None:
        self.namespace = namespace
        self.validate_crd = validate_crd
        self.lock = threading.Condition()
        self.version = itertools.count(100)
        self.resource_version = 100
        self.workflows: dict[str, Stored] = {}
        self.claims: dict[str, str] = {}
        """PersistentVolumeClaims from volumeClaimTemplates: claim name → owner workflow uid."""
        self.claims_created: list[str] = []
        """Every claim creation, in order (a re-created claim is a new, empty volume)."""
        self.archive: dict[str, dict[str, Any]] = {}
        """The workflow archive (persist/sqldb): whole workflows by name, kept after deletion."""
        self.archive_first = False
        """List archived records before live ones (Argo's list sort is not stable)."""
        self.crons: dict[str, dict[str, Any]] = {}
        self.templates: dict[str, dict[str, Any]] = {}
        self.events: list[tuple[int, str, dict[str, Any]]] = []
        self.compacted_before = 0
        self.generation = 0  # bumped to break open streams
        self.logs: dict[str, list[dict[str, str]]] = {}
        self.logs_closed: set[str] = set()
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.used: set[str] = set()
        self.fail_next: deque[int] = deque()
        self.stream_faults = StreamFaults()
        self.watch_held = False
        """While set, open watches deliver nothing: events wait, in order (a lagging watch)."""
        self.watch_connections: list[dict[str, list[str]]] = []
        self.kube_calls: list[tuple[str, Permission]] = []
        self.deleted_pods: list[str] = []
        self.server_version = "v4.1.2"
        """(operation, permission) of every Kubernetes call made with the caller's token."""
        self.authorize: Callable[[Permission], bool] | None = None
        """When set, a call it refuses fails the operation with 403 (RBAC on a real cluster)."""

    # ------------------------------------------------------------------ store

    def _next_version(self) -> int:
        self.resource_version = next(self.version)
        return self.resource_version

    def _present(self, stored: Stored, *, hydrate: bool) -> dict[str, Any]:
        obj = copy.deepcopy(stored.obj)
        status = obj.get("status") or {}
        nodes = status.get("nodes")
        if stored.offloaded and nodes is not None:
            status["offloadNodeStatusVersion"] = f"fnv:{len(json.dumps(nodes))}"
            if not hydrate:
                del status["nodes"]
        elif stored.compressed and nodes is not None:
            status["compressedNodes"] = compress_nodes(status.pop("nodes"))
        return obj

    def put_workflow(
        self, workflow: dict[str, Any], *, compressed: bool = False, offloaded: bool = False
    ) -> dict[str, Any]:
        """Create or replace a workflow as the controller would (emits ADDED/MODIFIED)."""
        with self.lock:
            obj = copy.deepcopy(workflow)
            meta = obj.setdefault("metadata", {})
            meta["namespace"] = self.namespace
            name = meta["name"]
            existing = self.workflows.get(name)
            meta.setdefault(
                "uid", existing.obj["metadata"]["uid"] if existing else str(uuid.uuid4())
            )
            meta.setdefault("creationTimestamp", "2026-01-01T00:00:00Z")
            meta["resourceVersion"] = str(self._next_version())
            stored = Stored(obj, compressed=compressed, offloaded=offloaded)
            self.workflows[name] = stored
            self._create_claims(stored)
            self._emit("MODIFIED" if existing else "ADDED", stored)
            return obj

    def fire_cron(self, name: str, scheduled: int) -> str:
        """What the controller does when CronWorkflow ``name`` is due at unix time ``scheduled``
        (Argo's cron operator): a Workflow named ``<cron>-<scheduled>`` from its workflowSpec,
        labelled from workflowMetadata plus ``workflows.argoproj.io/cron-workflow``, annotated
        with the scheduled time and owned by the CronWorkflow."""
        with self.lock:
            cron = copy.deepcopy(self.crons[name])
        workflow_metadata = cron["spec"].get("workflowMetadata") or {}
        labels = {**(workflow_metadata.get("labels") or {}), CRON_WORKFLOW: name}
        scheduled_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(scheduled))
        annotations = {
            **(workflow_metadata.get("annotations") or {}),
            "workflows.argoproj.io/scheduled-time": scheduled_time,
        }
        workflow_name = f"{name}-{scheduled}"
        self.put_workflow(
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "metadata": {
                    "name": workflow_name,
                    "labels": labels,
                    "annotations": annotations,
                    "ownerReferences": [
                        {
                            "apiVersion": "argoproj.io/v1alpha1",
                            "kind": "CronWorkflow",
                            "name": name,
                            "uid": cron["metadata"]["uid"],
                            "blockOwnerDeletion": True,
                            "controller": True,
                        }
                    ],
                },
                "spec": cron["spec"]["workflowSpec"],
            }
        )
        return workflow_name

    def update_status(self, name: str, **status: Any) -> None:
        with self.lock:
            stored = self.workflows[name]
            stored.obj.setdefault("status", {}).update(copy.deepcopy(status))
            if stored.obj["status"].get("phase") in FINAL:
                self._delete_claims(stored)
            stored.obj["metadata"]["resourceVersion"] = str(self._next_version())
            self._emit("MODIFIED", stored)

    def _create_claims(self, stored: Stored) -> None:
        """The controller's ``createPVCs`` (workflow/controller/operator.go) for a Pending or
        Running workflow whose status lists fewer claims than its volumeClaimTemplates: claim
        ``<workflow>-<template>`` is created, or reused if this workflow (uid) owns it."""
        obj = stored.obj
        templates = (obj.get("spec") or {}).get("volumeClaimTemplates") or []
        status = obj.setdefault("status", {})
        if status.get("phase") not in (None, "", "Pending", "Running"):
            return
        if len(templates) == len(status.get("persistentVolumeClaims") or []):
            return
        uid = obj["metadata"]["uid"]
        volumes = []
        for template in templates:
            claim = f"{obj['metadata']['name']}-{template['metadata']['name']}"
            if claim not in self.claims:
                self.claims[claim] = uid
                self.claims_created.append(claim)
            elif self.claims[claim] != uid:
                continue  # "pvc already exists with different ownerreference": Forbidden
            volumes.append(
                {"name": template["metadata"]["name"],
                 "persistentVolumeClaim": {"claimName": claim}}
            )  # fmt: skip
        status["persistentVolumeClaims"] = volumes

    def _delete_claims(self, stored: Stored) -> None:
        """``deletePVCs`` when the workflow completes: ``OnWorkflowCompletion`` deletes its
        claims, ``OnWorkflowSuccess`` (the default, ``VolumeClaimGC.GetStrategy``) only when it
        Succeeded, keeping them for a retry."""
        obj = stored.obj
        strategy = ((obj.get("spec") or {}).get("volumeClaimGC") or {}).get("strategy")
        status = obj.setdefault("status", {})
        if (strategy or "OnWorkflowSuccess") == "OnWorkflowSuccess" and (
            status.get("phase") != "Succeeded"
        ):
            return
        for volume in status.get("persistentVolumeClaims") or []:
            self.claims.pop(volume["persistentVolumeClaim"]["claimName"], None)
        status["persistentVolumeClaims"] = []

    def archive_workflow(self, name: str, *, quietly: bool = False) -> None:
        """What the controller's archiving does for a completed workflow: the whole object
        goes into the archive, labelled ``Persisted`` (persist/sqldb/workflow_archive.go
        ``ArchiveWorkflow``), and the
        live one is labelled ``workflow-archiving-status: Archived``. ``quietly`` emits no
        event (it happened during a watch gap)."""
        with self.lock:
            stored = self.workflows[name]
            archived = copy.deepcopy(stored.obj)
            archived["metadata"].setdefault("labels", {})[ARCHIVING_STATUS] = "Persisted"
            self.archive[name] = archived
            stored.obj["metadata"].setdefault("labels", {})[ARCHIVING_STATUS] = "Archived"
            stored.obj["metadata"]["resourceVersion"] = str(self._next_version())
            if not quietly:
                self._emit("MODIFIED", stored)

    def remove_workflow(self, name: str) -> None:
        with self.lock:
            stored = self.workflows.pop(name)
            uid = stored.obj["metadata"].get("uid")
            # Kubernetes' garbage collector: the claims the workflow owned go with it.
            self.claims = {c: owner for c, owner in self.claims.items() if owner != uid}
            stored.obj["metadata"]["resourceVersion"] = str(self._next_version())
            self._emit("DELETED", stored)

    def _emit(self, kind: str, stored: Stored) -> None:
        self.events.append((self.resource_version, kind, self._present(stored, hydrate=False)))
        self.lock.notify_all()

    def hold_watch(self, held: bool) -> None:
        with self.lock:
            self.watch_held = held
            self.lock.notify_all()

    def compact(self) -> None:
        """Forget the event history (etcd compaction) and break every open watch."""
        with self.lock:
            self.compacted_before = self.resource_version + 1
            self.events.clear()
            self.generation += 1
            self.lock.notify_all()

    def break_streams(self) -> None:
        with self.lock:
            self.generation += 1
            self.lock.notify_all()

    def add_log(self, workflow: str, pod: str, content: str) -> None:
        with self.lock:
            self.logs.setdefault(workflow, []).append({"podName": pod, "content": content})
            self.lock.notify_all()

    def close_logs(self, workflow: str) -> None:
        with self.lock:
            self.logs_closed.add(workflow)
            self.lock.notify_all()

    def final_state(self) -> dict[str, dict[str, Any]]:
        """What a consumer should end up with: every workflow, hydrated, nodes decoded."""
        with self.lock:
            return {name: copy.deepcopy(s.obj) for name, s in self.workflows.items()}

    # ------------------------------------------------------------------ HTTP

    def __call__(self, request: Request) -> Response:
        try:
            operation, params, body = contract().check(
                request.method, request.path, request.query, request.body
            )
        except ContractViolation as violation:
            return _error(violation.status, violation.message)
        with self.lock:
            self.used.add(operation.operation_id)
            self.requests.append((request.method, request.path, request.query, body))
            if request.headers.get("authorization") != TOKEN:
                return _error(401, "token not valid")
            if self.fail_next:
                return _error(self.fail_next.popleft(), "injected failure")
        if params.get("namespace", self.namespace) != self.namespace:
            return _error(403, f"namespace {params['namespace']} is not allowed")
        denied = self.caller_calls(operation.operation_id, SERVER_CALLS.get(operation.operation_id))
        if denied is not None:
            return denied
        handler = getattr(self, f"_op_{operation.operation_id.split('_', 1)[1]}", None)
        if handler is None:
            return _error(501, f"{operation.operation_id} not modelled by the fake")
        return handler(operation, params, request.query, body)

    def caller_calls(self, operation: str, permissions: list[Permission] | None) -> Response | None:
        """Record the Kubernetes calls ``operation`` makes with the caller's token; the 403 the
        server would answer if RBAC refuses one of them."""
        for permission in permissions or []:
            with self.lock:
                self.kube_calls.append((operation, permission))
            if self.authorize is not None and not self.authorize(permission):
                return _error(
                    403,
                    f"{permission.full_resource} is forbidden: the caller cannot "
                    f'{permission.verb} resource "{permission.full_resource}" in API group '
                    f'"{permission.group}" in the namespace "{self.namespace}"',
                )
        return None

    # workflows ---------------------------------------------------------------

    def _op_CreateWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        workflow = copy.deepcopy(body["workflow"])
        if self.validate_crd:
            errors = crd_errors(workflow)
            if errors:
                return _error(400, f"Workflow.argoproj.io is invalid: {errors[0]}")
        meta = workflow.setdefault("metadata", {})
        if not meta.get("name"):
            meta["name"] = meta.get("generateName", "wf-") + uuid.uuid4().hex[:5]
        if meta["name"] in self.workflows:
            return _error(409, f'workflows.argoproj.io "{meta["name"]}" already exists')
        if body.get("serverDryRun"):
            meta["uid"] = ""
            return Response.of(workflow)
        return Response.of(self.put_workflow(workflow))

    def _op_LintWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        return Response.of(body["workflow"])

    def _stored(self, name: str) -> Stored | Response:
        stored = self.workflows.get(name)
        if stored is None:
            return _error(404, f'workflows.argoproj.io "{name}" not found')
        return stored

    def _op_GetWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        with self.lock:
            stored = self._stored(p["name"])
            if isinstance(stored, Response):
                # server/workflow/workflow_server.go getWorkflow: a workflow the cluster no
                # longer has is read from the archive, whole (nodes included).
                archived = self.archive.get(p["name"])
                return stored if archived is None else Response.of(copy.deepcopy(archived))
            return Response.of(self._present(stored, hydrate=True))

    def _op_ListWorkflows(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        selector = (q.get("listOptions.labelSelector") or [None])[0]
        limit = int((q.get("listOptions.limit") or ["0"])[0])
        offset = int((q.get("listOptions.continue") or ["0"])[0] or 0)
        with self.lock:
            items = [
                self._present(s, hydrate=False)
                for s in self.workflows.values()
                if _matches(s.obj["metadata"].get("labels") or {}, selector)
            ]
            # workflow_server.go ListWorkflows appends the archive's records to the live
            # workflows, without removing the ones both hold, then sorts the page with an
            # unstable sort (Workflows.Less compares only creation and finish times).
            archived = [
                archive_record(w)
                for w in self.archive.values()
                if _matches(w["metadata"].get("labels") or {}, selector)
            ]
            items = [*archived, *items] if self.archive_first else [*items, *archived]
            version = str(self.resource_version)
        page = items[offset : offset + limit] if limit else items[offset:]
        # v4's ListWorkflows: with ext.showRemainingItemCount (server/utils/list_options.go
        # BuildListOptions) what remains is counted over live and archived workflows; without
        # it, continue is set only when the archive alone holds rows past the page
        # (HasMoreWorkflows, persist/sqldb/workflow_archive.go): live ones are never counted.
        counted = False
        for term in filter(None, (q.get("listOptions.fieldSelector") or [""])[0].split(",")):
            if not term.startswith("ext.showRemainingItemCount"):
                return _error(400, f"unsupported requirement {term}")
            counted = term.removeprefix("ext.showRemainingItemCount=") == "true"
        remaining = len(items) - offset - len(page) if counted else None
        more = bool(remaining) if counted else bool(limit) and len(archived) > offset + limit
        listed: dict[str, Any] = {
            "metadata": {
                "resourceVersion": version,
                **({"continue": str(offset + len(page))} if more else {}),
                **({"remainingItemCount": remaining} if counted else {}),
            },
            "items": page,
        }
        fields = _fields(q)
        return Response.of(select_fields(listed, fields) if fields else listed)

    def _op_DeleteWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        if p["name"] not in self.workflows:
            return _error(404, f'workflows.argoproj.io "{p["name"]}" not found')
        self.remove_workflow(p["name"])
        return Response.of({})

    def _action(
        self, name: str, change: dict[str, Any], spec: dict[str, Any] | None = None
    ) -> Response:
        with self.lock:
            stored = self._stored(name)
            if isinstance(stored, Response):
                return stored
            for key, value in (spec or {}).items():
                if value is None:
                    stored.obj["spec"].pop(key, None)
                else:
                    stored.obj["spec"][key] = value
            stored.obj.setdefault("status", {}).update(change)
            stored.obj["metadata"]["resourceVersion"] = str(self._next_version())
            self._emit("MODIFIED", stored)
            return Response.of(self._present(stored, hydrate=True))

    def _op_StopWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        return self._action(p["name"], {"message": body.get("message", "")}, {"shutdown": "Stop"})

    def _op_TerminateWorkflow(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._action(p["name"], {}, {"shutdown": "Terminate"})

    def _op_SuspendWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        return self._action(p["name"], {}, {"suspend": True})

    def _op_ResumeWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        return self._action(p["name"], {}, {"suspend": None})

    def _op_RetryWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        denied = self._delete_retried_pods(p["name"])
        if denied is not None:
            return denied
        with self.lock:
            stored = self._stored(p["name"])
            if isinstance(stored, Response):
                return stored
            stored.obj = new_retry_workflow(stored.obj)
            self._create_claims(stored)
            stored.obj["metadata"]["resourceVersion"] = str(self._next_version())
            self._emit("MODIFIED", stored)
            return Response.of(self._present(stored, hydrate=True))

    def _delete_retried_pods(self, name: str) -> Response | None:
        """Argo's server/workflow/workflow_server.go RetryWorkflow deletes the pods of the nodes
        it resets (workflow/util/util.go FormulateRetryWorkflow: failed or errored Pod nodes,
        deletePodNodeDuringRetryWorkflow names them with GeneratePodName) through the caller's
        kubeClient; a refused delete fails the retry before the workflow is updated."""
        with self.lock:
            stored = self.workflows.get(name)
            if stored is None:
                return None
            nodes = (stored.obj.get("status") or {}).get("nodes") or {}
            pods = sorted(
                pod_name(stored.obj, node)
                for node in nodes.values()
                if node.get("type") == "Pod" and node.get("phase") in ("Failed", "Error")
            )
        for pod in pods:
            denied = self.caller_calls(
                "WorkflowService_RetryWorkflow", [Permission("delete", "pods")]
            )
            if denied is not None:
                return denied
            self.deleted_pods.append(pod)
        return None

    def _op_ResubmitWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        with self.lock:
            stored = self._stored(p["name"])
            if isinstance(stored, Response):
                return stored
            old = stored.obj
            labels = dict(old["metadata"].get("labels") or {})
            labels["workflows.argoproj.io/resubmitted-from-workflow"] = p["name"]
            new = {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Workflow",
                "metadata": {
                    "name": f"{p['name']}-{uuid.uuid4().hex[:5]}",
                    "labels": labels,
                    "annotations": dict(old["metadata"].get("annotations") or {}),
                },
                "spec": copy.deepcopy(old["spec"]),
            }
            return Response.of(self.put_workflow(new))

    def _archived(self, uid: str) -> dict[str, Any] | None:
        found = [w for w in self.archive.values() if w["metadata"].get("uid") == uid]
        return copy.deepcopy(found[0]) if found else None

    def _op_RetryArchivedWorkflow(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        """server/workflowarchive/archived_workflow_server.go RetryArchivedWorkflow: only for a
        workflow the cluster no longer has (else 409); FormulateRetryWorkflow's result is
        created under the same name with a new uid."""
        with self.lock:
            archived = self._archived(p["uid"])
            if archived is None:
                return _error(404, "archived workflow not found")
            if archived["metadata"]["name"] in self.workflows:
                return _error(409, "Workflow already exists on cluster, use argo retry {name}")
        retried = new_retry_workflow(archived)
        retried["metadata"].pop("uid", None)
        retried["metadata"].pop("resourceVersion", None)
        retried["status"]["nodes"] = {
            nid: node
            for nid, node in (retried["status"].get("nodes") or {}).items()
            if not (node.get("type") == "Pod" and node.get("phase") in ("Failed", "Error"))
        }
        return Response.of(self.put_workflow(retried))

    def _op_ResubmitArchivedWorkflow(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        """archived_workflow_server.go ResubmitArchivedWorkflow: FormulateResubmitWorkflow
        (workflow/util/util.go) submitted as a new workflow labelled with the old name."""
        with self.lock:
            archived = self._archived(p["uid"])
        if archived is None:
            return _error(404, "archived workflow not found")
        old = archived["metadata"]
        labels = {
            k: v
            for k, v in (old.get("labels") or {}).items()
            if k not in (ARCHIVING_STATUS, "workflows.argoproj.io/completed",
                         "workflows.argoproj.io/phase")
        }  # fmt: skip
        labels["workflows.argoproj.io/resubmitted-from-workflow"] = old["name"]
        new = {
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Workflow",
            "metadata": {
                "name": f"{old['name']}-{uuid.uuid4().hex[:5]}",
                "labels": labels,
                "annotations": dict(old.get("annotations") or {}),
            },
            "spec": copy.deepcopy(archived["spec"]),
        }
        return Response.of(self.put_workflow(new))

    def _op_WorkflowLogs(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        name = p["name"]
        if name not in self.workflows:
            return _error(404, f'workflows.argoproj.io "{name}" not found')
        pod = (q.get("podName") or [None])[0]
        follow = (q.get("logOptions.follow") or ["false"])[0] == "true"
        timestamps = (q.get("logOptions.timestamps") or ["false"])[0] == "true"

        def lines() -> Iterator[bytes]:
            sent = 0
            while True:
                with self.lock:
                    entries = self.logs.get(name, [])[sent:]
                    sent += len(entries)
                    done = not follow or name in self.logs_closed
                for entry in entries:
                    if pod and entry["podName"] != pod:
                        continue
                    content = entry["content"]
                    if timestamps:
                        content = f"2026-01-01T00:00:00.000000001Z {content}"
                    yield (json.dumps({"result": {**entry, "content": content}}) + "\n").encode()
                if done and not entries:
                    return
                with self.lock:
                    self.lock.wait(0.05)

        return Response(200, lines(), {"Content-Type": "application/json"})

    def _op_WatchWorkflows(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        selector = (q.get("listOptions.labelSelector") or [None])[0]
        since = int((q.get("listOptions.resourceVersion") or ["0"])[0] or 0)
        timeout = float((q.get("listOptions.timeoutSeconds") or ["30"])[0])
        fields = _fields(q)
        faults = self.stream_faults
        self.watch_connections.append(q)

        def frame(payload: dict[str, Any]) -> bytes:
            return f"data: {json.dumps(payload)}\n\n".encode()

        def stream() -> Iterator[bytes]:
            with self.lock:
                generation = self.generation
                if since and since < self.compacted_before:
                    yield frame(
                        {
                            "error": {
                                "grpc_code": 11,
                                "http_code": 410,
                                "message": f"too old resource version: {since}",
                            }
                        }
                    )
                    return
            deadline = time.monotonic() + timeout
            position = since
            sent = 0
            while time.monotonic() < deadline:
                with self.lock:
                    if generation != self.generation:
                        return
                    pending = [] if self.watch_held else [e for e in self.events if e[0] > position]
                    if not pending:
                        self.lock.wait(0.05)
                        continue
                for version, kind, obj in pending:
                    position = version
                    if not _matches(obj["metadata"].get("labels") or {}, selector):
                        continue
                    sent += 1
                    if faults.error_after and sent > faults.error_after:
                        yield frame(
                            {
                                "error": {
                                    "grpc_code": 13,
                                    "http_code": 500,
                                    "message": faults.error_message,
                                }
                            }
                        )
                        return
                    if faults.drop_every and sent % faults.drop_every == 0:
                        continue
                    event = {"result": {"type": kind, "object": obj}}
                    if fields:
                        event = select_fields(event, fields)
                    yield frame(event)
                    if faults.repeat_every and sent % faults.repeat_every == 0:
                        yield frame(event)
                    if faults.end_after and sent >= faults.end_after:
                        return

        return Response(200, stream(), {"Content-Type": "text/event-stream"})

    def _op_GetVersion(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        return Response.of({"version": self.server_version, "platform": "linux/amd64"})

    # cron workflows and templates --------------------------------------------

    def _create(self, store: dict[str, dict[str, Any]], obj: dict[str, Any], kind: str) -> Response:
        name = obj["metadata"]["name"]
        if self.validate_crd:
            errors = crd_errors(obj)
            if errors:
                return _error(400, f"{kind} is invalid: {errors[0]}")
        with self.lock:
            if name in store:
                return _error(409, f'{kind} "{name}" already exists')
            obj = copy.deepcopy(obj)
            obj["metadata"].update(uid=str(uuid.uuid4()), resourceVersion=str(self._next_version()))
            store[name] = obj
            return Response.of(obj)

    def _update(
        self, store: dict[str, dict[str, Any]], name: str, obj: dict[str, Any], kind: str
    ) -> Response:
        with self.lock:
            current = store.get(name)
            if current is None:
                return _error(404, f'{kind} "{name}" not found')
            if obj["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                return _error(409, f"{kind} {name}: the object has been modified")
            obj = copy.deepcopy(obj)
            obj["metadata"].update(
                uid=current["metadata"]["uid"], resourceVersion=str(self._next_version())
            )
            store[name] = obj
            return Response.of(obj)

    def _get(self, store: dict[str, dict[str, Any]], name: str, kind: str) -> Response:
        if name not in store:
            return _error(404, f'{kind} "{name}" not found')
        return Response.of(store[name])

    def _delete(self, store: dict[str, dict[str, Any]], name: str, kind: str) -> Response:
        if store.pop(name, None) is None:
            return _error(404, f'{kind} "{name}" not found')
        return Response.of({})

    def _op_CreateCronWorkflow(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._create(self.crons, body["cronWorkflow"], "CronWorkflow")

    def _op_GetCronWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        return self._get(self.crons, p["name"], "CronWorkflow")

    def _op_UpdateCronWorkflow(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._update(self.crons, p["name"], body["cronWorkflow"], "CronWorkflow")

    def _op_DeleteCronWorkflow(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._delete(self.crons, p["name"], "CronWorkflow")

    def _op_LintCronWorkflow(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        return Response.of(body["cronWorkflow"])

    def _op_ListCronWorkflows(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return Response.of({"metadata": {}, "items": list(self.crons.values())})

    def _toggle_cron(self, name: str, suspend: bool) -> Response:
        with self.lock:
            if name not in self.crons:
                return _error(404, f'CronWorkflow "{name}" not found')
            cron = self.crons[name]
            cron["spec"]["suspend"] = suspend
            cron["metadata"]["resourceVersion"] = str(self._next_version())
            return Response.of(cron)

    def _op_SuspendCronWorkflow(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._toggle_cron(p["name"], True)

    def _op_ResumeCronWorkflow(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._toggle_cron(p["name"], False)

    def _op_CreateWorkflowTemplate(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._create(self.templates, body["template"], "WorkflowTemplate")

    def _op_GetWorkflowTemplate(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._get(self.templates, p["name"], "WorkflowTemplate")

    def _op_UpdateWorkflowTemplate(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._update(self.templates, p["name"], body["template"], "WorkflowTemplate")

    def _op_DeleteWorkflowTemplate(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return self._delete(self.templates, p["name"], "WorkflowTemplate")

    def _op_LintWorkflowTemplate(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return Response.of(body["template"])

    def _op_ListWorkflowTemplates(
        self, op: Operation, p: dict[str, str], q: Any, body: Any
    ) -> Response:
        return Response.of({"metadata": {}, "items": list(self.templates.values())})


ARCHIVING_STATUS = "workflows.argoproj.io/workflow-archiving-status"


def new_retry_workflow(workflow: dict[str, Any]) -> dict[str, Any]:
    """workflow/util/util.go ``createNewRetryWorkflow``: the completed and archiving-status
    labels go, the phase and message are reset, startedAt is now, finishedAt and shutdown are
    cleared, and ``status.persistentVolumeClaims`` is emptied (the controller's ``createPVCs``
    then re-creates or reuses ``<workflow>-<claim>``)."""
    retried = copy.deepcopy(workflow)
    labels = retried["metadata"].setdefault("labels", {})
    for key in ("workflows.argoproj.io/completed", ARCHIVING_STATUS):
        labels.pop(key, None)
    retried["spec"].pop("shutdown", None)
    status = retried.setdefault("status", {})
    status.update(
        phase="Running",
        message="",
        startedAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        finishedAt=None,
        persistentVolumeClaims=[],
    )
    return retried


def archive_record(workflow: dict[str, Any]) -> dict[str, Any]:
    """An archived workflow as a list call returns it (persist/sqldb/workflow_archive.go
    ``ListWorkflows``): name, namespace, uid, creation time, labels (plus
    ``workflow-archiving-status: Persisted``) and annotations; spec.suspend and arguments;
    status phase, times, progress, message, estimated and resources duration. No
    resourceVersion and no nodes."""
    meta, spec = workflow.get("metadata") or {}, workflow.get("spec") or {}
    status = workflow.get("status") or {}
    record: dict[str, Any] = {
        "metadata": {
            "name": meta.get("name"),
            "namespace": meta.get("namespace"),
            "uid": meta.get("uid"),
            "creationTimestamp": meta.get("creationTimestamp"),
            "labels": {**(meta.get("labels") or {}), ARCHIVING_STATUS: "Persisted"},
            "annotations": dict(meta.get("annotations") or {}),
        },
        "spec": {k: spec[k] for k in ("suspend", "arguments") if k in spec},
        "status": {
            k: status[k]
            for k in ("phase", "startedAt", "finishedAt", "progress", "message",
                      "estimatedDuration", "resourcesDuration")
            if k in status
        },
    }  # fmt: skip
    return record


def _error(status: int, message: str) -> Response:
    # grpc.gateway.runtime.Error, as the Argo Server answers failures.
    codes = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 500: 13, 501: 12, 503: 14}
    return Response.of({"code": codes.get(status, 2), "message": message}, status)
