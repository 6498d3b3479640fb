"""The real agent against the real service: live per-scenario results and queue leasing.

A ``drover serve`` subprocess on a free port owns the runs. Each run's setup step sleeps, so the
local backend never starts workers of its own; the test plays the workers instead, running the
real ``drover-agent`` with the run's compiled plan and the facade environment the service
injected into the worker template (URL, run id, run-scoped token).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.api.test_run_e2e import shop_spec
from tests.api.test_service_process import Server, wait_final
from tests.api.tokens import local_worker_token

ROOT = Path(__file__).resolve().parents[2]
AGENT_DIR = ROOT / "agent-image"
GROUP = "main.all"

PROBE_TESTS = textwrap.dedent(
    """
    import os, pathlib, time
    import pytest

    def test_fast():
        pass

    def test_fail():
        assert 1 == 2, "failing on purpose"

    @pytest.mark.skip(reason="not today")
    def test_skip():
        pass

    def test_gate():
        # Holds the shard open until the test has seen the earlier results in Postgres.
        gate = pathlib.Path(os.environ["PROBE_GATE"])
        deadline = time.monotonic() + 30
        while not gate.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gate.exists()

    @pytest.mark.parametrize("n", range(10))
    def test_item(n):
        time.sleep(0.3)
    """
)
LIVE_IDS = [f"tests/test_probe.py::test_{name}" for name in ("fast", "fail", "skip", "gate")]
QUEUE_IDS = [f"tests/test_probe.py::test_item[{n}]" for n in range(10)]


@pytest.fixture(scope="module")
def server(database_url: str, home: Path) -> Iterator[Server]:
    srv = Server(database_url, home)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("probe")
    (root / "tests").mkdir()
    (root / "tests" / "test_probe.py").write_text(PROBE_TESTS)
    (root / "pytest.ini").write_text("[pytest]\n")
    return root


@dataclass
class ProbeRun:
    id: str
    token: str
    plan_dir: Path


@pytest.fixture
def start_run(server: Server, project: Path, tmp_path: Path) -> Iterator[Any]:
    started: list[str] = []

    def start(scenarios: list[str], *, strategy: str, threads: int) -> ProbeRun:
        spec = {
            "kind": "Execution",
            "name": f"agent-probe-{secrets.token_hex(4)}",
            "project": {
                "name": "probe",
                "path": str(project),
                "runner": {"kind": "pytest", "args": ["-p", "no:cacheprovider"]},
                "setup": ["sleep 300"],  # keeps the backend's own workers from starting
            },
            "defaults": {"threads": threads, "strategy": strategy, "retries": 0},
            "flows": [
                {
                    "name": "main",
                    "groups": [
                        {
                            "name": "all",
                            "scenarios": [{"id": s, "duration": 1.0} for s in scenarios],
                        }
                    ],
                }
            ],
        }
        with server.client() as client:
            execution = client.post("/api/v1/executions", json=spec)
            assert execution.status_code == 201, execution.text
            run = client.post(f"/api/v1/executions/{execution.json()['id']}/run")
            assert run.status_code == 201, run.text
            run_id = run.json()["id"]
            started.append(run_id)
            manifest = client.get(f"/api/v1/runs/{run_id}/manifest").json()
        worker = next(
            t for t in manifest["workflow"]["spec"]["templates"] if t["name"].startswith("worker")
        )
        env = {e["name"]: e.get("value") for e in worker["container"]["env"]}
        assert env["DROVER_FACADE_URL"] == server.url and env["DROVER_RUN_ID"] == run_id
        plan_dir = tmp_path / f"plan-{run_id}"
        plan_dir.mkdir()
        for configmap in manifest["configmaps"]:
            for name, text in configmap.get("data", {}).items():
                (plan_dir / name).write_text(text)
            for name, blob in configmap.get("binaryData", {}).items():
                (plan_dir / name).write_bytes(base64.b64decode(blob))
        return ProbeRun(
            run_id,
            local_worker_token(manifest["workflow"], Path(server.env["DROVER_HOME"])),
            plan_dir,
        )

    yield start
    with server.client() as client:
        for run_id in started:
            client.post(f"/api/v1/runs/{run_id}/cancel", params={"mode": "terminate"})


def agent(
    server: Server, run: ProbeRun, project: Path, shard: int, results: Path, **env: str
) -> subprocess.Popen[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(AGENT_DIR),
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "DROVER_FACADE_URL": server.url,
        "DROVER_RUN_ID": run.id,
        "DROVER_TOKEN": run.token,
        "DROVER_WORKER": f"probe-worker-{shard}",
        **env,
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "drover_agent",
            "run",
            "--plan-dir",
            str(run.plan_dir),
            "--workspace",
            str(project),
            "--shard",
            f"{GROUP}/{shard}",
            "--results",
            str(results),
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(database_url: str, run_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        cursor = conn.execute(
            "SELECT scenario_id, attempt, status, worker, group_key, shard, source "
            "FROM drover_scenario_results WHERE run_id = %s ORDER BY id",
            (run_id,),
        )
        names = [c.name for c in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def test_results_reach_postgres_while_the_shard_still_runs(
    server: Server, project: Path, start_run: Any, database_url: str, tmp_path: Path
) -> None:
    run = start_run(LIVE_IDS, strategy="round-robin", threads=1)
    gate = tmp_path / "gate"
    process = agent(server, run, project, 0, tmp_path / "r.json", PROBE_GATE=str(gate))
    deadline = time.monotonic() + 30
    seen: dict[str, str] = {}
    while len(seen) < 3:
        assert time.monotonic() < deadline, f"only {seen} arrived live"
        assert process.poll() is None, "the shard ended before its results were seen"
        seen = {r["scenario_id"]: r["status"] for r in rows(database_url, run.id)}
        time.sleep(0.05)
    # Three results are in Postgres while pytest still runs the fourth test (held by the gate).
    assert process.poll() is None
    assert seen == dict(zip(LIVE_IDS[:3], ["passed", "failed", "skipped"], strict=True))
    gate.touch()
    code, stderr = finish(process)
    assert code == 1, stderr  # test_fail failed

    stored = rows(database_url, run.id)
    document = json.loads((tmp_path / "r.json").read_text())
    assert {(r["scenario_id"], r["attempt"], r["status"]) for r in stored} == {
        (r["id"], r["attempt"], r["status"]) for r in document["results"]
    }
    assert len(stored) == 4
    assert {(r["worker"], r["group_key"], r["shard"], r["source"]) for r in stored} == {
        ("probe-worker-0", GROUP, 0, "agent")
    }
    with server.client() as client:
        progress = client.get(f"/api/v1/runs/{run.id}").json()["progress"]
    assert (progress["passed"], progress["failed"], progress["skipped"]) == (2, 1, 1)


def test_a_repeated_shard_adds_no_rows(
    server: Server, project: Path, start_run: Any, database_url: str, tmp_path: Path
) -> None:
    run = start_run(LIVE_IDS, strategy="round-robin", threads=1)
    gate = tmp_path / "gate"
    gate.touch()
    for attempt in range(2):
        code, stderr = finish(
            agent(server, run, project, 0, tmp_path / f"r{attempt}.json", PROBE_GATE=str(gate))
        )
        assert code == 1, stderr
        assert "facade" not in stderr  # every post was accepted
    stored = rows(database_url, run.id)
    assert sorted(r["scenario_id"] for r in stored) == sorted(LIVE_IDS)
    with server.client() as client:
        progress = client.get(f"/api/v1/runs/{run.id}").json()["progress"]
    assert (progress["passed"], progress["failed"], progress["skipped"]) == (2, 1, 1)


def test_two_queue_workers_drain_one_group_exactly_once(
    server: Server, project: Path, start_run: Any, database_url: str, tmp_path: Path
) -> None:
    run = start_run(QUEUE_IDS, strategy="queue", threads=2)
    workers = [agent(server, run, project, i, tmp_path / f"q{i}.json") for i in range(2)]
    outcomes = [finish(w) for w in workers]
    taken = []
    for index, (code, stderr) in enumerate(outcomes):
        assert code == 0, stderr
        assert "queue mode stopped" not in stderr
        document = json.loads((tmp_path / f"q{index}.json").read_text())
        assert document["shard"] == index
        assert all(r["status"] == "passed" for r in document["results"])
        taken.append({r["id"] for r in document["results"]})
    assert taken[0] and taken[1], "both workers should have leased work"
    assert not taken[0] & taken[1]
    assert taken[0] | taken[1] == set(QUEUE_IDS)

    stored = rows(database_url, run.id)
    assert sorted(r["scenario_id"] for r in stored) == sorted(QUEUE_IDS)
    by_worker = {r["scenario_id"]: r["worker"] for r in stored}
    for index, ids in enumerate(taken):
        assert {by_worker[s] for s in ids} == {f"probe-worker-{index}"}
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        states = conn.execute(
            "SELECT state, count(*) FROM drover_lease_items WHERE run_id = %s GROUP BY state",
            (run.id,),
        ).fetchall()
    assert dict(states) == {"done": len(QUEUE_IDS)}


def test_results_held_while_the_facade_is_down_arrive_when_it_is_back(
    server: Server, project: Path, start_run: Any, database_url: str, tmp_path: Path
) -> None:
    run = start_run(LIVE_IDS, strategy="round-robin", threads=1)
    gate = tmp_path / "gate"
    server.kill()
    try:
        process = agent(server, run, project, 0, tmp_path / "r.json", PROBE_GATE=str(gate))
        time.sleep(1.5)  # the first three tests finish; posting them fails
    finally:
        server.start()
    deadline = time.monotonic() + 20
    while len(rows(database_url, run.id)) < 3:
        assert time.monotonic() < deadline, "held results never arrived"
        assert process.poll() is None
        time.sleep(0.1)
    gate.touch()
    code, stderr = finish(process)
    assert code == 1, stderr
    assert "cannot post results" in stderr and "reachable again" in stderr
    assert sorted(r["scenario_id"] for r in rows(database_url, run.id)) == sorted(LIVE_IDS)


def test_the_example_in_queue_mode_end_to_end(server: Server, database_url: str) -> None:
    """The local backend's own workers lease from the service and post every result live."""
    with server.client() as client:
        execution = client.post("/api/v1/executions", json=shop_spec()).json()
        started = client.post(
            f"/api/v1/executions/{execution['id']}/run", json={"strategy": "queue"}
        )
        assert started.status_code == 201, started.text
        run = wait_final(client, started.json()["id"], timeout=120)
    stored = rows(database_url, run["id"])
    assert len(stored) == len({r["scenario_id"] for r in stored}) == run["total"] == 24
    assert {r["scenario_id"]: r["status"] for r in stored if r["status"] != "passed"} == {
        "tests/checkout/test_checkout.py::test_free_shipping_from_fifteen_euros": "failed",
        "tests/cart/test_cart.py::TestRemoval::test_remove_many": "skipped",
    }
    assert {r["source"] for r in stored} == {"agent"}  # live posts came before the artifacts
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        states = conn.execute(
            "SELECT state, count(*) FROM drover_lease_items WHERE run_id = %s GROUP BY state",
            (run["id"],),
        ).fetchall()
    assert dict(states) == {"done": 24}
