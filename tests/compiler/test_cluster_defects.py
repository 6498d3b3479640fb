"""Issue 12's compiler defects, each checked against what Argo's controller does with the
compiled document (the Argo source each test copies is named in its docstring)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from workflow_reading import dag_tasks, templates

from engine.backends.local import exprlang
from engine.compiler import CompileOptions, compile_plan
from engine.loading import parse_execution
from engine.planning import plan_execution
from tests.argo_reference import argo_errors


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
                        "threads": 2,
                        "continue_on_failure": True,
                        "scenarios": [{"id": "a0"}, {"id": "a1"}],
                    },
                    {"name": "second", "scenarios": [{"id": "b0"}]},
                ],
            }
        ],
    }
    doc.update(overrides)
    return doc


def _compile(doc: dict[str, Any], **options: Any) -> dict[str, Any]:
    compiled = compile_plan(plan_execution(parse_execution(doc)), CompileOptions(**options))
    workflow = compiled.workflow_dict()
    assert argo_errors(workflow) == []
    return workflow


def _retry_strategies(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: template["retryStrategy"]
        for name, template in templates(workflow).items()
        if "retryStrategy" in template
    }


def test_defect_11_infrastructure_retries_neither_pause_nor_bound_the_retry_window() -> None:
    """``processNodeRetries`` (workflow/controller/operator.go, v3.6 on) measures
    ``backoff.maxDuration`` from the first attempt's ``startedAt`` and fails the node once it
    has passed ("Max duration limit exceeded"): a 5-minute maxDuration meant no retry for any
    worker that ran 5 minutes. And it waits out ``backoff`` after any failed attempt with
    retries left before it reads the policy and the expression: a worker whose tests failed
    (exit 1, never retried) held its group for the delay. Neither is compiled."""
    strategies = _retry_strategies(_compile(_execution()))
    assert set(strategies) == {"setup-env", "worker"}
    for strategy in strategies.values():
        assert "backoff" not in strategy
        assert strategy["retryPolicy"] == "Always" and strategy["expression"]


def _retried(expression: str, status: str, exit_code: str, message: str) -> bool:
    scope = {
        "lastRetry.status": status,
        "lastRetry.exitCode": exit_code,
        "lastRetry.message": message,
    }
    return exprlang.eval_bool(expression, exprlang.build_env(scope))


@pytest.mark.parametrize(
    ("status", "exit_code", "message", "retried"),
    [
        # Evicted before the main container ran: inferFailedReason returns NodeFailed with the
        # pod's message, and no exit code (buildRetryStrategyLocalScope then says "-1").
        ("Failed", "-1", "The node was low on resource: memory.", True),
        # Evicted (or preempted, or drained) while running: the agent ends on SIGTERM.
        ("Failed", "143", "The node was low on resource: ephemeral-storage.", True),
        ("Failed", "137", "OOMKilled (exit code 137)", True),
        # Argo v3.7+ names the container (inferFailedReason); v3.6 does not.
        ("Failed", "137", "main: OOMKilled (exit code 137)", True),
        ("Error", "-1", "pod deleted", True),
        ("Failed", "1", "Error (exit code 1)", False),  # tests failed: the agent reran them
        ("Failed", "1", "main: Error (exit code 1)", False),
        ("Failed", "2", "Error (exit code 2)", False),  # a bad plan: retrying cannot help
        ("Failed", "143", "Pod was active on the node longer than the specified deadline", False),
    ],
)
def test_defect_12_evictions_are_retried_and_test_failures_are_not(
    status: str, exit_code: str, message: str, retried: bool
) -> None:
    """Argo marks an evicted pod ``Failed`` when the pod has a message (``inferFailedReason``
    in workflow/controller/operator.go), and ``retryPolicy: OnError`` never retries a Failed
    node (``processNodeRetries``). The policy is now ``Always`` with an expression, which
    ``processNodeRetries`` evaluates over ``lastRetry.*`` (``buildRetryStrategyLocalScope``)
    and stops on false; evaluated here with the local runner's expr-lang port."""
    for name, strategy in _retry_strategies(_compile(_execution())).items():
        assert strategy["retryPolicy"] == "Always", name
        assert _retried(strategy["expression"], status, exit_code, message) is retried, name


