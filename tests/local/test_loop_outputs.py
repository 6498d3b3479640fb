"""A loop's aggregated outputs on the local runner as Argo's ``processAggregateNodeOutputs``
(workflow/controller/operator.go) builds them: iterations in loop-index order (``loopNodes``
sorts by ``parseLoopIndex``, not by name), only those that Succeeded, each result as its JSON
value, and a parameter's list decoded only when every value is a JSON object or list
(``aggregatedJSONValueList``)."""

from __future__ import annotations

import json
from typing import Any

from engine.backends.local import LocalBackend
from engine.backends.local.scope import aggregate_output_scope
from tests.local.conftest import nodes_by_name, shell_template, workflow_manifest


def _steps(gen: dict[str, Any], show: str, template: dict[str, Any]) -> dict[str, Any]:
    steps = [
        [{"name": "gen", "template": "gen", **gen}],
        [
            {
                "name": "show",
                "template": "show",
                "arguments": {"parameters": [{"name": "v", "value": show}]},
            }
        ],
    ]
    return workflow_manifest(
        [
            {"name": "main", "steps": steps},
            {"name": "gen", "inputs": {"parameters": [{"name": "n"}]}, **template},
            {
                "name": "show",
                "inputs": {"parameters": [{"name": "v"}]},
                "container": {"image": "alpine", "command": ["echo", "{{inputs.parameters.v}}"]},
            },
        ]
    )


def _shown(backend: LocalBackend, workflow: dict[str, Any]) -> Any:
    done = backend.run(workflow)
    show = next(n for n in nodes_by_name(done).values() if n["displayName"] == "show")
    return json.loads(show["inputs"]["parameters"][0]["value"])


def test_twelve_iterations_aggregate_in_loop_index_order(backend: LocalBackend) -> None:
    template = {
        "container": {
            "image": "alpine",
            "command": [
                "sh",
                "-c",
                "echo {{inputs.parameters.n}} > /tmp/v-{{inputs.parameters.n}}",
            ],
        },
        "outputs": {
            "parameters": [{"name": "v", "valueFrom": {"path": "/tmp/v-{{inputs.parameters.n}}"}}]
        },
    }
    gen = {
        "arguments": {"parameters": [{"name": "n", "value": "{{item}}"}]},
        "withSequence": {"count": "12"},
    }
    shown = _shown(backend, _steps(gen, "{{steps.gen.outputs.parameters.v}}", template))
    assert shown == [str(i) for i in range(12)]


def test_only_succeeded_iterations_count_and_results_are_json_values(
    backend: LocalBackend,
) -> None:
    template = {
        "script": {
            "image": "alpine",
            "command": ["sh"],
            "source": "echo {{inputs.parameters.n}}\n[ {{inputs.parameters.n}} != 3 ]\n",
        }
    }
    gen = {
        "arguments": {"parameters": [{"name": "n", "value": "{{item}}"}]},
        "withItems": [1, 2, 3],
        "continueOn": {"failed": True},
    }
    assert _shown(backend, _steps(gen, "{{steps.gen.outputs.result}}", template)) == [1, 2]


def _child(name: str, phase: str, **outputs: Any) -> dict[str, Any]:
    return {"name": name, "phase": phase, "outputs": outputs}


def test_parameter_lists_decode_only_objects_and_lists() -> None:
    objects = [
        _child("t(1:b)", "Succeeded", parameters=[{"name": "p", "value": '{"b": 2}'}]),
        _child("t(0:a)", "Succeeded", parameters=[{"name": "p", "value": '{"a": 1}'}]),
    ]
    scope = aggregate_output_scope("tasks.t", objects)
    assert json.loads(scope["tasks.t.outputs.parameters.p"]) == [{"a": 1}, {"b": 2}]
    numbers = [_child(f"t({i})", "Succeeded", parameters=[{"name": "p", "value": str(i)}])
               for i in range(2)]  # fmt: skip
    assert json.loads(
        aggregate_output_scope("tasks.t", numbers)["tasks.t.outputs.parameters.p"]
    ) == [
        "0",
        "1",
    ]
    hooked = {**_child("t(2)", "Succeeded", result="9"), "nodeFlag": {"hooked": True}}
    assert aggregate_output_scope("tasks.t", [hooked])["tasks.t.outputs.result"] == "[]"
    assert aggregate_output_scope("tasks.t", []) == {}


