"""The compiled Workflow has DESIGN.md's shape, read back from the manifest, not string-matched."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from workflow_reading import all_strings, dag_tasks, templates, workflow_spec

from engine.compiler import CompileOptions, compile_plan
from engine.loading import load_execution, parse_execution
from engine.planning import plan_execution
from tests.argo_reference import argo_errors


def _compile(execution_doc: dict[str, Any], **options: Any) -> tuple[dict[str, Any], list[Any]]:
    compiled = compile_plan(
        plan_execution(parse_execution(execution_doc)), CompileOptions(**options)
    )
    return compiled.workflow_dict(), compiled.configmaps


def _execution(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": "demo",
        "project": {"name": "demo", "repo": "https://example.com/demo.git"},
        "flows": [
            {
                "name": "alpha",
                "groups": [
                    {
                        "name": "first",
                        "threads": 3,
                        "continue_on_failure": True,
                        "scenarios": [{"id": f"a{i}", "duration": i + 1} for i in range(7)],
                    },
                    {
                        "name": "second",
                        "threads": 2,
                        "scenarios": [{"id": f"b{i}"} for i in range(4)],
                    },
                    {"name": "third", "threads": 1, "scenarios": [{"id": "c0"}]},
                ],
            },
            {
                "name": "beta",
                "groups": [
                    {"name": "only", "threads": 4, "scenarios": [{"id": f"d{i}"} for i in range(9)]}
                ],
            },
        ],
    }
    doc.update(overrides)
    return doc


def test_main_dag_runs_setup_then_all_flows_in_parallel() -> None:
    workflow, _ = _compile(_execution())
    spec = workflow_spec(workflow)
    assert spec["entrypoint"] == "main"
    main = dag_tasks(workflow, "main")
    assert set(main) == {"setup-env", "alpha", "beta"}
    assert "depends" not in main["setup-env"]
    assert main["alpha"]["depends"] == main["beta"]["depends"] == "setup-env"
    assert main["alpha"]["template"] == "flow-alpha"


def test_groups_chain_in_order_and_continue_on_failure_accepts_failed() -> None:
    workflow, _ = _compile(_execution())
    tasks = dag_tasks(workflow, "flow-alpha")
    assert list(tasks) == ["first", "second", "third"]
    assert "depends" not in tasks["first"]
    assert tasks["second"]["depends"] == "(first.Succeeded || first.Failed || first.Errored)"
    assert tasks["third"]["depends"] == "second.Succeeded"
    # whether a failure halts the flow is decided by depends, not by failFast
    assert templates(workflow)["flow-alpha"]["dag"]["failFast"] is False


def test_each_group_is_one_task_fanned_out_over_its_threads() -> None:
    workflow, _ = _compile(_execution())
    widths = {
        (flow, name): int(task["withSequence"]["count"])
        for flow in ("flow-alpha", "flow-beta")
        for name, task in dag_tasks(workflow, flow).items()
    }
    assert widths == {
        ("flow-alpha", "first"): 3,
        ("flow-alpha", "second"): 2,
        ("flow-alpha", "third"): 1,
        ("flow-beta", "only"): 4,
    }
    shard_args = [
        p["value"] for p in dag_tasks(workflow, "flow-beta")["only"]["arguments"]["parameters"]
    ]
    assert shard_args == ["beta.only/{{item}}"]


def test_cleanup_is_the_exit_handler_and_sees_the_workflow_status() -> None:
    workflow, _ = _compile(_execution())
    spec = workflow_spec(workflow)
    assert spec["onExit"] == "cleanup"
    assert "{{workflow.status}}" in templates(workflow)["cleanup"]["container"]["args"]


def test_secrets_are_references_and_plain_data_are_parameters() -> None:
    secret_value = "s3cr3t-never-in-manifest"
    doc = _execution(
        test_data={
            "BASE_URL": "https://staging.example.com",
            "TOKEN": {"secret": {"name": "demo-secrets", "key": "token"}},
        }
    )
    workflow, configmaps = _compile(doc)
    spec = workflow_spec(workflow)
    assert spec["arguments"]["parameters"] == [
        {"name": "BASE_URL", "value": "https://staging.example.com"}
    ]
    worker_env = {e["name"]: e for e in templates(workflow)["worker"]["container"]["env"]}
    assert worker_env["TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "demo-secrets",
        "key": "token",
    }
    assert "value" not in worker_env["TOKEN"]
    assert worker_env["BASE_URL"]["value"] == "{{workflow.parameters.BASE_URL}}"
    assert secret_value not in json.dumps([workflow, configmaps])


def test_labels_annotations_and_limits() -> None:
    doc = _execution(
        title="Nightly demo",
        limits={
            "parallelism": 5,
            "deadline": "2h",
            "priority": 7,
            "semaphore": "drover-limits/nightly",
        },
    )
    workflow, _ = _compile(doc, run_id="run-123", cluster=True)
    meta = workflow["metadata"]
    assert meta["generateName"] == "demo-"
    assert meta["labels"]["drover.dev/execution"] == "demo"
    assert meta["labels"]["drover.dev/run-id"] == "run-123"
    assert meta["annotations"]["workflows.argoproj.io/title"] == "Nightly demo"
    spec = workflow_spec(workflow)
    assert spec["parallelism"] == 5
    assert spec["activeDeadlineSeconds"] == 7200
    assert spec["priority"] == 7
    assert spec["podGC"]["strategy"] == "OnPodSuccess"
    assert spec["ttlStrategy"]["secondsAfterCompletion"] > 0
    assert spec["synchronization"]["semaphores"][0]["configMapKeyRef"] == {
        "name": "drover-limits",
        "key": "nightly",
    }
    # The local runner has no such ConfigMap (Argo would error the workflow): not for it.
    local, _ = _compile(doc, run_id="run-123")
    assert "synchronization" not in workflow_spec(local)


def test_pvc_workspace_is_a_claim_template_collected_with_the_workflow() -> None:
    doc = _execution(
        workspace={
            "mode": "pvc",
            "size": "5Gi",
            "storage_class": "nfs",
            "access_mode": "ReadWriteMany",
        }
    )
    workflow, _ = _compile(doc)
    spec = workflow_spec(workflow)
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "workspace"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["storageClassName"] == "nfs"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert spec["volumeClaimGC"]["strategy"] == "OnWorkflowSuccess"  # kept for retry
    for name in ("setup-env", "worker"):
        mounts = templates(workflow)[name]["container"]["volumeMounts"]
        assert {"name": "workspace", "mountPath": "/workspace"} in mounts


def test_artifact_workspace_flows_from_setup_to_every_worker() -> None:
    workflow, _ = _compile(_execution(workspace={"mode": "artifact"}))
    spec = workflow_spec(workflow)
    assert "volumeClaimTemplates" not in spec
    setup = templates(workflow)["setup-env"]
    assert setup["outputs"]["artifacts"][0]["name"] == "workspace"
    main = dag_tasks(workflow, "main")
    assert main["alpha"]["arguments"]["artifacts"][0]["from"] == (
        "{{tasks.setup-env.outputs.artifacts.workspace}}"
    )
    group = dag_tasks(workflow, "flow-alpha")["first"]
    assert group["arguments"]["artifacts"][0]["from"] == "{{inputs.artifacts.workspace}}"
    worker = templates(workflow)["worker"]
    assert worker["inputs"]["artifacts"][0]["name"] == "workspace"
    assert "--unpack" in worker["container"]["args"]


def test_worker_retry_strategy_and_timeouts_per_group() -> None:
    doc = _execution()
    doc["flows"][0]["groups"][1]["timeout"] = "10m"
    doc["flows"][0]["groups"][1]["pod_retries"] = 4
    workflow, _ = _compile(doc)
    by_task = {
        name: templates(workflow)[task["template"]]
        for name, task in dag_tasks(workflow, "flow-alpha").items()
    }
    assert by_task["second"]["activeDeadlineSeconds"] == 600
    assert by_task["second"]["retryStrategy"]["limit"] == 4
    assert by_task["first"]["retryStrategy"]["limit"] == 2
    assert by_task["first"]["retryStrategy"]["retryPolicy"] == "Always"  # the expression decides
    assert "activeDeadlineSeconds" not in by_task["first"]


def test_plan_configmaps_hold_every_scenario_in_worker_order() -> None:
    workflow, configmaps = _compile(_execution())
    files: dict[str, Any] = {}
    for configmap in configmaps:
        for name, text in configmap.get("data", {}).items():
            files[name] = json.loads(text)
        for name, blob in configmap.get("binaryData", {}).items():
            files[name.removesuffix(".gz")] = json.loads(gzip.decompress(base64.b64decode(blob)))
    assert files["run.json"]["project"]["repo"] == "https://example.com/demo.git"
    first = files["alpha.first.json"]
    assert len(first["workers"]) == 3
    ids = sorted(s["id"] for w in first["workers"].values() for s in w)
    assert ids == sorted(f"a{i}" for i in range(7))
    projected = workflow_spec(workflow)["volumes"][0]["projected"]["sources"]
    assert [s["configMap"]["name"] for s in projected] == [
        c["metadata"]["name"] for c in configmaps
    ]


def test_schedule_compiles_to_a_cron_workflow(shop_execution_path: Path) -> None:
    execution = load_execution(shop_execution_path)
    compiled = compile_plan(plan_execution(execution))
    cron = compiled.workflow_dict()
    assert cron["kind"] == "CronWorkflow"
    assert cron["spec"]["schedules"] == ["0 2 * * 1-5"]
    assert cron["spec"]["timezone"] == "Europe/Berlin"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    assert cron["spec"]["workflowSpec"]["onExit"] == "cleanup"
    # The controller creates every workflow it spawns with spec.workflowMetadata, which is
    # how the mirror recognises scheduled runs; a suspended schedule suspends the cron only.
    spawned_labels = cron["spec"]["workflowMetadata"]["labels"]
    assert spawned_labels["drover.dev/execution"] == "shop-regression"
    assert "suspend" not in cron["spec"] and "suspend" not in cron["spec"]["workflowSpec"]
    paused = execution.model_copy(
        update={"schedule": execution.schedule.model_copy(update={"suspend": True})}
    )
    paused_cron = compile_plan(plan_execution(paused)).workflow_dict()
    assert paused_cron["spec"]["suspend"] is True
    assert "suspend" not in paused_cron["spec"]["workflowSpec"]
    single = compile_plan(plan_execution(execution), CompileOptions(schedule=False))
    assert single.kind == "Workflow"


@pytest.mark.parametrize("mode", ["pvc", "artifact"])
def test_compiled_documents_pass_argo_schema_and_crd(mode: str) -> None:
    doc = _execution(
        workspace={"mode": mode},
        test_data={"A": "1", "S": {"secret": {"name": "s", "key": "k"}}},
        schedule={"cron": ["*/15 * * * *"], "timezone": "UTC"},
        limits={"parallelism": 3, "deadline": 600, "priority": 1, "semaphore": "limits/demo"},
    )
    for schedule in (True, False):
        workflow, _ = _compile(doc, schedule=schedule, run_id="r1", namespace="tests")
        assert argo_errors(workflow) == []


def test_shop_example_passes_argo_validation(shop_execution_path: Path) -> None:
    compiled = compile_plan(plan_execution(load_execution(shop_execution_path)))
    assert argo_errors(compiled.workflow_dict()) == []
    assert all("never" not in s for s in all_strings(compiled.configmaps))


@pytest.mark.parametrize("pod_retries", [0, 2])
def test_retries_variable_only_where_argo_defines_it(pod_retries: int) -> None:
    """Argo's validator puts ``{{retries}}`` in scope only for templates with a retryStrategy
    and refuses the workflow otherwise ("failed to resolve {{retries}}")."""
    workflow, _ = _compile(_execution(defaults={"pod_retries": pod_retries}))
    for template in templates(workflow).values():
        uses_retries = "{{retries}}" in json.dumps(template)
        assert not uses_retries or "retryStrategy" in template, template["name"]
    worker_args = [
        arg
        for t in templates(workflow).values()
        if t["name"].startswith("worker")
        for arg in t["container"]["args"]
    ]
    assert ("--attempt" in worker_args) == bool(pod_retries)
