"""A template's inputs as Argo's ``SubstituteParams`` (workflow/common/util.go) binds them: the
whole template is substituted once more with the inputs as bound, the inputs' own values
included, and a steps or DAG template's steps and tasks see those values (``createScope``)."""

from __future__ import annotations

import pytest

from engine.backends.local import LocalBackend
from tests.local.conftest import nodes_by_name, shell_template, workflow_manifest


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
