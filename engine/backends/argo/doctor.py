"""``drover doctor``: is this cluster ready for Drover's Argo path, and if not, what to fix.

Each check asks the live cluster (through the Argo Server and the Kubernetes API, with the
facade's own credentials) and says what it found and, when something is missing, how to fix
it. The CLI and ``GET /api/v1/system/doctor`` both call :func:`diagnose`.

Permissions are asked, not guessed: the facade's through SelfSubjectAccessReview (allowed to
every authenticated user by the default ClusterRole ``system:basic-user``), the workflow
service account's through LocalSubjectAccessReview (the namespaced SubjectAccessReview, which a
Role in the namespace can grant, so no ClusterRole is needed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import yaml
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from engine.backends.argo.kube import api_client
from engine.backends.argo.permissions import (
    AGENT_PERMISSIONS,
    AGENT_SECRET_PERMISSIONS,
    EXECUTOR_PERMISSIONS,
    FACADE_PERMISSIONS,
    Permission,
    controller_config_permission,
)
from engine.backends.argo.server import ArgoServer
from engine.backends.argo.settings import ArgoSettings
from engine.errors import DroverError

__all__ = ["Check", "DoctorReport", "diagnose"]

DEFAULT_REPOSITORY = "workflows.argoproj.io/default-artifact-repository"
# registry/name[:tag][@digest], lowercase path components (the distribution reference grammar).
_IMAGE = re.compile(
    r"^(?:[a-zA-Z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def missing(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [asdict(c) for c in self.checks]}


def _kube_error(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"Kubernetes API answered {error.status} {error.reason}"
    return f"{type(error).__name__}: {error}"


def _attempt(report: DoctorReport, name: str, fix: str, probe: Callable[[], Check]) -> None:
    """Run one probe; an error talking to the cluster becomes a failed check, never a crash."""
    try:
        report.checks.append(probe())
    except (DroverError, ApiException, OSError) as error:
        detail = str(error) if isinstance(error, DroverError) else _kube_error(error)
        report.checks.append(Check(name, False, detail, fix))


def _attributes(namespace: str, permission: Permission) -> k8s.V1ResourceAttributes:
    return k8s.V1ResourceAttributes(
        namespace=namespace,
        verb=permission.verb,
        group=permission.group,
        resource=permission.resource,
        subresource=permission.subresource or None,
    )


def _role_rule(permission: Permission) -> str:
    group = permission.group or '""'
    return f"apiGroups [{group}] resources [{permission.full_resource}] verbs [{permission.verb}]"


@dataclass(frozen=True)
class _AccessReview:
    """One permissions check: whose permissions are asked, and how the check words them."""

    name: str
    permissions: tuple[Permission, ...]
    allowed: Callable[[Permission], bool]
    """Asks the API server whether the subject may do one thing."""
    granted: str
    """The detail when every permission is granted."""
    denied: str
    """The start of the detail when some are not (``...: <the denied ones>``)."""
    fix: str
    """How to grant them; ``{rules}`` becomes the Role rules that are missing."""


def _access_reviews(
    authz: k8s.AuthorizationV1Api, namespace: str, account: str, agent: str | None = None
) -> list[_AccessReview]:
    """The facade's own permissions (SelfSubjectAccessReview), the workflow pods' service
    account's and the agent's (LocalSubjectAccessReview, asked as that account and its
    groups)."""

    def facade_may(permission: Permission) -> bool:
        body = k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=_attributes(namespace, permission)
            )
        )
        review = authz.create_self_subject_access_review(body)
        return bool(review.status and review.status.allowed)

    groups = [
        "system:serviceaccounts",
        f"system:serviceaccounts:{namespace}",
        "system:authenticated",
    ]

    def may(account: str, permission: Permission) -> bool:
        body = k8s.V1LocalSubjectAccessReview(
            metadata=k8s.V1ObjectMeta(namespace=namespace),
            spec=k8s.V1SubjectAccessReviewSpec(
                user=f"system:serviceaccount:{namespace}:{account}",
                groups=groups,
                resource_attributes=_attributes(namespace, permission),
            ),
        )
        review = authz.create_namespaced_local_subject_access_review(namespace, body)
        return bool(review.status and review.status.allowed)

    user = f"system:serviceaccount:{namespace}:{account}"
    agent_review = []
    if agent and agent != account:
        # Argo's agent runs pipelines' HTTP steps under its own account and reads their
        # headers' Secrets (permissions.AGENT_SECRET_PERMISSIONS).
        agent_review.append(
            _AccessReview(
                name="agent permissions",
                permissions=(*AGENT_PERMISSIONS, *AGENT_SECRET_PERMISSIONS),
                allowed=partial(may, agent),
                granted=f"system:serviceaccount:{namespace}:{agent} may run HTTP steps and "
                "read their headers' Secrets",
                denied=f"system:serviceaccount:{namespace}:{agent} is not granted",
                fix=f"bind a Role to {agent} with: {{rules}} "
                "(argo/base/rbac.yaml, drover-workflow-agent)",
            )
        )
    return [
        _AccessReview(
            name="facade permissions",
            permissions=FACADE_PERMISSIONS,
            allowed=facade_may,
            granted=f"all {len(FACADE_PERMISSIONS)} granted in {namespace}",
            denied="not granted",
            fix="add to the facade's Role (argo/base/rbac.yaml): {rules}",
        ),
        _AccessReview(
            name="workflow pod permissions",
            permissions=(*EXECUTOR_PERMISSIONS, *AGENT_PERMISSIONS),
            allowed=partial(may, account),
            granted=f"{user} may write task results and run HTTP steps",
            denied=f"{user} is not granted",
            fix=f"bind a Role to {account} with: {{rules}} "
            "(argo/base/rbac.yaml, drover-workflow-executor)",
        ),
        *agent_review,
    ]


def _review_permissions(review: _AccessReview) -> Check:
    denied = [p for p in review.permissions if not review.allowed(p)]
    if not denied:
        return Check(review.name, True, review.granted)
    listed = "; ".join(f"{p.describe()} ({p.why})" for p in denied)
    rules = "; ".join(_role_rule(p) for p in denied)
    return Check(review.name, False, f"{review.denied}: {listed}", review.fix.format(rules=rules))


CONTROLLER_CONFIGMAP = "workflow-controller-configmap"
"""The controller's settings, in its own namespace (workflow/common/common.go ``ConfigMapName``;
config/config.go ``Config``: ``artifactRepository``, ``links``, ...)."""


@dataclass(frozen=True)
class _ControllerConfig:
    """The controller's ConfigMap as the facade could read it: its data, or why not."""

    namespace: str
    data: dict[str, str] | None = None
    problem: Check | None = None
    """Set when it could not be read: what, why, and the fix."""


