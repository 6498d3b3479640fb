"""Projects, executions and schedules through HTTP, against a real Postgres."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.api.conftest import AUTH

SHOP = Path(__file__).resolve().parents[2] / "examples" / "shop" / "execution.yaml"


@pytest.fixture(scope="module")
def shop() -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load(SHOP.read_text())
    spec["project"]["path"] = str(SHOP.parent)  # the API refuses a relative path
    return spec


def test_health_needs_no_token_everything_else_does(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/readyz").status_code == 200
    for path in ("/api/v1/executions", "/api/v1/runs", "/api/v1/projects", "/api/v1/metrics"):
        response = client.get(path)
        assert response.status_code == 401 and response.json()["detail"]
    assert client.get("/api/v1/runs", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_metrics_in_prometheus_text_format(client: TestClient) -> None:
    response = client.get("/api/v1/metrics", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert {"drover_runs", "drover_scenario_results", "drover_mirror_followed_runs"} <= set(
        families
    )
    assert families["drover_mirror_errors"].type == "counter"


def test_execution_crud_keeps_versions(client: TestClient, shop: dict[str, Any]) -> None:
    created = client.post("/api/v1/executions", json=shop, headers=AUTH)
    assert created.status_code == 201, created.text
    execution = created.json()
    assert execution["version"] == 1 and execution["project_id"] is not None
    assert client.post("/api/v1/executions", json=shop, headers=AUTH).status_code == 409

    changed = copy.deepcopy(shop)
    changed["title"] = "Nightly shop regression"
    updated = client.put(f"/api/v1/executions/{execution['id']}", json=changed, headers=AUTH)
    assert updated.json()["version"] == 2
    versions = client.get(f"/api/v1/executions/{execution['id']}/versions", headers=AUTH).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["spec"]["title"] == "Nightly shop regression"

    listed = client.get("/api/v1/executions", headers=AUTH).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "shop-regression"
    project = client.get(f"/api/v1/projects/{execution['project_id']}", headers=AUTH).json()
    assert project["name"] == "shop"


def test_invalid_execution_is_422_naming_the_field(
    client: TestClient, shop: dict[str, Any]
) -> None:
    bad = copy.deepcopy(shop)
    bad["name"] = "other"
    bad["flows"][0]["groups"][1]["threads"] = 0
    response = client.post("/api/v1/executions", json=bad, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["field"] == "flows[0].groups[1].threads"


def test_sharding_preview_reports_plan(client: TestClient, shop: dict[str, Any]) -> None:
    response = client.post("/api/v1/sharding/preview", json={"execution": shop}, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["scenarios"] == sum(
        len(s) for g in body["groups"] for s in [[i for sh in g["shards"] for i in sh["scenarios"]]]
    )
    assert all(g["makespan"] >= g["lower_bound"] for g in body["groups"])
    bad = client.post(
        "/api/v1/sharding/preview", json={"execution": shop, "strategy": "fastest"}, headers=AUTH
    )
    assert bad.status_code == 422 and bad.json()["field"] == "strategy"


def test_schedules_crud_and_cron_validation(client: TestClient) -> None:
    execution_id = client.get("/api/v1/executions", headers=AUTH).json()["items"][0]["id"]
    body = {"execution_id": execution_id, "cron": "0 2 * * 1-5", "timezone": "Europe/Berlin"}
    created = client.post("/api/v1/schedules", json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["next_run_at"] is not None
    bad = client.post("/api/v1/schedules", json={**body, "cron": "every day"}, headers=AUTH)
    assert bad.status_code == 422 and bad.json()["field"] == "cron"
    schedule_id = created.json()["id"]
    assert (
        client.put(
            f"/api/v1/schedules/{schedule_id}", json={**body, "enabled": False}, headers=AUTH
        ).json()["next_run_at"]
        is None
    )
    assert client.delete(f"/api/v1/schedules/{schedule_id}", headers=AUTH).status_code == 204
    assert client.get(f"/api/v1/schedules/{schedule_id}", headers=AUTH).status_code == 404
