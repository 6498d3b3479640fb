"""A pipeline's tool jobs on Argo: the run's tool token reaches Argo's agent from a Secret.

A tool job is lowered to an HTTP template that POSTs to the facade with the run's tool token.
Its ``Authorization`` header was a literal value, so the token showed in the Argo UI and the
workflow archive. It now comes from the run's Secret (``valueFrom.secretKeyRef``: Argo's
pkg/apis/workflow/v1alpha1/http_types.go ``HTTPHeader``/``HTTPHeaderSource``), which Argo's agent
reads through the Kubernetes API (workflow/executor/agent.go ``executeHTTPTemplateRequest`` →
util/util.go ``GetSecrets``, a Secrets ``get`` with the agent's token). The agent pod runs as the
workflow's ``serviceAccountName`` (workflow/controller/agent.go ``createAgentPod``) and a pod
template's own ``serviceAccountName`` wins for job pods (workflow/controller/workflowpod.go
``setupServiceAccount``): so the workflow runs as ``drover-agent``, the only account that may read
Secrets, and its job pods as ``drover-workflow``, which may not. The Secret is owned by the
Workflow (removed with it); the token opens nothing once the run has ended
(``api.notifications.tools.run_tool``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from engine.backends.argo.permissions import (
    AGENT_PERMISSIONS,
    AGENT_SECRET_PERMISSIONS,
    EXECUTOR_PERMISSIONS,
    pod_permissions,
)
from engine.labels import LABEL_SCHEDULE
from engine.pipelines.tools import TOOL_AUTHORIZATION_KEY
from tests.api.conftest import AUTH, database_url, postgres_url  # noqa: F401
from tests.api.tokens import secret_value
from tests.argo_backend import test_rbac_model as rbac
from tests.argo_backend.test_rbac_model import Cluster
from tests.argo_reference import argo_errors

cluster = rbac.cluster

PIPELINE: dict[str, Any] = {
    "kind": "Pipeline",
    "jobs": [
        {"name": "build", "script": {"language": "bash", "source": "echo built"}},
        {
            "name": "announce",
            "needs": ["build"],
            "tool": {
                # Refused at once: the facade answers 502 (not delivered), never 403.
                "channel": {"type": "webhook", "url": "http://127.0.0.1:9/hook"},
                "message": "built",
            },
        },
    ],
}


def _start(cluster: Cluster) -> tuple[dict[str, Any], dict[str, Any]]:
    client = cluster.client
    spec = {**PIPELINE, "name": f"tools-{time.monotonic_ns() % 10**8}"}
    created = client.post("/api/v1/pipelines", json=spec, headers=AUTH)
    assert created.status_code == 201, created.text
    started = client.post(f"/api/v1/pipelines/{created.json()['id']}/run", headers=AUTH)
    assert started.status_code == 201, started.text
    run = started.json()
    return run, cluster.argo.workflows[run["workflow_name"]].obj


def _tool_header(workflow: dict[str, Any], job: str) -> dict[str, Any]:
    for template in workflow["spec"]["templates"]:
        http = template.get("http") or {}
        if http.get("url", "").endswith(f"/tools/{job}"):
            return dict(next(h for h in http["headers"] if h["name"] == "Authorization"))
    raise AssertionError(f"no tool request for {job}")


def test_the_tool_token_comes_from_a_secret_of_the_run_owned_by_its_workflow(
    cluster: Cluster,
) -> None:
    run, workflow = _start(cluster)
    header = _tool_header(workflow, "announce")
    assert "value" not in header, "the tool token must not be a literal header value"
    ref = header["valueFrom"]["secretKeyRef"]
    assert ref == {"name": f"drover-pipeline-{run['id']}-tool", "key": TOOL_AUTHORIZATION_KEY}
    secret = cluster.kube.objects[("Secret", cluster.namespace, ref["name"])]
    authorization = secret_value(secret, ref["key"])
    token = authorization.removeprefix("Bearer ")
    assert authorization.startswith("Bearer ") and token
    assert token not in json.dumps(workflow), "the token is in the Workflow (UI, archive)"
    owners = secret["metadata"].get("ownerReferences") or []
    assert [(o["kind"], o["name"]) for o in owners] == [("Workflow", run["workflow_name"])]
    assert argo_errors(workflow) == []

    # The facade takes the Secret's header as it is (the agent sends it unchanged).
    path = f"/api/v1/pipeline-runs/{run['id']}/tools/announce"
    sent = cluster.client.post(path, content="built", headers={"Authorization": authorization})
    assert sent.status_code == 502, sent.text  # accepted; the webhook refused the message
    wrong = cluster.client.post(path, content="built", headers={"Authorization": "Bearer no"})
    assert wrong.status_code == 403


def test_only_the_agent_may_read_the_secret(cluster: Cluster) -> None:
    """The agent's account reads Secrets; the job pods (the tests' code) may not."""
    _, workflow = _start(cluster)
    settings = cluster.client.app.state.service.settings  # type: ignore[attr-defined]
    agent, pods = settings.agent_service_account, settings.service_account
    assert workflow["spec"]["serviceAccountName"] == agent
    scripts = [t for t in workflow["spec"]["templates"] if t.get("script")]
    assert scripts and all(t["serviceAccountName"] == pods for t in scripts)
    needs = pod_permissions(workflow)
    assert set(needs) == {agent, pods}
    assert set(needs[agent]) == {*AGENT_PERMISSIONS, *AGENT_SECRET_PERMISSIONS}
    assert set(needs[pods]) == set(EXECUTOR_PERMISSIONS)
    assert cluster.pod_denials([workflow]) == []
    secrets = [("job pods", p) for p in AGENT_SECRET_PERMISSIONS]
    assert cluster.model.check(pods, cluster.namespace, secrets), "job pods may read Secrets"
    assert cluster.facade_denials() == []


def test_a_scheduled_pipeline_runs_its_agent_apart_too(cluster: Cluster) -> None:
    """A schedule's CronWorkflow (Argo runs its workflows with the same spec): HTTP steps under
    the agent's account, the job pods under the workflow account, each granted what it needs."""
    client = cluster.client
    pipeline = rbac._pipeline(client, "health-check")
    created = client.post(
        "/api/v1/schedules", json={"pipeline_id": pipeline, "cron": "0 3 * * *"}, headers=AUTH
    )
    assert created.status_code == 201, created.text
    (cron,) = [
        c
        for c in cluster.argo.crons.values()
        if c["metadata"]["labels"].get(LABEL_SCHEDULE) == str(created.json()["id"])
    ]
    settings = client.app.state.service.settings  # type: ignore[attr-defined]
    spec = cron["spec"]["workflowSpec"]
    assert spec["serviceAccountName"] == settings.agent_service_account
    scripts = [t for t in spec["templates"] if t.get("script")]
    assert scripts and all(t["serviceAccountName"] == settings.service_account for t in scripts)
    assert cluster.pod_denials([cron]) == []
    assert argo_errors(cron) == []
