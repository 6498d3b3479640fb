"""The cluster journey on a real Argo Workflows installation (``-m on_cluster``; argo/e2e.sh).

``argo/e2e.sh`` makes a kind or k3d cluster, installs Argo, loads Drover's images, applies
``argo/overlays/local``, runs ``drover doctor``, serves the shop example's sources from a git
daemon in the cluster, and then runs this module with the addresses below. Here (no cluster)
every test skips and says so.

The journey, as a user and an operator live it:
0. the facade's doctor report (``GET /api/v1/system/doctor``) finds nothing missing;
1. the shop execution is created and run through Drover's API (``POST /api/v1/executions``,
   ``POST /api/v1/executions/{id}/run``); Drover compiles it for the Argo backend, submits it,
   and its mirror records every scenario's result from the workers' reports;
2. an operator retries the failed workflow from the Argo Server
   (``PUT /api/v1/workflows/{namespace}/{name}/retry``, Argo's
   server/workflow/workflow_server.go ``RetryWorkflow``; Argo retries only Failed or Errored
   workflows, workflow/util/util.go ``FormulateRetryWorkflow``), and the mirror follows it as the
   run's next attempt;
3. the operator resubmits it (``PUT .../resubmit``, ``ResubmitWorkflow``: a new workflow labelled
   ``workflows.argoproj.io/resubmitted-from-workflow``), and the mirror follows the new workflow
   as the run's next attempt.
After each, the mirror's counts must be exactly what the example's tests produce.

Environment (argo/e2e.sh sets it): ``DROVER_E2E_API`` (the facade's URL), ``DROVER_E2E_TOKEN``
(an API token), ``DROVER_E2E_REPO`` (a git URL of the shop project that pods can clone),
``ARGO_SERVER``, ``ARGO_TOKEN`` (an operator's bearer token), ``ARGO_NAMESPACE`` (``drover``),
``DROVER_E2E_TIMEOUT`` (seconds a run may take, default 900).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from engine.images import default_agent_image
from engine.loading import parse_execution
from engine.planning import plan_execution

ROOT = Path(__file__).resolve().parents[2]
SHOP_SPEC = ROOT / "examples" / "shop" / "execution.yaml"
FAILING = "tests/checkout/test_checkout.py::test_free_shipping_from_fifteen_euros"
SKIPPED = "tests/cart/test_cart.py::TestRemoval::test_remove_many"
FINAL = ("Succeeded", "Failed", "Error")
_NEEDED = ("DROVER_E2E_API", "DROVER_E2E_TOKEN", "DROVER_E2E_REPO", "ARGO_SERVER", "ARGO_TOKEN")
_missing = [name for name in _NEEDED if not os.environ.get(name)]

pytestmark = [
    pytest.mark.on_cluster,
    pytest.mark.skipif(
        bool(_missing),
        reason="needs a real Kubernetes cluster with Argo Workflows and Drover deployed "
        f"(run argo/e2e.sh, which needs Docker and kind or k3d); unset here: {', '.join(_missing)}",
    ),
]


def cluster_spec(repo: str) -> dict[str, Any]:
    """The shop example as a cluster runs it: sources from git, no schedule, a unique name.

    The checkout group no longer continues on failure, so its failing test fails the
    workflow in Argo too (a retry from the Argo Server needs a Failed workflow) and the cart
    group never runs.
    """
    spec = yaml.safe_load(SHOP_SPEC.read_text())
    spec["name"] = f"shop-e2e-{uuid.uuid4().hex[:6]}"
    spec["project"] = {"name": "shop", "repo": repo, "runner": spec["project"]["runner"]}
    spec.pop("schedule", None)
    for flow in spec["flows"]:
        for group in flow["groups"]:
            group.pop("continue_on_failure", None)
    return spec


@dataclass(frozen=True)
class Expected:
    total: int
    passed: int
    failed: int
    skipped: int


def expected_counts(spec: dict[str, Any]) -> Expected:
    """What the mirror must show: every group but ``purchase.cart`` runs; one test fails."""
    plan = plan_execution(parse_execution(spec))
    ran = [s.id for g in plan.groups if g.key != "purchase.cart" for w in g.workers for s in w]
    total = sum(len(w) for g in plan.groups for w in g.workers)
    assert FAILING in ran and SKIPPED not in ran
    return Expected(total=total, passed=len(ran) - 1, failed=1, skipped=0)


@dataclass
class Journey:
    api: httpx.Client
    argo: httpx.Client
    namespace: str
    timeout: float
    spec: dict[str, Any]
    expected: Expected
    run_id: str = ""

    def run(self) -> dict[str, Any]:
        reply = self.api.get(f"/api/v1/runs/{self.run_id}")
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    def wait_final(self, *, attempt: int) -> dict[str, Any]:
        """The run once it is final in its ``attempt`` (the mirror's view), or a timeout."""
        deadline = time.monotonic() + self.timeout
        run = self.run()
        while time.monotonic() < deadline:
            run = self.run()
            if run["attempt"] >= attempt and run["phase"] in FINAL:
                return run
            time.sleep(5)
        raise AssertionError(f"run not final in attempt {attempt} after {self.timeout} s: {run}")

    def argo_workflow(self, name: str) -> dict[str, Any]:
        reply = self.argo.get(f"/api/v1/workflows/{self.namespace}/{name}")
        reply.raise_for_status()
        body: dict[str, Any] = reply.json()
        return body

    def assert_counts(self, run: dict[str, Any]) -> None:
        counts = {k: run[k] for k in ("total", "passed", "failed", "skipped", "errored")}
        want = self.expected
        assert counts == {
            "total": want.total,
            "passed": want.passed,
            "failed": want.failed,
            "skipped": want.skipped,
            "errored": 0,
        }, run
        results = self.api.get(
            f"/api/v1/runs/{self.run_id}/results", params={"status": "failed", "limit": 50}
        )
        results.raise_for_status()
        # One row per attempt of the failing test (a retry adds one): only that test failed.
        assert {r["scenario_id"] for r in results.json()["items"]} == {FAILING}


@pytest.fixture(scope="module")
def journey() -> Iterator[Journey]:
    env = os.environ
    timeout = float(env.get("DROVER_E2E_TIMEOUT", "900"))
    api = httpx.Client(
        base_url=env["DROVER_E2E_API"],
        headers={"Authorization": f"Bearer {env['DROVER_E2E_TOKEN']}"},
        timeout=60,
    )
    token = env["ARGO_TOKEN"]
    argo = httpx.Client(
        base_url=env["ARGO_SERVER"],
        headers={"Authorization": token if token.startswith("Bearer ") else f"Bearer {token}"},
        timeout=60,
        verify=env.get("ARGO_CA_BUNDLE") or not env.get("ARGO_INSECURE_SKIP_VERIFY"),
    )
    spec = cluster_spec(env["DROVER_E2E_REPO"])
    with api, argo:
        yield Journey(api, argo, env.get("ARGO_NAMESPACE", "drover"), timeout, spec,
                      expected_counts(spec))  # fmt: skip


def test_the_facade_finds_the_cluster_ready(journey: Journey) -> None:
    """``GET /api/v1/system/doctor``: the facade's own view (its settings, its service account)."""
    reply = journey.api.get("/api/v1/system/doctor")
    assert reply.status_code == 200, reply.text
    report = reply.json()
    assert report["ok"], [c for c in report["checks"] if not c["ok"]]


def test_the_shop_example_runs_through_the_api_and_is_mirrored(journey: Journey) -> None:
    created = journey.api.post("/api/v1/executions", json=journey.spec)
    assert created.status_code == 201, created.text
    started = journey.api.post(f"/api/v1/executions/{created.json()['id']}/run")
    assert started.status_code == 201, started.text
    run = started.json()
    assert run["backend"] == "argo", run
    journey.run_id = run["id"]

    run = journey.wait_final(attempt=1)
    journey.assert_counts(run)
    assert run["phase"] == "Failed"
    workflow = journey.argo_workflow(run["workflow_name"])
    assert workflow["status"]["phase"] == "Failed"
    # Every pod ran Drover's agent image of this version (the default project.image).
    images = {t["container"]["image"] for t in workflow["spec"]["templates"] if "container" in t}
    assert images == {default_agent_image()}


def test_a_retry_from_the_argo_server_is_mirrored_as_the_next_attempt(journey: Journey) -> None:
    assert journey.run_id, "the first test started no run"
    before = journey.run()
    name = before["workflow_name"]
    reply = journey.argo.put(
        f"/api/v1/workflows/{journey.namespace}/{name}/retry",
        json={"name": name, "namespace": journey.namespace},
    )
    assert reply.status_code == 200, reply.text

    run = journey.wait_final(attempt=before["attempt"] + 1)
    assert run["workflow_name"] == name
    journey.assert_counts(run)
    assert journey.argo_workflow(name)["status"]["phase"] == "Failed"


def test_a_resubmit_from_the_argo_server_is_mirrored_as_the_next_attempt(
    journey: Journey,
) -> None:
    assert journey.run_id, "the first test started no run"
    before = journey.run()
    name = before["workflow_name"]
    reply = journey.argo.put(
        f"/api/v1/workflows/{journey.namespace}/{name}/resubmit",
        json={"name": name, "namespace": journey.namespace, "memoized": False},
    )
    assert reply.status_code == 200, reply.text
    new_name = reply.json()["metadata"]["name"]
    assert new_name != name

    run = journey.wait_final(attempt=before["attempt"] + 1)
    assert run["workflow_name"] == new_name
    journey.assert_counts(run)
    labels = journey.argo_workflow(new_name)["metadata"]["labels"]
    assert labels["workflows.argoproj.io/resubmitted-from-workflow"] == name