def _stand_in_pods(workflow: dict[str, Any], erroring_task: str) -> dict[str, Any]:
    """The compiled workflow with its DAGs as they are and tiny pods instead of the agent's:
    ``erroring_task``'s workers end in Argo's ``Error``, the others succeed."""
    spec = workflow["spec"]
    spec.pop("volumeClaimTemplates", None)
    spec.pop("volumes", None)
    pods = [{"name": "ok", "container": {"image": "alpine", "command": ["true"]}}]
    for name, template in templates(workflow).items():
        if "container" in template:
            pods.append(
                {
                    "name": name,
                    "inputs": {"parameters": template.get("inputs", {}).get("parameters", [])},
                    "container": {"image": "alpine", "command": ["true"]},
                }
            )
    # The wait container cannot save a required output: Argo's inferFailedReason makes a
    # failed wait container NodeError (workflow/controller/operator.go).
    pods.append(
        {
            "name": "cannot-save",
            "inputs": {"parameters": [{"name": "shard"}]},
            "outputs": {"artifacts": [{"name": "results", "path": "/tmp/drover/none.json"}]},
            "container": {"image": "alpine", "command": ["true"]},
        }
    )
    spec["templates"] = [t for t in spec["templates"] if "dag" in t] + pods[1:]
    for template in spec["templates"]:
        for task in template.get("dag", {}).get("tasks", []):
            if task["name"] == erroring_task:
                task["template"] = "cannot-save"
    return workflow


