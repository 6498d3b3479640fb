"""Pipeline tool jobs against a real ``drover serve`` and real receivers: the workflow asks the
facade (with the run's tool token) to send; the channels' secrets never enter the workflow;
the outcome is the job's result, read by a later job and a condition."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.test_service_process import Server
from tests.notifications.receivers import HttpReceiver, http_receiver

SECRET = "whsec-tools"


def _wait_final(client: httpx.Client, run_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = client.get(f"/api/v1/pipeline-runs/{run_id}").json()
        if run["phase"] in ("Succeeded", "Failed", "Error"):
            return run
        time.sleep(0.2)
    raise AssertionError(f"pipeline run {run_id} did not finish")


def _manifest(database_url: str, run_id: str) -> str:
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT manifest::text FROM drover_pipeline_runs WHERE id = %s", (run_id,)
        ).fetchone()
    assert row is not None
    return str(row[0])


def _tool_token(manifest: str, job: str) -> str:
    for template in json.loads(manifest)["spec"]["templates"]:
        http = template.get("http") or {}
        if http.get("url", "").endswith(f"/tools/{job}"):
            header = next(h for h in http["headers"] if h["name"] == "Authorization")
            return str(header["value"]).removeprefix("Bearer ")
    raise AssertionError(f"no tool request for {job}")


def _pipeline(receiver: HttpReceiver) -> dict[str, Any]:
    return {
        "kind": "Pipeline",
        "name": "release-notes",
        "parameters": {"version": "1.4.2"},
        "notify": [
            {
                "events": ["run.finished"],
                "channel": {
                    "type": "webhook",
                    "url": f"{receiver.url}/webhook/pipeline",
                    "signing_secret": {"env": "TOOL_HOOK_SECRET"},
                },
            }
        ],
        "jobs": [
            {
                "name": "announce",
                "tool": {
                    "channel": {"type": "slack", "url_from": {"env": "TOOL_SLACK_URL"}},
                    "message": "released ${params.version} :rocket:",
                },
            },
            {
                "name": "hook",
                "tool": {
                    "channel": {
                        "type": "webhook",
                        "url": f"{receiver.url}/webhook/tool",
                        "signing_secret": {"env": "TOOL_HOOK_SECRET"},
                    },
                    "message": "deploy ${params.version}",
                },
            },
            {
                "name": "check",
                "needs": ["announce"],
                "inputs": {"outcome": "${jobs.announce.result}"},
                "outputs": ["status"],
                "script": {
                    "language": "python",
                    "source": "import json\noutput('status', json.loads(input('outcome'))['status'])\n",
                },
            },
            {
                "name": "celebrate",
                "needs": ["check"],
                "when": "jobs.check.outputs.status == 'delivered'",
                "script": {"language": "bash", "source": "echo sent"},
            },
            {
                "name": "broken",
                "tool": {
                    "channel": {"type": "discord", "url_from": {"env": "TOOL_NOT_SET"}},
                    "message": "never sent",
                },
            },
            {
                "name": "fallback",
                "needs": ["broken"],
                "on": "failure",
                "script": {"language": "bash", "source": "echo the discord message failed"},
            },
        ],
    }


@pytest.mark.timeout(300)
def test_tool_jobs_send_through_the_facade_and_their_outcome_feeds_later_jobs(
    database_url: str, home: Path
) -> None:
    with http_receiver(secret=SECRET) as receiver:
        slack_url = f"{receiver.url}/slack/T1/B1/tool-secret-path"
        server = Server(database_url, home)
        server.env.update({"TOOL_SLACK_URL": slack_url, "TOOL_HOOK_SECRET": SECRET})
        server.env.pop("TOOL_NOT_SET", None)
        server.start()
        try:
            with server.client() as client:
                created = client.post("/api/v1/pipelines", json=_pipeline(receiver))
                assert created.status_code == 201, created.text
                started = client.post(f"/api/v1/pipelines/{created.json()['id']}/run")
                assert started.status_code == 201, started.text
                run = _wait_final(client, started.json()["id"])
                jobs = {j["job"]: j for j in run["jobs"]}
                events = client.get(f"/api/v1/notifications/events?run_id={run['id']}").json()
                deadline = time.monotonic() + 20  # the pipeline's own notify: entry
                while not receiver.ok("/webhook/pipeline") and time.monotonic() < deadline:
                    time.sleep(0.1)
                manifest = _manifest(database_url, run["id"])
                # The token in the workflow opens nothing once the run has ended.
                token = _tool_token(manifest, "announce")
                again = httpx.post(
                    f"{server.url}/api/v1/pipeline-runs/{run['id']}/tools/announce",
                    content="again",
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert again.status_code == 403 and "has ended" in again.text
                assert client.get("/api/v1/pipelines").status_code == 200
                denied = httpx.get(
                    f"{server.url}/api/v1/pipelines", headers={"Authorization": f"Bearer {token}"}
                )
                assert denied.status_code == 401  # not an API token
        finally:
            server.stop()
    # The pipeline run's own events, from the pipeline follower's transitions.
    by_id = {e["id"]: e for e in events["items"]}
    assert set(by_id) == {f"run.started/pipeline/{run['id']}", f"run.finished/pipeline/{run['id']}"}
    finished = by_id[f"run.finished/pipeline/{run['id']}"]
    assert finished["run"]["kind"] == "pipeline" and finished["verdict"] == "failed"
    assert finished["counts"]["failed"] == 1 and finished["counts"]["total"] == 6
    assert jobs["announce"]["phase"] == "Succeeded", jobs["announce"]
    outcome = json.loads(jobs["announce"]["result"])
    assert outcome["status"] == "delivered" and outcome["http_status"] == 200
    assert jobs["check"]["outputs"]["status"] == "delivered"
    assert jobs["celebrate"]["phase"] == "Succeeded"
    assert jobs["broken"]["phase"] == "Failed"
    assert jobs["fallback"]["phase"] == "Succeeded"
    (notified,) = receiver.ok("/webhook/pipeline")
    assert notified.json["idempotency_key"] == f"run.finished/pipeline/{run['id']}"
    assert notified.json["run"]["name"] == "release-notes"
    (slack,) = receiver.ok("/slack")
    assert slack.json["text"] == "released 1.4.2 :rocket:"
    (hook,) = receiver.ok("/webhook/tool")
    assert hook.signature_ok
    assert hook.json["message"] == "deploy 1.4.2" and hook.json["job"] == "hook"
    assert hook.json["idempotency_key"] == f"tool/{run['id']}/hook"
    # The workflow holds no secret: neither the Slack URL nor the signing secret.
    assert "tool-secret-path" not in manifest and SECRET not in manifest
