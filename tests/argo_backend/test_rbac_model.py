"""The RBAC model: every Kubernetes call the service causes, and every permission its workflows'
pods need, checked against the Roles bound to those service accounts in each rendering of argo/.

The service runs for real (FastAPI app, real Postgres) with the settings the facade Deployment
gives it, against the fake Argo Server and Kubernetes API. Both fakes record each Kubernetes
call made with the facade's token and refuse, with 403, what the rendered Role does not grant,
as a cluster would. A missing verb fails with the call that needed it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import create_app
from api.backends import argo_settings
from engine.backends.argo import ArgoBackend
from engine.backends.argo.permissions import (
    AGENT_PERMISSIONS,
    AGENT_SECRET_PERMISSIONS,
    DOCTOR_PERMISSIONS,
    EXECUTOR_PERMISSIONS,
    FACADE_PERMISSIONS,
    Permission,
    controller_config_permission,
    pod_permissions,
)
from engine.backends.argo.reusable_templates import reusable_templates
from tests.api.conftest import ADMIN, AUTH, database_url, postgres_url  # noqa: F401
from tests.argo_backend import fake_argo, fake_kube
from tests.argo_backend.conftest import ROOT, write_kubeconfig
from tests.argo_backend.fake_argo import SERVER_CALLS
from tests.argo_backend.fake_kube import FakeKube
from tests.argo_backend.http_stub import StubServer
from tests.argo_backend.manifests import (
    KUSTOMIZATIONS,
    Document,
    RbacModel,
    facade_container,
    needs_kubectl,
    overlay_id,
    render,
    settings_of,
)
from tests.argo_backend.test_service_argo import (
    ArtifactArgo,
    _eventually,
    _finish,
    _run,
    _workers,
)

pytestmark = needs_kubectl


@dataclass
class Cluster:
    documents: list[Document]
    model: RbacModel
    account: str
    """The facade's service account."""
    namespace: str
    argo: ArtifactArgo
    kube: FakeKube
    client: TestClient

    def facade_needs(self) -> list[tuple[str, Permission]]:
        return [*self.argo.kube_calls, *self.kube.calls]

    def facade_denials(self) -> list[str]:
        return [str(d) for d in self.model.check(self.account, self.namespace, self.facade_needs())]

    def pod_denials(self, documents: list[Document]) -> list[str]:
        denials = []
        for document in documents:
            for account, needs in pod_permissions(document).items():
                call = f"pods of {document['kind']} {document['metadata']['name']} as {account}"
                found = self.model.check(account, self.namespace, [(call, p) for p in needs])
                denials += [str(d) for d in found]
        return denials


@pytest.fixture(params=KUSTOMIZATIONS, ids=overlay_id)
def cluster(
    request: pytest.FixtureRequest,
    database_url: str,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Cluster]:
    documents = render(request.param)
    model = RbacModel(documents)
    deployment, _ = facade_container(documents)
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    namespace = deployment["metadata"]["namespace"]
    deployed = settings_of(documents, monkeypatch)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    def allowed(permission: Permission) -> bool:
        return model.allows(account, namespace, permission)

    argo, kube = ArtifactArgo(namespace), FakeKube()
    argo.authorize = kube.authorize = allowed
    token_file = tmp_path / "argo-token"
    token_file.write_text(fake_argo.TOKEN.removeprefix("Bearer "))
    with StubServer(argo) as argo_server, StubServer(kube) as kube_server:
        kubeconfig = write_kubeconfig(
            tmp_path / "kubeconfig", kube_server.url, fake_kube.TOKEN.removeprefix("Bearer ")
        )
        # As deployed, except where the fakes and this machine are (and the backend, which
        # the contract tests check on their own: here the Argo path is always exercised).
        settings = deployed.model_copy(
            update=dict(
                home=tmp_path / "home",
                database_url=database_url,
                admin_token=ADMIN,
                scheduler=False,
                backend="argo",
                argo_server=argo_server.url,
                argo_token_file=token_file,
                kubeconfig=kubeconfig,
                argo_resync_seconds=60.0,
                poll_interval=0.05,
            )
        )
        with TestClient(create_app(settings)) as client:
            yield Cluster(documents, model, account, namespace, argo, kube, client)


