"""A run whose setup-env fails says why in its detail, as ``drover run`` does (one function)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import AUTH
from tests.api.test_run_e2e import follow_events, shop_spec


def test_run_detail_names_the_setup_error(client: TestClient) -> None:
    spec: dict[str, Any] = shop_spec()
    spec["name"] = "broken-setup"
    spec["project"]["setup"] = ["sh -c 'echo no such package >&2; exit 3'"]
    execution = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert execution.status_code == 201, execution.text
    started = client.post(f"/api/v1/executions/{execution.json()['id']}/run", headers=AUTH)
    run_id = started.json()["id"]
    assert follow_events(client, run_id)[-1][0] == "end"
    detail = client.get(f"/api/v1/runs/{run_id}", headers=AUTH).json()
    assert detail["phase"] in ("Failed", "Error")
    assert detail["setup_error"].startswith("setup-env Failed: ")
    assert all(g["phase"] == "Pending" for g in detail["groups"])  # why: the setup, above
