"""The artifact repository a workflow resolves as it starts (``status.artifactRepositoryRef``),
as Argo's ``artifactRepositories.Resolve`` finds it (engine/backends/local/artifact_repositories.py)."""

from __future__ import annotations

from typing import Any

from engine.backends.local import LocalBackend
from tests.local.conftest import shell_template, workflow_manifest


def _repositories(**annotations: str) -> dict[str, Any]:
    return {
        "kind": "ConfigMap",
        "metadata": {"name": "artifact-repositories", "annotations": annotations},
        "data": {"mine": "s3:\n  bucket: b\n  keyFormat: runs/{{workflow.name}}\n"},
    }


def test_without_a_reference_the_default_is_used(backend: LocalBackend) -> None:
    done = backend.run(workflow_manifest([shell_template("main", "true")]))
    assert done["status"]["artifactRepositoryRef"] == {"default": True}
    backend.apply(_repositories(**{"workflows.argoproj.io/default-artifact-repository": "mine"}))
    done = backend.run(workflow_manifest([shell_template("main", "true")]))
    assert done["status"]["artifactRepositoryRef"] == {
        "configMap": "artifact-repositories",
        "key": "mine",
        "namespace": "default",
        "artifactRepository": {"s3": {"bucket": "b", "keyFormat": "runs/{{workflow.name}}"}},
    }


def test_a_reference_to_nothing_errors_the_workflow_before_it_starts(
    backend: LocalBackend,
) -> None:
    backend.apply(_repositories())
    ref = {"configMap": "artifact-repositories", "key": "theirs"}
    done = backend.run(
        workflow_manifest([shell_template("main", "true")], artifactRepositoryRef=ref)
    )
    assert done["status"]["phase"] == "Error"
    assert done["status"]["nodes"] == {}
    assert done["status"]["message"] == (
        "failed to resolve artifact repository: failed to find any artifact repository for "
        'artifact repository ref "&ArtifactRepositoryRef{ConfigMap:artifact-repositories,'
        'Key:theirs,}"'
    )