def _execution(client: TestClient) -> int:
    spec = yaml.safe_load((ROOT / "examples" / "shop" / "execution.yaml").read_text())
    spec["name"] = f"shop-rbac-{time.monotonic_ns() % 10**8}"
    spec["project"].pop("path")
    spec["project"]["repo"] = "https://git.example.com/shop.git"
    created = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _pipeline(client: TestClient, name: str) -> int:
    spec = yaml.safe_load((ROOT / "examples" / "pipelines" / f"{name}.yaml").read_text())
    spec["name"] = f"{name}-{time.monotonic_ns() % 10**8}"
    created = client.post("/api/v1/pipelines", json=spec, headers=AUTH)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _run_to_failure(cluster: Cluster, *actions: str) -> dict[str, Any]:
    """Run now, the ``actions`` while it runs, then the workflow fails (one worker failed)."""
    client = cluster.client
    started = client.post(f"/api/v1/executions/{_execution(client)}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run = started.json()
    for action in actions:
        response = client.post(f"/api/v1/runs/{run['id']}/{action}", headers=AUTH)
        assert response.status_code == 200, response.text
    workers = _workers(client, run["id"])
    _finish(cluster.argo, run["workflow_name"], workers, failing=0)
    _eventually(lambda: _run(client, run["id"]).phase == "Failed")
    return dict(run)


def test_defect_2_workflow_pods_run_as_an_account_that_may_write_task_results(
    cluster: Cluster,
) -> None:
    """Issue 12, defect 2: compiled workflows named no serviceAccountName, so pods ran as
    ``default`` and the wait container could not create workflowtaskresults (Argo's
    workflow/executor/taskresult.go createTaskResult) — every pod ended in Error."""
    run = _run_to_failure(cluster)
    workflow = cluster.argo.workflows[run["workflow_name"]].obj
    assert cluster.pod_denials([workflow]) == []
    needs = pod_permissions(workflow)
    assert "default" not in needs
    assert all(set(EXECUTOR_PERMISSIONS) <= set(n) for n in needs.values())


def test_defect_3_retry_deletes_pods_through_the_facades_role(cluster: Cluster) -> None:
    """Issue 12, defect 3: Argo's server/workflow/workflow_server.go RetryWorkflow deletes the
    reset nodes' pods (workflow/util/util.go FormulateRetryWorkflow) with the caller's
    kubeClient; without ``delete pods`` in the facade's Role a retry from Drover fails."""
    run = _run_to_failure(cluster)
    retried = cluster.client.post(f"/api/v1/runs/{run['id']}/retry", headers=AUTH)
    assert retried.status_code == 200, retried.text
    assert cluster.argo.deleted_pods, "the failed worker's pod was deleted"
    assert ("WorkflowService_RetryWorkflow", Permission("delete", "pods")) in (
        cluster.argo.kube_calls
    )
    assert cluster.facade_denials() == []


def test_defect_9_http_steps_get_the_agents_permissions(cluster: Cluster) -> None:
    """Issue 12, defect 9: HTTP templates run in Argo's agent pod under the workflow's service
    account (workflow/controller/agent.go createAgentPod), which watches its WorkflowTaskSet and
    patches its status (workflow/executor/agent.go AgentExecutor.Agent)."""
    client = cluster.client
    started = client.post(
        f"/api/v1/pipelines/{_pipeline(client, 'health-check')}/run", headers=AUTH
    )
    assert started.status_code == 201, started.text
    workflow = cluster.argo.workflows[started.json()["workflow_name"]].obj
    # The agent runs as the workflow's account (drover-agent once DROVER_AGENT_SERVICE_ACCOUNT
    # is set; the job pods keep their own: test_tool_token_secret).
    needs = pod_permissions(workflow)[workflow["spec"]["serviceAccountName"]]
    assert set(AGENT_PERMISSIONS) <= set(needs)
    assert cluster.pod_denials([workflow]) == []
    assert cluster.facade_denials() == []


def test_defect_9_examples_probe_no_loopback_address() -> None:
    """On a cluster an HTTP step runs in the agent pod: 127.0.0.1 is the agent itself."""
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        text = path.read_text()
        for host in ("127.0.0.1", "localhost", "[::1]"):
            assert f"://{host}" not in text, f"{path.relative_to(ROOT)} probes {host}"


def test_every_call_of_a_run_and_its_control_is_granted(cluster: Cluster) -> None:
    """Run now, watch, results artifacts, logs, suspend/resume, retry, stop, resubmit, a
    schedule (CronWorkflow) and templates sync: every Kubernetes call made with the facade's
    token is granted by its Role, every Argo Server operation used is modelled, and doctor's
    list (FACADE_PERMISSIONS) covers every call."""
    client = cluster.client
    run = _run_to_failure(cluster, "suspend", "resume")
    cluster.argo.add_log(run["workflow_name"], "pod-1", "a line")
    cluster.argo.close_logs(run["workflow_name"])
    logs = client.get(f"/api/v1/runs/{run['id']}/logs", headers=AUTH)
    assert logs.status_code == 200 and "a line" in logs.text
    assert client.post(f"/api/v1/runs/{run['id']}/retry", headers=AUTH).status_code == 200
    _eventually(lambda: _run(client, run["id"]).phase == "Running")
    cancelled = client.post(f"/api/v1/runs/{run['id']}/cancel", headers=AUTH)
    assert cancelled.status_code == 200, cancelled.text
    resubmitted = client.post(f"/api/v1/runs/{run['id']}/resubmit", headers=AUTH)
    assert resubmitted.status_code == 201, resubmitted.text
    execution_id = _execution(client)
    schedule = client.post(
        "/api/v1/schedules", json={"execution_id": execution_id, "cron": "0 3 * * *"}, headers=AUTH
    )
    assert schedule.status_code == 201, schedule.text
    assert (
        client.delete(f"/api/v1/schedules/{schedule.json()['id']}", headers=AUTH).status_code == 204
    )

    # drover templates sync, with the facade's token (argo/README.md step 5).
    settings = cluster.client.app.state.service.settings  # type: ignore[attr-defined]
    with ArgoBackend(argo_settings(settings)) as backend:
        for document in reusable_templates():
            backend.templates.apply(document)
    assert {"ArtifactService_GetArtifactFile", "WorkflowService_WorkflowLogs"} <= cluster.argo.used

    unmodelled = sorted(cluster.argo.used - set(SERVER_CALLS))
    assert unmodelled == [], (
        f"Argo Server operations without a modelled Kubernetes call: {unmodelled}"
    )
    assert cluster.facade_denials() == []
    documents = [s.obj for s in cluster.argo.workflows.values()]
    assert cluster.pod_denials(documents) == []
    undeclared = {p for _, p in cluster.facade_needs()} - {
        Permission(p.verb, p.resource, p.group, p.subresource) for p in FACADE_PERMISSIONS
    }
    assert undeclared == set(), f"FACADE_PERMISSIONS (drover doctor) misses {undeclared}"


def test_declared_permissions_are_all_granted() -> None:
    """What drover doctor asks about is granted in every rendering (facade and workflow pods)."""
    for directory in KUSTOMIZATIONS:
        model = RbacModel(render(directory))
        facade = [("FACADE_PERMISSIONS", p) for p in (*FACADE_PERMISSIONS, *DOCTOR_PERMISSIONS)]
        pods = [("pods", p) for p in (*EXECUTOR_PERMISSIONS, *AGENT_PERMISSIONS)]
        assert model.check("drover-api", "drover", facade) == [], overlay_id(directory)
        assert model.check("drover-workflow", "drover", pods) == [], overlay_id(directory)
        agent = [("agent", p) for p in (*AGENT_PERMISSIONS, *AGENT_SECRET_PERMISSIONS)]
        assert model.check("drover-agent", "drover", agent) == [], overlay_id(directory)
        # doctor reads the controller's ConfigMap in Argo's namespace (test_doctor).
        controller = controller_config_permission()
        assert model.allows("drover-api", "argo", controller, account_namespace="drover")
        other = Permission("get", "configmaps", name="x")
        assert not model.allows("drover-api", "argo", other, account_namespace="drover")


def test_the_model_names_the_call_that_misses_a_verb() -> None:
    documents = render(KUSTOMIZATIONS[0])
    model = RbacModel(documents)
    needs = [("retry", Permission("delete", "nodes", why="example"))]
    (denied,) = model.check("drover-api", "drover", needs)
    assert str(denied).startswith("retry: system:serviceaccount:drover:drover-api may not delete")
    # resourceNames: the facade may read its own namespace, no other one.
    assert model.allows("drover-api", "drover", Permission("get", "namespaces", name="drover"))
    assert not model.allows("drover-api", "drover", Permission("get", "namespaces"))