def test_a_dag_task_over_an_empty_list_is_skipped(backend: LocalBackend) -> None:
    """``executeDAGTask`` (dag.go): no items, no TaskGroup — a Skipped node, "Skipped, empty
    params", after which its dependents run."""
    tasks = [
        {"name": "none", "template": "echo", "withParam": "[]"},
        {"name": "after", "template": "echo", "depends": "none"},
    ]
    templates = [{"name": "main", "dag": {"tasks": tasks}}, shell_template("echo", "true")]
    done = backend.run(workflow_manifest(templates))
    nodes = nodes_by_name(done)
    name = done["metadata"]["name"]
    skipped = nodes[f"{name}.none"]
    assert (skipped["type"], skipped["phase"]) == ("Skipped", "Skipped")
    assert skipped["message"] == "Skipped, empty params"
    assert nodes[f"{name}.after"]["phase"] == "Succeeded"
    assert done["status"]["phase"] == "Succeeded"


GO_NOT_JSON = "invalid character 'h' looking for beginning of value"
"""What Go's json.Unmarshal says of ``hello`` (encoding/json/scanner.go, stateBeginValue)."""


def test_a_result_that_is_not_json_errors_the_steps_node(backend: LocalBackend) -> None:
    """``executeSteps`` (steps.go) returns the aggregation's error: the steps node is Error
    with Go's decoding message, and the step that would have used the list never runs."""
    template = {"script": {"image": "alpine", "command": ["sh"], "source": "echo hello\n"}}
    gen = {"arguments": {"parameters": [{"name": "n", "value": "{{item}}"}]}, "withItems": [1]}
    done = backend.run(_steps(gen, "{{steps.gen.outputs.result}}", template))
    nodes = nodes_by_name(done)
    main = nodes[done["metadata"]["name"]]
    assert (main["phase"], main["message"]) == ("Error", GO_NOT_JSON)
    assert not [n for n in nodes.values() if n["displayName"] == "show"]
    assert done["status"]["phase"] == "Error"


def test_a_result_that_is_not_json_errors_every_dependent_dag_task(backend: LocalBackend) -> None:
    """``buildLocalScopeFromTask`` (dag.go) aggregates every fanned-out ancestor of a task
    about to run, whether or not the task refers to it: each dependent is a Skipped node in
    phase Error with Go's message."""
    tasks = [
        {"name": "gen", "template": "hello", "withItems": [1, 2]},
        {
            "name": "use",
            "template": "echo",
            "depends": "gen",
            "arguments": {"parameters": [{"name": "v", "value": "{{tasks.gen.outputs.result}}"}]},
        },
        {"name": "other", "template": "plain", "depends": "gen"},
    ]
    echo = shell_template("echo", "echo {{inputs.parameters.v}}")
    echo["inputs"] = {"parameters": [{"name": "v"}]}
    templates = [
        {"name": "main", "dag": {"tasks": tasks}},
        shell_template("hello", "echo hello"),
        echo,
        shell_template("plain", "true"),
    ]
    done = backend.run(workflow_manifest(templates))
    nodes = nodes_by_name(done)
    name = done["metadata"]["name"]
    assert nodes[f"{name}.gen"]["phase"] == "Succeeded"
    for dependent in ("use", "other"):
        node = nodes[f"{name}.{dependent}"]
        assert (node["type"], node["phase"], node["message"]) == ("Skipped", "Error", GO_NOT_JSON)
    assert done["status"]["phase"] == "Error"
