"""Issue 12 defect 14: a run whose scenarios failed is never reported as a plain success.

A failed ``continue_on_failure`` group followed by a passing group ends the workflow
``Succeeded`` (workflow/controller/dag.go ``assessDAGPhase`` counts a failed task only when no
task ran after it; the local runner ports it), so the run's phase says Succeeded; its verdict
(engine/verdict.py, shown as ``verdict`` in run detail) says failed."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import AUTH
from tests.api.test_run_e2e import SHOP, follow_events

FAILING = "tests/checkout/test_checkout.py::test_free_shipping_from_fifteen_euros"
PASSING = "tests/cart/test_cart.py::test_empty_cart_totals_zero"


def test_defect_14_a_failed_tolerant_group_then_a_passing_one_is_not_a_success(
    client: TestClient,
) -> None:
    spec = {
        "name": "tolerant-then-passing",
        "project": {
            "name": "shop",
            "path": str(SHOP),
            "runner": {"args": ["-p", "no:cacheprovider"]},
        },
        "defaults": {"pod_retries": 0},
        "flows": [
            {
                "name": "only",
                "groups": [
                    {
                        "name": "tolerant",
                        "continue_on_failure": True,
                        "scenarios": [{"id": FAILING}],
                    },
                    {"name": "after", "scenarios": [{"id": PASSING}]},
                ],
            }
        ],
    }
    execution = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert execution.status_code == 201, execution.text
    started = client.post(f"/api/v1/executions/{execution.json()['id']}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    follow_events(client, run_id)
    run = client.get(f"/api/v1/runs/{run_id}", headers=AUTH).json()
    assert run["phase"] == "Succeeded"  # Argo's view: the failure was handled
    assert (run["failed"], run["passed"]) == (1, 1)
    assert run["verdict"] == "failed"