def _read_controller_config(core: k8s.CoreV1Api, controller_ns: str) -> _ControllerConfig:
    where = f"ConfigMap {CONTROLLER_CONFIGMAP} in namespace {controller_ns}"
    settings = (
        "if Argo's workflow-controller runs in another namespace, say which: "
        "DROVER_ARGO_CONTROLLER_NAMESPACE (drover doctor --controller-namespace)"
    )
    try:
        configmap = core.read_namespaced_config_map(CONTROLLER_CONFIGMAP, controller_ns)
    except ApiException as error:
        if error.status == 403:
            permission = controller_config_permission()
            problem = Check(
                "controller ConfigMap",
                False,
                f"the facade may not read {where} (403: {permission.describe()}, "
                f"resourceNames [{CONTROLLER_CONFIGMAP}]), so its artifactRepository and the "
                "Argo UI's links to Drover cannot be checked",
                f"bind the facade's service account (drover-api in argo/), in namespace "
                f'{controller_ns}, to a Role with: apiGroups [""] resources [configmaps] '
                f"resourceNames [{CONTROLLER_CONFIGMAP}] verbs [get] (argo/base/rbac.yaml, "
                f"drover-api-controller-config); {settings}",
            )
            return _ControllerConfig(controller_ns, problem=problem)
        if error.status == 404:
            problem = Check(
                "controller ConfigMap",
                False,
                f"no {where}: Argo's workflow-controller reads its settings (artifactRepository, "
                "links) from it, in the controller's own namespace",
                f"{settings}; or apply argo/base/workflow-controller-configmap.yaml there",
            )
            return _ControllerConfig(controller_ns, problem=problem)
        raise
    return _ControllerConfig(controller_ns, data=dict(configmap.data or {}))


