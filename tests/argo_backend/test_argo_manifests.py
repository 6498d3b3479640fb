"""argo/: every kustomization renders with ``kubectl kustomize``; the Argo parts validate."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.argo_backend.conftest import ROOT
from tests.argo_reference import ARGO_KINDS, strict_errors

ARGO = ROOT / "argo"
KUSTOMIZATIONS = sorted(p.parent for p in ARGO.rglob("kustomization.yaml"))
KUBECTL = shutil.which("kubectl")

needs_kubectl = pytest.mark.skipif(
    KUBECTL is None,
    reason="kubectl is not installed (apt-get install kubectl, or the static binary)",
)


def _render(directory: Path) -> list[dict[str, Any]]:
    assert KUBECTL is not None
    result = subprocess.run(
        [KUBECTL, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


def test_there_is_a_base_and_a_local_overlay() -> None:
    assert {p.relative_to(ARGO).as_posix() for p in KUSTOMIZATIONS} == {"base", "overlays/local"}


@pytest.mark.parametrize(
    "path", sorted(ARGO.rglob("*.yaml")), ids=lambda p: p.relative_to(ARGO).as_posix()
)
def test_every_file_is_valid_yaml_and_argo_documents_pass_strict(path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        if isinstance(document, dict) and document.get("kind") in ARGO_KINDS:
            assert strict_errors(document) == []


@needs_kubectl
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: p.relative_to(ARGO).as_posix())
def test_kustomizations_render(directory: Path) -> None:
    documents = _render(directory)
    for document in documents:
        assert document["apiVersion"] and document["kind"] and document["metadata"]["name"]
        if document["kind"] in ARGO_KINDS:
            assert strict_errors(document) == []


@needs_kubectl
def test_local_overlay_has_what_drover_relies_on() -> None:
    documents = {
        (d["kind"], d["metadata"]["name"]): d for d in _render(ARGO / "overlays" / "local")
    }
    controller = documents[("ConfigMap", "workflow-controller-configmap")]
    assert controller["metadata"]["namespace"] == "argo"
    persistence = yaml.safe_load(controller["data"]["persistence"])
    assert persistence["nodeStatusOffLoad"] is True and persistence["archive"] is True
    assert persistence["postgresql"]["tableName"].startswith("argo_")
    defaults = yaml.safe_load(controller["data"]["workflowDefaults"])
    as_workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                   "metadata": {"name": "defaults"}, "spec": {"entrypoint": "x", **defaults["spec"]}}  # fmt: skip
    assert strict_errors(as_workflow) == []
    assert defaults["spec"]["podGC"]["strategy"] == "OnPodSuccess"

    executor = documents[("Role", "drover-workflow-executor")]
    assert executor["rules"][0] == {
        "apiGroups": ["argoproj.io"],
        "resources": ["workflowtaskresults"],
        "verbs": ["create", "patch"],
    }
    api_rules = documents[("Role", "drover-api")]["rules"]
    granted = {(r, v) for rule in api_rules for r in rule["resources"] for v in rule["verbs"]}
    assert {("workflows", "watch"), ("cronworkflows", "create"), ("workflowtemplates", "update"),
            ("configmaps", "patch"), ("pods/log", "get")} <= granted  # fmt: skip
    assert not any(k == "ClusterRole" for k, _ in documents)  # namespace-scoped only
    assert ("Secret", "argo-postgres-config") in documents
    deployment = documents[("Deployment", "drover-api")]
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["DROVER_ARGO_SERVER"].startswith("http://argo-server.argo")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "drover-api"
    repo = documents[("ConfigMap", "artifact-repositories")]
    assert "s3" in yaml.safe_load(repo["data"]["drover-s3"])
