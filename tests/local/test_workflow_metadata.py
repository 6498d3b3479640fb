"""``spec.workflowMetadata`` on the local runner as Argo's ``updateWorkflowMetadata``
(workflow/controller/operator.go) applies it when a workflow starts: labels, annotations and
``labelsFrom`` expressions land on the Workflow and are variables from then on; a value that is
no valid label value errors the workflow."""

from __future__ import annotations

from engine.backends.local import LocalBackend
from tests.local.conftest import nodes_by_name, shell_template, stdout_of, workflow_manifest


def test_labels_annotations_and_expressions_apply_and_are_variables(
    backend: LocalBackend,
) -> None:
    metadata = {
        "labels": {"team": "qa"},
        "annotations": {"note": "nightly run"},
        "labelsFrom": {"env": {"expression": "workflow.parameters.env + '-eu'"}},
    }
    script = "echo {{workflow.labels.team}} {{workflow.labels.env}} {{workflow.annotations.note}}"
    done = backend.run(
        workflow_manifest(
            [shell_template("main", script)],
            arguments={"parameters": [{"name": "env", "value": "prod"}]},
            workflowMetadata=metadata,
        )
    )
    assert done["status"]["phase"] == "Succeeded"
    assert done["metadata"]["labels"]["team"] == "qa"
    assert done["metadata"]["labels"]["env"] == "prod-eu"
    assert done["metadata"]["annotations"]["note"] == "nightly run"
    root = nodes_by_name(done)[done["metadata"]["name"]]
    assert stdout_of(backend, root) == "qa prod-eu nightly run"


def test_an_invalid_label_value_errors_the_workflow(backend: LocalBackend) -> None:
    metadata = {"labelsFrom": {"who": {"expression": "'two words'"}}}
    done = backend.run(
        workflow_manifest([shell_template("main", "true")], workflowMetadata=metadata)
    )
    assert done["status"]["phase"] == "Error"
    assert done["status"]["message"].startswith(
        'invalid label value "two words" for label "who" and expression "\'two words\'": '
        "a valid label must be an empty string or consist of alphanumeric characters"
    )
    assert not done["status"].get("nodes")


def test_an_expression_that_is_no_string_errors_the_workflow(backend: LocalBackend) -> None:
    metadata = {"labelsFrom": {"n": {"expression": "1 + 1"}}}
    done = backend.run(
        workflow_manifest([shell_template("main", "true")], workflowMetadata=metadata)
    )
    assert done["status"]["phase"] == "Error"
    assert done["status"]["message"] == (
        'failed to evaluate label "n" expression "1 + 1" evaluted to int but must be a string'
    )
