"""The service on the Argo backend, against the fake Argo Server (swagger-checked) and a real
Postgres: run now → a valid create; watch events drive Postgres to the final state; a retry or
a resubmit started by an operator in the Argo UI becomes the next attempt of the same run."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import OutboxEvent, Run, RunWorker, ScenarioResult
from api.sse import format_event, log_events
from engine.backends.argo import ArgoBackend
from engine.backends.local.nodes import new_node, node_id
from engine.backends.local.status import update_progress
from engine.errors import BackendError
from engine.labels import RESUBMITTED_FROM
from tests.api.conftest import ADMIN, AUTH, database_url, postgres_url  # noqa: F401
from tests.argo_backend.conftest import NAMESPACE, ROOT, settings_for
from tests.argo_backend.fake_argo import FakeArgo
from tests.argo_backend.fake_kube import FakeKube
from tests.argo_backend.http_stub import Response, StubServer
from tests.argo_backend.swagger_contract import Operation

SERVICE_ACCOUNT = "drover-workflow"
NOW = "2026-01-01T00:00:00Z"


class ArtifactArgo(FakeArgo):
    """The fake Argo Server plus the artifact-files endpoint over an in-memory repo, as
    ``GetArtifactFile`` (server/artifacts/artifact_server.go) serves it: a workflow by name under
    ``workflows`` only (anything else is a 400, although swagger's enum says ``workflow``), and a
    500 for an artifact the node does not have (``getArtifactAndDriver``: "artifact not found")."""

    def __init__(self, namespace: str) -> None:
        super().__init__(namespace)
        self.artifacts: dict[tuple[str, str, str], bytes] = {}

    def _op_GetArtifactFile(self, op: Operation, p: dict[str, str], q: Any, body: Any) -> Response:
        if p["idDiscriminator"] != "workflows" or p["artifactDiscriminator"] != "outputs":
            return Response(400, b"Bad Request\n", {"Content-Type": "text/plain"})
        blob = self.artifacts.get((p["id"], p["nodeId"], p["artifactName"]))
        if blob is None:
            return Response(500, b"Internal Server Error\n", {"Content-Type": "text/plain"})
        return Response(200, blob, {"Content-Type": "application/octet-stream"})


@pytest.fixture
def argo() -> Iterator[tuple[ArtifactArgo, str]]:
    fake = ArtifactArgo(NAMESPACE)
    with StubServer(fake) as server:
        yield fake, server.url


# --------------------------------------------------------------------- artifacts and UI links


def test_read_artifact_through_swagger_artifact_files(
    argo: tuple[ArtifactArgo, str], tmp_path: Path
) -> None:
    fake, url = argo
    fake.artifacts[("wf-1", "wf-1-123", "results")] = b'{"results": []}'
    with ArgoBackend(settings_for(url, tmp_path), ui_base="https://ui.example/") as backend:
        assert backend.read_artifact("wf-1", "wf-1-123", "results") == b'{"results": []}'
        with pytest.raises(BackendError, match=r"\(500\)"):
            backend.read_artifact("wf-1", "wf-1-123", "report")  # the node has none
        assert backend.ui_url("wf-1") == f"https://ui.example/workflows/{NAMESPACE}/wf-1"
    assert "ArtifactService_GetArtifactFile" in fake.used
    method, path, query, _ = fake.requests[0]
    assert (method, path, query) == (
        "GET",
        f"/artifact-files/{NAMESPACE}/workflows/wf-1/wf-1-123/outputs/results",
        {},
    )


def test_a_log_stream_ends_when_a_saved_log_is_unreadable(
    argo: tuple[ArtifactArgo, str], tmp_path: Path
) -> None:
    """No pod log left and the saved log artifact unreadable (a 500): the stream says so and
    still ends, rather than breaking off."""
    _, url = argo
    with ArgoBackend(settings_for(url, tmp_path)) as backend:
        events = list(log_events(backend, "wf-1", ("wf-1-123",), saved=[("worker-0", "wf-1-123")]))
    assert events[-1] == format_event("end", {})
    assert any(
        "worker-0: saved log unreadable" in e for e in events if e.startswith("event: error")
    )


# --------------------------------------------------------------------- the service on Argo


@pytest.fixture
def client(argo_service: Callable[..., TestClient]) -> TestClient:
    return argo_service(
        argo_resync_seconds=60.0,  # only the watch can deliver within the test
        service_account=SERVICE_ACCOUNT,
        poll_interval=0.05,
    )


def _shop_execution(client: TestClient) -> int:
    spec = yaml.safe_load((ROOT / "examples" / "shop" / "execution.yaml").read_text())
    spec["name"] = f"shop-argo-{time.monotonic_ns() % 10**8}"
    # On a cluster a project comes from a repository (issue 12 defect 7: 'path' is refused).
    spec["project"].pop("path")
    spec["project"]["repo"] = "https://git.example.com/shop.git"
    created = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _sessions(client: TestClient) -> Any:
    return client.app.state.service.sessions  # type: ignore[attr-defined]


def _eventually(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def _workers(client: TestClient, run_id: str) -> list[tuple[str, int]]:
    with _sessions(client)() as session:
        rows = session.execute(
            select(RunWorker.group_key, RunWorker.shard).where(RunWorker.run_id == run_id)
        ).all()
    return sorted((group, shard) for group, shard in rows)


def _run(client: TestClient, run_id: str) -> Run:
    with _sessions(client)() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run


def controller_status(
    workflow: str, workers: list[tuple[str, int]], phase_of: Callable[[str, int], str]
) -> dict[str, Any]:
    """``status`` as Argo's controller writes it for a Drover workflow, built with the local
    runner's node writer: root DAG → flow DAGs → group TaskGroups → Retry → Pod per worker."""
    nodes: dict[str, dict[str, Any]] = {}

    def add(name: str, kind: str, phase: str, boundary: dict[str, Any] | None) -> dict[str, Any]:
        node = new_node(
            workflow_name=workflow,
            name=name,
            node_type=kind,
            phase=phase,
            started_at=NOW,
            boundary=boundary,
            template_name="worker" if kind in ("Retry", "Pod") else None,
        )
        if phase in ("Succeeded", "Failed", "Error"):
            node["finishedAt"] = NOW
        nodes[node["id"]] = node
        return node

    def link(parent: dict[str, Any], child: dict[str, Any]) -> None:
        parent.setdefault("children", []).append(child["id"])

    overall = [phase_of(g, s) for g, s in workers]
    final = "Failed" if "Failed" in overall else "Succeeded"
    running = any(p == "Running" for p in overall)
    root = add(workflow, "DAG", "Running" if running else final, None)
    for flow in sorted({g.split(".")[0] for g, _ in workers}):
        flow_node = add(f"{workflow}.{flow}", "DAG", root["phase"], root)
        link(root, flow_node)
        for group in sorted({g for g, _ in workers if g.split(".")[0] == flow}):
            group_node = add(f"{workflow}.{group}", "TaskGroup", root["phase"], flow_node)
            link(flow_node, group_node)
            for g, shard in workers:
                if g != group:
                    continue
                phase = phase_of(g, shard)
                retry = add(f"{workflow}.{group}({shard}:{shard})", "Retry", phase, flow_node)
                pod = add(f"{retry['name']}(0)", "Pod", phase, flow_node)
                link(group_node, retry)
                link(retry, pod)
    document = {"status": {"phase": root["phase"], "startedAt": NOW, "nodes": nodes}}
    if not running:
        document["status"]["finishedAt"] = NOW
    update_progress(document)
    status: dict[str, Any] = document["status"]
    return status


def _publish_results(
    fake: ArtifactArgo, workflow: str, group: str, shard: int, status: str
) -> None:
    pod = node_id(workflow, f"{workflow}.{group}({shard}:{shard})(0)")
    report = {
        "group": group,
        "shard": shard,
        "results": [{"id": f"{group}::scenario-{shard}", "status": status, "duration": 0.5}],
    }
    fake.artifacts[(workflow, pod, "results")] = json.dumps(report).encode()


def _finish(
    fake: ArtifactArgo, workflow: str, workers: list[tuple[str, int]], failing: int | None
) -> None:
    """Run the workflow to its end, event by event: Running, then every worker's outcome."""
    fake.update_status(workflow, **controller_status(workflow, workers, lambda g, s: "Running"))

    def outcome(group: str, shard: int) -> str:
        return (
            "Failed" if failing is not None and (group, shard) == workers[failing] else "Succeeded"
        )

    for group, shard in workers:
        result = "failed" if outcome(group, shard) == "Failed" else "passed"
        _publish_results(fake, workflow, group, shard, result)
    fake.update_status(workflow, **controller_status(workflow, workers, outcome))


def test_run_now_on_argo_submits_and_watch_drives_postgres(
    client: TestClient, argo: tuple[ArtifactArgo, str], kube: tuple[FakeKube, str]
) -> None:
    fake, _ = argo
    execution_id = _shop_execution(client)
    started = client.post(f"/api/v1/executions/{execution_id}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run = started.json()
    assert run["backend"] == "argo"
    workflow_name = run["workflow_name"]
    # A swagger-valid, CRD-valid create (the fake rejects anything else), plan objects first.
    assert "WorkflowService_CreateWorkflow" in fake.used
    created = fake.workflows[workflow_name].obj
    assert created["spec"]["serviceAccountName"] == SERVICE_ACCOUNT
    assert kube[0].objects, "the plan ConfigMaps are created through the Kubernetes API"
    assert run["ui_url"].endswith(f"/workflows/{NAMESPACE}/{workflow_name}")

    workers = _workers(client, run["id"])
    assert len(workers) >= 2
    _finish(fake, workflow_name, workers, failing=0)

    final = _eventually(lambda: _run(client, run["id"]).phase in ("Failed", "Succeeded"))
    assert final
    done = _eventually(lambda: run["id"] not in client.app.state.service.mirror.followed)  # type: ignore[attr-defined]
    assert done
    row = _run(client, run["id"])
    assert (row.phase, row.attempt, row.failed, row.passed) == (
        "Failed",
        1,
        1,
        len(workers) - 1,
    )
    with _sessions(client)() as session:
        results = session.scalars(select(ScenarioResult).where(ScenarioResult.run_id == run["id"]))
        assert {r.source for r in results} == {"artifact"}
    detail = client.get(f"/api/v1/runs/{run['id']}", headers=AUTH).json()
    phases = {(w["shard"], w["phase"]) for g in detail["groups"] for w in g["workers"]}
    assert {p for _, p in phases} == {"Failed", "Succeeded"}


def test_operator_retry_and_resubmit_are_attempts_of_the_same_run(
    client: TestClient, argo: tuple[ArtifactArgo, str], tmp_path: Path
) -> None:
    fake, url = argo
    execution_id = _shop_execution(client)
    run = client.post(f"/api/v1/executions/{execution_id}/run", headers=AUTH).json()
    first = run["workflow_name"]
    workers = _workers(client, run["id"])
    _finish(fake, first, workers, failing=0)
    _eventually(lambda: run["id"] not in client.app.state.service.mirror.followed)  # type: ignore[attr-defined]
    assert _run(client, run["id"]).phase == "Failed"

    # An operator retries in the Argo UI: the same workflow runs again (MODIFIED events).
    operator = ArgoBackend(settings_for(url, tmp_path))
    operator.retry(first)
    retried = _eventually(lambda: _run(client, run["id"]).attempt == 2)
    assert retried and _run(client, run["id"]).phase == "Running"
    _finish(fake, first, workers, failing=1)
    _eventually(lambda: _run(client, run["id"]).phase == "Failed")

    # An operator resubmits: a new workflow carrying resubmitted-from (an ADDED event).
    second = operator.resubmit(first)
    operator.close()
    assert fake.workflows[second].obj["metadata"]["labels"][RESUBMITTED_FROM] == first
    switched = _eventually(lambda: _run(client, run["id"]).workflow_name == second)
    assert switched
    row = _run(client, run["id"])
    assert (row.attempt, row.phase) == (3, "Pending")
    assert row.ui_url is not None and row.ui_url.endswith(second)
    _finish(fake, second, workers, failing=None)
    _eventually(lambda: _run(client, run["id"]).phase == "Succeeded")
    _eventually(lambda: run["id"] not in client.app.state.service.mirror.followed)  # type: ignore[attr-defined]
    with _sessions(client)() as session:
        assert session.scalar(select(Run.id).where(Run.workflow_name == first)) is None
        runs = session.scalars(select(Run).where(Run.execution_id == execution_id)).all()
    assert [r.id for r in runs] == [run["id"]], "no unknown run for the resubmitted workflow"
    # Later events of the first workflow (e.g. its TTL deletion) no longer touch the run.
    fake.remove_workflow(first)
    time.sleep(0.5)
    assert _run(client, run["id"]).phase == "Succeeded"
    # Run events (issue 16): every attempt started and finished, once each, with its verdict.
    with _sessions(client)() as session:
        events = {
            e.key: e.payload
            for e in session.scalars(select(OutboxEvent).where(OutboxEvent.run_id == run["id"]))
            if e.type in ("run.started", "run.finished")
        }
    assert sorted(events) == sorted(
        f"run.{what}/{run['id']}/{attempt}"
        for what in ("started", "finished")
        for attempt in (1, 2, 3)
    )
    finished = [events[f"run.finished/{run['id']}/{a}"] for a in (1, 2, 3)]
    assert finished[0]["verdict"] == "failed"
    # The last attempt failed nothing; the fake's results cover one scenario a worker, so the
    # rest never ran: an error, not a pass (engine.verdict).
    assert finished[2]["counts"]["failed"] == 0 and finished[2]["verdict"] == "error"


def test_defect_7_a_path_project_is_refused_on_argo_with_the_fix(
    client: TestClient, argo: tuple[ArtifactArgo, str]
) -> None:
    """Issue 12 defect 7: a ``path:`` project compiled to a hostPath of the facade's machine;
    on a node the path is missing (kubelet waits for a ``type: Directory`` hostPath) and Pod
    Security "baseline" forbids hostPath. On Argo the execution is refused when it is saved
    (the service compiles it to check it), 422 naming the field and the fix."""
    fake, _ = argo
    spec = yaml.safe_load((ROOT / "examples" / "shop" / "execution.yaml").read_text())
    spec["name"] = f"shop-path-{time.monotonic_ns() % 10**8}"
    spec["project"]["path"] = str(ROOT / "examples" / "shop")
    before = set(fake.workflows)
    created = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert created.status_code == 422, created.text
    assert created.json()["field"] == "project.path"
    assert "'repo'" in created.json()["hint"]
    assert set(fake.workflows) == before
