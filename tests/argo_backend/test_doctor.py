"""``drover doctor`` and ``GET /api/v1/system/doctor`` against the fake Argo Server and
Kubernetes API, the latter answering access reviews with the RBAC model of the rendered argo/
manifests: a cluster set up from argo/overlays/local passes; each missing piece is named, with
its fix, and the CLI exits 1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.doctor import doctor_report
from api.settings import Settings, get_settings
from engine.backends.argo.permissions import Permission
from engine.cli import app as cli
from engine.spec import Project
from tests.api.conftest import ADMIN, AUTH, database_url, postgres_url  # noqa: F401
from tests.argo_backend import fake_argo, fake_kube
from tests.argo_backend.conftest import write_kubeconfig
from tests.argo_backend.fake_argo import FakeArgo
from tests.argo_backend.fake_kube import FakeKube
from tests.argo_backend.http_stub import StubServer
from tests.argo_backend.manifests import (
    ARGO,
    Document,
    RbacModel,
    index,
    needs_kubectl,
    render,
    settings_of,
)

pytestmark = needs_kubectl
IMAGE_IS_AGENT = "drover-agent" in str(Project.model_fields["image"].default)


@dataclass
class Cluster:
    argo: FakeArgo
    kube: FakeKube
    settings: Settings
    documents: list[Document]

    def checks(self) -> dict[str, tuple[bool, str, str | None]]:
        report = doctor_report(self.settings)
        return {c.name: (c.ok, c.detail, c.fix) for c in report.checks}

    def use_rbac(self, documents: list[Document], *, list_storage: bool = False) -> None:
        """Answer as the RBAC authorizer over ``documents``; ``list_storage`` adds what an
        operator binds to have doctor check StorageClasses (argo/ is namespace-scoped only)."""
        model = RbacModel(documents + (STORAGE_CLASS_READER if list_storage else []))

        def review(user: str, namespace: str, permission: Permission) -> bool:
            _, _, account_namespace, account = user.split(":")
            return account_namespace == namespace and model.allows(account, namespace, permission)

        def facade_may(namespace: str, permission: Permission) -> bool:
            # The facade's own requests, in any namespace (its Role in argo/ included).
            return model.allows("drover-api", namespace, permission, account_namespace="drover")

        self.kube.reviewer = review
        self.kube.authorize_in = facade_may


STORAGE_CLASS_READER: list[Document] = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "storage-classes"},
        "rules": [
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses"], "verbs": ["list"]}
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "storage-classes"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "storage-classes",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "drover-api", "namespace": "drover"}],
    },
]


def _storage_class(name: str, provisioner: str, *, default: bool = False) -> dict[str, Any]:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": annotations},
        "provisioner": provisioner,
    }


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    """A cluster as `kubectl apply -k argo/overlays/local` leaves it, and the facade's settings."""
    documents = render(ARGO / "overlays" / "local")
    argo, kube = FakeArgo("drover"), FakeKube()
    kube.storage_classes = [_storage_class("standard", "rancher.io/local-path", default=True)]
    for kind, namespace, name in index(documents):
        if kind == "Namespace":
            kube.namespaces.add(name)
        if kind == "ServiceAccount":
            kube.service_accounts.add((namespace, name))
        if kind == "ConfigMap" and namespace in ("drover", "argo"):
            # The namespace's artifact repository, and the controller's ConfigMap in argo.
            kube.objects[(kind, namespace, name)] = index(documents)[(kind, namespace, name)]
    token_file = tmp_path / "argo-token"
    token_file.write_text(fake_argo.TOKEN.removeprefix("Bearer "))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with StubServer(argo) as argo_server, StubServer(kube) as kube_server:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", kube_server.url, fake_kube.TOKEN.removeprefix("Bearer ")
        )
        settings = settings_of(documents, monkeypatch).model_copy(
            update=dict(
                argo_server=argo_server.url, argo_token_file=token_file, kubeconfig=kubeconfig
            )
        )
        made = Cluster(argo, kube, settings, documents)
        made.use_rbac(documents)
        yield made


