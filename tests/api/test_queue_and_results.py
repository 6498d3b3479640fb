"""Queue leases (longest first, no double hand-out, expiry, retried workers) and posted results
(batched, idempotent, worker tokens scoped to their run)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.runs.queue import lease_scenarios
from tests.api.conftest import AUTH
from tests.api.test_run_e2e import shop_spec
from tests.api.tokens import local_worker_token

GROUP = "storefront.catalog"


# Scenarios of the plan: the service refuses results for any other (issue 13, defect 7).
A_SCENARIO = "tests/cart/test_cart.py::TestRemoval::test_remove_drops_the_line"
B_SCENARIO = "tests/cart/test_cart.py::TestRemoval::test_remove_many"
RETRIED = "tests/checkout/test_checkout.py::test_checkout_under_load"


@pytest.fixture(scope="module")
def queue_run(client: TestClient) -> dict[str, Any]:
    execution = client.post("/api/v1/executions", json=shop_spec(), headers=AUTH).json()
    run = client.post(
        f"/api/v1/executions/{execution['id']}/run", json={"strategy": "queue"}, headers=AUTH
    )
    assert run.status_code == 201, run.text
    manifest = client.get(f"/api/v1/runs/{run.json()['id']}/manifest", headers=AUTH).json()
    token = local_worker_token(manifest["workflow"], client.app.state.service.settings.home)  # type: ignore[attr-defined]
    return {"id": run.json()["id"], "token": token, "spec": shop_spec()}


def _lease(
    client: TestClient, run: dict[str, Any], worker: str, count: int = 1, group: str = GROUP
) -> dict[str, Any]:
    response = client.post(
        f"/api/v1/runs/{run['id']}/groups/{group}/lease",
        json={"worker": worker, "count": count},
        headers={"Authorization": f"Bearer {run['token']}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_lease_hands_out_longest_expected_first(
    client: TestClient, queue_run: dict[str, Any]
) -> None:
    first = _lease(client, queue_run, "w-0")
    durations = {s["id"]: s.get("duration") for s in queue_run["spec"]["scenarios"]}
    assert first["scenarios"] == ["tests/catalog/test_catalog.py::test_full_catalog_scan"]
    assert durations[first["scenarios"][0]] == 1.1


def test_retried_worker_gets_its_own_unfinished_scenarios_first(
    client: TestClient, queue_run: dict[str, Any]
) -> None:
    mine = _lease(client, queue_run, "w-retry", count=2)["scenarios"]
    other = _lease(client, queue_run, "w-other")["scenarios"]
    assert not set(mine) & set(other)
    again = _lease(client, queue_run, "w-retry", count=2)["scenarios"]
    assert again == mine


def test_concurrent_leases_never_hand_out_a_scenario_twice(
    client: TestClient, queue_run: dict[str, Any]
) -> None:
    group = "purchase.cart"
    with ThreadPoolExecutor(8) as pool:
        batches = list(
            pool.map(
                lambda i: _lease(client, queue_run, f"c-{i}", group=group)["scenarios"], range(8)
            )
        )
    handed = [s for batch in batches for s in batch]
    assert len(handed) == len(set(handed)) == 7  # the cart group holds 7 scenarios
    assert _lease(client, queue_run, "c-late", group=group)["scenarios"] == []


def test_expired_lease_returns_to_the_queue(client: TestClient, queue_run: dict[str, Any]) -> None:
    sessions = client.app.state.service.sessions  # type: ignore[attr-defined]
    group = "purchase.checkout"
    with sessions() as session:
        taken = lease_scenarios(
            session,
            run_id=queue_run["id"],
            group_key=group,
            worker="slow",
            count=3,
            lease_seconds=1,
        )
    assert len(taken.scenarios) == 3
    later = datetime.now(UTC) + timedelta(seconds=5)
    with sessions() as session:
        again = lease_scenarios(
            session, run_id=queue_run["id"], group_key=group, worker="fast", count=3, now=later
        )
    assert sorted(again.scenarios) == sorted(taken.scenarios)


def test_reported_scenarios_are_done_and_the_group_drains(
    client: TestClient, queue_run: dict[str, Any]
) -> None:
    group = "storefront.smoke"
    auth = {"Authorization": f"Bearer {queue_run['token']}"}
    while True:
        lease = _lease(client, queue_run, "drainer", count=3, group=group)
        if lease["done"]:
            break
        assert lease["scenarios"]
        results = [
            {"id": s, "status": "passed", "duration": 0.1, "attempt": 0, "group": group}
            for s in lease["scenarios"]
        ]
        response = client.post(
            f"/api/v1/runs/{queue_run['id']}/results", json={"results": results}, headers=auth
        )
        assert response.status_code == 202


def test_posted_results_are_idempotent(client: TestClient, queue_run: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {queue_run['token']}"}
    batch = {
        "results": [
            {"id": A_SCENARIO, "status": "failed", "attempt": 0, "error": "boom"},
            {"id": A_SCENARIO, "status": "passed", "attempt": 1},
            {"id": B_SCENARIO, "status": "skipped"},
        ]
    }
    url = f"/api/v1/runs/{queue_run['id']}/results"
    assert client.post(url, json=batch, headers=auth).json() == {"received": 3, "inserted": 3}
    assert client.post(url, json=batch, headers=auth).json() == {"received": 3, "inserted": 0}
    rows = client.get(f"{url}?group=", headers=AUTH).json()
    assert rows["total"] == 0
    bad = client.post(url, json={"results": [{"id": "x", "status": "exploded"}]}, headers=auth)
    assert bad.status_code == 422 and "status" in bad.json()["field"]


def test_worker_token_is_scoped_to_its_run(client: TestClient, queue_run: dict[str, Any]) -> None:
    auth = {"Authorization": f"Bearer {queue_run['token']}"}
    assert client.get(f"/api/v1/runs/{queue_run['id']}", headers=auth).status_code == 403
    other = client.post("/api/v1/runs/someoneelse/results", json={"results": []}, headers=auth)
    assert other.status_code == 403
    assert client.get("/api/v1/executions", headers=auth).status_code == 403


def test_a_retried_run_keeps_the_new_attempts_results(
    client: TestClient, queue_run: dict[str, Any]
) -> None:
    """Agents number attempts from 1 in every run attempt; a retry's results still count."""
    from api.models import Run
    from api.runs.attempts import record_retry

    auth = {"Authorization": f"Bearer {queue_run['token']}"}
    url = f"/api/v1/runs/{queue_run['id']}/results"
    first = {"results": [{"id": RETRIED, "status": "failed", "attempt": 1, "error": "boom"}]}
    assert client.post(url, json=first, headers=auth).json()["inserted"] == 1

    service = client.app.state.service  # type: ignore[attr-defined]
    with service.sessions() as session:
        run = session.get(Run, queue_run["id"])
        assert run is not None
        previous_phase = run.phase
        run.phase = "Failed"  # a retry applies to a finished run
        session.commit()
        assert record_retry(session, queue_run["id"])
        session.commit()

    again = {"results": [{"id": RETRIED, "status": "passed", "attempt": 1}]}
    assert client.post(url, json=again, headers=auth).json()["inserted"] == 1
    rows = client.get(f"{url}?status=passed", headers=AUTH).json()["items"]
    assert [r["scenario_id"] for r in rows if r["scenario_id"] == RETRIED] == [RETRIED]
    with service.sessions() as session:
        run = session.get(Run, queue_run["id"])
        assert run is not None
        run.phase = previous_phase
        session.commit()