def _controller_config_check(config: _ControllerConfig) -> Check:
    if config.problem is not None:
        return config.problem
    data = config.data or {}
    links = yaml.safe_load(data.get("links") or "null") or []
    to_drover = [
        str(link.get("name")) for link in links if isinstance(link, dict) and "drover" in
        str(link.get("url", ""))
    ]  # fmt: skip
    shown = ", ".join(to_drover) if to_drover else "none to Drover (optional)"
    repository = (
        "artifactRepository set" if data.get("artifactRepository") else ("no artifactRepository")
    )
    return Check(
        "controller ConfigMap",
        True,
        f"{CONTROLLER_CONFIGMAP} in {config.namespace}: {repository}; Argo UI links: {shown}",
    )


def _artifact_repository(
    core: k8s.CoreV1Api, namespace: str, controller: _ControllerConfig
) -> Check:
    name = "artifact repository"
    unreadable = ""
    try:
        configmap = core.read_namespaced_config_map("artifact-repositories", namespace)
        default = ((configmap.metadata and configmap.metadata.annotations) or {}).get(
            DEFAULT_REPOSITORY
        )
        if default and default in (configmap.data or {}):
            return Check(name, True, f"ConfigMap artifact-repositories in {namespace}: {default}")
    except ApiException as error:
        if error.status not in (403, 404):
            raise
        if error.status == 403:
            unreadable = f" (the facade may not get configmaps in {namespace}: 403)"
    config = yaml.safe_load((controller.data or {}).get("artifactRepository") or "null")
    if config:
        return Check(
            name, True, f"artifactRepository in {controller.namespace}/{CONTROLLER_CONFIGMAP}"
        )
    create = (
        "create ConfigMap artifact-repositories in the namespace (see argo/overlays/local/"
        "artifact-repository.yaml and argo/README.md, 'What you provide'), or set "
        "DROVER_ARGO_ARTIFACT_REPOSITORY=false (runs without output artifacts or reports)"
    )
    if controller.problem is not None:
        # Not "none": the controller's own setting could not be read (see that check).
        return Check(
            name,
            False,
            f"unknown: no ConfigMap artifact-repositories (with annotation {DEFAULT_REPOSITORY}) "
            f"in {namespace}{unreadable}, and {controller.namespace}/{CONTROLLER_CONFIGMAP} "
            "could not be read (see 'controller ConfigMap')",
            f"fix 'controller ConfigMap' so its artifactRepository can be checked, or {create}",
        )
    return Check(
        name,
        False,
        f"no ConfigMap artifact-repositories (with annotation {DEFAULT_REPOSITORY}) in "
        f"{namespace}{unreadable}, no artifactRepository in {controller.namespace}/"
        f"{CONTROLLER_CONFIGMAP}; every worker saves its results and log there and "
        "ends in Error without one",
        create,
    )


DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
"""The annotation of the default StorageClass, which a claim without storageClassName gets
(Kubernetes' DefaultStorageClass admission plugin)."""

RWO_ONLY_PROVISIONERS = {
    "rancher.io/local-path": "node-local directories (kind's and k3d's default)",
    "kubernetes.io/no-provisioner": "pre-made local volumes",
    "ebs.csi.aws.com": "AWS EBS block volumes",
    "kubernetes.io/aws-ebs": "AWS EBS block volumes",
    "pd.csi.storage.gke.io": "GCE persistent disks",
    "kubernetes.io/gce-pd": "GCE persistent disks",
    "disk.csi.azure.com": "Azure disks",
    "kubernetes.io/azure-disk": "Azure disks",
}
"""Provisioners whose volumes attach to one node at a time: no ReadWriteMany."""


