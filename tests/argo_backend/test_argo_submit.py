"""Submission: ConfigMaps first, the Workflow through Hera, then ownership; dry run and lint."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.backends.argo import ArgoBackend
from engine.backends.argo.kube import KubeObjects
from engine.compiler import CompiledExecution
from engine.errors import BackendError, Conflict, SpecError
from tests.argo_backend.conftest import NAMESPACE, settings_for
from tests.argo_backend.fake_argo import FakeArgo
from tests.argo_backend.fake_kube import FakeKube


def test_submit_creates_configmaps_then_workflow_that_owns_them(
    backend: ArgoBackend,
    argo: tuple[FakeArgo, str],
    kube: tuple[FakeKube, str],
    shop: CompiledExecution,
) -> None:
    fake, _ = argo
    fake_k8s, _ = kube
    name = backend.submit(shop.workflow_dict(), objects=shop.configmaps)

    assert name.startswith("shop-regression-")
    assert "WorkflowService_CreateWorkflow" in fake.used
    stored = fake.workflows[name].obj
    assert stored["metadata"]["labels"]["drover.dev/run-id"] == "run-1"
    assert stored["spec"] == shop.workflow_dict()["spec"]  # nothing lost through Hera's models
    uid = stored["metadata"]["uid"]
    for configmap in shop.configmaps:
        obj = fake_k8s.objects[("ConfigMap", NAMESPACE, configmap["metadata"]["name"])]
        assert obj["data"] == configmap["data"]
        assert obj["metadata"]["ownerReferences"] == [
            {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "name": name, "uid": uid}
        ]
    # ConfigMaps were created before the workflow.
    methods = [m for m, _, _ in fake_k8s.requests]
    assert methods[: len(shop.configmaps)] == ["POST"] * len(shop.configmaps)


def test_shared_plan_configmaps_gain_owners_and_are_collected_with_the_last(
    backend: ArgoBackend,
    argo: tuple[FakeArgo, str],
    kube: tuple[FakeKube, str],
    shop: CompiledExecution,
) -> None:
    fake, _ = argo
    fake_k8s, _ = kube
    first = backend.submit(shop.workflow_dict(), objects=shop.configmaps)
    second = backend.submit(shop.workflow_dict(), objects=shop.configmaps)
    key = ("ConfigMap", NAMESPACE, shop.configmaps[0]["metadata"]["name"])
    assert {o["name"] for o in fake_k8s.objects[key]["metadata"]["ownerReferences"]} == {
        first,
        second,
    }

    backend.delete(first)
    fake_k8s.collect_garbage({s.obj["metadata"]["uid"] for s in fake.workflows.values()})
    assert key in fake_k8s.objects
    backend.delete(second)
    fake_k8s.collect_garbage({s.obj["metadata"]["uid"] for s in fake.workflows.values()})
    assert key not in fake_k8s.objects


def test_existing_configmap_with_other_data_is_a_conflict(
    backend: ArgoBackend, kube: tuple[FakeKube, str], shop: CompiledExecution
) -> None:
    tampered = [dict(c, data={"x": "y"}) for c in shop.configmaps[:1]]
    backend.submit(shop.workflow_dict(), objects=shop.configmaps)
    with pytest.raises(Conflict, match="different data"):
        backend.submit(shop.workflow_dict(), objects=tampered)


def test_rejected_workflow_removes_the_configmaps_it_created(
    backend: ArgoBackend,
    argo: tuple[FakeArgo, str],
    kube: tuple[FakeKube, str],
    shop: CompiledExecution,
) -> None:
    fake, _ = argo
    fake_k8s, _ = kube
    fake.fail_next.append(403)
    with pytest.raises(BackendError, match="403 Forbidden"):
        backend.submit(shop.workflow_dict(), objects=shop.configmaps)
    assert fake_k8s.objects == {}
    assert fake.workflows == {}


def test_invalid_workflow_is_refused_by_the_crd_check(
    backend: ArgoBackend, shop: CompiledExecution
) -> None:
    workflow = shop.workflow_dict()
    workflow["spec"]["podGC"] = {"strategy": "Sometimes"}  # not in the CRD's enum
    with pytest.raises(BackendError, match="rejected create workflow"):
        backend.submit(workflow)


def test_secret_objects_are_created_too(
    backend: ArgoBackend, kube: tuple[FakeKube, str], shop: CompiledExecution
) -> None:
    fake_k8s, _ = kube
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "shop-test-data"},
        "type": "Opaque",
        "stringData": {"PASSWORD": "s3cret"},
    }
    name = backend.submit(shop.workflow_dict(), objects=[secret])
    stored = fake_k8s.objects[("Secret", NAMESPACE, "shop-test-data")]
    assert stored["metadata"]["ownerReferences"][0]["name"] == name


def test_objects_in_another_namespace_are_refused(
    backend: ArgoBackend, shop: CompiledExecution
) -> None:
    configmap = dict(shop.configmaps[0], metadata={"name": "x", "namespace": "elsewhere"})
    with pytest.raises(SpecError, match=r"objects\[0\].metadata.namespace"):
        backend.submit(shop.workflow_dict(), objects=[configmap])


def test_dry_run_and_lint_store_nothing(
    backend: ArgoBackend, argo: tuple[FakeArgo, str], shop: CompiledExecution
) -> None:
    fake, _ = argo
    dry = backend.dry_run(shop.workflow_dict())
    assert dry["metadata"]["name"].startswith("shop-regression-")
    linted = backend.lint(shop.workflow_dict())
    assert linted["spec"]["entrypoint"] == "main"
    assert fake.workflows == {}
    create = [body for method, path, _, body in fake.requests if path.endswith(f"/{NAMESPACE}")]
    assert create[0]["serverDryRun"] is True
    assert {"WorkflowService_LintWorkflow", "WorkflowService_CreateWorkflow"} <= fake.used


def test_unknown_fields_are_refused_before_anything_is_sent(
    backend: ArgoBackend, argo: tuple[FakeArgo, str], shop: CompiledExecution
) -> None:
    workflow = shop.workflow_dict()
    workflow["spec"]["notAnArgoField"] = 1
    with pytest.raises(SpecError, match=r"spec\.notAnArgoField"):
        backend.submit(workflow)
    assert argo[0].requests == []


def test_transient_failures_are_retried(
    backend: ArgoBackend, argo: tuple[FakeArgo, str], shop: CompiledExecution
) -> None:
    fake, _ = argo
    fake.fail_next.extend([503, 502])
    name = backend.submit(shop.workflow_dict())
    assert name in fake.workflows


def test_bad_token_is_a_clear_error(
    argo: tuple[FakeArgo, str], tmp_path: Path, shop: CompiledExecution
) -> None:
    settings = settings_for(argo[1], tmp_path, token="wrong")
    with ArgoBackend(settings) as backend, pytest.raises(BackendError, match="401 Unauthorized"):
        backend.submit(shop.workflow_dict())


def test_connection_refused_is_a_clear_error(tmp_path: Path, shop: CompiledExecution) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = settings_for(f"http://127.0.0.1:{port}", tmp_path)
    with ArgoBackend(settings) as backend:
        with pytest.raises(BackendError, match="cannot reach Argo Server"):
            backend.submit(shop.workflow_dict())
        with pytest.raises(BackendError, match="cannot reach Argo Server"):
            backend.get("anything")


def test_kubernetes_failure_stops_before_the_workflow(
    backend: ArgoBackend,
    argo: tuple[FakeArgo, str],
    kube: tuple[FakeKube, str],
    shop: CompiledExecution,
) -> None:
    kube[0].fail_next.append(500)
    with pytest.raises(BackendError, match="Kubernetes API"):
        backend.submit(shop.workflow_dict(), objects=shop.configmaps)
    assert argo[0].workflows == {}


def test_kubeconfig_missing_is_a_spec_error(argo: tuple[FakeArgo, str], tmp_path: Path) -> None:
    settings = settings_for(argo[1], tmp_path, kubeconfig=tmp_path / "missing")
    with pytest.raises(SpecError, match="kubeconfig"):
        KubeObjects(settings)
