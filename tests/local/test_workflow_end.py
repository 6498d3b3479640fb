"""How a workflow ends on the local runner, as Argo's ``operate`` (workflow/controller/operator.go)
ends it: ``workflow.status`` and ``workflow.failures`` are the entrypoint's before the
workflow-level hooks run, so a hook on the final status runs and the workflow waits for it; the
workflow's message is its entrypoint node's; ``{{pod.name}}`` is the pod Argo would create."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.backends.argo.pod_names import pod_name
from engine.backends.local import LocalBackend
from engine.errors import SpecError
from tests.local.conftest import nodes_by_name, shell_template, workflow_manifest


def test_a_workflow_hook_on_its_final_status_runs_before_it_ends(backend: LocalBackend) -> None:
    """``TestWorkflowLevelHooksFailVersion`` (test/e2e/hooks_test.go) expects the hook node."""
    hooks = {"failed": {"expression": 'workflow.status == "Failed"', "template": "hook"}}
    done = backend.run(
        workflow_manifest(
            [shell_template("main", "exit 1"), shell_template("hook", "echo hooked")], hooks=hooks
        )
    )
    nodes = nodes_by_name(done)
    name = done["metadata"]["name"]
    assert nodes[f"{name}.hooks.failed"]["phase"] == "Succeeded"
    assert done["status"]["phase"] == "Failed"


def test_the_workflows_exit_handler_node_alone_is_flagged_hooked(backend: LocalBackend) -> None:
    """Argo's ``operate`` runs ``spec.onExit`` with ``nodeFlag: {Hooked: true}``: its node is
    flagged, the nodes under it are not (their steps pass no flag)."""
    exit_steps = {"name": "exit", "steps": [[{"name": "tell", "template": "tell"}]]}
    done = backend.run(
        workflow_manifest(
            [shell_template("main", "true"), exit_steps, shell_template("tell", "true")],
            onExit="exit",
        )
    )
    nodes = nodes_by_name(done)
    name = done["metadata"]["name"]
    assert nodes[f"{name}.onExit"]["nodeFlag"] == {"hooked": True}
    assert [n.get("nodeFlag") for n in nodes.values() if n["name"] != f"{name}.onExit"] == [
        None
    ] * (len(nodes) - 1)


def test_workflow_failures_lists_every_failed_node_quoted_for_substitution(
    backend: LocalBackend,
) -> None:
    dag = {
        "name": "main",
        "dag": {"tasks": [{"name": "a", "template": "fail"}]},
    }
    report = shell_template("report", "echo {{workflow.failures}}")
    done = backend.run(
        workflow_manifest([dag, shell_template("fail", "exit 3"), report], onExit="report")
    )
    name = done["metadata"]["name"]
    nodes = nodes_by_name(done)
    logged = "".join(line.content for line in backend.logs(name, node=f"{name}.onExit"))
    listed = json.loads(logged)
    assert {f["displayName"] for f in listed} == {"a", name}  # the pod and the DAG that failed
    task = nodes[f"{name}.a"]
    (entry,) = [f for f in listed if f["displayName"] == "a"]
    assert entry["podName"] == pod_name(done, task) == f"{name}-fail-{task['id'].rsplit('-', 1)[1]}"
    assert (entry["templateName"], entry["phase"]) == ("fail", "Failed")
    # Argo's message is the entrypoint node's: a failed DAG has none.
    assert done["status"]["phase"] == "Failed" and not done["status"].get("message")


def test_pod_name_is_the_pod_argo_would_create(backend: LocalBackend) -> None:
    retried = shell_template("again", "echo {{pod.name}}; exit 1", retryStrategy={"limit": 1})
    steps = {
        "name": "main",
        "steps": [
            [{"name": "once", "template": "once"}],
            [{"name": "again", "template": "again", "continueOn": {"failed": True}}],
        ],
    }
    done = backend.run(
        workflow_manifest([steps, shell_template("once", "echo {{pod.name}}"), retried])
    )
    name = done["metadata"]["name"]
    for node in nodes_by_name(done).values():
        if node["type"] != "Pod":
            continue
        logged = "".join(line.content for line in backend.logs(name, node=node["id"]))
        assert logged.strip() == pod_name(done, node), node["name"]


def test_a_dag_has_neither_timeout_nor_active_deadline(backend: LocalBackend) -> None:
    """``validateTemplate`` (workflow/validate/validate.go) refuses ``timeout`` on a template
    that runs nothing itself, and ``validateNonLeaf`` its ``activeDeadlineSeconds``."""
    dag = {"name": "main", "dag": {"tasks": [{"name": "a", "template": "slow"}]}}
    with pytest.raises(SpecError, match=r"templates\[0\]\.timeout.*DAG template doesn't support"):
        backend.run(
            workflow_manifest([{**dag, "timeout": "1s"}, shell_template("slow", "sleep 2")])
        )
    with pytest.raises(
        SpecError,
        match=r"templates\[0\]\.activeDeadlineSeconds: templates\.main\.activeDeadlineSeconds "
        "is only valid for leaf templates",
    ):
        backend.run(
            workflow_manifest(
                [{**dag, "activeDeadlineSeconds": 1}, shell_template("slow", "sleep 2")]
            )
        )


def test_a_task_waits_for_the_hooks_its_dependency_started(backend: LocalBackend) -> None:
    """``evaluateDependsLogic`` (dag.go) also waits for every hook node a dependency started
    (``CheckAllHooksFullfilled``): B starts after A's running hook ended, not after A."""
    hooks = {"running": {"expression": 'tasks.A.status == "Running"', "template": "slow"}}
    tasks = [
        {"name": "A", "template": "quick", "hooks": hooks},
        {"name": "B", "template": "quick", "depends": "A"},
    ]
    templates = [
        {"name": "main", "dag": {"tasks": tasks}},
        shell_template("quick", "sleep 1"),
        shell_template("slow", "sleep 2"),
    ]
    done = backend.run(workflow_manifest(templates))
    nodes = nodes_by_name(done)
    name = done["metadata"]["name"]
    hook = nodes[f"{name}.A.hooks.running"]
    assert hook["nodeFlag"] == {"hooked": True} and hook["phase"] == "Succeeded"
    assert nodes[f"{name}.B"]["startedAt"] >= hook["finishedAt"]


