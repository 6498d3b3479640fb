"""Issue 12, defect 10 (second half): on a cluster without an artifact repository, the workers'
results/log/reports output artifacts put every worker pod in Error — Argo's executor saves an
output artifact whose file exists through ``saveArtifactFromFile`` (workflow/executor/
executor.go), whose ``ArchiveLocation.Get`` (pkg/apis/workflow/v1alpha1/workflow_types.go)
answers "artifact storage is not configured"; ``optional`` only forgives a missing file.
``DROVER_ARGO_ARTIFACT_REPOSITORY=false`` (what ``drover doctor`` tells such a cluster) compiles
runs and schedules without any artifact; the agents report to the facade directly."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from engine.compiler import CompileOptions, compile_plan
from engine.errors import SpecError
from engine.loading import load_execution
from engine.planning import plan_execution
from engine.spec import WorkspaceMode
from tests.api.conftest import ADMIN, AUTH, database_url, postgres_url  # noqa: F401
from tests.argo_backend import test_service_argo as service_argo
from tests.argo_backend.conftest import ROOT
from tests.argo_backend.test_service_argo import ArtifactArgo

argo = service_argo.argo


def artifacts_needing_a_repository(document: dict[str, Any]) -> list[str]:
    """``template.kind.name`` of every artifact Argo would store in or load from the
    repository (inline ``raw`` artifacts and ``from`` references to other artifacts excepted)."""
    spec = document["spec"].get("workflowSpec") or document["spec"]
    found = []
    for template in spec["templates"]:
        for kind in ("inputs", "outputs"):
            for artifact in (template.get(kind) or {}).get("artifacts") or []:
                if not artifact.get("raw") and not artifact.get("from"):
                    found.append(f"{template['name']}.{kind}.{artifact['name']}")
    return found


@pytest.fixture
def no_repository_client(argo_service: Callable[..., TestClient]) -> TestClient:
    return argo_service(service_account="drover-workflow", argo_artifact_repository=False)


def _execution(client: TestClient) -> int:
    spec = yaml.safe_load((ROOT / "examples" / "shop" / "execution.yaml").read_text())
    spec["name"] = f"shop-norepo-{time.monotonic_ns() % 10**8}"
    spec["project"].pop("path")
    spec["project"]["repo"] = "https://git.example.com/shop.git"
    created = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def test_defect_10_without_an_artifact_repository_runs_have_no_artifacts(
    no_repository_client: TestClient, argo: tuple[ArtifactArgo, str]
) -> None:
    client, fake = no_repository_client, argo[0]
    execution_id = _execution(client)
    started = client.post(f"/api/v1/executions/{execution_id}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    workflow = fake.workflows[started.json()["workflow_name"]].obj
    assert artifacts_needing_a_repository(workflow) == []
    # The summary parameter stays: parameters travel in WorkflowTaskResults, not the repository.
    workers = [t for t in workflow["spec"]["templates"] if t["name"].startswith("worker")]
    assert workers and all(t["outputs"]["parameters"] for t in workers)

    schedule = client.post(
        "/api/v1/schedules", json={"execution_id": execution_id, "cron": "0 2 * * *"}, headers=AUTH
    )
    assert schedule.status_code == 201, schedule.text
    assert artifacts_needing_a_repository(fake.crons[schedule.json()["cron_workflow"]]) == []


def test_with_an_artifact_repository_workers_keep_their_artifacts() -> None:
    execution = load_execution(ROOT / "examples" / "shop" / "execution.yaml")
    document = compile_plan(plan_execution(execution)).workflow_dict()
    found = artifacts_needing_a_repository(document)
    assert any(f.endswith("outputs.results") for f in found)
    assert any(f.endswith("outputs.log") for f in found)


def test_an_artifact_workspace_needs_a_repository() -> None:
    execution = load_execution(ROOT / "examples" / "shop" / "execution.yaml")
    workspace = execution.workspace.model_copy(update={"mode": WorkspaceMode.ARTIFACT})
    execution = execution.model_copy(update={"workspace": workspace})
    with pytest.raises(SpecError) as raised:
        compile_plan(plan_execution(execution), CompileOptions(artifact_repository=False))
    assert raised.value.path == "workspace.mode"
