"""Pipelines through the HTTP API: stored with versions, run on the local backend, mirrored job
by job (phases, outputs, results), logs, cancel, idempotency; the schema migration both ways."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect

from api.database import migrate
from api.mirror.pipelines import JobStatus, changed_job_fields, read_pipeline_status
from api.models import Base
from tests.api.conftest import AUTH
from tests.argo_reference import ARGO_DIR

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "pipelines"
STATUS_EXAMPLES = ARGO_DIR / "status-examples"
PIPELINE_TABLES = {
    "drover_pipelines",
    "drover_pipeline_versions",
    "drover_pipeline_runs",
    "drover_pipeline_run_jobs",
}
FINAL = ("Succeeded", "Failed", "Error")


def example(name: str) -> dict[str, Any]:
    """An example as a client would send it in JSON (YAML 1.1 reads a bare ``on:`` as true)."""
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    for job in document.get("jobs") or []:
        if True in job:
            job["on"] = job.pop(True)
    return document


def create(client: TestClient, document: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/pipelines", json=document, headers=AUTH)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def start(client: TestClient, pipeline_id: int, **parameters: Any) -> str:
    response = client.post(
        f"/api/v1/pipelines/{pipeline_id}/run", json={"parameters": parameters}, headers=AUTH
    )
    assert response.status_code == 201, response.text
    run_id: str = response.json()["id"]
    return run_id


def wait_final(client: TestClient, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/v1/pipeline-runs/{run_id}", headers=AUTH)
        assert response.status_code == 200, response.text
        run: dict[str, Any] = response.json()
        if run["phase"] in FINAL:
            return run
        assert time.monotonic() < deadline, f"run still {run['phase']}: {run}"
        time.sleep(0.1)


def jobs(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job"]: job for job in run["jobs"]}


def job_log(client: TestClient, run_id: str, job: str) -> list[str]:
    """The lines a job printed, from the run's log stream (a job's ``result`` holds them only
    where a later job refers to it, as Argo keeps it)."""
    response = client.get(f"/api/v1/pipeline-runs/{run_id}/logs", params={"job": job}, headers=AUTH)
    return [  # each line is "<pod's display name>: <what it printed>"
        data["line"].split(": ", 1)[1]
        for event, data in sse_events(response.text)
        if event == "log"
    ]


def phases(run: dict[str, Any]) -> dict[str, str]:
    return {job["job"]: job["phase"] for job in run["jobs"]}


def unique(document: dict[str, Any]) -> dict[str, Any]:
    """The document under a fresh name (the module shares one database)."""
    return {**document, "name": f"{document['name'][:30]}-{secrets.token_hex(3)}"}


def sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


# ---------------------------------------------------------------------------------- storage


def test_create_read_replace_list_and_delete_keep_versions(client: TestClient) -> None:
    document = unique(example("branching"))
    created = create(client, document)
    assert created["version"] == 1 and created["name"] == document["name"]
    assert created["spec"]["kind"] == "Pipeline"
    assert [j["name"] for j in created["spec"]["jobs"]] == ["check", "scale-up", "keep", "report"]
    url = f"/api/v1/pipelines/{created['id']}"
    assert client.get(url, headers=AUTH).json()["spec"] == created["spec"]

    again = client.post("/api/v1/pipelines", json=document, headers=AUTH)
    assert again.status_code == 409 and document["name"] in again.json()["detail"]

    changed = {**document, "parameters": {"orders": "7"}}
    replaced = client.put(url, json=changed, headers=AUTH)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2
    assert replaced.json()["spec"]["parameters"] == {"orders": "7"}
    versions = client.get(f"{url}/versions", headers=AUTH).json()
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[0]["spec"]["parameters"] == {"orders": "120"}

    listed = client.get("/api/v1/pipelines", params={"limit": 500}, headers=AUTH).json()
    assert created["id"] in [p["id"] for p in listed["items"]]

    assert client.delete(url, headers=AUTH).status_code == 204
    assert client.get(url, headers=AUTH).status_code == 404
    assert client.get(f"{url}/runs", headers=AUTH).status_code == 404


@pytest.mark.parametrize(
    ("jobs_", "field", "words"),
    [
        (
            [
                {"name": "a", "needs": ["b"], "script": {"language": "bash", "source": "true"}},
                {"name": "b", "needs": ["a"], "script": {"language": "bash", "source": "true"}},
            ],
            "jobs[a].needs",
            "cycle",
        ),
        (
            [{"name": "a", "needs": ["zz"], "script": {"language": "bash", "source": "true"}}],
            "jobs[a].needs[0]",
            "unknown job 'zz'",
        ),
        (
            [{"name": "a", "script": {"language": "cobol", "source": "true"}}],
            "jobs[a].script.language",
            "cobol",
        ),
    ],
)
def test_bad_pipelines_are_refused_naming_the_job_and_field(
    client: TestClient, jobs_: list[dict[str, Any]], field: str, words: str
) -> None:
    document = {"kind": "Pipeline", "name": "bad", "jobs": jobs_}
    response = client.post("/api/v1/pipelines", json=document, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert words in response.json()["detail"]


def test_a_bad_replacement_keeps_the_stored_version(client: TestClient) -> None:
    created = create(client, unique(example("failure-notify")))
    broken = {**created["spec"], "jobs": [*created["spec"]["jobs"]]}
    broken["jobs"][3] = {**broken["jobs"][3], "needs": ["nobody"]}
    response = client.put(f"/api/v1/pipelines/{created['id']}", json=broken, headers=AUTH)
    assert response.status_code == 422
    assert response.json()["field"] == "jobs[verify].needs[0]"
    stored = client.get(f"/api/v1/pipelines/{created['id']}", headers=AUTH).json()
    assert stored["version"] == 1


def test_every_pipeline_route_needs_a_token(client: TestClient) -> None:
    routes = [
        ("POST", "/api/v1/pipelines"),
        ("GET", "/api/v1/pipelines"),
        ("GET", "/api/v1/pipelines/1"),
        ("PUT", "/api/v1/pipelines/1"),
        ("DELETE", "/api/v1/pipelines/1"),
        ("GET", "/api/v1/pipelines/1/versions"),
        ("POST", "/api/v1/pipelines/1/run"),
        ("GET", "/api/v1/pipelines/1/runs"),
        ("GET", "/api/v1/pipeline-runs/abc"),
        ("POST", "/api/v1/pipeline-runs/abc/cancel"),
        ("GET", "/api/v1/pipeline-runs/abc/logs"),
    ]
    for method, url in routes:
        response = client.request(method, url, json={})
        assert response.status_code == 401, (method, url)
        bad = client.request(method, url, json={}, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401, (method, url)


# ---------------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def branching(client: TestClient) -> dict[str, Any]:
    return create(client, unique(example("branching")))


def test_condition_true_and_false_each_run_one_branch_and_skip_the_other(
    client: TestClient, branching: dict[str, Any]
) -> None:
    high = start(client, branching["id"])  # the default: 120 orders
    low = start(client, branching["id"], orders=3)
    run = wait_final(client, high)
    assert run["phase"] == "Succeeded", run
    assert run["overrides"] == {} and run["pipeline_version"] == 1
    assert run["parameters"] == {"orders": "120"}  # the default shown
    assert run["started_at"] and run["finished_at"]
    assert phases(run) == {
        "check": "Succeeded",
        "scale-up": "Succeeded",
        "keep": "Skipped",
        "report": "Succeeded",
    }
    by_name = jobs(run)
    assert by_name["check"]["outputs"] == {"level": "high", "condition": "true"}
    assert by_name["check"]["kind"] == "script" and by_name["check"]["node_type"] == "Pod"
    assert by_name["check"]["exit_code"] == "0" and by_name["check"]["attempts"] == 1
    assert by_name["keep"]["node_type"] == "Skipped"
    assert by_name["keep"]["message"].startswith("when '!(true == true)")
    assert job_log(client, high, "scale-up") == ["scaling up for high load"]
    assert job_log(client, high, "report") == ["done with high"]
    assert by_name["report"]["started_at"] >= by_name["check"]["finished_at"]

    other = wait_final(client, low)
    assert other["phase"] == "Succeeded" and other["overrides"] == {"orders": "3"}
    assert other["parameters"] == {"orders": "3"}
    assert phases(other) == {
        "check": "Succeeded",
        "scale-up": "Skipped",
        "keep": "Succeeded",
        "report": "Succeeded",
    }
    assert jobs(other)["check"]["outputs"] == {"level": "normal", "condition": "false"}
    assert job_log(client, low, "report") == ["done with normal"]

    listed = client.get(f"/api/v1/pipelines/{branching['id']}/runs", headers=AUTH).json()
    assert {r["id"] for r in listed["items"]} >= {high, low}
    succeeded = client.get(
        f"/api/v1/pipelines/{branching['id']}/runs", params={"phase": "Failed"}, headers=AUTH
    ).json()
    assert high not in {r["id"] for r in succeeded["items"]}

    log = client.get(f"/api/v1/pipeline-runs/{high}/logs", params={"job": "scale-up"}, headers=AUTH)
    assert log.status_code == 200 and log.headers["content-type"].startswith("text/event-stream")
    events = sse_events(log.text)
    assert events[-1] == ("end", {})
    assert [d["line"] for e, d in events if e == "log"] == ["scale-up: scaling up for high load"]
    everything = sse_events(client.get(f"/api/v1/pipeline-runs/{high}/logs", headers=AUTH).text)
    lines = [d["line"] for e, d in everything if e == "log"]
    assert "report: done with high" in lines and "scale-up: scaling up for high load" in lines
    skipped = sse_events(
        client.get(f"/api/v1/pipeline-runs/{high}/logs", params={"job": "keep"}, headers=AUTH).text
    )
    assert skipped == [("end", {})]
    unknown = client.get(f"/api/v1/pipeline-runs/{high}/logs", params={"job": "nope"}, headers=AUTH)
    assert unknown.status_code == 404


def test_a_failing_job_runs_its_failure_job_and_omits_the_success_one(
    client: TestClient,
) -> None:
    pipeline = create(client, unique(example("failure-notify")))
    run = wait_final(client, start(client, pipeline["id"]))
    assert run["phase"] == "Failed", run
    assert phases(run) == {
        "migrate": "Failed",
        "notify": "Succeeded",
        "cleanup": "Succeeded",
        "verify": "Omitted",
    }
    by_name = jobs(run)
    assert by_name["migrate"]["kind"] == "container" and by_name["migrate"]["exit_code"] == "3"
    assert by_name["verify"]["node_type"] == "Skipped"
    assert by_name["verify"]["message"] == "omitted: depends condition not met"
    assert job_log(client, run["id"], "notify") == ["migrate failed, paging the on-call person"]


def test_the_follower_mirrors_runs_nobody_reads(client: TestClient) -> None:
    """Only the list route is read here, and it never refreshes: the follower did the work."""
    pipeline = create(client, unique(example("failure-notify")))
    run_id = start(client, pipeline["id"])
    deadline = time.monotonic() + 30
    while True:
        listed = client.get(f"/api/v1/pipelines/{pipeline['id']}/runs", headers=AUTH).json()
        if listed["items"][0]["phase"] in FINAL:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert listed["items"][0]["id"] == run_id and listed["items"][0]["phase"] == "Failed"


def test_the_same_idempotency_key_never_starts_a_second_run(
    client: TestClient, branching: dict[str, Any]
) -> None:
    url = f"/api/v1/pipelines/{branching['id']}/run"
    key = {**AUTH, "Idempotency-Key": f"k-{secrets.token_hex(4)}"}
    first = client.post(url, json={"parameters": {"orders": 5}}, headers=key)
    second = client.post(url, json={"parameters": {"orders": 5}}, headers=key)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    other = create(client, unique(example("failure-notify")))
    reused = client.post(f"/api/v1/pipelines/{other['id']}/run", headers=key)
    assert reused.status_code == 409
    wait_final(client, first.json()["id"])


def test_concurrent_calls_with_one_key_start_one_run(
    client: TestClient, branching: dict[str, Any]
) -> None:
    url = f"/api/v1/pipelines/{branching['id']}/run"
    key = {**AUTH, "Idempotency-Key": f"k-{secrets.token_hex(4)}"}
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: client.post(url, headers=key), range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    wait_final(client, responses[0].json()["id"])


def test_unknown_parameters_are_refused(client: TestClient, branching: dict[str, Any]) -> None:
    response = client.post(
        f"/api/v1/pipelines/{branching['id']}/run",
        json={"parameters": {"ordres": "3"}},
        headers=AUTH,
    )
    assert response.status_code == 422
    assert response.json()["field"] == "parameters.ordres"


def test_cancel_stops_the_run_and_still_runs_the_exit_job(client: TestClient) -> None:
    document = {
        "kind": "Pipeline",
        "name": f"slow-{secrets.token_hex(3)}",
        "jobs": [
            {"name": "wait", "script": {"language": "bash", "source": "sleep 30"}},
            {"name": "after", "needs": ["wait"], "script": {"language": "bash", "source": ":"}},
        ],
        "on_exit": {"name": "tidy", "script": {"language": "bash", "source": "echo tidied"}},
    }
    pipeline = create(client, document)
    run_id = start(client, pipeline["id"])
    deadline = time.monotonic() + 15
    while (
        jobs(client.get(f"/api/v1/pipeline-runs/{run_id}", headers=AUTH).json())["wait"]["phase"]
        != "Running"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    cancelled = client.post(f"/api/v1/pipeline-runs/{run_id}/cancel", headers=AUTH)
    assert cancelled.status_code == 200 and cancelled.json()["phase"] == "Canceling"
    began = time.monotonic()
    run = wait_final(client, run_id)
    assert time.monotonic() - began < 15
    assert run["phase"] in ("Failed", "Error"), run
    by_name = jobs(run)
    assert by_name["wait"]["phase"] in ("Failed", "Error")
    assert by_name["after"]["phase"] == "Omitted"
    assert by_name["tidy"]["phase"] == "Succeeded" and job_log(client, run_id, "tidy") == ["tidied"]
    again = client.post(f"/api/v1/pipeline-runs/{run_id}/cancel", headers=AUTH)
    assert again.status_code == 409


def test_unknown_runs_and_pipelines_are_404(client: TestClient) -> None:
    assert client.get("/api/v1/pipeline-runs/feedbeef", headers=AUTH).status_code == 404
    assert client.post("/api/v1/pipeline-runs/feedbeef/cancel", headers=AUTH).status_code == 404
    assert client.post("/api/v1/pipelines/999999/run", headers=AUTH).status_code == 404


# ---------------------------------------------------------------------------------- pure reading


def test_reading_argos_own_recorded_status() -> None:
    """Retry nodes count their attempts; a task Argo never reached is Omitted once final."""
    workflow = yaml.safe_load(
        (STATUS_EXAMPLES / "controller-testdata__dag-disable-fail-fast.yaml").read_text()
    )
    status = read_pipeline_status(workflow, {t: t for t in ["A", "B", "C", "D", "E", "F"]})
    assert status.phase == "Failed" and status.final
    assert {k: v.phase for k, v in status.jobs.items()} == {
        "A": "Succeeded",
        "B": "Succeeded",
        "C": "Failed",
        "D": "Succeeded",
        "E": "Succeeded",
        "F": "Omitted",
    }
    assert (status.jobs["C"].node_type, status.jobs["C"].attempts) == ("Retry", 2)
    assert status.jobs["A"].attempts == 1
    omitted = read_pipeline_status(
        yaml.safe_load((STATUS_EXAMPLES / "e2e-testdata-2020__retry-omit.yaml").read_text()),
        {"x": "should-not-execute", "y": "C"},
    )
    assert omitted.jobs["x"].phase == "Omitted" and omitted.jobs["x"].node_type == "Skipped"
    assert omitted.jobs["y"].exit_code == "1"


def test_a_retried_job_reads_outputs_of_its_last_attempt_and_only_changes_are_written() -> None:
    def node(name: str, kind: str, phase: str, **extra: Any) -> dict[str, Any]:
        return {"id": name, "name": f"wf.{name}", "type": kind, "phase": phase, **extra}

    attempt = {"parameters": [{"name": "n", "value": "2"}], "result": "ok", "exitCode": "0"}
    nodes = [
        node("wf", "DAG", "Running", children=["a"]),
        node("a", "Retry", "Succeeded", children=["a(0)", "a(1)"]),
        node("a(0)", "Pod", "Failed", outputs={"exitCode": "1"}),
        node("a(1)", "Pod", "Succeeded", outputs=attempt, startedAt="2026-01-01T00:00:01Z"),
    ]
    workflow = {
        "metadata": {"name": "wf"},
        "status": {"phase": "Running", "nodes": {n["id"]: n for n in nodes}},
    }
    status = read_pipeline_status(workflow, {"a": "a", "b": "b"})
    a = status.jobs["a"]
    assert (a.outputs, a.result, a.attempts) == ({"n": "2"}, "ok", 2)
    # Not started, the run still going: Pending, as its row already is (nothing to write).
    assert status.jobs["b"] == JobStatus(phase="Pending")
    assert changed_job_fields(JobStatus(phase="Pending"), status.jobs["b"]) == {}
    no_nodes = {"metadata": {"name": "wf"}, "status": {"phase": "Running"}}
    assert read_pipeline_status(no_nodes, {"a": "a"}).jobs == {}  # nothing known yet
    assert changed_job_fields(a, a) == {}
    assert changed_job_fields(JobStatus(phase="Running", attempts=2), a) == {
        "phase": "Succeeded",
        "node_type": "Retry",
        "node_id": "a",
        "outputs": {"n": "2"},
        "result": "ok",
        "exit_code": "0",
    }


# ---------------------------------------------------------------------------------- schema


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    name = f"drover_migrate_{secrets.token_hex(4)}"
    libpq = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_url.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(libpq, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migration_0002_upgrades_downgrades_and_matches_the_models(empty_database: str) -> None:
    engine = create_engine(empty_database)
    try:
        migrate(empty_database)
        assert set(inspect(engine).get_table_names()) >= PIPELINE_TABLES
        with engine.connect() as connection:
            context = MigrationContext.configure(connection)
            differences = [
                d for d in compare_metadata(context, Base.metadata) if "pipeline" in str(d)
            ]
        assert differences == []

        migrate(empty_database, "0001", downgrade=True)
        tables = set(inspect(engine).get_table_names())
        assert not tables & PIPELINE_TABLES and "drover_runs" in tables
        migrate(empty_database)
        assert set(inspect(engine).get_table_names()) >= PIPELINE_TABLES
    finally:
        engine.dispose()