def test_doctor_passes_on_a_cluster_set_up_from_argo(cluster: Cluster) -> None:
    checks = cluster.checks()
    assert list(checks) == [
        "backend",
        "Argo Server",
        "namespace",
        "workflow service account",
        "facade permissions",
        "workflow pod permissions",
        "agent permissions",
        "workspace storage",
        "controller ConfigMap",
        "artifact repository",
        "agent image",
    ]
    for name, (ok, detail, _) in checks.items():
        if name != "agent image":
            assert ok, f"{name}: {detail}"
    assert "v4.1.2" in checks["Argo Server"][1]
    assert checks["agent image"][0] is IMAGE_IS_AGENT


def test_doctor_names_each_missing_piece_and_its_fix(cluster: Cluster) -> None:
    cluster.kube.namespaces.clear()
    cluster.kube.service_accounts.clear()
    cluster.kube.objects.clear()
    cluster.kube.storage_classes.clear()  # and no default class (visible: list_storage)
    # The Roles as they were before issue 12: no pods delete, no agent rights.
    documents = render(ARGO / "overlays" / "local")
    for document in documents:
        if document["kind"] == "Role":
            document["rules"] = [
                r for r in document["rules"]
                if "delete" not in r["verbs"] or "pods" not in r["resources"]
            ]  # fmt: skip
            document["rules"] = [
                r
                for r in document["rules"]
                if not any("workflowtasksets" in x for x in r["resources"])
            ]
    cluster.use_rbac(documents, list_storage=True)
    cluster.argo.fail_next.extend([401] * 5)
    checks = cluster.checks()
    failed = {name for name, (ok, _, _) in checks.items() if not ok}
    assert failed >= set(checks) - {"agent image", "backend"}
    assert "delete pods (retry through the Argo Server)" in checks["facade permissions"][1]
    assert "verbs [delete]" in str(checks["facade permissions"][2])
    assert "workflowtasksets" in checks["workflow pod permissions"][1]
    assert "workflowtasksets" in checks["agent permissions"][1]
    assert "drover-workflow" in checks["workflow service account"][2] or "serviceaccount" in str(
        checks["workflow service account"][2]
    )
    assert "artifact-repositories" in str(checks["artifact repository"][2])
    assert "401" in checks["Argo Server"][1] and checks["Argo Server"][2]
    assert "create namespace drover" in str(checks["namespace"][2])


def test_doctor_without_a_workflow_service_account(cluster: Cluster) -> None:
    cluster.settings = cluster.settings.model_copy(update={"service_account": None})
    ok, detail, fix = cluster.checks()["workflow service account"]
    assert not ok and "default" in detail and "DROVER_SERVICE_ACCOUNT" in str(fix)
    ok, detail, _ = cluster.checks()["workflow pod permissions"]
    assert not ok and "system:serviceaccount:drover:default" in detail


def test_doctor_when_runs_use_no_artifact_repository(cluster: Cluster) -> None:
    cluster.kube.objects.clear()
    assert not cluster.checks()["artifact repository"][0]
    cluster.settings = cluster.settings.model_copy(update={"argo_artifact_repository": False})
    ok, detail, _ = cluster.checks()["artifact repository"]
    assert ok and "DROVER_ARGO_ARTIFACT_REPOSITORY=false" in detail


def test_doctor_without_an_argo_server_configured(tmp_path: Path) -> None:
    report = doctor_report(Settings(home=tmp_path, backend="local", argo_server=None))
    assert not report.ok
    assert [c.name for c in report.checks] == ["backend", "Argo Server"]
    assert "DROVER_BACKEND=argo" in str(report.checks[0].fix)
    assert "DROVER_ARGO_SERVER" in str(report.checks[1].fix)


