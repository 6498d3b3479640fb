"""Contract tests over ``kubectl kustomize`` of every kustomization in argo/: what the cluster
gets is what the service reads, and nothing refers to an object nobody creates.

- The facade Deployment's env, loaded into ``api.settings.Settings`` exactly as the pod would,
  selects the Argo backend with a server URL and a token the pod really has.
- Every Secret, ConfigMap, Service and ServiceAccount a rendered object refers to exists in the
  same rendering or is listed under "What you provide" in argo/README.md.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from api.backends import argo_settings
from api.settings import Settings
from tests.argo_backend.manifests import (
    ARGO,
    KUSTOMIZATIONS,
    Document,
    facade_container,
    index,
    needs_kubectl,
    overlay_id,
    render,
    settings_of,
    unresolved,
    user_provided,
)

pytestmark = needs_kubectl
SA_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")


def settings_env_names() -> set[str]:
    """The environment variables ``Settings`` reads (its prefix, or a field's own alias)."""
    prefix = str(Settings.model_config.get("env_prefix") or "")
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names.add(alias if isinstance(alias, str) else f"{prefix}{name}".upper())
    return names


def _token_in_pod(documents: list[Document], settings: Settings) -> bool:
    """Whether the token file the settings name exists in the facade's pod."""
    deployment, container = facade_container(documents)
    pod = deployment["spec"]["template"]["spec"]
    path = settings.argo_token_file
    if path is None:
        return False
    if path.parent == SA_TOKEN.parent:
        account = index(documents).get(
            ("ServiceAccount", deployment["metadata"]["namespace"], pod["serviceAccountName"])
        )
        automount = pod.get("automountServiceAccountToken")
        if automount is None and account is not None:
            automount = account.get("automountServiceAccountToken")
        return automount is not False
    mounts = [Path(m["mountPath"]) for m in container.get("volumeMounts") or []]
    return any(path.is_relative_to(m) for m in mounts)


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=overlay_id)
def test_defect_1_facade_env_selects_the_argo_backend_with_server_and_token(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 12, defect 1: the Deployment set ARGO_SERVER/ARGO_TOKEN_FILE/ARGO_NAMESPACE, which
    the service never reads; deployed as shipped, it ran the local backend in its pod."""
    documents = render(directory)
    settings = settings_of(documents, monkeypatch)
    assert settings.backend == "argo", "DROVER_BACKEND=argo is not set on the facade"
    argo = argo_settings(settings)
    assert argo.server.startswith(("http://", "https://"))
    assert _token_in_pod(documents, settings), (
        f"the Argo token file {settings.argo_token_file} does not exist in the facade's pod"
    )
    deployment, _ = facade_container(documents)
    assert argo.namespace == deployment["metadata"]["namespace"] == settings.namespace
    assert settings.database_url, "DATABASE_URL must reach the facade"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=overlay_id)
def test_defect_1_every_facade_env_var_is_one_the_service_reads(directory: Path) -> None:
    known = settings_env_names()
    _, container = facade_container(render(directory))
    unread = [e["name"] for e in container.get("env") or [] if e["name"] not in known]
    assert unread == [], f"the facade's Settings never read {unread}"


def test_defect_1_readme_names_only_variables_the_service_reads() -> None:
    """The README's production notes (CA bundle, server URL) name variables the service reads."""
    text = (ARGO / "README.md").read_text()
    named = set(re.findall(r"\b(DROVER_[A-Z_]+)\b", text))
    assert named, "argo/README.md names no DROVER_ settings"
    assert named <= settings_env_names(), named - settings_env_names()
    assert "DROVER_ARGO_CA_BUNDLE" in named


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=overlay_id)
def test_defect_10_every_reference_exists_or_is_user_provided(directory: Path) -> None:
    """Issue 12, defect 10: argo/base referred to a MinIO Service and an S3 Secret that only the
    local overlay created (pods stuck in ContainerCreating). Every reference must resolve."""
    missing = [
        f"{r.kind} {r.namespace}/{r.name} (by {r.by})" for r in unresolved(render(directory))
    ]
    assert missing == [], (
        "not rendered and not in argo/README.md 'What you provide':\n" + "\n".join(missing)
    )


def test_user_provided_objects_are_listed() -> None:
    provided = user_provided()
    assert ("Service", "argo", "argo-server") in provided
    assert ("ConfigMap", "drover", "artifact-repositories") in provided


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=overlay_id)
def test_workflow_service_account_exists_where_runs_go(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The account the service compiles into every Workflow (defect 2) exists in its namespace."""
    documents = render(directory)
    settings = settings_of(documents, monkeypatch)
    assert settings.service_account, "DROVER_SERVICE_ACCOUNT is not set on the facade"
    assert ("ServiceAccount", settings.namespace, settings.service_account) in index(documents)
    # And the account of Argo's agent in pipeline runs with HTTP steps, which alone may read
    # the Secrets of their headers (a tool job's token).
    assert settings.agent_service_account, "DROVER_AGENT_SERVICE_ACCOUNT is not set"
    assert settings.agent_service_account != settings.service_account
    assert ("ServiceAccount", settings.namespace, settings.agent_service_account) in index(
        documents
    )


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=overlay_id)
def test_the_agent_pod_finds_its_account_token(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Argo's agent pod (a pipeline's HTTP steps) runs as the workflow's account without an
    automounted token: the controller mounts the Secret ``TokenNameForServiceAccount`` names
    (util/secrets/secret_name.go: the account's first secret, its token-name annotation, else
    ``<account>.service-account-token``), which Kubernetes no longer creates. Either account a
    pipeline run may have (the agent's, or the workers' when none is set) needs one."""
    documents = render(directory)
    objects = index(documents)
    settings = settings_of(documents, monkeypatch)
    for name in (settings.agent_service_account, settings.service_account):
        account = objects[("ServiceAccount", settings.namespace, name)]
        named = (account.get("metadata", {}).get("annotations") or {}).get(
            "workflows.argoproj.io/service-account-token.name"
        )
        listed = [s["name"] for s in account.get("secrets") or []]
        token_name = listed[0] if listed else named or f"{name}.service-account-token"
        secret = objects.get(("Secret", settings.namespace, token_name))
        assert secret is not None, f"no Secret {token_name} for the agent pod of {name}"
        assert secret["type"] == "kubernetes.io/service-account-token"
        annotations = secret["metadata"]["annotations"]
        assert annotations["kubernetes.io/service-account.name"] == name


def test_local_overlay_brings_its_artifact_repository() -> None:
    objects = index(render(ARGO / "overlays" / "local"))
    assert ("ConfigMap", "drover", "artifact-repositories") in objects
    assert ("Service", "drover", "minio") in objects
    base = index(render(ARGO / "base"))
    assert not any(name == "artifact-repositories" for _, _, name in base)


def test_reference_checker_finds_a_dangling_secret() -> None:
    """The checker itself: a Deployment naming an unknown Secret is reported."""
    documents: list[dict[str, Any]] = [
        {"kind": "Deployment", "metadata": {"name": "x", "namespace": "drover"},
         "spec": {"template": {"spec": {"serviceAccountName": "drover-api", "containers": [
             {"name": "c", "env": [{"name": "A", "valueFrom": {
                 "secretKeyRef": {"name": "nowhere", "key": "k"}}}]}]}}}},
    ]  # fmt: skip
    found = {(r.kind, r.name) for r in unresolved(documents)}
    assert found == {("Secret", "nowhere"), ("ServiceAccount", "drover-api")}
