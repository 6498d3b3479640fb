"""Defects of issue 13 that only show against ``drover serve`` in a process of its own, with
real concurrent HTTP clients: concurrent submits (1), open event streams (2), the port workers
are told (5)."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.conftest import AUTH
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


STREAMS = 500


def _stream_connections(database_url: str) -> list[tuple[str, str]]:
    """(state, query) of every connection the streams' reads use (``drover-events``)."""
    with psycopg.connect(_libpq(database_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT coalesce(state, ''), coalesce(query, '') FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'drover-events'"
        ).fetchall()
    return [(state, query) for state, query in rows]


def _other_routes_answer(server: Server, run_id: str) -> None:
    with server.client() as client:  # generous timeouts: the point is that they answer
        assert client.get("/readyz").status_code == 200
        assert client.get(f"/api/v1/runs/{run_id}").status_code == 200
        assert client.get("/api/v1/runs").status_code == 200
        assert client.get(f"/api/v1/runs/{run_id}/results").status_code == 200


def test_defect02_open_event_streams_hold_no_database_connection(
    server: Server, database_url: str, gate: Path
) -> None:
    """500 browsers follow one run over SSE. The streams' reads use connections of their own
    (``application_name`` drover-events, at most 4, autocommit), so pg_stat_activity tells
    them apart from the rest of the service: none is ever idle in transaction, and there are
    never more than 4 of them, however many streams are open; meanwhile every other route
    answers. (The test used to sample every connection of the database, so a read in flight
    anywhere in the service — an agent's post, the mirror, one stream's read — made it fail
    now and then.)"""
    with server.client() as client:
        execution_id = client.post("/api/v1/executions", json=gate_spec("streamed", gate)).json()[
            "id"
        ]
        run_id = client.post(f"/api/v1/executions/{execution_id}/run").json()["id"]
    samples: list[list[tuple[str, str]]] = []

    async def follow(client: httpx.AsyncClient, opened: list[int], all_open: asyncio.Event) -> str:
        async with client.stream("GET", f"/api/v1/runs/{run_id}/events") as response:
            assert response.status_code == 200, await response.aread()
            event = None
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "snapshot":
                    opened.append(1)
                    if len(opened) == STREAMS:
                        all_open.set()
                elif line.startswith("data: ") and event == "end":
                    return str(json.loads(line.removeprefix("data: "))["phase"])
        raise AssertionError("the stream closed without an end event")

    async def main() -> list[str]:
        opened: list[int] = []
        all_open = asyncio.Event()
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(
            base_url=server.url, headers=AUTH, timeout=120, limits=limits
        ) as client:
            streams = [
                asyncio.create_task(follow(client, opened, all_open)) for _ in range(STREAMS)
            ]
            waiting = asyncio.create_task(all_open.wait())
            done, _ = await asyncio.wait(
                [waiting, *streams], timeout=120, return_when=asyncio.FIRST_COMPLETED
            )
            assert waiting in done, [t.exception() for t in done if t is not waiting]
            # Every stream has had its snapshot and waits for the next change.
            for _ in range(3):
                samples.append(await asyncio.to_thread(_stream_connections, database_url))
                await asyncio.to_thread(_other_routes_answer, server, run_id)
            gate.touch()  # the run moves on: every stream reads (the same read) and ends
            samples.append(await asyncio.to_thread(_stream_connections, database_url))
            await asyncio.to_thread(_other_routes_answer, server, run_id)
            return list(await asyncio.wait_for(asyncio.gather(*streams), timeout=120))

    endings = asyncio.run(main())
    assert endings == ["Succeeded"] * STREAMS
    for sample in samples:
        assert 1 <= len(sample) <= 4, sample  # at least the change watcher's, pooled
        assert all(state != "idle in transaction" for state, _ in sample), sample


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
