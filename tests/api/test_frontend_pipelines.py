"""Pipelines as a frontend reads them, over HTTP against real Postgres on the local runner:
stages on jobs, parameters with their defaults, one list of every pipeline's runs, a reused
Idempotency-Key with another request refused (409, as at Stripe), and event streams that send
a snapshot, then only what changed, with ids a reconnecting EventSource resumes from."""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import AUTH
from tests.api.test_frontend_runs import stream_events, wait_for_events
from tests.api.test_pipelines_api import create, example, start, unique, wait_final


def sse(text: str) -> list[tuple[str | None, str, Any]]:
    """(id, event, data) of each event in a stream's text."""
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields.get("id"), fields["event"], json.loads(fields["data"])))
    return events


@pytest.fixture(scope="module")
def release(client: TestClient) -> dict[str, Any]:
    """The staged example, run once with one parameter overridden, until it ended."""
    pipeline = create(client, unique(example("stages")))
    run_id = start(client, pipeline["id"], app="cart")
    return {"pipeline": pipeline, "run": wait_final(client, run_id, timeout=60)}


def test_jobs_carry_their_stage_and_parameters_their_defaults(
    client: TestClient, release: dict[str, Any]
) -> None:
    run = release["run"]
    assert run["phase"] == "Succeeded", run
    stages = {job["job"]: job["stage"] for job in run["jobs"]}
    assert stages == {"version": "build", "unit": "test", "lint": "test", "publish": "ship"}
    assert run["overrides"] == {"app": "cart"}
    assert run["parameters"]["app"] == "cart"
    plain = start(client, release["pipeline"]["id"])
    defaults = client.get(f"/api/v1/pipeline-runs/{plain}", headers=AUTH).json()
    assert defaults["parameters"] == {"app": "shop"} and defaults["overrides"] == {}
    assert all(job["duration"] is None or job["duration"] >= 0 for job in run["jobs"])
    assert run["duration"] is not None and run["duration"] >= 0  # seconds, to the millisecond
    wait_final(client, plain, timeout=60)


def test_one_list_of_every_pipelines_runs(client: TestClient, release: dict[str, Any]) -> None:
    other = create(client, unique(example("failure-notify")))
    failed = wait_final(client, start(client, other["id"]), timeout=60)
    everything = client.get("/api/v1/pipeline-runs?limit=500", headers=AUTH).json()
    ids = [r["id"] for r in everything["items"]]
    assert release["run"]["id"] in ids and failed["id"] in ids
    created = [r["created_at"] for r in everything["items"]]
    assert created == sorted(created, reverse=True)
    mine = client.get(
        f"/api/v1/pipeline-runs?pipeline_id={other['id']}&phase=failed,ERROR", headers=AUTH
    ).json()
    assert [r["id"] for r in mine["items"]] == [failed["id"]]
    bad = client.get("/api/v1/pipeline-runs?phase=done", headers=AUTH)
    assert bad.status_code == 422 and bad.json()["field"] == "phase"


def test_a_reused_idempotency_key_with_another_request_is_409(
    client: TestClient, release: dict[str, Any]
) -> None:
    url = f"/api/v1/pipelines/{release['pipeline']['id']}/run"
    key = {**AUTH, "Idempotency-Key": f"k-{secrets.token_hex(4)}"}
    first = client.post(url, json={"parameters": {"app": "a"}}, headers=key)
    again = client.post(url, json={"parameters": {"app": "a"}}, headers=key)
    other = client.post(url, json={"parameters": {"app": "b"}}, headers=key)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert "other parameters" in other.json()["detail"]
    wait_final(client, first.json()["id"], timeout=60)


def test_execution_run_now_under_a_reused_key_with_another_strategy_is_409(
    client: TestClient,
) -> None:
    from tests.api.test_run_e2e import shop_spec

    spec = {**shop_spec(), "name": f"shop-key-{secrets.token_hex(3)}"}
    spec.pop("schedule", None)
    execution = client.post("/api/v1/executions", json=spec, headers=AUTH).json()
    url = f"/api/v1/executions/{execution['id']}/run"
    key = {**AUTH, "Idempotency-Key": f"k-{secrets.token_hex(4)}"}
    first = client.post(url, json={"strategy": "round-robin"}, headers=key)
    assert first.status_code == 201, first.text
    assert client.post(url, json={"strategy": "round-robin"}, headers=key).status_code == 200
    other = client.post(url, json={"strategy": "queue"}, headers=key)
    assert other.status_code == 409 and "strategy" in other.json()["detail"]
    client.post(f"/api/v1/runs/{first.json()['id']}/cancel?mode=terminate", headers=AUTH)


def test_events_send_a_snapshot_then_changes_and_resume_by_id(client: TestClient) -> None:
    # Held suspended until the stream has sent its snapshot: a run this short could otherwise
    # end before the stream's first read, and the stream would rightly send no delta at all.
    # Its first job lasts long enough for the suspend to land before the run has ended (a
    # finished run cannot be suspended).
    document = unique(example("stages"))
    version = document["stages"][0]["jobs"][0]["script"]
    version["source"] = "sleep 2\n" + version["source"]
    run_id = start(client, create(client, document)["id"])
    held = client.post(f"/api/v1/pipeline-runs/{run_id}/suspend", headers=AUTH)
    assert held.status_code == 200, held.text
    events: list[tuple[str | None, str, Any]] = []
    reader = threading.Thread(
        target=stream_events, args=(client, run_id, events), kwargs={"runs": "pipeline-runs"}
    )
    reader.start()
    wait_for_events(events, 1)
    resumed = client.post(f"/api/v1/pipeline-runs/{run_id}/resume", headers=AUTH)
    assert resumed.status_code == 200, resumed.text
    reader.join(60)
    kinds = [event for _, event, _ in events]
    assert kinds[0] == "snapshot" and kinds[-1] == "end" and "delta" in kinds
    assert all(event_id for event_id, event, _ in events if event != "end")
    snapshot = events[0][2]
    assert snapshot["id"] == run_id and len(snapshot["jobs"]) == 4
    for _, _, data in events[1:-1]:
        for key, fields in data.items():
            assert key == "run" or key.startswith("job:")
            assert "kind" not in fields or key == "run"  # unchanged fields are not sent again
    assert events[-1][2]["phase"] == "Succeeded"

    last_id = events[-2][0]
    again = sse(
        client.get(
            f"/api/v1/pipeline-runs/{run_id}/events",
            headers={**AUTH, "Last-Event-ID": str(last_id)},
        ).text
    )
    assert [event for _, event, _ in again] == ["end"]  # nothing changed since
    unknown = sse(
        client.get(
            f"/api/v1/pipeline-runs/{run_id}/events", headers={**AUTH, "Last-Event-ID": "x-1"}
        ).text
    )
    assert [event for _, event, _ in unknown] == ["snapshot", "end"]
