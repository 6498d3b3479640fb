"""Retries on the local runner as Argo's controller decides them (``processNodeRetries`` and
``retryStrategy`` in workflow/controller/operator.go, v3.6 on): the workflow's own
``retryStrategy`` for templates without one, the backoff waited out before the policy, the limit
or the expression is read, and the expression over ``retries`` and ``lastRetry.*`` alone."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.backends.local import LocalBackend
from engine.backends.local.operator import parse_time
from tests.local.conftest import nodes_by_name, shell_template, workflow_manifest


def _failing(code: int, **template: Any) -> dict[str, Any]:
    """A workflow whose one template exits ``code``."""
    return workflow_manifest([shell_template("main", f"exit {code}", **template)])


def test_the_workflows_retry_strategy_applies_to_a_template_without_one(
    backend: LocalBackend,
) -> None:
    workflow = backend.run(
        workflow_manifest([shell_template("main", "exit 1")], retryStrategy={"limit": 1})
    )
    nodes = nodes_by_name(workflow)
    root = nodes[workflow["metadata"]["name"]]
    assert root["type"] == "Retry" and root["phase"] == "Failed"
    assert root["message"] == "No more retries left"
    attempts = [nodes[f"{root['name']}({i})"] for i in range(2)]
    assert [(a["type"], a["phase"]) for a in attempts] == [("Pod", "Failed")] * 2


def test_an_empty_retry_strategy_retries_until_an_attempt_succeeds(
    backend: LocalBackend, tmp_path: Path
) -> None:
    """``retryStrategy: {}`` is a strategy (Argo tests the pointer, ``woc.retryStrategy``) with
    no limit: Argo's retry-container-to-completion example."""
    tries = tmp_path / "tries"
    template = shell_template(
        "main", f"echo x >> {tries}; [ $(wc -l < {tries}) -ge 3 ]", retryStrategy={}
    )
    template["container"]["volumeMounts"] = [{"name": "host", "mountPath": str(tmp_path)}]
    volumes = [{"name": "host", "hostPath": {"path": str(tmp_path)}}]
    workflow = backend.run(workflow_manifest([template], volumes=volumes))
    nodes = nodes_by_name(workflow)
    root = nodes[workflow["metadata"]["name"]]
    assert (root["type"], root["phase"]) == ("Retry", "Succeeded")
    phases = [nodes[f"{root['name']}({i})"]["phase"] for i in range(3)]
    assert phases == ["Failed", "Failed", "Succeeded"]


def test_the_backoff_is_waited_out_even_when_the_policy_retries_nothing(
    backend: LocalBackend,
) -> None:
    """``retryPolicy: OnError`` never retries a Failed attempt, yet with a retry left the node
    waits for the backoff first and fails once it has passed."""
    strategy = {"limit": 2, "retryPolicy": "OnError", "backoff": {"duration": "2s"}}
    workflow = backend.run(_failing(1, retryStrategy=strategy))
    nodes = nodes_by_name(workflow)
    root = nodes[workflow["metadata"]["name"]]
    attempt = nodes[f"{root['name']}(0)"]
    assert root["phase"] == "Failed" and len(root["children"]) == 1
    assert root.get("message", "") == attempt.get("message", "")  # the attempt's, no "Backoff"
    waited = parse_time(root["finishedAt"]) - parse_time(attempt["finishedAt"])
    assert waited >= 1  # whole seconds on both sides of a 2 s backoff


def test_the_expression_sees_the_retries_so_far(backend: LocalBackend) -> None:
    strategy = {"limit": 5, "retryPolicy": "Always", "expression": "asInt(retries) < 1"}
    workflow = backend.run(_failing(3, retryStrategy=strategy))
    root = nodes_by_name(workflow)[workflow["metadata"]["name"]]
    assert len(root["children"]) == 2  # retries is 0 after the first attempt, 1 after the second
    assert root["phase"] == "Failed"
    assert root["message"] == "retryStrategy.expression evaluated to false"


def test_the_limit_is_read_before_the_expression(backend: LocalBackend) -> None:
    strategy = {"limit": 1, "retryPolicy": "Always", "expression": "true"}
    workflow = backend.run(_failing(1, retryStrategy=strategy))
    root = nodes_by_name(workflow)[workflow["metadata"]["name"]]
    assert len(root["children"]) == 2 and root["message"] == "No more retries left"


def test_an_expression_that_cannot_be_evaluated_errors_the_retry_node(
    backend: LocalBackend,
) -> None:
    """Argo's ``EvalBool`` error reaches ``executeTemplate``, which errors the node with it;
    only ``retries`` and ``lastRetry.*`` are in scope, nothing of the workflow's."""
    strategy = {"limit": 3, "expression": "workflow.name == 'x'"}
    workflow = backend.run(_failing(1, retryStrategy=strategy))
    root = nodes_by_name(workflow)[workflow["metadata"]["name"]]
    assert root["phase"] == "Error" and len(root["children"]) == 1
    assert workflow["status"]["phase"] in ("Error", "Failed")


def test_an_attempt_cut_by_the_workflow_deadline_is_not_retried(backend: LocalBackend) -> None:
    """Past ``activeDeadlineSeconds`` the failed attempt ends the Retry node with its phase and
    "retry exceeded workflow deadline <deadline>" (the deadline printed as Go prints a UTC
    ``time.Time``), retries left or not."""
    workflow = backend.run(
        workflow_manifest(
            [shell_template("main", "sleep 9", retryStrategy={"limit": 3})],
            activeDeadlineSeconds=1,
        )
    )
    nodes = nodes_by_name(workflow)
    root = nodes[workflow["metadata"]["name"]]
    assert root["type"] == "Retry" and len(root["children"]) == 1
    deadline = parse_time(workflow["status"]["startedAt"]) + 1
    printed = time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(deadline))
    assert (root["phase"], root["message"]) == (
        "Failed",
        f"retry exceeded workflow deadline {printed}",
    )


def test_a_hook_child_of_a_retry_node_is_no_attempt(backend: LocalBackend) -> None:
    """A retried template's lifecycle hook is a child of its Retry node; only the children
    flagged ``retried`` are attempts (``getChildNodeIdsAndLastRetriedNode``): the limit, the
    expression's ``retries`` and the node's phase read those, never the hook."""
    strategy = {"limit": 3, "retryPolicy": "Always", "expression": "asInt(retries) < 2"}
    workflow = backend.run(
        workflow_manifest(
            [shell_template("main", "exit 1", retryStrategy=strategy), shell_template("hook", "")],
            hooks={"running": {"template": "hook", "expression": 'workflow.status == "Running"'}},
        )
    )
    nodes = nodes_by_name(workflow)
    name = workflow["metadata"]["name"]
    root, hook = nodes[name], nodes[f"{name}.hooks.running"]
    assert hook["phase"] == "Succeeded" and hook["nodeFlag"] == {"hooked": True}
    attempts = [nodes[f"{name}({i})"] for i in range(3)]
    assert [(a["phase"], a["nodeFlag"]) for a in attempts] == [("Failed", {"retried": True})] * 3
    assert sorted(root["children"]) == sorted([hook["id"], *(a["id"] for a in attempts)])
    assert (root["phase"], root["message"]) == (
        "Failed",
        "retryStrategy.expression evaluated to false",
    )
    assert workflow["status"]["phase"] == "Failed"
