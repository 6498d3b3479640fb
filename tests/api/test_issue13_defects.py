"""Defects of the API found by a frontend developer and a reliability engineer (issue 13),
each a test named for its defect, against the real app, Postgres and local runner."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import AUTH
from tests.api.tokens import local_worker_token

GATE_PROJECT = Path(__file__).parent / "data" / "gate"
GATE_IDS = [
    "check_gate.py::test_quick_one",
    "check_gate.py::test_quick_two",
    "check_gate.py::test_waits_for_the_gate",
]
FINAL = ("Succeeded", "Failed", "Error")


def gate_spec(name: str, gate: Path, **extra: Any) -> dict[str, Any]:
    """One group of three scenarios on one worker; the last waits until ``gate`` exists."""
    return {
        "kind": "Execution",
        "name": name,
        "project": {
            "name": "gate",
            "path": str(GATE_PROJECT),
            "runner": {"kind": "pytest", "args": ["-p", "no:cacheprovider"]},
        },
        "test_data": {"GATE": str(gate)},
        "flows": [
            {
                "name": "main",
                "groups": [{"name": "only", "scenarios": [{"id": i} for i in GATE_IDS]}],
            }
        ],
        **extra,
    }


def create(client: TestClient, spec: dict[str, Any]) -> int:
    response = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def run_now(client: TestClient, execution_id: int) -> dict[str, Any]:
    response = client.post(f"/api/v1/executions/{execution_id}/run", headers=AUTH)
    assert response.status_code == 201, response.text
    run: dict[str, Any] = response.json()
    return run


def detail(client: TestClient, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/runs/{run_id}", headers=AUTH)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for(
    client: TestClient, run_id: str, done: Callable[[dict[str, Any]], bool], timeout: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = detail(client, run_id)
        if done(run):
            return run
        assert time.monotonic() < deadline, f"run {run_id} never got there: {run['phase']}"
        time.sleep(0.1)


def wait_final(client: TestClient, run_id: str, timeout: float = 60) -> dict[str, Any]:
    service = client.app.state.service  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while True:
        run = detail(client, run_id)
        if run["phase"] in FINAL and run_id not in service.mirror.followed:
            return run
        assert time.monotonic() < deadline, f"run {run_id} did not finish: {run['phase']}"
        time.sleep(0.1)


def sse_events(client: TestClient, url: str) -> list[tuple[str, Any]]:
    events: list[tuple[str, Any]] = []
    with client.stream("GET", url, headers=AUTH, timeout=60) as response:
        assert response.status_code == 200
        name = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: ") and name:
                events.append((name, json.loads(line.removeprefix("data: "))))
                if name == "end":
                    break
    return events


@pytest.fixture
def gate() -> Iterator[Path]:
    """Where a gate file goes: outside /tmp, which the sandboxed pods see a private one of."""
    folder = Path(tempfile.mkdtemp(prefix="drover-gate-", dir="/var/tmp"))
    yield folder / "open"
    shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------------------ defect 6


def test_defect06_relative_project_path_is_refused_naming_the_field(client: TestClient) -> None:
    spec = gate_spec("relative-path", Path("/tmp/unused"))
    spec["project"]["path"] = "."
    for method, url in (("POST", "/api/v1/executions"), ("POST", "/api/v1/sharding/preview")):
        body = spec if url.endswith("executions") else {"execution": spec}
        response = client.request(method, url, json=body, headers=AUTH)
        assert response.status_code == 422, (url, response.text)
        assert response.json()["field"] == "project.path"
        assert "relative" in response.json()["detail"]
    absolute = create(client, gate_spec("absolute-path", Path("/tmp/unused")))
    replaced = client.put(f"/api/v1/executions/{absolute}", json=spec, headers=AUTH)
    assert replaced.status_code == 422 and replaced.json()["field"] == "project.path"


# ------------------------------------------------------------------------------ defect 8


def test_defect08_bodies_over_the_limit_are_413(client: TestClient) -> None:
    big = {"kind": "Execution", "name": "big", "padding": "x" * (2 * 1024 * 1024)}
    declared = client.post("/api/v1/executions", json=big, headers=AUTH)
    assert declared.status_code == 413
    assert "larger than 1,048,576 bytes" in declared.json()["detail"]

    def chunks() -> Any:  # no Content-Length: counted as it arrives
        yield b'{"padding": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    chunked = client.post(
        "/api/v1/executions",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert chunked.status_code == 413, chunked.text
    assert chunked.json()["detail"].startswith("the request body is larger")
    # Agents' result batches have room of their own: 2 MB is read (and the run is unknown).
    results = {
        "results": [{"id": f"s{i}", "status": "passed", "error": "e" * 1000} for i in range(2000)]
    }
    posted = client.post("/api/v1/runs/nosuchrun/results", json=results, headers=AUTH)
    assert posted.status_code == 404, posted.text[:300]


def test_defect08_large_test_data_is_refused_naming_the_field(client: TestClient) -> None:
    spec = gate_spec("big-test-data", Path("/tmp/unused"))
    spec["test_data"] = {"BLOB": "x" * 40_000}
    response = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "test_data"
    assert "BLOB is 40,000 bytes" in response.json()["detail"]
    spec["test_data"] = {f"PART_{i}": "x" * 30_000 for i in range(6)}  # each fits, not all
    response = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert response.status_code == 422 and "test data is" in response.json()["detail"]


# ------------------------------------------------------------------------- defects 11, 12


def test_defect11_logs_of_a_worker_named_by_its_pod_name(client: TestClient, gate: Path) -> None:
    gate.touch()
    execution_id = create(client, gate_spec("logs-by-pod", gate))
    run = wait_final(client, run_now(client, execution_id)["id"])
    assert run["phase"] == "Succeeded", run
    worker = run["groups"][0]["workers"][0]
    assert worker["pod_name"]
    events = sse_events(client, f"/api/v1/runs/{run['id']}/logs?worker={worker['pod_name']}")
    names = [name for name, _ in events]
    assert "error" not in names, events[:3]
    assert names[-1] == "end" and names.count("log") > 3
    assert any("3 passed" in data["line"] for name, data in events if name == "log")


def test_defect12_resubmitted_run_keeps_its_execution_id(client: TestClient, gate: Path) -> None:
    gate.touch()
    execution_id = create(client, gate_spec("resubmit-keeps", gate))
    first = wait_final(client, run_now(client, execution_id)["id"])
    response = client.post(f"/api/v1/runs/{first['id']}/resubmit", headers=AUTH)
    assert response.status_code == 201, response.text
    again = response.json()
    assert again["execution_id"] == execution_id
    assert again["resubmitted_from"] == first["id"]
    listed = client.get(f"/api/v1/runs?execution_id={execution_id}", headers=AUTH).json()
    assert {r["id"] for r in listed["items"]} == {first["id"], again["id"]}
    wait_final(client, again["id"])


# ------------------------------------------------------------------------------ defect 7


def worker_token(client: TestClient, run_id: str) -> str:
    manifest = client.get(f"/api/v1/runs/{run_id}/manifest", headers=AUTH).json()
    home = client.app.state.service.settings.home  # type: ignore[attr-defined]
    return local_worker_token(manifest["workflow"], home)


def test_defect07_worker_token_is_scoped_to_the_plan_and_the_run_life(
    client: TestClient, gate: Path
) -> None:
    execution_id = create(client, gate_spec("token-scope", gate))
    run_id = run_now(client, execution_id)["id"]
    worker = {"Authorization": f"Bearer {worker_token(client, run_id)}"}
    url = f"/api/v1/runs/{run_id}/results"

    def post(**result: Any) -> Any:
        return client.post(url, json={"results": [{"status": "failed", **result}]}, headers=worker)

    outside = post(id="check_gate.py::test_not_in_the_plan", attempt=1)
    assert outside.status_code == 422, outside.text
    assert outside.json()["field"] == "results[0].id"
    invented = post(id=GATE_IDS[0], attempt=99_999)
    assert invented.status_code == 422, invented.text
    assert invented.json()["field"] == "results[0].attempt"
    rerun = post(id=GATE_IDS[0], attempt=2)  # retries: 0, so no rerun exists
    assert rerun.status_code == 422 and "rerun 1 of at most 0" in rerun.json()["detail"]
    pod_retry = post(id=GATE_IDS[2], attempt=201, status="error")  # pod retry 2 of 2: fine
    assert pod_retry.status_code == 202, pod_retry.text
    gate.touch()
    run = wait_final(client, run_id)
    assert run["total"] == 3 and run["passed"] == 2 and run["errored"] == 1
    # The token is recognised but revoked with its run: 403 naming why, on every route.
    late = post(id=GATE_IDS[0], attempt=1, status="passed")
    assert late.status_code == 403, late.text
    assert "has finished" in late.json()["detail"], late.text
    assert client.get("/api/v1/session", headers=worker).status_code == 403
    lease = client.post(
        f"/api/v1/runs/{run_id}/groups/main.only/lease", json={"worker": "w"}, headers=worker
    )
    assert lease.status_code == 403, lease.text
    unknown = {"Authorization": "Bearer drv_never-issued"}
    assert client.post(url, json={"results": []}, headers=unknown).status_code == 401
    # ... and the OpenAPI document says so.
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/runs/{run_id}/results"]
    refusals = operation["post"]["responses"]
    assert "finished" in refusals["403"]["description"]
    assert "plan" in refusals["422"]["description"]


# ------------------------------------------------------------------------- defects 4, 9, 10

ALSO_GATED = "check_gate.py::test_also_waits_for_the_gate"


def two_flow_spec(name: str, gate: Path) -> dict[str, Any]:
    """Flow main: a gated group, then a group of two quick scenarios; flow other: gated."""
    spec = gate_spec(name, gate)
    spec["flows"] = [
        {
            "name": "main",
            "groups": [
                {"name": "first", "scenarios": [{"id": GATE_IDS[2]}]},
                {"name": "second", "threads": 2, "scenarios": [{"id": i} for i in GATE_IDS[:2]]},
            ],
        },
        {"name": "other", "groups": [{"name": "third", "scenarios": [{"id": ALSO_GATED}]}]},
    ]
    return spec


def worker_running(run: dict[str, Any]) -> bool:
    return any(w["phase"] == "Running" for g in run["groups"] for w in g["workers"])


def counters_agree(run: dict[str, Any]) -> None:
    """The run's counters, its progress and the sum of its groups' progress say the same."""
    progress = run["progress"]
    for name in ("passed", "failed", "errored", "skipped"):
        assert run[name] == progress[name] == sum(g["progress"][name] for g in run["groups"])


def test_defect09_stopped_run_is_canceled_and_its_retry_counts_every_group(
    client: TestClient, gate: Path
) -> None:
    execution_id = create(client, two_flow_spec("stop-then-retry", gate))
    run_id = run_now(client, execution_id)["id"]
    wait_for(client, run_id, worker_running)
    stopped = client.post(f"/api/v1/runs/{run_id}/cancel?mode=stop", headers=AUTH)
    assert stopped.status_code == 200 and stopped.json()["phase"] == "Canceling"
    run = wait_final(client, run_id)
    assert run["verdict"] == "canceled", run
    groups = {g["key"]: g for g in run["groups"]}
    never_ran = groups["main.second"]
    assert never_ran["phase"] not in ("Succeeded", "Running"), never_ran
    assert never_ran["progress"]["completed"] == 0 and never_ran["progress"]["pending"] == 2
    counters_agree(run)

    gate.touch()
    retried = client.post(f"/api/v1/runs/{run_id}/retry", headers=AUTH)
    assert retried.status_code == 200, retried.text
    run = wait_final(client, run_id)
    assert run["phase"] == "Succeeded" and run["verdict"] == "passed", run
    for group in run["groups"]:  # the group that never ran before ran now, and counts
        assert group["phase"] == "Succeeded"
        assert group["progress"]["completed"] == group["progress"]["total"], group
    assert run["passed"] == run["total"] == 4
    counters_agree(run)


def test_defect04_retry_after_setup_env_failed_counts_the_results(
    client: TestClient, gate: Path
) -> None:
    spec = gate_spec("setup-then-retry", gate)
    spec["project"]["setup"] = [f"test -e {gate}"]  # fails until the gate is open
    run_id = run_now(client, create(client, spec))["id"]
    run = wait_final(client, run_id)
    assert run["phase"] in ("Failed", "Error") and run["setup_error"], run
    gate.touch()
    retried = client.post(f"/api/v1/runs/{run_id}/retry", headers=AUTH)
    assert retried.status_code == 200, retried.text
    run = wait_final(client, run_id)
    assert run["phase"] == "Succeeded", run
    assert (run["total"], run["passed"], run["progress"]["completed"]) == (3, 3, 3), run
    results = client.get(f"/api/v1/runs/{run_id}/results", headers=AUTH).json()
    assert sorted(r["scenario_id"] for r in results["items"]) == sorted(GATE_IDS)


def test_defect10_a_suspended_run_says_so(client: TestClient, gate: Path) -> None:
    run_id = run_now(client, create(client, gate_spec("suspend-shows", gate)))["id"]
    wait_for(client, run_id, worker_running)
    assert client.post(f"/api/v1/runs/{run_id}/suspend", headers=AUTH).status_code == 200
    run = wait_for(client, run_id, lambda r: r["suspended"])
    assert run["phase"] == "Running"
    listed = client.get("/api/v1/runs", headers=AUTH).json()["items"]
    assert next(r for r in listed if r["id"] == run_id)["suspended"] is True
    assert client.post(f"/api/v1/runs/{run_id}/resume", headers=AUTH).status_code == 200
    wait_for(client, run_id, lambda r: not r["suspended"])
    gate.touch()
    assert wait_final(client, run_id)["phase"] == "Succeeded"


# ------------------------------------------------------------------------------ defect 3


def test_defect03_retried_stopped_run_runs_and_stops_again_also_on_sigterm(
    client: TestClient, gate: Path
) -> None:
    """Argo's semantics: stop and terminate set ``spec.shutdown`` (``StopWorkflow`` and
    ``TerminateWorkflow`` in workflow/util/util.go); the operator then fails what runs and the
    workflow ends Failed with "Stopped with strategy '<Stop|Terminate>'" (``operate`` in
    workflow/controller/operator.go). A retry (``FormulateRetryWorkflow``, util.go) clears the
    shutdown and runs the failed and omitted nodes again. The local runner takes SIGTERM as a
    terminate request."""
    service = client.app.state.service  # type: ignore[attr-defined]
    run_id = run_now(client, create(client, two_flow_spec("stop-retry-term", gate)))["id"]
    wait_for(client, run_id, worker_running)
    assert client.post(f"/api/v1/runs/{run_id}/cancel?mode=stop", headers=AUTH).status_code == 200
    assert wait_final(client, run_id)["message"] == "Stopped with strategy 'Stop'"

    assert client.post(f"/api/v1/runs/{run_id}/retry", headers=AUTH).status_code == 200
    run = wait_for(client, run_id, lambda r: worker_running(r) and r["phase"] == "Running")
    workflow = service.backend().get(run["workflow_name"])
    running = [n for n in workflow["status"]["nodes"].values() if n["phase"] == "Running"]
    assert all(n.get("children") for n in running if n["type"] != "Pod"), running

    # The runner process honours SIGTERM: the workflow is terminated, the process exits.
    store = service.backend().store
    pid = store.runner_pid(run["workflow_name"])
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    run = wait_final(client, run_id)
    assert run["phase"] == "Failed" and run["verdict"] == "canceled"
    assert run["message"] == "Stopped with strategy 'Terminate'"
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, "the runner did not exit on SIGTERM"
        time.sleep(0.05)

    # Once more, stopped and then terminated through the API: it ends, never stays Canceling.
    assert client.post(f"/api/v1/runs/{run_id}/retry", headers=AUTH).status_code == 200
    wait_for(client, run_id, worker_running)
    for mode in ("stop", "terminate"):
        answer = client.post(f"/api/v1/runs/{run_id}/cancel?mode={mode}", headers=AUTH)
        assert answer.status_code in (200, 409), answer.text  # 409: it ended already
    assert wait_final(client, run_id)["verdict"] == "canceled"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False
