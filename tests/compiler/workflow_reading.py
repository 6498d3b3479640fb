"""Read a compiled Workflow back as data: the DAGs, their tasks and the pod templates."""

from __future__ import annotations

import re
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


ARGO_TAG = re.compile(r"{{\s*([^{}]+?)\s*}}")


def tags(text: str) -> list[str]:
    """The simple template tags in ``text``: ``{{workflow.name}}`` → ``workflow.name``."""
    return ARGO_TAG.findall(text)


def worker_pod_env(
    workflow: dict[str, Any],
    flow: str,
    group: str,
    index: int,
    attempt: int,
    *,
    workflow_name: str | None = None,
) -> dict[str, str]:
    """The plain environment of one worker pod, resolved as Argo's controller resolves it.

    The pod is retry ``attempt`` of item ``index`` of group task ``group`` in ``flow``'s DAG.
    Only variables Argo defines for a container template are known (docs/variables.md): the
    template's ``inputs.parameters.*`` (bound from the task's arguments, ``{{item}}`` the index),
    ``workflow.name`` and ``workflow.parameters.*``, ``pod.name`` (pod names v2 of the retry's
    node) and, with a ``retryStrategy``, ``retries``. Any other variable raises ``KeyError``.
    Environment taken from secrets (no plain ``value``) is left out.
    """
    from engine.backends.argo.pod_names import pod_name

    name = workflow_name or workflow.get("metadata", {}).get("name")
    assert name, "give workflow_name for a workflow with only a generateName"
    task = dag_tasks(workflow, f"flow-{flow}")[group]
    template = templates(workflow)[task["template"]]
    bound = {
        p["name"]: p["value"].replace("{{item}}", str(index))
        for p in task.get("arguments", {}).get("parameters", [])
    }
    node = f"{name}.{flow}.{group}({index}:{index})({attempt})"
    scope = {
        "workflow.name": name,
        "pod.name": pod_name(
            {"metadata": {"name": name}}, {"name": node, "templateName": template["name"]}
        ),
        **{
            f"workflow.parameters.{p['name']}": str(p.get("value", ""))
            for p in workflow_spec(workflow).get("arguments", {}).get("parameters", [])
        },
        **{
            f"inputs.parameters.{p['name']}": bound.get(p["name"], p.get("value"))
            for p in template.get("inputs", {}).get("parameters", [])
        },
    }
    if template.get("retryStrategy"):
        scope["retries"] = str(attempt)
    return {
        e["name"]: ARGO_TAG.sub(lambda m: scope[m.group(1)], e["value"])
        for e in template["container"].get("env", [])
        if "value" in e
    }
