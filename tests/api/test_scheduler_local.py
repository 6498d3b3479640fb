"""The local scheduler fires due schedules like Argo's CronWorkflow controller: runs linked to
their schedule, and a run still going is skipped (Forbid), terminated (Replace) or joined (Allow).
Real local runs of a one-test project whose test sleeps, real Postgres."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.models import OutboxEvent, PipelineRun, Run, Schedule
from api.schedules.scheduler import Scheduler, fire_schedule
from tests.api.conftest import AUTH

FINAL = ("Succeeded", "Failed", "Error")


def _service(client: TestClient) -> Any:
    return client.app.state.service  # type: ignore[attr-defined]


def _scheduler(client: TestClient) -> Scheduler:
    service = _service(client)
    fire = functools.partial(fire_schedule, backend=service.backend(), mirror=service.mirror)
    return Scheduler(service.sessions, fire)


@pytest.fixture(scope="module")
def sleepy_project() -> Path:
    return Path(__file__).parent / "data" / "sleepy"


def sleepy_spec(project: Path, name: str) -> dict[str, Any]:
    return {
        "kind": "Execution",
        "name": name,
        "project": {
            "name": "sleepy",
            "path": str(project),
            "runner": {"kind": "pytest", "args": ["-p", "no:cacheprovider"]},
        },
        "flows": [
            {
                "name": "main",
                "groups": [{"name": "only", "scenarios": [{"id": "check_sleepy.py::test_sleeps"}]}],
            }
        ],
    }


def _due_schedule(client: TestClient, project: Path, policy: str) -> int:
    spec = sleepy_spec(project, f"sleepy-{policy.lower()}-{time.monotonic_ns() % 10**6}")
    execution = client.post("/api/v1/executions", json=spec, headers=AUTH).json()
    body = {"execution_id": execution["id"], "cron": "0 3 * * *", "concurrency_policy": policy}
    schedule = client.post("/api/v1/schedules", json=body, headers=AUTH)
    assert schedule.status_code == 201, schedule.text
    assert schedule.json()["cron_workflow"] is None  # local: no CronWorkflow
    schedule_id: int = schedule.json()["id"]
    _make_due(client, schedule_id)
    return schedule_id


def _make_due(client: TestClient, schedule_id: int) -> None:
    with _service(client).sessions() as session:
        session.execute(
            update(Schedule)
            .where(Schedule.id == schedule_id)
            .values(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        session.commit()


def _runs(client: TestClient, schedule_id: int) -> list[Run]:
    with _service(client).sessions() as session:
        return list(
            session.scalars(
                select(Run).where(Run.schedule_id == schedule_id).order_by(Run.created_at)
            )
        )


def _wait_testing(client: TestClient, run_id: str) -> None:
    """Until the run's worker is running its (sleeping) test."""
    service = _service(client)
    with service.sessions() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.workflow_name is not None
        name = run.workflow_name
    deadline = time.monotonic() + 60

    def worker_running() -> bool:
        nodes = service.backend().get(name)["status"].get("nodes") or {}
        return any(
            n["type"] == "Pod" and ".main.only" in n["name"] and n["phase"] == "Running"
            for n in nodes.values()
        )

    while not worker_running():
        nodes = service.backend().get(name)["status"].get("nodes") or {}
        assert time.monotonic() < deadline, [(n["name"], n["phase"]) for n in nodes.values()]
        time.sleep(0.1)


def _terminate_all(client: TestClient, schedule_id: int) -> None:
    for run in _runs(client, schedule_id):
        if run.phase not in FINAL:
            done = client.post(f"/api/v1/runs/{run.id}/cancel?mode=terminate", headers=AUTH)
            assert done.status_code == 200, done.text


def _wait_final_run(client: TestClient, run_id: str) -> Run:
    deadline = time.monotonic() + 60
    while True:
        with _service(client).sessions() as session:
            run = session.get(Run, run_id)
            assert run is not None
            if run.phase in FINAL:
                return run
        assert time.monotonic() < deadline, run.phase
        time.sleep(0.1)


