"""GET /executions/{id}/scenarios: each scenario's last runs and whether it is flaky, over HTTP
against real Postgres; and the pure rule behind it (engine.flakiness)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from engine.flakiness import RunOutcome, assess_flakiness
from tests.api.conftest import AUTH
from tests.api.test_frontend_runs import T0, plant_run, post
from tests.api.test_run_e2e import shop_spec


def test_flaky_is_passed_only_on_rerun_or_mixed_outcomes() -> None:
    steady = assess_flakiness([RunOutcome(("passed",)), RunOutcome(("passed",))])
    assert not steady.flaky and steady.pass_rate == 1.0
    rerun = assess_flakiness([RunOutcome(("failed", "passed")), RunOutcome(("passed",))])
    assert rerun.flaky and rerun.reason == "passed only on rerun in 1 of 2 runs"
    mixed = assess_flakiness([RunOutcome(("passed",)), RunOutcome(("error",))])
    assert mixed.flaky and mixed.pass_rate == 0.5
    broken = assess_flakiness([RunOutcome(("failed",)), RunOutcome(("failed", "failed"))])
    assert not broken.flaky and broken.pass_rate == 0.0  # failing steadily is not flaky
    skipped = assess_flakiness([RunOutcome(("skipped",)), RunOutcome(("passed",))])
    assert not skipped.flaky


def test_scenarios_across_the_last_runs_of_an_execution(client: TestClient) -> None:
    spec = {**shop_spec(), "name": "shop-history"}
    spec.pop("schedule", None)
    execution = client.post("/api/v1/executions", json=spec, headers=AUTH).json()
    plan = None
    for n in range(3):
        plan = plant_run(
            client, f"hist{n}", execution_id=execution["id"], created_at=T0 + timedelta(hours=n)
        )
    assert plan is not None
    steady, rerun, mixed = [s.id for s in plan.groups[0].scenarios[:3]]
    for n in range(3):
        results: list[dict[str, Any]] = [
            {"id": steady, "status": "passed", "attempt": 1, "duration": 1.0 + n},
            {"id": mixed, "status": "failed" if n == 1 else "passed", "attempt": 1},
        ]
        if n == 2:
            results += [
                {"id": rerun, "status": "failed", "attempt": 1, "duration": 3.0},
                {"id": rerun, "status": "passed", "attempt": 2, "duration": 2.0},
            ]
        else:
            results.append({"id": rerun, "status": "passed", "attempt": 1, "duration": 2.5})
        post(client, f"hist{n}", results)

    url = f"/api/v1/executions/{execution['id']}/scenarios"
    response = client.get(url, headers=AUTH)
    assert response.status_code == 200, response.text
    page = response.json()
    by_id = {s["scenario_id"]: s for s in page["items"]}
    assert page["total"] == 3
    assert not by_id[steady]["flaky"]
    assert [r["run_id"] for r in by_id[steady]["runs"]] == ["hist2", "hist1", "hist0"]
    assert [r["duration"] for r in by_id[steady]["runs"]] == [3.0, 2.0, 1.0]
    assert by_id[steady]["mean_duration"] == 2.0
    newest = by_id[rerun]["runs"][0]
    assert newest["statuses"] == ["failed", "passed"] and newest["passed_on_rerun"]
    assert (newest["attempts"], newest["duration"]) == (2, 2.0)
    assert by_id[rerun]["flaky"] and "rerun" in by_id[rerun]["flaky_reason"]
    assert by_id[mixed]["flaky"] and by_id[mixed]["pass_rate"] == round(2 / 3, 3)
    assert by_id[steady]["name"] and by_id[steady]["location"]

    flaky = client.get(f"{url}?flaky=true", headers=AUTH).json()["items"]
    assert {s["scenario_id"] for s in flaky} == {rerun, mixed}
    last_one = client.get(f"{url}?runs=1", headers=AUTH).json()["items"]
    assert all(len(s["runs"]) == 1 for s in last_one)
    assert {s["scenario_id"] for s in last_one if s["flaky"]} == {rerun}
    missing = client.get("/api/v1/executions/99999/scenarios", headers=AUTH)
    assert missing.status_code == 404
