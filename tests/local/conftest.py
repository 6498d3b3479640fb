"""Fixtures for the local runner tests: a fresh DROVER_HOME and backend per test."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.backends.local import LocalBackend
from tests.argo_reference import ARGO_DIR

ARGO = ARGO_DIR  # Argo's examples, status examples and validate.py


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LocalBackend:
    monkeypatch.setenv("DROVER_HOME", str(tmp_path / "home"))
    return LocalBackend(tmp_path / "home")


def load_yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def nodes_by_name(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["name"]: n for n in workflow["status"]["nodes"].values()}


def workflow_manifest(
    templates: list[dict[str, Any]], *, generate_name: str = "test-", **spec: Any
) -> dict[str, Any]:
    """An Argo Workflow of ``templates`` whose entrypoint is the one named ``main``; ``spec``
    adds to its spec (``parallelism``, ``hooks``, ``onExit``...)."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": generate_name},
        "spec": {"entrypoint": "main", "templates": templates, **spec},
    }


def shell_template(name: str, script: str, **template: Any) -> dict[str, Any]:
    """A container template running ``sh -c script``; ``template`` adds to it."""
    return {
        "name": name,
        "container": {"image": "alpine", "command": ["sh", "-c", script]},
        **template,
    }


def stdout_of(backend: LocalBackend, node: dict[str, Any]) -> str:
    """What a pod node's container printed: its log, as ``outputs.result`` holds it where
    Argo keeps one (only when the calling template refers to it)."""
    workflow = re.match(r"[^.\[]+", node["name"])
    assert workflow is not None
    return "\n".join(line.content for line in backend.logs(workflow.group(), node=node["id"]))
