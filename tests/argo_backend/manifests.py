"""argo/ as the cluster would see it: every kustomization rendered with ``kubectl kustomize``
(real kustomize; kubectl ships it), the references between rendered objects, the user-provided
objects argo/README.md lists, and an RBAC model of the rendered Roles.

The RBAC model answers "may service account S do verb V on resource R in namespace N" the way
Kubernetes' RBAC authorizer does (``plugin/pkg/auth/authorizer/rbac``: a RoleBinding in N or a
ClusterRoleBinding grants the rules of its Role/ClusterRole; ``*`` matches any verb, resource or
group; a ``resource/subresource`` rule matches only that subresource). SelfSubjectAccessReview
is granted to every authenticated user by the default ClusterRole ``system:basic-user``.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import Settings
from engine.backends.argo.permissions import Permission

ROOT = Path(__file__).resolve().parents[2]
ARGO = ROOT / "argo"
KUSTOMIZATIONS = sorted(p.parent for p in ARGO.rglob("kustomization.yaml"))
KUBECTL = shutil.which("kubectl")
# CI must have kubectl (.ci/setup installs it); a developer's machine without it skips.
needs_kubectl = pytest.mark.skipif(
    KUBECTL is None and not os.environ.get("CI"),
    reason="kubectl is not installed (it carries kustomize): apt-get install kubectl",
)
Document = dict[str, Any]
PLACEHOLDER = "user-provided"


def overlay_id(directory: Path) -> str:
    return directory.relative_to(ARGO).as_posix()


@cache
def _render_text(directory: Path) -> str:
    assert KUBECTL is not None, "kubectl is needed to render argo/ (apt-get install kubectl)"
    result = subprocess.run(
        [KUBECTL, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def render(directory: Path) -> list[Document]:
    """The documents ``kubectl kustomize directory`` prints (fresh copies each call)."""
    return [d for d in yaml.safe_load_all(_render_text(directory)) if d is not None]


def index(documents: list[Document]) -> dict[tuple[str, str, str], Document]:
    """``{(kind, namespace, name): document}`` (cluster-scoped objects have namespace "")."""
    return {
        (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in documents
    }


def facade_container(documents: list[Document]) -> tuple[Document, Document]:
    """The facade's Deployment and its container (the one that runs ``drover serve``)."""
    for document in documents:
        if document["kind"] != "Deployment":
            continue
        for container in document["spec"]["template"]["spec"]["containers"]:
            if "serve" in [*container.get("command", []), *container.get("args", [])]:
                return document, container
    raise AssertionError("no Deployment runs `drover serve`")


# ----------------------------------------------------------------------- user-provided objects

_ROW = re.compile(
    r"^\|\s*(Secret|ConfigMap|Service|ServiceAccount)\s*\|\s*`([^`]+)`\s*\|\s*`([^`]+)`"
)


def user_provided() -> set[tuple[str, str, str]]:
    """``(kind, namespace, name)`` rows of the table under "What you provide" in argo/README.md."""
    text = (ARGO / "README.md").read_text()
    section = text.split("## What you provide", 1)
    if len(section) < 2:
        return set()
    rows = set()
    for line in section[1].split("\n## ", 1)[0].splitlines():
        found = _ROW.match(line)
        if found:
            kind, name, namespace = found.groups()
            rows.add((kind, namespace, name))
    return rows


def _secret_value(objects: dict[tuple[str, str, str], Document], ns: str, ref: Document) -> str:
    secret = objects.get(("Secret", ns, ref["name"]))
    if secret is None:
        assert ("Secret", ns, ref["name"]) in user_provided(), f"Secret {ref['name']} is unknown"
        return PLACEHOLDER
    if ref["key"] in (secret.get("stringData") or {}):
        return str(secret["stringData"][ref["key"]])
    return base64.b64decode(secret["data"][ref["key"]]).decode()


def pod_environment(documents: list[Document]) -> dict[str, str]:
    """The facade container's environment as the kubelet builds it (values, Secret keys)."""
    deployment, container = facade_container(documents)
    objects, ns = index(documents), deployment["metadata"]["namespace"]
    env: dict[str, str] = {}
    for entry in container.get("env") or []:
        source = entry.get("valueFrom")
        if source is None:
            env[entry["name"]] = str(entry.get("value", ""))
        elif "secretKeyRef" in source:
            env[entry["name"]] = _secret_value(objects, ns, source["secretKeyRef"])
        else:
            raise AssertionError(f"env {entry['name']}: unmodelled source {source}")
    return env


