"""Data templates on the local runner: keys listed from the local artifact repository, passed
through expr transformations, the value as the node's result (workflow/data/data.go,
workflow/executor/data.go), as Argo's ``data-transformations`` example uses them."""

from __future__ import annotations

from typing import Any

import pytest

from engine.backends.local import LocalBackend
from engine.errors import SpecError
from tests.local.conftest import nodes_by_name, stdout_of, workflow_manifest

LOGS = {
    "logs/b/main.log": "b main",
    "logs/a/main.log": "a main",
    "logs/a/debug.log": "a debug",
    "other/main.log": "not listed",
}


@pytest.fixture
def repository(backend: LocalBackend) -> LocalBackend:
    for key, text in LOGS.items():
        path = backend.store.repository_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return backend


def _lister(key: str, *expressions: str) -> dict[str, Any]:
    return {
        "name": "list",
        "data": {
            "source": {
                "artifactPaths": {"name": "logs", "s3": {"bucket": "my-bucket", "key": key}}
            },
            "transformation": [{"expression": e} for e in expressions],
        },
    }


def test_the_examples_listing_feeds_a_loop_over_its_keys(repository: LocalBackend) -> None:
    main = {
        "name": "main",
        "steps": [
            [{"name": "list-log-files", "template": "list"}],
            [
                {
                    "name": "process-logs",
                    "template": "process",
                    "withParam": "{{steps.list-log-files.outputs.result}}",
                    "arguments": {"artifacts": [{"name": "file", "s3": {"key": "{{item}}"}}]},
                }
            ],
        ],
    }
    process = {
        "name": "process",
        "inputs": {"artifacts": [{"name": "file", "path": "/file"}]},
        "container": {"image": "alpine", "command": ["cat", "/file"]},
    }
    lister = _lister("logs", 'filter(data, {# endsWith "main.log"})')
    done = repository.run(workflow_manifest([main, lister, process]))
    assert done["status"]["phase"] == "Succeeded"
    nodes = nodes_by_name(done)
    (listed,) = [n for n in nodes.values() if n["displayName"] == "list-log-files"]
    assert listed["type"] == "Pod"
    assert listed["outputs"] == {"result": '["logs/a/main.log","logs/b/main.log"]', "exitCode": "0"}
    printed = sorted(
        stdout_of(repository, n) for n in nodes.values() if n["templateName"] == "process"
    )
    assert printed == ["a main", "b main"]


def test_no_key_lists_the_whole_repository_and_expressions_chain(
    repository: LocalBackend,
) -> None:
    lister = _lister("", "map(data, {upper(#)})", "len(data)")
    lister["name"] = "main"
    done = repository.run(workflow_manifest([lister]))
    (node,) = done["status"]["nodes"].values()
    assert node["outputs"]["result"] == "4"


def test_a_key_with_nothing_below_fails_the_pod_as_argoexec_does(
    repository: LocalBackend,
) -> None:
    lister = _lister("logs/nothing-here")
    lister["name"] = "main"
    done = repository.run(workflow_manifest([lister]))
    (node,) = done["status"]["nodes"].values()
    assert node["phase"] == "Failed"
    assert node["message"] == (
        "main: Error (exit code 64): unable to process data template: unable to process data "
        "source: unable to source artifact paths: no key found of name logs/nothing-here"
    )


def test_a_failing_expression_names_its_step(repository: LocalBackend) -> None:
    lister = _lister("logs", "len(data)", "data.nope")
    lister["name"] = "main"
    done = repository.run(workflow_manifest([lister]))
    (node,) = done["status"]["nodes"].values()
    assert node["phase"] == "Failed"
    assert node["message"].startswith(
        "main: Error (exit code 64): unable to process data template: unable to process data "
        "transformation: error processing data step 1: "
    )


def test_a_listing_outside_the_local_repository_is_refused(backend: LocalBackend) -> None:
    lister = _lister("x")
    lister["name"] = "main"
    lister["data"]["source"]["artifactPaths"] = {"name": "logs", "http": {"url": "http://x/"}}
    with pytest.raises(SpecError) as refused:
        backend.submit(workflow_manifest([lister]))
    assert "spec.templates[0].data.source.artifactPaths" in str(refused.value)
