"""Issue 12, defect 17: the worker token was a literal env value of every agent container, so it
showed in the Argo UI, the workflow archive, CronWorkflows and Drover's stored manifest. It is
now a Secret of the run (``secretKeyRef``), owned by the Workflow (or CronWorkflow) so Kubernetes'
garbage collector removes it with them, and it stops opening anything once the run has ended
(again usable when the run is retried)."""

from __future__ import annotations

import json
import time
from typing import Any

import yaml
from fastapi.testclient import TestClient

from api.auth import TOKEN_PREFIX
from tests.api.conftest import AUTH, database_url, postgres_url  # noqa: F401
from tests.api.tokens import kube_worker_token, token_ref
from tests.argo_backend import test_service_argo as service_argo
from tests.argo_backend.conftest import NAMESPACE, ROOT
from tests.argo_backend.fake_kube import FakeKube
from tests.argo_backend.test_service_argo import (
    ArtifactArgo,
    _eventually,
    _finish,
    _run,
    _workers,
)

argo, client = service_argo.argo, service_argo.client


def _execution(client: TestClient) -> int:
    spec = yaml.safe_load((ROOT / "examples" / "shop" / "execution.yaml").read_text())
    spec["name"] = f"shop-token-{time.monotonic_ns() % 10**8}"
    spec["project"].pop("path")
    spec["project"]["repo"] = "https://git.example.com/shop.git"
    created = client.post("/api/v1/executions", json=spec, headers=AUTH)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


SCENARIO = yaml.safe_load((ROOT / "examples" / "shop" / "execution.yaml").read_text())["scenarios"][
    0
]["id"]


def _post(client: TestClient, run_id: str, token: str) -> int:
    """A result of a scenario in the run's plan (repeats are accepted and ignored)."""
    result = {"id": SCENARIO, "status": "passed", "duration": 0.1}
    response = client.post(
        f"/api/v1/runs/{run_id}/results",
        json={"results": [result]},
        headers={"Authorization": f"Bearer {token}"},
    )
    return response.status_code


def _secret(fake: FakeKube, name: str) -> dict[str, Any] | None:
    return fake.objects.get(("Secret", NAMESPACE, name))


def test_defect_17_worker_token_is_a_run_scoped_secret_revoked_when_the_run_ends(
    client: TestClient, argo: tuple[ArtifactArgo, str], kube: tuple[FakeKube, str]
) -> None:
    fake, fake_kube = argo[0], kube[0]
    started = client.post(f"/api/v1/executions/{_execution(client)}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run = started.json()
    workflow = fake.workflows[run["workflow_name"]].obj

    # Nowhere in the Workflow (UI, archive) nor in Drover's stored manifest.
    token = kube_worker_token(workflow, lambda name: _secret(fake_kube, name))
    assert token.startswith(TOKEN_PREFIX)
    assert token not in json.dumps(workflow)
    manifest = client.get(f"/api/v1/runs/{run['id']}/manifest", headers=AUTH)
    assert manifest.status_code == 200 and token not in manifest.text
    # A Secret of this run, owned by its Workflow (collected with it).
    secret = _secret(fake_kube, token_ref(workflow)["name"])
    assert secret is not None
    assert secret["metadata"]["labels"]["drover.dev/run-id"] == run["id"]
    owners = secret["metadata"]["ownerReferences"]
    assert [(o["kind"], o["uid"]) for o in owners] == [("Workflow", workflow["metadata"]["uid"])]

    # Scoped to the run while it runs.
    assert _post(client, run["id"], token) == 202
    other = client.post(f"/api/v1/executions/{_execution(client)}/run", headers=AUTH).json()
    assert _post(client, other["id"], token) == 403

    # Revoked when the run ends; usable again when the run is retried.
    _finish(fake, run["workflow_name"], _workers(client, run["id"]), failing=0)
    _eventually(lambda: _run(client, run["id"]).phase == "Failed")
    assert _post(client, run["id"], token) == 403  # recognised, revoked with its run (issue 13)
    retried = client.post(f"/api/v1/runs/{run['id']}/retry", headers=AUTH)
    assert retried.status_code == 200, retried.text
    assert _post(client, run["id"], token) == 202


def test_defect_17_schedule_token_is_a_secret_owned_by_the_cron_workflow(
    client: TestClient, argo: tuple[ArtifactArgo, str], kube: tuple[FakeKube, str]
) -> None:
    fake, fake_kube = argo[0], kube[0]
    schedule = client.post(
        "/api/v1/schedules",
        json={"execution_id": _execution(client), "cron": "0 2 * * *"},
        headers=AUTH,
    )
    assert schedule.status_code == 201, schedule.text
    cron = fake.crons[schedule.json()["cron_workflow"]]
    token = kube_worker_token(cron, lambda name: _secret(fake_kube, name))
    assert token.startswith(TOKEN_PREFIX) and token not in json.dumps(cron)
    secret = _secret(fake_kube, token_ref(cron)["name"])
    assert secret is not None
    owners = secret["metadata"]["ownerReferences"]
    assert [(o["kind"], o["uid"]) for o in owners] == [("CronWorkflow", cron["metadata"]["uid"])]