def settings_of(documents: list[Document], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``Settings()`` in a process whose environment is exactly the facade pod's."""
    for name in list(os.environ):
        if name.startswith(("DROVER_", "ARGO_")) or name in ("DATABASE_URL", "KUBECONFIG"):
            monkeypatch.delenv(name)
    for name, value in pod_environment(documents).items():
        monkeypatch.setenv(name, value)
    return Settings()


# ---------------------------------------------------------------------------------- references


@dataclass(frozen=True)
class Reference:
    kind: str
    namespace: str
    name: str
    by: str
    """Which object and field refers to it."""


_SERVICE_HOST = re.compile(r"(?:^|[/@])([a-z0-9-]+)\.([a-z0-9-]+)\.svc(?:\.cluster\.local)?\b")


def _services_in(text: str, by: str) -> list[Reference]:
    return [Reference("Service", ns, name, by) for name, ns in _SERVICE_HOST.findall(text)]


def _pod_spec_references(pod: Document, namespace: str, by: str) -> list[Reference]:
    refs = [Reference("ServiceAccount", namespace, pod.get("serviceAccountName") or "default", by)]
    for secret in pod.get("imagePullSecrets") or []:
        refs.append(Reference("Secret", namespace, secret["name"], f"{by} imagePullSecrets"))
    for volume in pod.get("volumes") or []:
        if "secret" in volume:
            refs.append(Reference("Secret", namespace, volume["secret"]["secretName"], by))
        if "configMap" in volume:
            refs.append(Reference("ConfigMap", namespace, volume["configMap"]["name"], by))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "secret" in source:
                refs.append(Reference("Secret", namespace, source["secret"]["name"], by))
            if "configMap" in source:
                refs.append(Reference("ConfigMap", namespace, source["configMap"]["name"], by))
    for container in [*pod.get("initContainers", []), *pod.get("containers", [])]:
        where = f"{by} container {container['name']}"
        for env in container.get("env") or []:
            source = env.get("valueFrom") or {}
            if "secretKeyRef" in source:
                refs.append(Reference("Secret", namespace, source["secretKeyRef"]["name"], where))
            if "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]["name"]
                refs.append(Reference("ConfigMap", namespace, ref, where))
            refs += _services_in(str(env.get("value") or ""), f"{where} env {env['name']}")
        for source in container.get("envFrom") or []:
            if "secretRef" in source:
                refs.append(Reference("Secret", namespace, source["secretRef"]["name"], where))
            if "configMapRef" in source:
                refs.append(
                    Reference("ConfigMap", namespace, source["configMapRef"]["name"], where)
                )
        for arg in [*container.get("command", []), *container.get("args", [])]:
            refs += _services_in(str(arg), f"{where} args")
    return refs


def _secret_names(value: Any) -> list[str]:
    """Names of ``{name, key}`` Secret selectors anywhere in a parsed Argo config."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("Secret") and isinstance(item, dict) and "name" in item:
                found.append(str(item["name"]))
            else:
                found += _secret_names(item)
    elif isinstance(value, list):
        for item in value:
            found += _secret_names(item)
    return found


def references(documents: list[Document]) -> list[Reference]:
    """Every Secret, ConfigMap, Service and ServiceAccount a rendered object refers to."""
    refs: list[Reference] = []
    for document in documents:
        kind, meta = document["kind"], document["metadata"]
        namespace, by = meta.get("namespace", ""), f"{kind} {meta['name']}"
        spec = document.get("spec") or {}
        if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            refs += _pod_spec_references(spec["template"]["spec"], namespace, by)
        if kind == "StatefulSet" and spec.get("serviceName"):
            refs.append(Reference("Service", namespace, spec["serviceName"], f"{by} serviceName"))
        if kind in ("RoleBinding", "ClusterRoleBinding"):
            for subject in document.get("subjects") or []:
                if subject["kind"] == "ServiceAccount":
                    ns = subject.get("namespace", namespace)
                    refs.append(Reference("ServiceAccount", ns, subject["name"], by))
        if kind == "Secret":
            account = (meta.get("annotations") or {}).get("kubernetes.io/service-account.name")
            if account:
                refs.append(Reference("ServiceAccount", namespace, account, by))
            for key, value in (document.get("stringData") or {}).items():
                refs += _services_in(str(value), f"{by} {key}")
        if kind == "ConfigMap":
            # Argo reads its configs from ConfigMaps (artifact repositories, the controller's
            # persistence): Secrets are looked up in the ConfigMap's namespace.
            for key, value in (document.get("data") or {}).items():
                parsed = yaml.safe_load(value) if isinstance(value, str) else value
                for name in _secret_names(parsed):
                    refs.append(Reference("Secret", namespace, name, f"{by} {key}"))
                text = str(value)
                refs += _services_in(text, f"{by} {key}")
                for host in re.findall(r"\bhost:\s*([a-z0-9.-]+)", text):
                    refs += _services_in(f"/{host}", f"{by} {key} host")
    return refs


def unresolved(documents: list[Document]) -> list[Reference]:
    """References to objects neither rendered nor listed as user-provided in argo/README.md."""
    present = set(index(documents)) | user_provided()
    return [
        r
        for r in references(documents)
        # Kubernetes' service-account controller creates "default" in every namespace.
        if (r.kind, r.namespace, r.name) not in present
        and (r.kind, r.name) != ("ServiceAccount", "default")
    ]


# ----------------------------------------------------------------------------------- RBAC model


@dataclass(frozen=True)
class Denied:
    subject: str
    namespace: str
    permission: Permission
    call: str

    def __str__(self) -> str:
        return (
            f"{self.call}: {self.subject} may not {self.permission.describe()} in namespace "
            f"{self.namespace!r} ({self.permission.why})"
        )


def _rule_allows(rule: Document, permission: Permission) -> bool:
    groups, resources, verbs = (rule.get(k) or [] for k in ("apiGroups", "resources", "verbs"))
    names = rule.get("resourceNames") or []
    if names and permission.name not in names:
        return False  # a rule limited to some objects never allows a request without a name
    return (
        ("*" in groups or permission.group in groups)
        and ("*" in resources or permission.full_resource in resources)
        and ("*" in verbs or permission.verb in verbs)
    )


class RbacModel:
    """The RBAC authorizer over one rendering."""

    def __init__(self, documents: list[Document]) -> None:
        self.documents = documents
        self.objects = index(documents)

    def rules_for(
        self, account: str, namespace: str, account_namespace: str | None = None
    ) -> list[Document]:
        """The rules bound to ServiceAccount ``account`` (of ``account_namespace``, default
        ``namespace``) that apply in ``namespace``."""
        home = account_namespace or namespace
        rules: list[Document] = []
        for (kind, ns, _), binding in self.objects.items():
            if kind not in ("RoleBinding", "ClusterRoleBinding"):
                continue
            if kind == "RoleBinding" and ns != namespace:
                continue
            bound = any(
                s["kind"] == "ServiceAccount"
                and s["name"] == account
                and s.get("namespace", ns) == home
                for s in binding.get("subjects") or []
            )
            if not bound:
                continue
            ref = binding["roleRef"]
            role_ns = ns if ref["kind"] == "Role" else ""
            role = self.objects.get((ref["kind"], role_ns, ref["name"]))
            if role is not None:
                rules += role.get("rules") or []
        return rules

    def allows(
        self,
        account: str,
        namespace: str,
        permission: Permission,
        account_namespace: str | None = None,
    ) -> bool:
        if permission.resource == "selfsubjectaccessreviews":
            return True  # system:basic-user
        rules = self.rules_for(account, namespace, account_namespace)
        return any(_rule_allows(r, permission) for r in rules)

    def check(
        self, account: str, namespace: str, needs: list[tuple[str, Permission]]
    ) -> list[Denied]:
        """The ``(call, permission)`` pairs ``account`` is not granted, as readable denials."""
        subject = f"system:serviceaccount:{namespace}:{account}"
        return [
            Denied(subject, namespace, permission, call)
            for call, permission in needs
            if not self.allows(account, namespace, permission)
        ]
