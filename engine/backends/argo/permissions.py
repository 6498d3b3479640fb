"""The Kubernetes permissions Drover needs on a cluster, as data: the facade's, and its pods'.

``drover doctor`` asks the cluster about each of them (SelfSubjectAccessReview for the facade,
LocalSubjectAccessReview for the workflow service account); the RBAC model in the tests checks
them, and every call recorded by the fakes, against the Roles in ``argo/``.

The facade talks to the Argo Server in client auth mode, so the server calls Kubernetes with the
facade's own token (Argo's ``server/auth/gatekeeper.go``, ``getClients``, case ``Client``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "AGENT_PERMISSIONS",
    "AGENT_SECRET_PERMISSIONS",
    "DOCTOR_PERMISSIONS",
    "EXECUTOR_PERMISSIONS",
    "FACADE_PERMISSIONS",
    "Permission",
    "controller_config_permission",
    "pod_permissions",
]


@dataclass(frozen=True)
class Permission:
    """One RBAC verb on one resource (``subresource`` e.g. ``status`` or ``log``)."""

    verb: str
    resource: str
    group: str = ""
    subresource: str = ""
    why: str = ""
    name: str = ""
    """One object's name, for rules limited by ``resourceNames``."""

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource

    def describe(self) -> str:
        group = f".{self.group}" if self.group else ""
        return f"{self.verb} {self.full_resource}{group}"


def _argo(verbs: str, resource: str, why: str, subresource: str = "") -> list[Permission]:
    return [Permission(v, resource, "argoproj.io", subresource, why) for v in verbs.split()]


def _core(verbs: str, resource: str, why: str, subresource: str = "") -> list[Permission]:
    return [Permission(v, resource, "", subresource, why) for v in verbs.split()]


FACADE_PERMISSIONS: tuple[Permission, ...] = (
    # server/workflow/workflow_server.go: Create/Get/List (auth.CanI list)/Watch/Delete; Retry and
    # Suspend/Resume update (util.SuspendWorkflow/ResumeWorkflow); Stop/Terminate patch
    # (util.patchShutdownStrategy); Resubmit creates the new workflow.
    *_argo("create get list watch update patch delete", "workflows", "runs and their control"),
    # server/cronworkflow/cron_workflow_server.go: Suspend/Resume patch, the rest as named.
    *_argo("create get list update patch delete", "cronworkflows", "schedules"),
    *_argo("create get list update", "workflowtemplates", "drover templates sync"),
    # engine/backends/argo/kube.py: plan ConfigMaps and run Secrets, owned by their Workflow.
    *_core("create get patch delete", "configmaps", "plan ConfigMaps"),
    *_core("create get patch delete", "secrets", "run Secrets (worker token, test data)"),
    # util/logs/workflow-logger.go: pods list/watch and their logs, with the caller's client.
    *_core("get list watch", "pods", "logs of running workers"),
    *_core("get", "pods", "logs of running workers", "log"),
    # server/workflow/workflow_server.go RetryWorkflow: the reset nodes' pods are deleted with
    # the caller's kubeClient (workflow/util/util.go FormulateRetryWorkflow lists them).
    *_core("delete", "pods", "retry through the Argo Server"),
)
"""What the facade's service account (``drover-api``) must be allowed in its namespace."""


def doctor_permissions(namespace: str) -> tuple[Permission, ...]:
    """What ``drover doctor`` itself asks with the facade's account (SelfSubjectAccessReview
    needs nothing: the default ClusterRole system:basic-user allows it to everyone)."""
    return (
        # A namespace read is authorized in the namespace of that name (k8s.io/apiserver
        # endpoints/request/requestinfo.go), so a Role there may grant it.
        Permission("get", "namespaces", why="doctor: the namespace exists", name=namespace),
        Permission("get", "serviceaccounts", why="doctor: the workflow service account exists"),
        Permission(
            "create",
            "localsubjectaccessreviews",
            "authorization.k8s.io",
            why="doctor: what the workflow service account may do",
        ),
    )


def controller_config_permission() -> Permission:
    """What ``drover doctor`` needs in Argo's namespace to read the controller's settings
    (artifactRepository, links): that one ConfigMap (workflow/common/common.go
    ``ConfigMapName``), granted by a Role there (argo/base/rbac.yaml)."""
    return Permission(
        "get",
        "configmaps",
        why="doctor: the controller's artifactRepository and links",
        name="workflow-controller-configmap",
    )


DOCTOR_PERMISSIONS = doctor_permissions("drover")
"""``doctor_permissions`` of argo/'s namespace."""

EXECUTOR_PERMISSIONS: tuple[Permission, ...] = tuple(
    # workflow/executor/taskresult.go: createTaskResult / patchTaskResult(Labels), the wait
    # container reporting outputs (cmd/argoexec/executor/init.go builds that client).
    _argo("create patch", "workflowtaskresults", "argoexec wait container (every pod)")
)
"""What every workflow pod's service account needs (Argo's executor)."""

AGENT_PERMISSIONS: tuple[Permission, ...] = (
    # workflow/executor/agent.go AgentExecutor.Agent: Watch the WorkflowTaskSet, then patch its
    # status subresource with the results; the controller runs the agent pod under the
    # workflow's service account (workflow/controller/agent.go createAgentPod).
    *_argo("list watch", "workflowtasksets", "argo agent (HTTP templates)"),
    *_argo("patch", "workflowtasksets", "argo agent (HTTP templates)", "status"),
)
"""What the workflow's service account also needs when a template is an HTTP template."""


AGENT_SECRET_PERMISSIONS: tuple[Permission, ...] = (
    # workflow/executor/agent.go executeHTTPTemplateRequest: a header's valueFrom.secretKeyRef is
    # read through the Kubernetes API with the agent's token (util/util.go GetSecrets: a get).
    *_core("get", "secrets", "argo agent: HTTP headers from Secrets (a tool job's token)"),
)
"""What the agent's service account also needs when an HTTP header comes from a Secret."""

_NOT_PODS = ("dag", "steps", "suspend", "http", "plugin")
"""Template kinds that run no pod of their own (HTTP and plugins run in the agent)."""


def _spec(document: dict[str, Any]) -> dict[str, Any]:
    spec = document.get("spec") or {}
    return dict(spec.get("workflowSpec") or spec)


def pod_permissions(document: dict[str, Any]) -> dict[str, tuple[Permission, ...]]:
    """What each service account a Workflow's (or CronWorkflow's) pods run as needs.

    A pod runs as its template's ``serviceAccountName``, else the workflow's
    (workflow/controller/workflowpod.go ``setupServiceAccount``); the agent pod of HTTP
    templates always runs as the workflow's (workflow/controller/agent.go ``createAgentPod``).
    Unset, both are ``default``.
    """
    spec = _spec(document)
    workflow_account = str(spec.get("serviceAccountName") or "default")
    needs: dict[str, list[Permission]] = {}
    for template in spec.get("templates") or []:
        if any(template.get(kind) for kind in ("http", "plugin")):
            agent = needs.setdefault(workflow_account, [])
            agent += [p for p in AGENT_PERMISSIONS if p not in agent]
            headers = (template.get("http") or {}).get("headers") or []
            if any((h.get("valueFrom") or {}).get("secretKeyRef") for h in headers):
                agent += [p for p in AGENT_SECRET_PERMISSIONS if p not in agent]
        elif not any(template.get(kind) for kind in _NOT_PODS):
            pods = needs.setdefault(str(template.get("serviceAccountName") or workflow_account), [])
            pods += [p for p in EXECUTOR_PERMISSIONS if p not in pods]
    return {account: tuple(permissions) for account, permissions in needs.items()}