def test_an_exit_hook_runs_only_when_its_expression_holds(backend: LocalBackend) -> None:
    """``runOnExitNode`` (exit_handler.go) evaluates the exit hook's ``expression`` first."""
    hooks = {
        "exit": {"expression": 'tasks.ok.status == "Failed"', "template": "quick"},
    }
    failed_only = {"exit": {"expression": 'tasks.bad.status == "Failed"', "template": "quick"}}
    tasks = [
        {"name": "ok", "template": "quick", "hooks": hooks},
        {"name": "bad", "template": "fail", "hooks": failed_only},
    ]
    templates = [
        {"name": "main", "dag": {"tasks": tasks}},
        shell_template("quick", "true"),
        shell_template("fail", "exit 1"),
    ]
    done = backend.run(workflow_manifest(templates))
    nodes = nodes_by_name(done)
    name = done["metadata"]["name"]
    assert f"{name}.ok.onExit" not in nodes
    assert nodes[f"{name}.bad.onExit"]["phase"] == "Succeeded"


def test_a_pods_result_is_kept_only_where_its_caller_refers_to_it(backend: LocalBackend) -> None:
    """``includeScriptOutput`` (operator.go): the executor keeps stdout as ``outputs.result``
    only when the calling template refers to it (``hasOutputResultRef``)."""
    tasks = [
        {"name": "a", "template": "say"},
        {"name": "c", "template": "say"},
        {
            "name": "b",
            "template": "say",
            "depends": "a",
            "arguments": {"parameters": [{"name": "v", "value": "{{tasks.a.outputs.result}}"}]},
        },
    ]
    say = {
        "name": "say",
        "inputs": {"parameters": [{"name": "v", "value": "hi"}]},
        "script": {"image": "alpine", "command": ["sh"], "source": "echo {{inputs.parameters.v}}"},
    }
    done = backend.run(workflow_manifest([{"name": "main", "dag": {"tasks": tasks}}, say]))
    nodes = nodes_by_name(done)
    name = done["metadata"]["name"]
    assert nodes[f"{name}.a"]["outputs"]["result"] == "hi"
    assert "result" not in nodes[f"{name}.c"]["outputs"]
    assert nodes[f"{name}.b"]["inputs"]["parameters"][0]["value"] == "hi"


def test_template_parallelism_counts_pods_steps_and_dags_not_suspends(
    backend: LocalBackend,
) -> None:
    """A template's ``parallelism`` counts its active pods, steps and DAGs
    (``getActiveChildren``, node_counters.go): a running suspend takes no slot."""
    tasks = [{"name": "wait", "template": "pause"}, {"name": "work", "template": "quick"}]
    templates = [
        {"name": "main", "parallelism": 1, "dag": {"tasks": tasks}},
        {"name": "pause", "suspend": {"duration": "2"}},
        shell_template("quick", "true"),
    ]
    done = backend.run(workflow_manifest(templates))
    nodes = nodes_by_name(done)
    name = done["metadata"]["name"]
    assert done["status"]["phase"] == "Succeeded"
    assert nodes[f"{name}.work"]["finishedAt"] < nodes[f"{name}.wait"]["finishedAt"]


def test_a_global_output_set_again_keeps_its_place(backend: LocalBackend) -> None:
    """``AddParamToGlobalScope`` (workflow/util/util.go) updates an existing global output in
    place: ``first`` stays first although the last step sets it again."""

    def setting(name: str, value: str) -> dict[str, Any]:
        return {
            "name": name,
            "script": {"image": "alpine", "command": ["sh"], "source": f"echo -n {value} > /tmp/v"},
            "outputs": {
                "parameters": [
                    {
                        "name": "v",
                        "globalName": value.split("-")[0],
                        "valueFrom": {"path": "/tmp/v"},
                    }
                ]
            },
        }

    steps = [
        [{"name": "a", "template": "first"}],
        [{"name": "b", "template": "second"}],
        [{"name": "c", "template": "again"}],
    ]
    templates = [
        {"name": "main", "steps": steps},
        setting("first", "first-1"),
        setting("second", "second-1"),
        setting("again", "first-2"),
    ]
    done = backend.run(workflow_manifest(templates))
    assert done["status"]["outputs"]["parameters"] == [
        {"name": "first", "value": "first-2"},
        {"name": "second", "value": "second-1"},
    ]
