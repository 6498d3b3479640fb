"""The reusable WorkflowTemplates in ``templates/``, built from the compiler's own pod builders.

``drover-setup-env``, ``drover-worker`` and ``drover-cleanup`` hold exactly the pod templates a
compiled Workflow inlines (``engine/compiler/pods.py``), with what differs per execution turned
into input parameters: ``image`` everywhere, and for the worker ``timeout`` (seconds) and
``retries`` (pod retries on infrastructure errors). A Workflow that uses them by
``templateRef`` must provide the ``plan`` and ``workspace`` volumes, as compiled ones do.
Pure: :func:`reusable_templates` returns the documents; ``drover templates sync`` applies them.
"""

from __future__ import annotations

from typing import Any

from hera.workflows import Container, WorkflowTemplate

from engine.compiler.pods import (
    WorkerSettings,
    cleanup_template,
    setup_env_template,
    worker_template,
)
from engine.labels import LABEL_MANAGED_BY
from engine.loading import parse_execution
from engine.spec import Execution

__all__ = ["TEMPLATE_NAMES", "reusable_templates"]

TEMPLATE_NAMES = ("drover-setup-env", "drover-worker", "drover-cleanup")
IMAGE = "{{inputs.parameters.image}}"
DEFAULT_TIMEOUT = "3600"
DEFAULT_RETRIES = "2"


def _placeholder_execution() -> Execution:
    """An execution whose only role is to carry the image placeholder into the builders."""
    return parse_execution(
        {
            "name": "template",
            "project": {"name": "template", "image": IMAGE, "path": "."},
            "flows": [{"name": "f", "groups": [{"name": "g", "scenarios": [{"id": "s"}]}]}],
        }
    )


def _document(name: str, container: Container, description: str) -> dict[str, Any]:
    template = WorkflowTemplate(
        api_version="argoproj.io/v1alpha1",
        kind="WorkflowTemplate",
        name=name,
        labels={LABEL_MANAGED_BY: "drover"},
        annotations={"workflows.argoproj.io/description": description},
        entrypoint=container.name,
        templates=[container],
    )
    document: dict[str, Any] = template.to_dict()
    return document


def _pod_template(document: dict[str, Any]) -> dict[str, Any]:
    template: dict[str, Any] = document["spec"]["templates"][0]
    return template


def _add_inputs(document: dict[str, Any], parameters: list[dict[str, str]]) -> dict[str, Any]:
    inputs = _pod_template(document).setdefault("inputs", {})
    inputs["parameters"] = [*parameters, *inputs.get("parameters", [])]
    return document


def reusable_templates() -> list[dict[str, Any]]:
    """The three WorkflowTemplate documents, in a stable order."""
    execution = _placeholder_execution()
    image = {"name": "image", "description": "the project's image (with drover-agent)"}

    setup = _document(
        "drover-setup-env", setup_env_template(execution), "Drover: prepare the shared workspace"
    )
    worker = _document(
        "drover-worker",
        worker_template(execution, "worker", WorkerSettings(pod_retries=1, timeout=1)),
        "Drover: run one shard of scenarios",
    )
    pod = _pod_template(worker)
    pod["activeDeadlineSeconds"] = "{{inputs.parameters.timeout}}"
    pod["retryStrategy"]["limit"] = "{{inputs.parameters.retries}}"
    cleanup = _document(
        "drover-cleanup", cleanup_template(execution), "Drover: report the run's end (onExit)"
    )
    return [
        _add_inputs(setup, [image]),
        _add_inputs(
            worker,
            [
                image,
                {
                    "name": "timeout",
                    "value": DEFAULT_TIMEOUT,
                    "description": "pod deadline, seconds",
                },
                {
                    "name": "retries",
                    "value": DEFAULT_RETRIES,
                    "description": "pod retries on errors",
                },
            ],
        ),
        _add_inputs(cleanup, [image]),
    ]