def _wait_final(client: TestClient, schedule_id: int, timeout: float = 120.0) -> list[Run]:
    deadline = time.monotonic() + timeout
    while True:
        runs = _runs(client, schedule_id)
        followed = _service(client).mirror.followed
        if all(r.phase in FINAL and r.id not in followed for r in runs):
            return _runs(client, schedule_id)  # final and every result ingested
        assert time.monotonic() < deadline, [r.phase for r in runs]
        time.sleep(0.2)


@pytest.mark.parametrize("policy", ["Forbid", "Replace", "Allow"])
def test_concurrency_policy_of_a_due_schedule(
    client: TestClient, sleepy_project: Path, policy: str
) -> None:
    scheduler = _scheduler(client)
    schedule_id = _due_schedule(client, sleepy_project, policy)

    first = scheduler.tick(datetime.now(UTC))
    assert len(first) == 1
    _wait_testing(client, first[0])
    _make_due(client, schedule_id)
    second = scheduler.tick(datetime.now(UTC))  # the first run is still going

    runs = _runs(client, schedule_id)
    if policy == "Forbid":
        assert second == [] and [r.id for r in runs] == first
    else:
        assert len(second) == 1 and [r.id for r in runs] == first + second
    if policy == "Replace":
        replaced = _wait_final_run(client, first[0])
        assert replaced.phase == "Failed", "terminated by the next firing"
        assert "terminate" in (replaced.message or "").lower()
    if policy == "Allow":
        _wait_testing(client, second[0])
        assert _runs(client, schedule_id)[0].phase == "Running", "both run side by side"
    _terminate_all(client, schedule_id)
    _wait_final(client, schedule_id)

    with _service(client).sessions() as session:
        schedule = session.get(Schedule, schedule_id)
        assert schedule is not None
        assert schedule.last_run_id == (second or first)[0]
        assert schedule.next_run_at is not None and schedule.next_run_at > datetime.now(UTC)
        # Run events (issue 16): each run's end, started by the schedule; a Forbid skip.
        events = [e.payload for e in session.scalars(select(OutboxEvent))]
    finished = {e["run"]["id"]: e for e in events if e["type"] == "run.finished" and "run" in e}
    for run_id in first + second:
        assert finished[run_id]["run"]["trigger"] == "schedule"
    skipped = [
        e for e in events if e["type"] == "schedule.skipped" and e["schedule"]["id"] == schedule_id
    ]
    if policy == "Forbid":
        (skip,) = skipped
        assert skip["schedule"]["active_run"] == first[0]
        assert skip["schedule"]["policy"] == "Forbid"
    else:
        assert skipped == []
    if policy == "Replace":
        assert finished[first[0]]["verdict"] == "canceled"  # terminated by the next firing


def test_a_pipelines_own_schedule_starts_pipeline_runs(client: TestClient) -> None:
    document = {
        "kind": "Pipeline",
        "name": f"ticking-{time.monotonic_ns() % 10**6}",
        "schedule": {"cron": ["0 4 * * *"], "concurrency_policy": "Forbid"},
        "jobs": [{"name": "say", "script": {"language": "bash", "source": "echo tick"}}],
    }
    created = client.post("/api/v1/pipelines", json=document, headers=AUTH)
    assert created.status_code == 201, created.text
    pipeline_id = created.json()["id"]
    listed = client.get("/api/v1/schedules?limit=500", headers=AUTH).json()["items"]
    [schedule] = [s for s in listed if s["pipeline_id"] == pipeline_id]
    assert schedule["from_spec"] and schedule["cron_workflow"] is None
    _make_due(client, schedule["id"])

    [run_id] = _scheduler(client).tick(datetime.now(UTC))
    deadline = time.monotonic() + 60
    while True:
        run = client.get(f"/api/v1/pipeline-runs/{run_id}", headers=AUTH).json()
        if run["phase"] in FINAL:
            break
        assert time.monotonic() < deadline, run["phase"]
        time.sleep(0.2)
    assert run["phase"] == "Succeeded"
    with _service(client).sessions() as session:
        stored = session.get(PipelineRun, run_id)
        assert stored is not None and stored.schedule_id == schedule["id"]
