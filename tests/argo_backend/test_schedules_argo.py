"""Schedules on Argo: each schedule is a CronWorkflow kept in step with it, and the workflows the
controller spawns from it become runs of the execution, against the swagger-checked fake Argo
Server (which CRD-validates every CronWorkflow it stores), the Kubernetes fake and real Postgres.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from api.models import PipelineRun, PipelineRunJob, Run, RunGroup, ScenarioResult, SchedulePlan
from engine.backends.argo import ArgoBackend
from engine.labels import CRON_WORKFLOW, LABEL_PLAN, LABEL_SCHEDULE
from tests.api.conftest import AUTH, database_url, postgres_url  # noqa: F401
from tests.api.tokens import kube_worker_token
from tests.argo_backend import test_service_argo as service_argo
from tests.argo_backend.conftest import ROOT, settings_for
from tests.argo_backend.fake_kube import FakeKube
from tests.argo_backend.test_service_argo import (
    NOW,
    ArtifactArgo,
    _eventually,
    _finish,
    _run,
    _sessions,
    _shop_execution,
    _workers,
)

# The service on Argo, as test_service_argo sets it up: fake Argo and Kubernetes, real Postgres.
argo, client = service_argo.argo, service_argo.client

WORKER_TEMPLATE_PREFIX = "worker"


def _schedule(client: TestClient, execution_id: int, **fields: Any) -> dict[str, Any]:
    body = {"execution_id": execution_id, "cron": "0 2 * * 1-5", "timezone": "Europe/Berlin"}
    created = client.post("/api/v1/schedules", json={**body, **fields}, headers=AUTH)
    assert created.status_code == 201, created.text
    schedule: dict[str, Any] = created.json()
    return schedule


def _agent_env(cron: dict[str, Any]) -> dict[str, str]:
    for template in cron["spec"]["workflowSpec"]["templates"]:
        container = template.get("container") or {}
        if template["name"].startswith(WORKER_TEMPLATE_PREFIX) and container.get("env"):
            return {e["name"]: e.get("value", "") for e in container["env"]}
    raise AssertionError("no worker template with an environment")


def _schedules_of(client: TestClient, target: str, target_id: int) -> list[dict[str, Any]]:
    listed = client.get("/api/v1/schedules?limit=500", headers=AUTH).json()["items"]
    return [s for s in listed if s[target] == target_id]


def _followed(client: TestClient) -> set[str]:
    return client.app.state.service.mirror.followed  # type: ignore[attr-defined, no-any-return]


def test_a_schedule_is_a_cron_workflow_owning_its_plan(
    client: TestClient,
    argo: tuple[ArtifactArgo, str],
    kube: tuple[FakeKube, str],
) -> None:
    fake, _ = argo
    execution_id = _shop_execution(client)
    schedule = _schedule(client, execution_id, concurrency_policy="Replace")
    name = schedule["cron_workflow"]
    assert name and name.endswith(f"-schedule-{schedule['id']}") and len(name) <= 52
    assert "CronWorkflowService_CreateCronWorkflow" in fake.used

    cron = fake.crons[name]  # stored only if swagger- and CRD-valid
    spec = cron["spec"]
    assert spec["schedules"] == ["0 2 * * 1-5"]
    assert (spec["timezone"], spec["concurrencyPolicy"]) == ("Europe/Berlin", "Replace")
    assert not spec.get("suspend")
    spawned_labels = spec["workflowMetadata"]["labels"]
    assert spawned_labels[LABEL_SCHEDULE] == str(schedule["id"])
    env = _agent_env(cron)
    assert env["DROVER_RUN_ID"] == "{{workflow.name}}"
    token = kube_worker_token(cron, lambda name: kube[0].objects.get(("Secret", "drover", name)))
    assert token.startswith("drv_") and token not in json.dumps(cron)

    # The plan ConfigMaps exist first and belong to the CronWorkflow (and so to its workflows).
    owners = [
        owner
        for obj in kube[0].objects.values()
        if obj["metadata"]["labels"].get(LABEL_PLAN) == spawned_labels[LABEL_PLAN]
        for owner in obj["metadata"].get("ownerReferences", [])
    ]
    # (Plans are named by content: the execution's own schedule shares them, as a co-owner.)
    assert ("CronWorkflow", cron["metadata"]["uid"]) in {(o["kind"], o["uid"]) for o in owners}
    assert {o["kind"] for o in owners} == {"CronWorkflow"}

    # Disabling suspends it; editing the execution recompiles it; deleting removes it.
    body = {"execution_id": execution_id, "cron": "*/5 * * * *", "enabled": False}
    replaced = client.put(f"/api/v1/schedules/{schedule['id']}", json=body, headers=AUTH)
    assert replaced.status_code == 200, replaced.text
    assert fake.crons[name]["spec"]["suspend"] is True
    assert fake.crons[name]["spec"]["schedules"] == ["*/5 * * * *"]
    assert fake.crons[name]["spec"]["concurrencyPolicy"] == "Forbid"

    execution = client.get(f"/api/v1/executions/{execution_id}", headers=AUTH).json()["spec"]
    execution["flows"][0]["groups"][0]["threads"] = 3
    plan_before = fake.crons[name]["metadata"]["labels"][LABEL_PLAN]
    updated = client.put(f"/api/v1/executions/{execution_id}", json=execution, headers=AUTH)
    assert updated.status_code == 200, updated.text
    assert fake.crons[name]["metadata"]["labels"][LABEL_PLAN] != plan_before
    with _sessions(client)() as session:
        plans = session.scalars(
            select(SchedulePlan.plan_id).where(SchedulePlan.schedule_id == schedule["id"])
        ).all()
    assert len(plans) == 2, "earlier plans stay known for workflows spawned from them"

    assert client.delete(f"/api/v1/schedules/{schedule['id']}", headers=AUTH).status_code == 204
    assert name not in fake.crons


def test_spawned_workflows_become_runs_of_the_execution(
    client: TestClient,
    argo: tuple[ArtifactArgo, str],
) -> None:
    fake, _ = argo
    execution_id = _shop_execution(client)
    schedule = _schedule(client, execution_id)
    cron_name = schedule["cron_workflow"]

    # The controller fires the schedule: the watch reveals a workflow with no run id.
    spawned = fake.fire_cron(cron_name, 1_790_000_000)
    assert fake.workflows[spawned].obj["metadata"]["labels"][CRON_WORKFLOW] == cron_name

    run = _eventually(lambda: _run_of(client, spawned))
    assert (run.execution_id, run.schedule_id, run.backend) == (
        execution_id,
        schedule["id"],
        "argo",
    )
    assert run.ui_url.endswith(spawned)
    workers = _workers(client, run.id)
    with _sessions(client)() as session:
        groups = session.scalars(select(RunGroup).where(RunGroup.run_id == run.id)).all()
    assert groups and all(g.planned for g in groups), "planned as the CronWorkflow was compiled"
    assert run.total == sum(g.total for g in groups) > 0

    _finish(fake, spawned, workers, failing=None)
    _eventually(lambda: _run(client, run.id).phase == "Succeeded")
    _eventually(lambda: run.id not in _followed(client))
    row = _run(client, run.id)
    assert (row.passed, row.failed) == (len(workers), 0)
    listed = client.get(f"/api/v1/schedules/{schedule['id']}", headers=AUTH).json()
    assert listed["last_run_id"] == run.id

    # A second firing is a second run; neither is counted twice.
    again = fake.fire_cron(cron_name, 1_790_086_400)
    _eventually(lambda: _run_of(client, again) is not None)
    with _sessions(client)() as session:
        runs = session.scalars(select(Run).where(Run.schedule_id == schedule["id"])).all()
    assert sorted(r.workflow_name for r in runs) == sorted([spawned, again])


def _run_of(client: TestClient, workflow_name: str) -> Run | None:
    with _sessions(client)() as session:
        return session.scalar(select(Run).where(Run.workflow_name == workflow_name))


def test_workers_of_a_scheduled_run_report_by_workflow_name(
    client: TestClient,
    argo: tuple[ArtifactArgo, str],
    kube: tuple[FakeKube, str],
) -> None:
    fake, _ = argo
    execution_id = _shop_execution(client)
    schedule = _schedule(client, execution_id)
    token = kube_worker_token(
        fake.crons[schedule["cron_workflow"]],
        lambda name: kube[0].objects.get(("Secret", "drover", name)),
    )
    worker = {"Authorization": f"Bearer {token}"}

    # The agent reports under {{workflow.name}}; the facade resolves (or adopts) the run.
    spawned = fake.fire_cron(schedule["cron_workflow"], 1_790_000_000)
    # A scenario of the plan (others are refused: issue 13, defect 7).
    result = {
        "id": "tests/cart/test_cart.py::test_big_cart",
        "status": "passed",
        "duration": 0.2,
    }
    posted = client.post(
        f"/api/v1/runs/{spawned}/results", json={"results": [result]}, headers=worker
    )
    assert posted.status_code == 202, posted.text
    run = _eventually(lambda: _run_of(client, spawned))
    with _sessions(client)() as session:
        stored = session.scalars(
            select(ScenarioResult.scenario_id).where(ScenarioResult.run_id == run.id)
        ).all()
    assert stored == [result["id"]]

    # The schedule's token opens only the schedule's runs.
    other = client.post(f"/api/v1/executions/{execution_id}/run", headers=AUTH).json()
    refused = client.post(
        f"/api/v1/runs/{other['id']}/results", json={"results": [result]}, headers=worker
    )
    assert refused.status_code == 403
    unknown = client.post(
        "/api/v1/runs/no-such-workflow/results", json={"results": [result]}, headers=worker
    )
    assert unknown.status_code == 404


def test_service_start_brings_cron_workflows_in_line(
    client: TestClient,
    argo: tuple[ArtifactArgo, str],
    tmp_path: Path,
) -> None:
    fake, _ = argo
    execution_id = _shop_execution(client)
    schedule = _schedule(client, execution_id)
    name = schedule["cron_workflow"]
    stale = {**fake.crons[name], "metadata": {**fake.crons[name]["metadata"]}}
    stale["metadata"]["name"] = "gone-schedule-999"
    stale["metadata"]["labels"] = {**stale["metadata"]["labels"], LABEL_SCHEDULE: "999"}
    fake.crons["gone-schedule-999"] = stale
    del fake.crons[name]  # deleted behind Drover's back

    service = client.app.state.service  # type: ignore[attr-defined]
    with TestClient(create_app(service.settings)):
        pass  # a second service starting against the same database and Argo
    assert name in fake.crons, "the missing CronWorkflow is applied again"
    assert "gone-schedule-999" not in fake.crons, "a CronWorkflow of no schedule is deleted"


@pytest.mark.parametrize("field", ["execution_id", "cron", "timezone", "concurrency_policy"])
def test_bad_schedules_are_refused_and_nothing_reaches_argo(
    client: TestClient,
    argo: tuple[ArtifactArgo, str],
    field: str,
) -> None:
    fake, _ = argo
    execution_id = _shop_execution(client)
    before = set(fake.crons)  # the schedules of earlier tests, synced when the service started
    body: dict[str, Any] = {"execution_id": execution_id, "cron": "0 2 * * *"}
    body[field] = {
        "execution_id": 2_000_000,
        "cron": "not a cron",
        "timezone": "Mars/Olympus",
        "concurrency_policy": "Sometimes",
    }[field]
    refused = client.post("/api/v1/schedules", json=body, headers=AUTH)
    assert refused.status_code in (404, 422), refused.text
    assert field in refused.text or refused.status_code == 404
    assert set(fake.crons) == before


def test_the_schedule_in_an_executions_spec_is_its_own(
    client: TestClient, argo: tuple[ArtifactArgo, str]
) -> None:
    fake, _ = argo
    execution_id = _shop_execution(client)  # the shop spec: cron 0 2 * * 1-5, Europe/Berlin
    own = _schedules_of(client, "execution_id", execution_id)
    assert [(s["cron"], s["timezone"], s["from_spec"]) for s in own] == [
        ("0 2 * * 1-5", "Europe/Berlin", True)
    ]
    name = own[0]["cron_workflow"]
    assert fake.crons[name]["spec"]["schedules"] == ["0 2 * * 1-5"]

    # It changes with the execution only.
    body = {"execution_id": execution_id, "cron": "* * * * *"}
    refused = client.put(f"/api/v1/schedules/{own[0]['id']}", json=body, headers=AUTH)
    assert refused.status_code == 409 and "PUT /api/v1/executions" in refused.text
    assert client.delete(f"/api/v1/schedules/{own[0]['id']}", headers=AUTH).status_code == 409

    spec = client.get(f"/api/v1/executions/{execution_id}", headers=AUTH).json()["spec"]
    spec["schedule"] = {"cron": ["0 2 * * 1-5", "30 12 * * 6"], "suspend": True}
    assert client.put(f"/api/v1/executions/{execution_id}", json=spec, headers=AUTH).is_success
    own = _schedules_of(client, "execution_id", execution_id)
    assert [(s["cron"], s["enabled"]) for s in own] == [
        ("0 2 * * 1-5", False),
        ("30 12 * * 6", False),
    ]
    assert all(fake.crons[s["cron_workflow"]]["spec"]["suspend"] for s in own)

    del spec["schedule"]
    assert client.put(f"/api/v1/executions/{execution_id}", json=spec, headers=AUTH).is_success
    assert _schedules_of(client, "execution_id", execution_id) == []
    assert not {s["cron_workflow"] for s in own} & set(fake.crons)


def test_a_pipelines_schedule_is_a_cron_workflow_and_its_workflows_pipeline_runs(
    client: TestClient, argo: tuple[ArtifactArgo, str]
) -> None:
    fake, _ = argo
    document = yaml.safe_load((ROOT / "examples" / "pipelines" / "scheduled.yaml").read_text())
    document["name"] = f"nightly-{time.monotonic_ns() % 10**8}"
    created = client.post("/api/v1/pipelines", json=document, headers=AUTH)
    assert created.status_code == 201, created.text
    pipeline_id = created.json()["id"]

    # Its own schedule (two cron expressions): two schedules, two CronWorkflows.
    own = _schedules_of(client, "pipeline_id", pipeline_id)
    assert [(s["cron"], s["from_spec"]) for s in own] == [
        ("0 2 * * *", True),
        ("0 14 * * 6", True),
    ]
    cron = fake.crons[own[0]["cron_workflow"]]  # CRD-valid, or the fake would not store it
    assert cron["spec"]["workflowMetadata"]["labels"][LABEL_SCHEDULE] == str(own[0]["id"])
    assert cron["spec"]["timezone"] == "Europe/Berlin"

    spawned = fake.fire_cron(own[0]["cron_workflow"], 1_790_000_000)
    with _sessions(client)() as session:

        def adopted() -> PipelineRun | None:
            return session.scalar(select(PipelineRun).where(PipelineRun.workflow_name == spawned))

        run = _eventually(adopted)
        assert (run.pipeline_id, run.schedule_id, run.backend) == (
            pipeline_id,
            own[0]["id"],
            "argo",
        )
        jobs = session.scalars(
            select(PipelineRunJob.job).where(PipelineRunJob.run_id == run.id)
        ).all()
    assert sorted(jobs) == ["announce", "fetch", "render"]
    detail = client.get(f"/api/v1/pipeline-runs/{run.id}", headers=AUTH)
    assert detail.status_code == 200, detail.text

    assert client.delete(f"/api/v1/pipelines/{pipeline_id}", headers=AUTH).status_code == 204
    assert not {s["cron_workflow"] for s in own} & set(fake.crons)


def test_a_schedule_names_exactly_one_target(client: TestClient) -> None:
    for body in ({"cron": "0 2 * * *"}, {"cron": "0 2 * * *", "execution_id": 1, "pipeline_id": 1}):
        refused = client.post("/api/v1/schedules", json=body, headers=AUTH)
        assert refused.status_code == 422
        assert "exactly one of execution_id and pipeline_id" in refused.text


def test_operator_retry_and_resubmit_of_a_pipeline_run_are_noticed(
    client: TestClient, argo: tuple[ArtifactArgo, str], tmp_path: Path
) -> None:
    fake, url = argo
    document = {
        "kind": "Pipeline",
        "name": f"once-{time.monotonic_ns() % 10**8}",
        "jobs": [{"name": "say", "script": {"language": "bash", "source": "echo hi"}}],
    }
    pipeline = client.post("/api/v1/pipelines", json=document, headers=AUTH).json()
    started = client.post(f"/api/v1/pipelines/{pipeline['id']}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run = started.json()
    workflow = run["workflow_name"]

    def phase(run_id: str) -> str:
        return str(client.get(f"/api/v1/pipeline-runs/{run_id}", headers=AUTH).json()["phase"])

    fake.update_status(workflow, phase="Failed", startedAt=NOW, finishedAt=NOW, nodes={})
    _eventually(lambda: phase(run["id"]) == "Failed")

    # Retried in the Argo UI: the same workflow runs again.
    operator = ArgoBackend(settings_for(url, tmp_path))
    operator.retry(workflow)
    _eventually(lambda: phase(run["id"]) == "Running")

    # Resubmitted in the Argo UI: a new workflow, a new run linked to this one.
    second = operator.resubmit(workflow)
    operator.close()
    with _sessions(client)() as session:

        def resubmitted() -> PipelineRun | None:
            return session.scalar(select(PipelineRun).where(PipelineRun.workflow_name == second))

        new = _eventually(resubmitted)
    detail = client.get(f"/api/v1/pipeline-runs/{new.id}", headers=AUTH).json()
    assert detail["resubmitted_from"] == run["id"]
    assert (detail["pipeline_id"], detail["pipeline_version"]) == (pipeline["id"], 1)
    assert [j["job"] for j in detail["jobs"]] == ["say"]
