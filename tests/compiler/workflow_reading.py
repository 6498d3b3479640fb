"""Read a compiled Workflow back as data: the DAGs, their tasks and the pod templates."""

from __future__ import annotations

from typing import Any


def templates(workflow: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in _spec(workflow)["templates"]}


def dag_tasks(workflow: dict[str, Any], template: str) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in templates(workflow)[template]["dag"]["tasks"]}


def _spec(workflow: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workflow["spec"]
    return spec.get("workflowSpec", spec)


def workflow_spec(workflow: dict[str, Any]) -> dict[str, Any]:
    return _spec(workflow)


def all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []
