"""End to end through HTTP: run the example on the local backend, follow the SSE stream,
and compare the mirrored results with what plain pytest reports for the same tests."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from tests.api.conftest import AUTH

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "examples" / "shop"


def shop_spec() -> dict[str, Any]:
    spec = yaml.safe_load((SHOP / "execution.yaml").read_text())
    spec["project"]["path"] = str(SHOP)
    return spec


def plain_pytest_outcomes(tmp: Path) -> dict[str, str]:
    """Scenario id → passed/failed/skipped, from a plain pytest run of the whole project."""
    report = tmp / "junit.xml"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-o",
            "junit_family=xunit1",
            f"--junitxml={report}",
            "tests",
        ],
        cwd=SHOP,
        capture_output=True,
        check=False,
        timeout=120,
    )
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        path = case.get("file") or ""
        classname = case.get("classname", "")
        klass = classname.split(".")[-1]
        name = (
            f"{path}::{klass}::{case.get('name')}"
            if klass.startswith("Test")
            else f"{path}::{case.get('name')}"
        )
        status = "passed"
        if case.find("failure") is not None or case.find("error") is not None:
            status = "failed"
        elif case.find("skipped") is not None:
            status = "skipped"
        outcomes[name] = status
    return outcomes


def follow_events(client: TestClient, run_id: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    with client.stream(
        "GET", f"/api/v1/runs/{run_id}/events", headers=AUTH, timeout=120
    ) as response:
        assert response.status_code == 200
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event:
                events.append((event, json.loads(line.removeprefix("data: "))))
                if event == "end":
                    break
    return events


@pytest.fixture(scope="module")
def finished_run(client: TestClient) -> dict[str, Any]:
    execution = client.post("/api/v1/executions", json=shop_spec(), headers=AUTH).json()
    started = client.post(f"/api/v1/executions/{execution['id']}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    events = follow_events(client, run_id)
    return {"id": run_id, "events": events}


def test_sse_stream_shows_live_progress_then_ends(finished_run: dict[str, Any]) -> None:
    events = finished_run["events"]
    assert events[-1][0] == "end"
    # A snapshot, then deltas: the run's progress appears in a delta when it changed.
    progress = [events[0][1]["progress"]] + [
        data["run"]["progress"]
        for name, data in events
        if name == "delta" and "progress" in data.get("run", {})
    ]
    assert len(progress) >= 3, "the stream should show intermediate progress"
    completed = [p["completed"] for p in progress]
    assert completed == sorted(completed)
    assert progress[-1]["percentage"] == 100.0


def test_results_equal_plain_pytest(
    client: TestClient, finished_run: dict[str, Any], tmp_path: Path
) -> None:
    truth = plain_pytest_outcomes(tmp_path)
    run = client.get(f"/api/v1/runs/{finished_run['id']}", headers=AUTH).json()
    results = client.get(
        f"/api/v1/runs/{finished_run['id']}/results?limit=1000", headers=AUTH
    ).json()
    mirrored = {r["scenario_id"]: r["status"] for r in results["items"]}
    assert mirrored == {k: v for k, v in truth.items() if k in mirrored}
    assert len(mirrored) == run["total"] == 24
    counts = {s: list(truth.values()).count(s) for s in ("passed", "failed", "skipped")}
    assert (run["passed"], run["failed"], run["skipped"]) == (
        counts["passed"],
        counts["failed"],
        counts["skipped"],
    )
    assert run["progress"]["completed"] == run["total"]
    assert run["phase"] in ("Succeeded", "Failed")
    groups = {g["key"]: g for g in run["groups"]}
    assert groups["purchase.checkout"]["progress"]["failed"] == 1
    assert all(len(g["workers"]) == g["threads"] for g in run["groups"])
    assert run["flows"]["storefront"]["total"] + run["flows"]["purchase"]["total"] == 24


def test_failed_filter_and_pagination(client: TestClient, finished_run: dict[str, Any]) -> None:
    failed = client.get(
        f"/api/v1/runs/{finished_run['id']}/results?status=failed", headers=AUTH
    ).json()
    assert [r["scenario_id"] for r in failed["items"]] == [
        "tests/checkout/test_checkout.py::test_free_shipping_from_fifteen_euros"
    ]
    page = client.get(
        f"/api/v1/runs/{finished_run['id']}/results?limit=5&offset=20", headers=AUTH
    ).json()
    assert page["total"] == 24 and len(page["items"]) == 4


def test_manifest_logs_and_history(client: TestClient, finished_run: dict[str, Any]) -> None:
    manifest = client.get(f"/api/v1/runs/{finished_run['id']}/manifest", headers=AUTH).json()
    assert manifest["workflow"]["metadata"]["labels"]["drover.dev/run-id"] == finished_run["id"]
    with client.stream("GET", f"/api/v1/runs/{finished_run['id']}/logs", headers=AUTH) as response:
        body = "".join(response.iter_text())
    assert "event: log" in body and "test_checkout" in body
    runs = (
        client.get("/api/v1/runs?phase=Succeeded", headers=AUTH).json()["items"]
        + client.get("/api/v1/runs?phase=Failed", headers=AUTH).json()["items"]
    )
    assert finished_run["id"] in [r["id"] for r in runs]


def test_worker_logs_outlive_their_pods(
    client: TestClient, finished_run: dict[str, Any], home: Path
) -> None:
    """With the pods' own logs gone (Argo's podGC), the workers' saved log artifacts answer."""
    run = client.get(f"/api/v1/runs/{finished_run['id']}", headers=AUTH).json()
    logs_dir = home / "local" / "workflows" / run["workflow_name"] / "logs"
    assert any(logs_dir.iterdir())
    for pod_log in logs_dir.iterdir():
        pod_log.unlink()
    with client.stream("GET", f"/api/v1/runs/{finished_run['id']}/logs", headers=AUTH) as response:
        body = "".join(response.iter_text())
    assert "event: log" in body
    assert "test_free_shipping_from_fifteen_euros" in body  # pytest's failure output, saved
    assert body.rstrip().endswith("data: {}")
