"""A template's inputs as Argo's ``SubstituteParams`` (workflow/common/util.go) binds them: the
whole template is substituted once more with the inputs as bound, the inputs' own values
included, and a steps or DAG template's steps and tasks see those values (``createScope``)."""

from __future__ import annotations

import pytest

from engine.backends.local import LocalBackend
from tests.local.conftest import nodes_by_name, shell_template, stdout_of, workflow_manifest


@pytest.mark.parametrize("kind", ["steps", "dag"])
def test_an_input_may_refer_to_another_input(backend: LocalBackend, kind: str) -> None:
    call = {
        "name": "show",
        "template": "show",
        "arguments": {"parameters": [{"name": "v", "value": "{{inputs.parameters.b}}"}]},
    }
    body = {"steps": [[call]]} if kind == "steps" else {"dag": {"tasks": [call]}}
    inputs = [{"name": "a", "value": "A"}, {"name": "b", "value": "{{inputs.parameters.a}}-x"}]
    show = shell_template("show", "echo {{inputs.parameters.v}}")
    show["inputs"] = {"parameters": [{"name": "v"}]}
    done = backend.run(
        workflow_manifest([{"name": "main", "inputs": {"parameters": inputs}, **body}, show])
    )
    assert done["status"]["phase"] == "Succeeded"
    nodes = nodes_by_name(done)
    main = nodes[done["metadata"]["name"]]
    assert main["inputs"]["parameters"][1] == {"name": "b", "value": "A-x"}
    shown = next(n for n in nodes.values() if n["displayName"] == "show")
    assert shown["inputs"]["parameters"] == [{"name": "v", "value": "A-x"}]


def test_braces_a_parameter_brings_in_reach_the_pod_as_they_are(backend: LocalBackend) -> None:
    """A value substituted in is not read as a template again (``template.Replace`` makes one
    pass and leaves what it cannot resolve), so a parameter that carries ``{{...}}`` text of
    its own, a CI snippet say, is printed as written instead of failing the pod."""
    snippet = "run: echo {{steps.build.outputs.result}}"
    # From a ConfigMap: written in the workflow, the value's tag would be substituted in
    # before Argo's validator checks the template, which refuses it (resolveAllVariables).
    labels = {"workflows.argoproj.io/configmap-type": "Parameter"}  # Argo reads no other
    backend.apply(
        {
            "kind": "ConfigMap",
            "metadata": {"name": "ci", "labels": labels},
            "data": {"snippet": snippet},
        }
    )
    show = shell_template("main", 'echo "{{workflow.parameters.snippet}}"')
    from_config_map = {"configMapKeyRef": {"name": "ci", "key": "snippet"}}
    done = backend.run(
        workflow_manifest(
            [show],
            arguments={"parameters": [{"name": "snippet", "valueFrom": from_config_map}]},
        )
    )
    assert done["status"]["phase"] == "Succeeded"
    (pod,) = done["status"]["nodes"].values()
    assert stdout_of(backend, pod) == snippet


def test_an_exit_hook_argument_naming_an_output_never_written_runs_as_text(
    backend: LocalBackend,
) -> None:
    """``resolveExitTmplArgument`` (exit_handler.go) substitutes what the step's outputs have
    and leaves any other tag: the hook runs with the literal reference. (``a`` declares the
    output, as Argo's validator requires of a reference, but never writes it.)"""
    missing = "{{steps.a.outputs.parameters.missing}}"
    hook = {"template": "echo", "arguments": {"parameters": [{"name": "m", "value": missing}]}}
    step = {"name": "a", "template": "a", "hooks": {"exit": hook}, "continueOn": {"error": True}}
    steps = {"name": "main", "steps": [[step]]}
    echo = shell_template("echo", 'echo "{{inputs.parameters.m}}"')
    echo["inputs"] = {"parameters": [{"name": "m"}]}
    a = shell_template("a", "true")
    a["outputs"] = {
        "parameters": [{"name": "missing", "valueFrom": {"path": "/tmp/never-written"}}]
    }
    done = backend.run(workflow_manifest([steps, a, echo]))
    assert done["status"]["phase"] == "Succeeded"
    hook_node = nodes_by_name(done)[f"{done['metadata']['name']}[0].a.onExit"]
    assert hook_node["phase"] == "Succeeded"
    assert stdout_of(backend, hook_node) == missing


def test_parameters_come_only_from_configmaps_labelled_for_them(backend: LocalBackend) -> None:
    """``GetConfigMapValue`` (workflow/common/configmap.go) reads a ConfigMap labelled
    ``workflows.argoproj.io/configmap-type: Parameter``; any other is refused in its words,
    for an input (the node) and for a global parameter (the workflow, before it starts)."""
    backend.apply({"kind": "ConfigMap", "metadata": {"name": "plain"}, "data": {"k": "v"}})
    show = shell_template("main", "echo {{inputs.parameters.p}}")
    ref = {"configMapKeyRef": {"name": "plain", "key": "k"}}
    show["inputs"] = {"parameters": [{"name": "p", "valueFrom": ref}]}
    done = backend.run(workflow_manifest([show]))
    (node,) = done["status"]["nodes"].values()
    assert (node["phase"], node["message"]) == (
        "Error",
        "unable to retrieve inputs.parameters.p from ConfigMap: ConfigMap 'plain' needs to have "
        "the label workflows.argoproj.io/configmap-type: Parameter to load parameters",
    )
    glob = workflow_manifest(
        [shell_template("main", "echo {{workflow.parameters.g}}")],
        arguments={"parameters": [{"name": "g", "valueFrom": ref}]},
    )
    done = backend.run(glob)
    assert done["status"]["phase"] == "Failed"
    assert done["status"]["nodes"] == {}
    assert done["status"]["message"] == (
        "failed to set global parameters: failed to set global parameter g from configmap with "
        "name plain and key k: ConfigMap 'plain' needs to have the label "
        "workflows.argoproj.io/configmap-type: Parameter to load parameters"
    )
