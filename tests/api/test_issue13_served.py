"""Defects of issue 13 that only show against ``drover serve`` in a process of its own, with
real concurrent HTTP clients: concurrent submits (1), open event streams (2), the port workers
are told (5)."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.test_issue13_defects import gate_spec
from tests.api.test_service_process import Server, wait_final


@pytest.fixture(scope="module")
def server(database_url: str, home: Path) -> Iterator[Server]:
    srv = Server(database_url, home)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def gate() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="drover-gate-", dir="/var/tmp"))
    yield folder / "open"
    shutil.rmtree(folder, ignore_errors=True)


FINAL = ("Succeeded", "Failed", "Error")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_defect01_concurrent_run_now_with_different_keys_and_a_failed_submit_is_retryable(
    server: Server, home: Path, gate: Path
) -> None:
    with server.client() as client:
        execution_id = client.post("/api/v1/executions", json=gate_spec("twenty", gate)).json()[
            "id"
        ]

    def call(i: int) -> httpx.Response:
        with server.client() as client:
            return client.post(
                f"/api/v1/executions/{execution_id}/run", headers={"Idempotency-Key": f"k-{i}"}
            )

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(call, range(20)))
    assert [a.status_code for a in answers] == [201] * 20, [a.text[:200] for a in answers]
    run_ids = {a.json()["id"] for a in answers}
    assert len(run_ids) == 20
    with server.client() as client:
        for run_id in run_ids:  # every submit went through; the runs are not needed further
            assert client.get(f"/api/v1/runs/{run_id}").json()["phase"] != "Error"
            client.post(f"/api/v1/runs/{run_id}/cancel", params={"mode": "terminate"})

    # A submit that fails (the object store cannot be written) leaves the key free again.
    configmaps = home / "local" / "objects" / "ConfigMap"
    moved = configmaps.with_name("ConfigMap.away")
    configmaps.rename(moved)
    configmaps.write_text("not a folder")
    try:
        with server.client() as client:
            failed = client.post(
                f"/api/v1/executions/{execution_id}/run", headers={"Idempotency-Key": "retry-me"}
            )
        assert failed.status_code == 502, failed.text
        assert "Idempotency-Key" in failed.json()["detail"]
    finally:
        configmaps.unlink()
        moved.rename(configmaps)
    gate.touch()
    with server.client() as client:
        again = client.post(
            f"/api/v1/executions/{execution_id}/run", headers={"Idempotency-Key": "retry-me"}
        )
        assert again.status_code == 201, again.text
        assert wait_final(client, again.json()["id"])["phase"] == "Succeeded"
        same = client.post(
            f"/api/v1/executions/{execution_id}/run", headers={"Idempotency-Key": "retry-me"}
        )
        assert (same.status_code, same.json()["id"]) == (200, again.json()["id"])
        for run_id in run_ids:  # the terminated runs end (leaving no runner behind)
            deadline = time.monotonic() + 60
            while client.get(f"/api/v1/runs/{run_id}").json()["phase"] not in FINAL:
                assert time.monotonic() < deadline, run_id
                time.sleep(0.2)


def test_defect02_open_event_streams_hold_no_database_connection(
    server: Server, database_url: str, gate: Path
) -> None:
    streams = 64
    with server.client() as client:
        execution_id = client.post("/api/v1/executions", json=gate_spec("streamed", gate)).json()[
            "id"
        ]
        run_id = client.post(f"/api/v1/executions/{execution_id}/run").json()["id"]
    opened = threading.Barrier(streams + 1)
    endings: list[str] = []

    def follow(_: int) -> None:
        with (
            server.client() as client,
            client.stream("GET", f"/api/v1/runs/{run_id}/events", timeout=120) as response,
        ):
            assert response.status_code == 200
            event, waited = None, False
            for line in response.iter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "snapshot" and not waited:
                    waited = True
                    opened.wait()  # every stream is open and has had its first event
                elif line.startswith("data: ") and event == "end":
                    endings.append(json.loads(line.removeprefix("data: "))["phase"])
                    return

    with ThreadPoolExecutor(streams) as pool:
        futures = [pool.submit(follow, i) for i in range(streams)]
        opened.wait()  # every stream has had its first event and is waiting for the next
        with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
            states = dict(
                conn.execute(
                    "SELECT coalesce(state, ''), count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "GROUP BY 1"
                ).fetchall()
            )
        assert states.get("idle in transaction", 0) == 0, states
        assert sum(states.values()) < streams, states
        with server.client() as client:  # other routes answer at once
            assert client.get("/readyz").status_code == 200
            assert client.get(f"/api/v1/runs/{run_id}").json()["phase"] in ("Pending", "Running")
            assert client.get("/api/v1/runs").status_code == 200
        gate.touch()
        for future in futures:
            future.result(timeout=120)
    assert endings == ["Succeeded"] * streams


def test_defect05_serve_tells_workers_the_port_it_listens_on(
    database_url: str, tmp_path_factory: pytest.TempPathFactory, gate: Path
) -> None:
    home = tmp_path_factory.mktemp("serve-port-home")
    srv = Server(database_url, home)
    del srv.env["DROVER_PUBLIC_URL"]  # derived from --port, not the default port 8000
    srv.start()
    gate.touch()
    try:
        with srv.client() as client:
            spec = gate_spec("port-derived", gate)
            execution_id = client.post("/api/v1/executions", json=spec).json()["id"]
            run_id = client.post(f"/api/v1/executions/{execution_id}/run").json()["id"]
            manifest: dict[str, Any] = client.get(f"/api/v1/runs/{run_id}/manifest").json()
            env = {
                e["name"]: e.get("value")
                for t in manifest["workflow"]["spec"]["templates"]
                for e in (t.get("container") or {}).get("env", [])
            }
            assert env["DROVER_FACADE_URL"] == f"http://127.0.0.1:{srv.port}"
            assert wait_final(client, run_id)["phase"] == "Succeeded"
            results = client.get(f"/api/v1/runs/{run_id}/results").json()["items"]
        # The agent reached the service: its results came live, not from the artifact at the end.
        assert {r["source"] for r in results} == {"agent"}, results
    finally:
        srv.stop()
