"""A retried worker pod gets back first what its dead predecessor leased, without waiting for
the leases to expire (real Postgres, the run's own compiled manifest).

Each pod's environment is the run's worker template resolved as Argo resolves it for one pod
attempt: Argo names every retry's pod anew (``{{pod.name}}``), while the queue identity
(``DROVER_WORKER``) is built from the workflow's name and the shard, which a retry keeps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.models import LeaseItem, ScenarioResult
from tests.api.conftest import AUTH
from tests.api.test_run_e2e import shop_spec
from tests.api.tokens import local_worker_token
from tests.compiler.workflow_reading import worker_pod_env


@pytest.fixture(scope="module")
def queue_run(client: TestClient) -> dict[str, Any]:
    execution = client.post("/api/v1/executions", json=shop_spec(), headers=AUTH).json()
    run = client.post(
        f"/api/v1/executions/{execution['id']}/run", json={"strategy": "queue"}, headers=AUTH
    )
    assert run.status_code == 201, run.text
    workflow = client.get(f"/api/v1/runs/{run.json()['id']}/manifest", headers=AUTH).json()[
        "workflow"
    ]
    token = local_worker_token(workflow, client.app.state.service.settings.home)  # type: ignore[attr-defined]
    return {"id": run.json()["id"], "token": token, "workflow": workflow}


def _pod(run: dict[str, Any], group: str, index: int, attempt: int) -> dict[str, str]:
    flow, _, name = group.partition(".")
    return worker_pod_env(run["workflow"], flow, name, index, attempt)


def _lease(client: TestClient, run: dict[str, Any], group: str, worker: str, count: int) -> Any:
    response = client.post(
        f"/api/v1/runs/{run['id']}/groups/{group}/lease",
        json={"worker": worker, "count": count},
        headers={"Authorization": f"Bearer {run['token']}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def _report(
    client: TestClient, run: dict[str, Any], group: str, pod: dict[str, str], ids: list[str]
) -> None:
    results = [
        {"id": s, "status": "passed", "attempt": 1, "group": group, "worker": pod["DROVER_POD"]}
        for s in ids
    ]
    response = client.post(
        f"/api/v1/runs/{run['id']}/results",
        json={"results": results},
        headers={"Authorization": f"Bearer {run['token']}"},
    )
    assert response.status_code == 202, response.text


def _leases(client: TestClient, run: dict[str, Any], group: str) -> dict[str, LeaseItem]:
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        rows = session.scalars(
            select(LeaseItem).where(LeaseItem.run_id == run["id"], LeaseItem.group_key == group)
        ).all()
        session.expunge_all()
    return {row.scenario_id: row for row in rows}


def test_a_retried_pod_gets_its_predecessors_unfinished_scenarios_first(
    client: TestClient, queue_run: dict[str, Any]
) -> None:
    group = "storefront.catalog"
    first, retry, peer = (_pod(queue_run, group, 0, 0), _pod(queue_run, group, 0, 1),
                          _pod(queue_run, group, 1, 0))  # fmt: skip
    assert first["DROVER_POD"] != retry["DROVER_POD"]
    assert first["DROVER_WORKER"] == retry["DROVER_WORKER"] != peer["DROVER_WORKER"]

    # The first pod leases three scenarios, reports one, and dies holding the other two.
    held = _lease(client, queue_run, group, first["DROVER_WORKER"], 3)["scenarios"]
    assert len(held) == 3
    _report(client, queue_run, group, first, held[:1])
    unfinished = held[1:]

    # While Argo backs off before the retry, a peer leases too, never the held scenarios.
    taken = _lease(client, queue_run, group, peer["DROVER_WORKER"], 1)["scenarios"]
    assert taken and not set(taken) & set(held)

    now = datetime.now(UTC)
    rows = _leases(client, queue_run, group)
    assert rows[held[0]].state == "done"
    for scenario in unfinished:
        row = rows[scenario]
        assert (row.state, row.worker, row.leases) == ("leased", first["DROVER_WORKER"], 1)
        assert row.leased_until is not None and row.leased_until > now  # still held
    queued = {s for s, row in rows.items() if row.state == "queued"}
    assert queued, "the queue still has scenarios the retry could have been given instead"

    # The retried pod, with a new pod name, gets exactly those back first, before expiry.
    again = _lease(client, queue_run, group, retry["DROVER_WORKER"], len(unfinished))
    assert sorted(again["scenarios"]) == sorted(unfinished)
    rows = _leases(client, queue_run, group)
    assert all(rows[s].leases == 2 and rows[s].worker == retry["DROVER_WORKER"] for s in unfinished)
    assert {s for s, row in rows.items() if row.state == "queued"} == queued
    _report(client, queue_run, group, retry, unfinished)
    _report(client, queue_run, group, peer, taken)

    # Then it takes from the queue as any worker does, until the group is drained.
    while not (lease := _lease(client, queue_run, group, retry["DROVER_WORKER"], 2))["done"]:
        assert set(lease["scenarios"]) <= queued
        _report(client, queue_run, group, retry, lease["scenarios"])

    # Results name the pod that produced them.
    with client.app.state.service.sessions() as session:  # type: ignore[attr-defined]
        workers = dict(
            session.execute(
                select(ScenarioResult.scenario_id, ScenarioResult.worker).where(
                    ScenarioResult.run_id == queue_run["id"],
                    ScenarioResult.scenario_id.in_(held),
                )
            ).all()
        )
    assert workers == {
        held[0]: first["DROVER_POD"],
        **dict.fromkeys(unfinished, retry["DROVER_POD"]),
    }


def test_under_the_pods_name_a_retry_would_not_find_them(
    client: TestClient, queue_run: dict[str, Any]
) -> None:
    """What the stable identity fixes: leasing as the pod, a retry is a stranger."""
    group = "purchase.checkout"
    first, retry = _pod(queue_run, group, 0, 0), _pod(queue_run, group, 0, 1)
    held = _lease(client, queue_run, group, first["DROVER_POD"], 1)["scenarios"]
    assert held
    other = _lease(client, queue_run, group, retry["DROVER_POD"], 1)["scenarios"]
    assert not set(other) & set(held)
