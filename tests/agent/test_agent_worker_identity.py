"""The agent leases under its worker's queue identity and names its pod in results.

The environment comes from the compiled worker template, resolved as Argo resolves it for two
pod attempts of the same shard: both attempts must lease as the same worker, so the service can
hand a retried pod what its dead predecessor held, while each attempt's results name its pod.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from agent_plans import (
    SHOP,
    RunAgent,
    StandInFacade,
    answer_json,
    read_results,
    serving,
    write_plan,
)
from drover_agent.facade import WORKER_LIMIT, WorkerIdentity

from engine.compiler import CompileOptions, compile_plan
from engine.loading import load_execution
from engine.planning import plan_execution
from tests.compiler.workflow_reading import worker_pod_env

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = "shop-regression-q7x2m"
SCENARIOS = [
    "tests/cart/test_cart.py::test_empty_cart_totals_zero",
    "tests/catalog/test_catalog.py::test_find_product_by_sku",
]


def _shop_pod_env(group: str, index: int, attempt: int) -> dict[str, str]:
    """What one worker pod of the example execution finds in its environment on Argo."""
    execution = load_execution(ROOT / "examples" / "shop" / "execution.yaml")
    workflow = compile_plan(plan_execution(execution), CompileOptions()).workflow_dict()
    flow, _, name = group.partition(".")
    return worker_pod_env(workflow, flow, name, index, attempt, workflow_name=WORKFLOW)


def test_every_pod_attempt_of_a_shard_leases_as_one_worker() -> None:
    first, retry = (_shop_pod_env("storefront.catalog", 1, attempt) for attempt in (0, 1))
    one = WorkerIdentity.from_env(first, "storefront.catalog", 1)
    two = WorkerIdentity.from_env(retry, "storefront.catalog", 1)
    assert one.lease_id == two.lease_id == f"{WORKFLOW}/storefront.catalog/1"
    assert one.pod and two.pod and one.pod != two.pod
    assert (one.pod, two.pod) == (first["DROVER_POD"], retry["DROVER_POD"])
    other = WorkerIdentity.from_env(_shop_pod_env("storefront.catalog", 0, 0), "x", 0)
    assert other.lease_id != one.lease_id


def test_identity_without_the_compiled_environment() -> None:
    # A template compiled before DROVER_POD existed: DROVER_WORKER was the pod's name.
    old = WorkerIdentity.from_env({"DROVER_WORKER": "wf-worker-123"}, "f.g", 2)
    assert (old.lease_id, old.pod) == ("wf-worker-123", "wf-worker-123")
    bare = WorkerIdentity.from_env({}, "f.g", 2)
    assert (bare.lease_id, bare.pod) == ("f.g/2", None)


def test_an_overlong_identity_is_shortened_stably_and_stays_unique() -> None:
    long = "w" * 280
    ids = [
        WorkerIdentity.from_env({"DROVER_WORKER": f"{long}/flow.group/{i}"}, "flow.group", i)
        for i in (1, 2)
    ]
    assert all(len(i.lease_id) <= WORKER_LIMIT for i in ids)
    assert ids[0].lease_id != ids[1].lease_id
    again = WorkerIdentity.from_env({"DROVER_WORKER": f"{long}/flow.group/1"}, "flow.group", 1)
    assert again.lease_id == ids[0].lease_id


class _Facade(StandInFacade):
    """Hands each worker the whole queue once, then says the group is drained."""

    def __init__(self) -> None:
        super().__init__(_Handler)
        self.leases: list[dict[str, Any]] = []
        self.results: list[dict[str, Any]] = []
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: _Facade

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            if self.path.endswith("/lease"):
                given = [x for x in self.server.leases if x["worker"] == body["worker"]]
                self.server.leases.append(body)
                answer: dict[str, Any] = {
                    "scenarios": [] if given else SCENARIOS,
                    "done": bool(given),
                    "lease_seconds": 300,
                }
            else:
                self.server.results += body["results"]
                answer = {"received": len(body["results"]), "inserted": len(body["results"])}
        answer_json(self, 200, answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def facade() -> Iterator[_Facade]:
    server = _Facade()
    with serving(server):
        yield server


def test_the_agent_leases_as_the_shard_and_reports_as_the_pod(
    tmp_path: Path, run_agent: RunAgent, facade: _Facade
) -> None:
    plan = write_plan(
        tmp_path / "plan", runner={}, workers={"0": SCENARIOS, "1": []}, key="storefront.catalog"
    )
    group_file = plan / "storefront.catalog.json"
    group = json.loads(group_file.read_text())
    group["strategy"] = "queue"
    group_file.write_text(json.dumps(group))
    pods = []
    for attempt in (0, 1):
        env = _shop_pod_env("storefront.catalog", 0, attempt)
        pods.append(env["DROVER_POD"])
        done = run_agent(
            "run", "--plan-dir", str(plan), "--workspace", str(SHOP), "--shard", "storefront.catalog/0",
            "--attempt", str(attempt), "--results", str(tmp_path / f"r{attempt}.json"),
            env={
                "DROVER_WORKER": env["DROVER_WORKER"],
                "DROVER_POD": env["DROVER_POD"],
                "DROVER_FACADE_URL": facade.url,
                "DROVER_RUN_ID": "run-1",
                "DROVER_TOKEN": "token",
            },
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "queue mode stopped" not in done.stderr
        assert [r["id"] for r in read_results(tmp_path / f"r{attempt}.json")["results"]] == (
            SCENARIOS if attempt == 0 else []
        )
    assert {lease["worker"] for lease in facade.leases} == {f"{WORKFLOW}/storefront.catalog/0"}
    assert {r["worker"] for r in facade.results} == {pods[0]}
    assert {r["id"] for r in facade.results} == set(SCENARIOS)
