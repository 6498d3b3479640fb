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
    EXECUTOR_PERMISSIONS,
    FACADE_PERMISSIONS,
    Permission,
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
    authz: k8s.AuthorizationV1Api, namespace: str, account: str
) -> list[_AccessReview]:
    """The facade's own permissions (SelfSubjectAccessReview) and the workflow pods' service
    account's (LocalSubjectAccessReview, asked as that account and its groups)."""

    def facade_may(permission: Permission) -> bool:
        body = k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=_attributes(namespace, permission)
            )
        )
        review = authz.create_self_subject_access_review(body)
        return bool(review.status and review.status.allowed)

    user = f"system:serviceaccount:{namespace}:{account}"
    groups = [
        "system:serviceaccounts",
        f"system:serviceaccounts:{namespace}",
        "system:authenticated",
    ]

    def account_may(permission: Permission) -> bool:
        body = k8s.V1LocalSubjectAccessReview(
            metadata=k8s.V1ObjectMeta(namespace=namespace),
            spec=k8s.V1SubjectAccessReviewSpec(
                user=user, groups=groups, resource_attributes=_attributes(namespace, permission)
            ),
        )
        review = authz.create_namespaced_local_subject_access_review(namespace, body)
        return bool(review.status and review.status.allowed)

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
            allowed=account_may,
            granted=f"{user} may write task results and run HTTP steps",
            denied=f"{user} is not granted",
            fix=f"bind a Role to {account} with: {{rules}} "
            "(argo/base/rbac.yaml, drover-workflow-executor)",
        ),
    ]


def _review_permissions(review: _AccessReview) -> Check:
    denied = [p for p in review.permissions if not review.allowed(p)]
    if not denied:
        return Check(review.name, True, review.granted)
    listed = "; ".join(f"{p.describe()} ({p.why})" for p in denied)
    rules = "; ".join(_role_rule(p) for p in denied)
    return Check(review.name, False, f"{review.denied}: {listed}", review.fix.format(rules=rules))


def _artifact_repository(core: k8s.CoreV1Api, namespace: str, controller_namespace: str) -> Check:
    name = "artifact repository"
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
    try:
        controller = core.read_namespaced_config_map(
            "workflow-controller-configmap", controller_namespace
        )
        config = yaml.safe_load((controller.data or {}).get("artifactRepository") or "null")
        if config:
            return Check(
                name,
                True,
                f"artifactRepository in {controller_namespace}/workflow-controller-configmap",
            )
    except ApiException as error:
        if error.status not in (403, 404):
            raise
    return Check(
        name,
        False,
        f"no ConfigMap artifact-repositories (with annotation {DEFAULT_REPOSITORY}) in "
        f"{namespace}, no artifactRepository in {controller_namespace}/"
        "workflow-controller-configmap; every worker saves its results and log there and "
        "ends in Error without one",
        "create ConfigMap artifact-repositories in the namespace (see argo/overlays/local/"
        "artifact-repository.yaml and argo/README.md, 'What you provide'), or set "
        "DROVER_ARGO_ARTIFACT_REPOSITORY=false (runs without output artifacts or reports)",
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
            controller_namespace if artifact_repository else None,
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
    controller_namespace: str | None,
) -> None:
    """``controller_namespace`` None: no artifact repository is used (nor checked)."""
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
    for review in _access_reviews(authz, namespace, account):
        _attempt(
            report,
            review.name,
            "apply argo/base/rbac.yaml",
            partial(_review_permissions, review),
        )
    if controller_namespace is None:
        detail = "none used: DROVER_ARGO_ARTIFACT_REPOSITORY=false (no reports, logs in pods)"
        report.checks.append(Check("artifact repository", True, detail))
        return
    _attempt(
        report,
        "artifact repository",
        "create ConfigMap artifact-repositories (argo/README.md, 'What you provide')",
        lambda: _artifact_repository(core, namespace, controller_namespace),
    )
