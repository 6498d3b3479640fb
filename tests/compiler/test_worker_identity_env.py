"""Each worker pod knows two names: its queue identity, the same for every pod retry of its shard
(``DROVER_WORKER``), and its pod (``DROVER_POD``), new for every retry. Both are built only from
variables Argo resolves in a container template's env; the manifests stay valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from workflow_reading import tags, templates, worker_pod_env

from engine.compiler import CompileOptions, compile_plan
from engine.compiler.pods import POD_ENV, WORKER_ENV
from engine.loading import parse_execution
from engine.planning import plan_execution
from tests.argo_reference import argo_errors

ROOT = Path(__file__).resolve().parents[2]
NAME = "demo-x7k2p"


def _execution(pod_retries: int = 2, **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "demo",
        "project": {"name": "demo", "repo": "https://example.com/demo.git"},
        "defaults": {"strategy": "queue", "pod_retries": pod_retries},
        "test_data": {"BASE_URL": "https://staging.example.com"},
        "flows": [
            {
                "name": "alpha",
                "groups": [
                    {"name": "first", "threads": 3, "scenarios": [{"id": f"a{i}"} for i in range(7)]},
                    {"name": "second", "threads": 2, "scenarios": [{"id": f"b{i}"} for i in range(4)]},
                ],
            },
            {"name": "beta", "groups": [{"name": "first", "threads": 2, "scenarios": [{"id": "c"}]}]},
        ],
    }  # fmt: skip
    doc.update(overrides)
    return doc


def _compile(doc: dict[str, Any]) -> dict[str, Any]:
    compiled = compile_plan(plan_execution(parse_execution(doc)), CompileOptions())
    workflow = compiled.workflow_dict()
    assert argo_errors(workflow) == []
    return workflow


WORKERS = [("alpha", "first", 3), ("alpha", "second", 2), ("beta", "first", 2)]


@pytest.mark.parametrize("pod_retries", [0, 2])
def test_a_retried_pod_keeps_the_queue_identity_and_gets_its_own_pod_name(
    pod_retries: int,
) -> None:
    workflow = _compile(_execution(pod_retries))
    identities = set()
    for flow, group, threads in WORKERS:
        for index in range(threads):
            first, retry = (
                worker_pod_env(workflow, flow, group, index, attempt, workflow_name=NAME)
                for attempt in (0, 1)
            )
            assert first[WORKER_ENV] == retry[WORKER_ENV] == f"{NAME}/{flow}.{group}/{index}"
            assert first[POD_ENV] != retry[POD_ENV]
            assert first[POD_ENV].startswith(f"{NAME}-worker")
            assert first["BASE_URL"] == "https://staging.example.com"
            identities.add(first[WORKER_ENV])
    # Groups of the same name in two flows, and every index, stay apart.
    assert len(identities) == sum(threads for _, _, threads in WORKERS)


def test_scheduled_runs_take_the_spawned_workflows_name() -> None:
    workflow = _compile(_execution(schedule={"cron": ["0 2 * * *"]}))
    assert workflow["kind"] == "CronWorkflow"
    spawned = f"{NAME}-1767225600"
    env = worker_pod_env(workflow, "beta", "first", 1, 0, workflow_name=spawned)
    assert env[WORKER_ENV] == f"{spawned}/beta.first/1"


def test_the_reusable_worker_template_sets_both_names() -> None:
    document = yaml.safe_load((ROOT / "templates" / "drover-worker.yaml").read_text())
    assert argo_errors(document) == []
    worker = templates(document)["worker"]
    env = {e["name"]: e.get("value", "") for e in worker["container"]["env"]}
    declared = {f"inputs.parameters.{p['name']}" for p in worker["inputs"]["parameters"]}
    # docs/variables.md: inputs.parameters.<NAME> (all templates), workflow.name (global);
    # pod.name (container/script templates).
    assert set(tags(env[WORKER_ENV])) <= {"workflow.name"} | declared
    assert "inputs.parameters.shard" in tags(env[WORKER_ENV])
    assert "pod.name" not in tags(env[WORKER_ENV])
    assert tags(env[POD_ENV]) == ["pod.name"]
