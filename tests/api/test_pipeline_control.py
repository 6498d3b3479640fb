"""Controlling pipeline runs over HTTP on the local backend: retry in place with Argo's meaning
(only failed jobs run again, succeeded jobs keep their outputs), resubmit as a new linked run of
the same version, suspend and resume, and the 409s for runs in the wrong phase."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from api.mirror.pipelines import refresh_pipeline_run
from api.models import PipelineRun, PipelineRunJob
from engine.backends.base import Backend
from tests.api.conftest import AUTH
from tests.api.test_pipelines_api import (
    create,
    job_log,
    jobs,
    phases,
    sse_events,
    start,
    wait_final,
)

RUNS = "/api/v1/pipeline-runs"

CHECK_MARKER = """\
import os, sys
if not os.path.exists(input("marker")):
    print("no marker yet")
    sys.exit(3)
output("seen", input("token"))
print("marker found")
"""


@pytest.fixture
def marker() -> Iterator[Path]:
    """A path the jobs can read (``/tmp`` is private in the sandbox, ``/var/tmp`` is not)."""
    directory = Path(tempfile.mkdtemp(prefix="drover-marker-", dir="/var/tmp"))
    directory.chmod(0o755)
    yield directory / "ready"
    shutil.rmtree(directory, ignore_errors=True)


def flaky(marker: Path, report: str = "report of") -> dict[str, Any]:
    """``flaky`` fails (exit 3) until the marker exists; ``prepare`` and the exit job ``tidy``
    draw random tokens, so whether they ran again shows."""
    return {
        "kind": "Pipeline",
        "name": f"flaky-{secrets.token_hex(3)}",
        "parameters": {"marker": str(marker)},
        "jobs": [
            {
                "name": "prepare",
                "outputs": ["token"],
                "script": {
                    "language": "python",
                    "source": "import secrets\noutput('token', secrets.token_hex(4))\n",
                },
            },
            {
                "name": "flaky",
                "needs": ["prepare"],
                "inputs": {"marker": "${params.marker}", "token": "${jobs.prepare.outputs.token}"},
                "outputs": ["seen"],
                "script": {"language": "python", "source": CHECK_MARKER},
            },
            {
                "name": "report",
                "needs": ["flaky"],
                "inputs": {"seen": "${jobs.flaky.outputs.seen}"},
                "script": {"language": "bash", "source": f'echo "{report} $(input seen)"'},
            },
        ],
        "on_exit": {
            "name": "tidy",
            "script": {
                "language": "python",
                "source": "import secrets\nprint(secrets.token_hex(4))",
            },
        },
    }


def read(client: TestClient, run_id: str) -> dict[str, Any]:
    response = client.get(f"{RUNS}/{run_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_job(client: TestClient, run_id: str, job: str, phase: str) -> dict[str, Any]:
    deadline = time.monotonic() + 15
    while (run := read(client, run_id)) and jobs(run)[job]["phase"] != phase:
        assert time.monotonic() < deadline, run
        time.sleep(0.1)
    return run


def test_retry_reruns_only_the_failed_job_and_keeps_what_succeeded(
    client: TestClient, marker: Path
) -> None:
    pipeline = create(client, flaky(marker))
    run_id = start(client, pipeline["id"])
    failed = wait_final(client, run_id)
    assert failed["phase"] == "Failed", failed
    assert phases(failed) == {
        "prepare": "Succeeded",
        "flaky": "Failed",
        "report": "Omitted",
        "tidy": "Succeeded",
    }
    before = jobs(failed)
    tidied = job_log(client, run_id, "tidy")
    token = before["prepare"]["outputs"]["token"]
    assert before["flaky"]["exit_code"] == "3" and not before["flaky"]["outputs"].get("seen")

    marker.touch()
    retried = client.post(f"{RUNS}/{run_id}/retry", headers=AUTH)
    assert retried.status_code == 200, retried.text
    assert retried.json()["id"] == run_id and retried.json()["phase"] == "Running"
    # The retry deleted the failed job's node: its row no longer shows the failure.
    assert jobs(read(client, run_id))["flaky"]["phase"] in ("Pending", "Running", "Succeeded")

    run = wait_final(client, run_id)
    assert run["phase"] == "Succeeded", run
    assert run["finished_at"] and run["message"] is None
    assert phases(run) == dict.fromkeys(("prepare", "flaky", "report", "tidy"), "Succeeded")
    after = jobs(run)
    assert after["prepare"] == before["prepare"]  # not run again: same token, same times
    assert after["flaky"]["outputs"] == {"seen": token} and after["flaky"]["exit_code"] == "0"
    assert after["flaky"]["started_at"] >= before["flaky"]["finished_at"]
    assert job_log(client, run_id, "report") == [f"report of {token}"]
    assert job_log(client, run_id, "tidy") not in ([], tidied)  # the exit job ran again
    log = sse_events(
        client.get(f"{RUNS}/{run_id}/logs", params={"job": "flaky"}, headers=AUTH).text
    )
    assert ("log", {"line": "flaky: marker found"}) in log

    again = client.post(f"{RUNS}/{run_id}/retry", headers=AUTH)
    assert again.status_code == 409
    assert again.json()["detail"] == (
        "only a Failed or Error pipeline run can be retried (this one is Succeeded)"
    )


def test_resubmit_starts_a_linked_run_of_the_same_version(client: TestClient, marker: Path) -> None:
    document = flaky(marker)
    pipeline = create(client, document)
    old = wait_final(client, start(client, pipeline["id"]))
    assert old["phase"] == "Failed" and old["resubmitted_from"] is None
    changed = flaky(marker, report="v2 report of")
    replaced = client.put(
        f"/api/v1/pipelines/{pipeline['id']}",
        json={**changed, "name": document["name"]},
        headers=AUTH,
    )
    assert replaced.status_code == 200 and replaced.json()["version"] == 2

    marker.touch()
    response = client.post(f"{RUNS}/{old['id']}/resubmit", headers=AUTH)
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["id"] != old["id"] and new["workflow_name"] != old["workflow_name"]
    assert new["resubmitted_from"] == old["id"]
    assert (new["pipeline_id"], new["pipeline_version"]) == (pipeline["id"], 1)
    assert new["parameters"] == old["parameters"]

    run = wait_final(client, new["id"])
    assert run["phase"] == "Succeeded" and run["resubmitted_from"] == old["id"], run
    token = jobs(run)["prepare"]["outputs"]["token"]
    assert token != jobs(old)["prepare"]["outputs"]["token"]  # every job ran again
    assert job_log(client, new["id"], "report") == [f"report of {token}"]  # version 1's script
    assert read(client, old["id"])["phase"] == "Failed"  # the old run is left as it was
    listed = client.get(f"/api/v1/pipelines/{pipeline['id']}/runs", headers=AUTH).json()
    assert {r["id"]: r["resubmitted_from"] for r in listed["items"]} == {
        old["id"]: None,
        new["id"]: old["id"],
    }

    assert client.delete(f"/api/v1/pipelines/{pipeline['id']}", headers=AUTH).status_code == 204
    orphan = client.post(f"{RUNS}/{old['id']}/resubmit", headers=AUTH)
    assert orphan.status_code == 409 and "was deleted" in orphan.json()["detail"]


def start_two_jobs(client: TestClient) -> str:
    """A run of two jobs, the second after the first (1 s), once the first is running."""
    document = {
        "kind": "Pipeline",
        "name": f"held-{secrets.token_hex(3)}",
        "jobs": [
            {"name": "first", "script": {"language": "bash", "source": "sleep 1"}},
            {"name": "second", "needs": ["first"], "script": {"language": "bash", "source": ":"}},
        ],
    }
    run_id = start(client, create(client, document)["id"])
    wait_job(client, run_id, "first", "Running")
    return run_id


def test_suspend_holds_the_next_job_until_resumed_and_unfinished_runs_are_not_retried(
    client: TestClient,
) -> None:
    run_id = start_two_jobs(client)
    refused = client.post(f"{RUNS}/{run_id}/retry", headers=AUTH)
    assert refused.status_code == 409
    assert refused.json()["detail"].endswith("(this one is Running)")

    suspended = client.post(f"{RUNS}/{run_id}/suspend", headers=AUTH)
    assert suspended.status_code == 200 and suspended.json()["phase"] == "Running"
    wait_job(client, run_id, "first", "Succeeded")
    time.sleep(1.0)
    held = read(client, run_id)
    assert held["phase"] == "Running" and jobs(held)["second"]["phase"] == "Pending", held

    assert client.post(f"{RUNS}/{run_id}/resume", headers=AUTH).status_code == 200
    run = wait_final(client, run_id)
    assert run["phase"] == "Succeeded" and phases(run) == {
        "first": "Succeeded",
        "second": "Succeeded",
    }
    finished = client.post(f"{RUNS}/{run_id}/suspend", headers=AUTH)
    assert finished.status_code == 409 and "already finished" in finished.json()["detail"]


def test_a_suspended_run_that_is_cancelled_ends(client: TestClient) -> None:
    """Argo executes no template of a suspended workflow, so a stop alone would fail its jobs
    and leave it Running for ever: cancelling resumes it once the stop is set. Nothing new
    starts (the second job is skipped) and the run ends Failed."""
    run_id = start_two_jobs(client)
    assert client.post(f"{RUNS}/{run_id}/suspend", headers=AUTH).status_code == 200
    wait_job(client, run_id, "first", "Succeeded")
    time.sleep(1.0)
    assert read(client, run_id)["phase"] == "Running", "suspended: held, not ended"

    cancelled = client.post(f"{RUNS}/{run_id}/cancel", headers=AUTH)
    assert cancelled.status_code == 200, cancelled.text
    run = wait_final(client, run_id)
    assert run["phase"] == "Failed", run
    assert phases(run)["first"] == "Succeeded" and phases(run)["second"] != "Succeeded"


def test_control_routes_need_a_token_and_a_known_run(client: TestClient) -> None:
    for action in ("retry", "resubmit", "suspend", "resume"):
        url = f"{RUNS}/feedbeef/{action}"
        assert client.post(url).status_code == 401, action
        assert client.post(url, headers={"Authorization": "Bearer nope"}).status_code == 401
        assert client.post(url, headers=AUTH).status_code == 404, action


class StaleRead:
    """A backend whose ``get`` returns ``workflow`` while ``during`` changes the run meanwhile."""

    kind = "local"

    def __init__(self, workflow: dict[str, Any], during: Callable[[], None]) -> None:
        self.workflow, self.during = workflow, during

    def get(self, name: str) -> dict[str, Any]:
        self.during()
        return self.workflow


def test_a_read_from_before_a_retry_does_not_fail_the_retried_run_again(
    client: TestClient,
) -> None:
    """The follower read the Failed workflow; a retry landed before it wrote: it must not write
    Failed over the retried run (which it would then never follow again)."""
    sessions: sessionmaker[Session] = client.app.state.service.sessions  # type: ignore[attr-defined]
    run_id, name = secrets.token_hex(6), f"stale-{secrets.token_hex(3)}"
    with sessions() as session:
        session.add(
            PipelineRun(
                id=run_id,
                pipeline_name="stale",
                backend="nowhere",  # the service's follower leaves it alone
                phase="Running",
                workflow_name=name,
                parameters={},
                manifest={},
            )
        )
        session.flush()
        session.add(
            PipelineRunJob(
                run_id=run_id, job="a", task="a", kind="script", phase="Pending", outputs={}
            )
        )
        session.commit()
    nodes = {
        name: {"id": name, "name": name, "type": "DAG", "phase": "Failed", "children": ["a"]},
        "a": {"id": "a", "name": f"{name}.a", "type": "Pod", "phase": "Failed"},
    }
    failed = {"metadata": {"name": name}, "status": {"phase": "Failed", "nodes": nodes}}

    def retried_meanwhile() -> None:
        with sessions() as other:
            other.execute(
                update(PipelineRun)
                .where(PipelineRun.id == run_id)
                .values(phase="Running", updated_at=datetime.now(UTC))
            )
            other.commit()

    with sessions() as session:
        stale = cast(Backend, StaleRead(failed, retried_meanwhile))
        assert refresh_pipeline_run(session, run_id=run_id, backend=stale) is False
        run = session.get_one(PipelineRun, run_id, populate_existing=True)
        assert run.phase == "Running"
        assert session.get_one(PipelineRunJob, (run_id, "a")).phase == "Pending"
        # Without a change during the read, the same workflow is written.
        current = cast(Backend, StaleRead(failed, lambda: None))
        assert refresh_pipeline_run(session, run_id=run_id, backend=current) is True
        session.expire_all()
        assert session.get_one(PipelineRun, run_id).phase == "Failed"
        assert session.get_one(PipelineRunJob, (run_id, "a")).phase == "Failed"
        session.delete(session.get_one(PipelineRun, run_id))
        session.commit()
