"""A steps or DAG template's outputs as Argo's ``getTemplateOutputsFromScope``
(workflow/controller/operator.go) reads them: an output artifact whose ``from`` names nothing
its steps produced is left out when optional, and errors the node otherwise."""

from __future__ import annotations

import pytest

from engine.backends.local import LocalBackend
from tests.local.conftest import nodes_by_name, shell_template, workflow_manifest


@pytest.mark.parametrize("optional", [True, False])
def test_an_output_artifact_no_step_produced(backend: LocalBackend, optional: bool) -> None:
    artifact = {
        "name": "report",
        "from": "{{steps.work.outputs.artifacts.report}}",
        "optional": optional,
    }
    main = {
        "name": "main",
        "steps": [[{"name": "work", "template": "work"}]],
        "outputs": {"artifacts": [artifact]},
    }
    # ``work`` declares the artifact (Argo refuses a reference to an undeclared one at
    # submission) but, being optional, may end without it.
    work = shell_template("work", "true")
    work["outputs"] = {"artifacts": [{"name": "report", "path": "/tmp/none", "optional": True}]}
    done = backend.run(workflow_manifest([main, work]))
    root = nodes_by_name(done)[done["metadata"]["name"]]
    if optional:
        assert root["phase"] == "Succeeded"
        assert "artifacts" not in (root.get("outputs") or {})
    else:
        assert root["phase"] == "Error"
        assert root["message"] == (
            "unable to resolve outputs from scope: "
            'Unable to resolve: "steps.work.outputs.artifacts.report"'
        )