def _cli_environment(cluster: Cluster, monkeypatch: pytest.MonkeyPatch, **extra: str) -> None:
    """The environment ``drover doctor`` reads its settings from, pointed at ``cluster``."""
    settings = cluster.settings
    for name, value in {
        "DROVER_ARGO_SERVER": settings.argo_server,
        "DROVER_ARGO_TOKEN_FILE": str(settings.argo_token_file),
        "KUBECONFIG": str(settings.kubeconfig),
        "DROVER_NAMESPACE": settings.namespace,
        "DROVER_SERVICE_ACCOUNT": str(settings.service_account),
        **extra,
    }.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()


def test_drover_doctor_cli_prints_the_fix_and_exits_1(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No artifact repository: none in the namespace, none in the controller's ConfigMap.
    del cluster.kube.objects[("ConfigMap", "drover", "artifact-repositories")]
    _cli_environment(cluster, monkeypatch)
    try:
        result = CliRunner().invoke(cli, ["doctor"])
        as_json = CliRunner().invoke(cli, ["doctor", "--json"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1, result.output
    assert "missing artifact repository" in result.output
    assert "fix: create ConfigMap artifact-repositories" in result.output
    assert "ok      facade permissions" in result.output
    assert as_json.exit_code == 1 and '"ok": false' in as_json.output


def test_doctor_endpoint_serves_the_same_report(
    cluster: Cluster,
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    settings = cluster.settings.model_copy(
        update=dict(
            home=tmp_path / "home", database_url=database_url, admin_token=ADMIN, scheduler=False
        )
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/system/doctor").status_code == 401
        response = client.get("/api/v1/system/doctor", headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json() == doctor_report(settings).to_dict()
    names = [c["name"] for c in response.json()["checks"] if c["ok"]]
    assert "facade permissions" in names and "artifact repository" in names


def _without_role(cluster: Cluster, name: str) -> None:
    documents = [
        d for d in cluster.documents if not (d["kind"] == "Role" and d["metadata"]["name"] == name)
    ]
    cluster.use_rbac(documents)


def test_doctor_reads_the_controllers_configmap_through_the_role_argo_ships(
    cluster: Cluster,
) -> None:
    """Argo's controller reads ConfigMap ``workflow-controller-configmap`` in its own namespace
    (workflow/common/common.go ``ConfigMapName``; config/config.go ``Config``: its
    ``artifactRepository`` and ``links``); argo/base grants the facade ``get`` on that one object
    there. The fake refuses what the rendered Roles do not grant, resourceNames included, as the
    Kubernetes RBAC authorizer does."""
    ok, detail, _ = cluster.checks()["controller ConfigMap"]
    assert ok, detail
    assert "workflow-controller-configmap in argo" in detail
    assert "Drover run" in detail  # the Argo UI's link to the run


def test_doctor_says_what_it_could_not_read_and_the_permission_that_reads_it(
    cluster: Cluster,
) -> None:
    _without_role(cluster, "drover-api-controller-config")
    del cluster.kube.objects[("ConfigMap", "drover", "artifact-repositories")]
    checks = cluster.checks()
    ok, detail, fix = checks["controller ConfigMap"]
    assert not ok
    assert "may not read ConfigMap workflow-controller-configmap in namespace argo" in detail
    assert "403: get configmaps" in detail
    assert "resources [configmaps] resourceNames [workflow-controller-configmap] verbs [get]" in (
        str(fix)
    )
    assert "drover-api-controller-config" in str(fix)
    assert "DROVER_ARGO_CONTROLLER_NAMESPACE" in str(fix)
    # The artifact repository is unknown, not "none": the controller's setting went unread.
    ok, detail, fix = checks["artifact repository"]
    assert not ok and detail.startswith("unknown:") and "could not be read" in detail
    assert "no artifactRepository in" not in detail
    assert "controller ConfigMap" in str(fix) and "artifact-repositories" in str(fix)


def test_doctor_points_at_the_controller_namespace_setting(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Argo installed in another namespace (e.g. by its Helm chart): the ConfigMap is not where
    doctor looks. Kubernetes authorizes before it looks an object up, so a namespace where no
    Role lets the facade read is a 403 there, and a granted read of a missing object a 404; both
    say which namespace was asked and the setting and CLI option that change it."""
    cluster.settings = cluster.settings.model_copy(
        update={"argo_controller_namespace": "argo-workflows"}
    )
    ok, detail, fix = cluster.checks()["controller ConfigMap"]
    assert not ok
    assert "ConfigMap workflow-controller-configmap in namespace argo-workflows (403" in detail
    assert "DROVER_ARGO_CONTROLLER_NAMESPACE (drover doctor --controller-namespace)" in str(fix)
    cluster.settings = cluster.settings.model_copy(update={"argo_controller_namespace": "argo"})
    del cluster.kube.objects[("ConfigMap", "argo", "workflow-controller-configmap")]
    ok, detail, fix = cluster.checks()["controller ConfigMap"]
    assert not ok
    assert "no ConfigMap workflow-controller-configmap in namespace argo:" in detail
    assert "DROVER_ARGO_CONTROLLER_NAMESPACE (drover doctor --controller-namespace)" in str(fix)
    cluster.kube.objects[("ConfigMap", "argo", "workflow-controller-configmap")] = index(
        cluster.documents
    )[("ConfigMap", "argo", "workflow-controller-configmap")]

    _cli_environment(cluster, monkeypatch, DROVER_ARGO_CONTROLLER_NAMESPACE="argo-workflows")
    try:
        wrong = CliRunner().invoke(cli, ["doctor"])
        right = CliRunner().invoke(cli, ["doctor", "--controller-namespace", "argo"])
    finally:
        get_settings.cache_clear()
    assert "missing controller ConfigMap" in wrong.output
    assert "ok      controller ConfigMap" in right.output, right.output


def test_doctor_says_what_the_default_storage_class_means_for_pvc_workspaces(
    cluster: Cluster,
) -> None:
    """A pvc workspace's claim has no storageClassName unless workspace.storage_class says
    one, so it gets the default class (Kubernetes' DefaultStorageClass admission); parallel
    workers get ReadWriteMany by default. Argo creates the claim as compiled
    (workflow/controller/operator.go ``createPVCs``): one no class can bind stays Pending."""
    cluster.use_rbac(cluster.documents, list_storage=True)  # an operator's ClusterRole
    ok, detail, _ = cluster.checks()["workspace storage"]  # kind's: local-path, one node
    assert ok, detail  # an execution may ask for ReadWriteOnce: said, not failed
    assert "default StorageClass standard (rancher.io/local-path)" in detail
    assert "no ReadWriteMany" in detail and "workspace.access_mode: ReadWriteOnce" in detail

    cluster.kube.storage_classes = [
        _storage_class("standard", "rancher.io/local-path"),
        _storage_class("shared", "nfs.csi.k8s.io", default=True),
    ]
    ok, detail, _ = cluster.checks()["workspace storage"]
    assert ok and "default StorageClass shared (nfs.csi.k8s.io)" in detail

    cluster.kube.storage_classes = [_storage_class("standard", "rancher.io/local-path")]
    ok, detail, fix = cluster.checks()["workspace storage"]
    assert not ok and "no default StorageClass" in detail and "stays Pending" in detail
    assert "workspace.storage_class" in str(fix) and "workspace.mode: artifact" in str(fix)


def test_doctor_without_the_right_to_list_storage_classes_says_so(cluster: Cluster) -> None:
    """As argo/ ships it (namespace-scoped Roles only): not checked, said, and how to have it."""
    ok, detail, _ = cluster.checks()["workspace storage"]
    assert ok and detail.startswith("not checked: the facade may not list StorageClasses (403")
    assert "resources [storageclasses] verbs [list]" in detail
    assert "ReadWriteMany" in detail