def test_defect_13_continue_on_failure_also_continues_after_an_errored_group(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A group whose workers end in ``Error`` is ``Errored`` to ``depends``
    (``evaluateDependsLogic`` in workflow/controller/dag.go fills ``TaskResults.Errored`` from
    ``NodeError``; a fan-out TaskGroup takes its failed-or-errored child's phase,
    ``completableTaskGroupPhase``), so ``.Succeeded || .Failed`` omitted the next group. The
    compiled DAGs run on the local runner, the port of dag.go."""
    from engine.backends.local import LocalBackend

    workflow = _compile(_execution())
    tasks = dag_tasks(workflow, "flow-alpha")
    assert tasks["second"]["depends"] == "(first.Succeeded || first.Failed || first.Errored)"
    monkeypatch.setenv("DROVER_HOME", str(tmp_path / "home"))
    ran = LocalBackend(tmp_path / "home").run(_stand_in_pods(workflow, "first"))
    phases = {n["displayName"]: n["phase"] for n in ran["status"]["nodes"].values()}
    assert phases["first"] == "Error"
    assert phases["second"] == "Succeeded"


def _titled(**overrides: Any) -> dict[str, Any]:
    doc = _execution(title="Nightly shop", **overrides)
    doc["flows"][0]["title"] = "Checkout journey"
    doc["flows"][0]["groups"][0]["title"] = "Smoke\ntests"
    return doc


def test_defect_18_scheduled_runs_keep_title_and_description() -> None:
    """Argo's ``toWorkflow`` (workflow/common/convert.go) builds a scheduled workflow's metadata
    from ``spec.workflowMetadata`` only (labels and annotations), not from the CronWorkflow's
    own annotations, so they must be in ``workflowMetadata``. The fake Argo's ``fire_cron``
    copies that function; the Argo UI reads ``workflows.argoproj.io/title``/``description``
    (ui/src/shared/annotations.ts)."""
    from tests.argo_backend.fake_argo import FakeArgo

    cron = _compile(_titled(schedule={"cron": ["0 2 * * *"]}))
    assert cron["kind"] == "CronWorkflow"
    spawned = cron["spec"]["workflowMetadata"]["annotations"]
    assert spawned == cron["metadata"]["annotations"]
    assert spawned["workflows.argoproj.io/title"] == "Nightly shop"
    fake = FakeArgo(validate_crd=False)
    cron["metadata"]["uid"] = "u-1"
    fake.crons[cron["metadata"]["name"]] = cron
    name = fake.fire_cron(cron["metadata"]["name"], 1_767_225_600)
    annotations = fake.workflows[name].obj["metadata"]["annotations"]
    assert annotations["workflows.argoproj.io/title"] == "Nightly shop"
    assert annotations["workflows.argoproj.io/description"].startswith("3 scenarios")


def test_defect_20_group_titles_reach_argo() -> None:
    """A ``DAGTask`` has no display name (pkg/apis/workflow/v1alpha1/workflow_types.go), so
    flow and group titles go into the description annotation, Markdown the Argo UI renders
    (ui/src/workflows/components/workflows-row/workflows-row.tsx)."""
    workflow = _compile(_titled())
    description = workflow["metadata"]["annotations"]["workflows.argoproj.io/description"]
    assert description.splitlines()[2:] == [
        "- alpha: Checkout journey",
        "  - first: Smoke tests",
    ]
    untitled = _compile(_execution())["metadata"]["annotations"]
    assert "\n" not in untitled["workflows.argoproj.io/description"]


def test_defect_4_pvc_claims_are_kept_for_retry_and_workers_prepare_a_new_one() -> None:
    """``deletePVCs`` (workflow/controller/operator.go) keeps ``OnWorkflowSuccess`` claims of
    a Failed/Error workflow, and after ``createNewRetryWorkflow`` (workflow/util/util.go)
    ``createPVCs`` reuses the claim the workflow owns; ``OnWorkflowCompletion`` deleted it and
    a retry ran on a new empty claim. A memoized resubmit always gets a new claim while
    setup-env stays Skipped (``FormulateResubmitWorkflow``): workers prepare it if needed.
    Run end to end in tests/local/test_workspace_claims.py."""
    workflow = _compile(_execution())
    assert workflow["spec"]["volumeClaimGC"] == {"strategy": "OnWorkflowSuccess"}
    assert "--prepare-if-missing" in templates(workflow)["worker"]["container"]["args"]
    artifact = _compile(_execution(workspace={"mode": "artifact"}))
    assert "--prepare-if-missing" not in templates(artifact)["worker"]["container"]["args"]


def test_defect_7_path_projects_are_refused_for_a_cluster(tmp_path: Any) -> None:
    """A ``path:`` project compiles to a ``hostPath`` of the compiling machine: on a cluster the
    node lacks it and Pod Security "baseline" forbids it. Compiled for a cluster (the Argo
    backend, ``drover compile --cluster``) it is refused naming ``project.path`` and the fix;
    the local runner keeps its read-only hostPath."""
    from typer.testing import CliRunner

    from engine.cli import app
    from engine.errors import SpecError

    doc = _execution(project={"name": "demo", "path": str(tmp_path)})
    with pytest.raises(SpecError) as refused:
        _compile(doc, cluster=True)
    assert refused.value.path == "project.path"
    assert "'repo'" in str(refused.value)
    local = _compile(doc)
    assert templates(local)["setup-env"]["volumes"][0]["hostPath"]["path"] == str(tmp_path)
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(doc))
    result = CliRunner().invoke(app, ["compile", str(spec), "--cluster"])
    assert result.exit_code == 2
    assert "project.path" in result.output and "Traceback" not in result.output


def _access_modes(doc: dict[str, Any]) -> list[str]:
    claims = _compile(doc)["spec"]["volumeClaimTemplates"]
    modes: list[str] = claims[0]["spec"]["accessModes"]
    return modes


def test_defect_8_parallel_workers_get_a_volume_many_nodes_can_mount() -> None:
    """A ReadWriteOnce volume attaches to one node; workers the scheduler puts elsewhere wait
    in ContainerCreating (Multi-Attach). Without an explicit ``access_mode`` a workspace that
    parallel workers share is ReadWriteMany; one worker at a time keeps ReadWriteOnce."""
    assert _access_modes(_execution()) == ["ReadWriteMany"]  # a group of 2 threads
    sequential = _execution()
    sequential["flows"][0]["groups"][0]["threads"] = 1
    assert _access_modes(sequential) == ["ReadWriteOnce"]
    two_flows = copy.deepcopy(sequential)
    two_flows["flows"].append({**sequential["flows"][0], "name": "beta", "groups": [
        {"name": "other", "scenarios": [{"id": "z0"}]}]})  # fmt: skip
    assert _access_modes(two_flows) == ["ReadWriteMany"]  # flows run in parallel
    chosen = _execution(workspace={"access_mode": "ReadWriteOnce"})
    assert _access_modes(chosen) == ["ReadWriteOnce"]  # the user's choice stands