def _workspace_storage(storage: k8s.StorageV1Api) -> Check:
    """Where a pvc workspace's claim goes: the default StorageClass, and whether it can give
    the ReadWriteMany that parallel workers get by default (engine/compiler/workflow.py
    ``_default_access_mode``). Argo creates the workflow's volumeClaimTemplates as they are
    (workflow/controller/operator.go ``createPVCs``); a claim no class can bind stays Pending,
    and so do the pods that mount it."""
    name = "workspace storage"
    try:
        classes = storage.list_storage_class().items or []
    except ApiException as error:
        if error.status != 403:
            raise
        # argo/ grants namespace-scoped Roles only; StorageClasses are cluster-scoped.
        return Check(
            name,
            True,
            "not checked: the facade may not list StorageClasses (403: list "
            "storageclasses.storage.k8s.io, cluster-wide; argo/ grants no cluster-wide rights). "
            "To have it checked, bind the facade's service account to a ClusterRole with: "
            "apiGroups [storage.k8s.io] resources [storageclasses] verbs [list]. Parallel "
            "workers of a pvc workspace get ReadWriteMany by default: the default class must "
            "offer it, or set workspace.access_mode, workspace.storage_class or "
            "workspace.mode: artifact",
        )
    defaults = [
        c
        for c in classes
        if ((c.metadata and c.metadata.annotations) or {}).get(DEFAULT_CLASS) == "true"
    ]
    if not defaults:
        return Check(
            name,
            False,
            "no default StorageClass: a pvc workspace without workspace.storage_class stays "
            "Pending, and so does every pod of its run",
            f"set workspace.storage_class in executions, mark a class default (annotation "
            f'{DEFAULT_CLASS}: "true"), or use workspace.mode: artifact',
        )
    default = defaults[0]
    default_name = default.metadata.name if default.metadata else "?"
    label = f"default StorageClass {default_name} ({default.provisioner})"
    kind = RWO_ONLY_PROVISIONERS.get(default.provisioner or "")
    if kind is None:
        return Check(
            name,
            True,
            f"{label}; parallel workers share a pvc workspace as ReadWriteMany unless "
            "workspace.access_mode says otherwise: check that it offers that",
        )
    # Not a failure: an execution may set ReadWriteOnce (one node) or another class; what to
    # change is in the detail, since the CLI prints a fix only for what is missing.
    return Check(
        name,
        True,
        f"{label} provisions {kind}: no ReadWriteMany, which parallel workers of a pvc "
        "workspace get by default (their claim would stay Pending): set workspace.access_mode: "
        "ReadWriteOnce on a one-node cluster, workspace.storage_class to a class with "
        "ReadWriteMany (NFS, CephFS, EFS, Azure Files, Filestore), or workspace.mode: artifact",
    )


def _agent_image(image: str) -> Check:
    name = "agent image"
    if not _IMAGE.match(image):
        return Check(name, False, f"{image!r} is not an image reference", "set project.image")
    if "drover-agent" not in image.rsplit("/", 1)[-1]:
        return Check(
            name,
            False,
            f"{image} is not Drover's agent image; pods run `drover-agent`, which it may lack",
            "build and push the agent image (agent-image/) and set project.image to it",
        )
    if "/" not in image:
        detail = f"{image} (no registry: load it into the nodes, e.g. kind load docker-image)"
        return Check(name, True, detail)
    return Check(name, True, image)


def diagnose(
    settings: ArgoSettings,
    *,
    service_account: str | None,
    agent_image: str,
    artifact_repository: bool = True,
    controller_namespace: str = "argo",
    agent_service_account: str | None = None,
    kube_client: k8s.ApiClient | None = None,
) -> DoctorReport:
    """Every check, in order; the report says what is missing and how to fix it.
    ``artifact_repository=False``: runs are compiled without artifacts, none is needed."""
    report = DoctorReport()

    def argo_server() -> Check:
        server = ArgoServer(settings)
        try:
            version = server.request("GET", "api/v1/version", what="read the version")
        finally:
            server.close()
        return Check(
            "Argo Server", True, f"{settings.base_url} answers, version {version.get('version')}"
        )

    _attempt(
        report,
        "Argo Server",
        "check DROVER_ARGO_SERVER, the token (DROVER_ARGO_TOKEN_FILE) and the CA bundle "
        "(DROVER_ARGO_CA_BUNDLE); the server must run with --auth-mode=client",
        argo_server,
    )
    try:
        kube = kube_client or api_client(settings)
    except DroverError as error:
        report.checks.append(
            Check("Kubernetes API", False, str(error), "run in the cluster or set KUBECONFIG")
        )
        return report
    try:
        _cluster_checks(
            report,
            kube,
            settings.namespace,
            service_account,
            controller_namespace,
            artifact_repository,
            agent_service_account,
        )
    finally:
        if kube_client is None:
            kube.close()  # type: ignore[no-untyped-call]
    report.checks.append(_agent_image(agent_image))
    return report


def _cluster_checks(
    report: DoctorReport,
    kube: k8s.ApiClient,
    namespace: str,
    service_account: str | None,
    controller_namespace: str,
    artifact_repository: bool,
    agent_service_account: str | None,
) -> None:
    """``artifact_repository`` False: runs use none, none is checked."""
    core, authz = k8s.CoreV1Api(kube), k8s.AuthorizationV1Api(kube)

    def namespace_exists() -> Check:
        try:
            core.read_namespace(namespace)
        except ApiException as error:
            if error.status != 403:
                raise
            return Check(
                "namespace",
                False,
                f"the facade may not read namespace {namespace} (403)",
                f"grant get on namespaces, resourceNames [{namespace}], in the facade's Role "
                "(argo/base/rbac.yaml)",
            )
        return Check("namespace", True, namespace)

    _attempt(report, "namespace", f"kubectl create namespace {namespace}", namespace_exists)
    account = service_account or "default"

    def account_exists() -> Check:
        if not service_account:
            return Check(
                "workflow service account",
                False,
                "none configured: workflow pods run as 'default'",
                "set DROVER_SERVICE_ACCOUNT=drover-workflow (argo/base/serviceaccounts.yaml)",
            )
        core.read_namespaced_service_account(service_account, namespace)
        return Check("workflow service account", True, f"{service_account} in {namespace}")

    _attempt(
        report,
        "workflow service account",
        f"kubectl -n {namespace} create serviceaccount {account} (or apply argo/)",
        account_exists,
    )
    for review in _access_reviews(authz, namespace, account, agent_service_account):
        _attempt(
            report,
            review.name,
            "apply argo/base/rbac.yaml",
            partial(_review_permissions, review),
        )
    _attempt(
        report,
        "workspace storage",
        "check the cluster's StorageClasses (kubectl get storageclass)",
        lambda: _workspace_storage(k8s.StorageV1Api(kube)),
    )
    controller = _ControllerConfig(controller_namespace)

    def read_controller() -> Check:
        nonlocal controller
        controller = _read_controller_config(core, controller_namespace)
        return _controller_config_check(controller)

    _attempt(
        report,
        "controller ConfigMap",
        f"check that Argo's workflow-controller runs in {controller_namespace} "
        "(DROVER_ARGO_CONTROLLER_NAMESPACE)",
        read_controller,
    )
    if not artifact_repository:
        detail = "none used: DROVER_ARGO_ARTIFACT_REPOSITORY=false (no reports, logs in pods)"
        report.checks.append(Check("artifact repository", True, detail))
        return
    _attempt(
        report,
        "artifact repository",
        "create ConfigMap artifact-repositories (argo/README.md, 'What you provide')",
        lambda: _artifact_repository(core, namespace, controller),
    )
