"""The outer Argo document both compilers share: a Workflow, or a CronWorkflow when scheduled."""

from __future__ import annotations

import json
from typing import Any

from hera.workflows import CronWorkflow, Workflow
from hera.workflows import models as m

from engine.spec import Schedule

__all__ = ["ARGO_API_VERSION", "parameter_text", "workflow_document"]

ARGO_API_VERSION = "argoproj.io/v1alpha1"


def workflow_document(
    *,
    name: str,
    schedule: Schedule | None,
    namespace: str | None,
    labels: dict[str, str],
    annotations: dict[str, str],
    spec: dict[str, Any],
) -> Workflow | CronWorkflow:
    """A Workflow named ``<name>-xxxxx``, or the CronWorkflow ``name`` that spawns them.

    Spawned workflows carry ``labels`` through ``workflowSpec.workflowMetadata``, which is how
    the mirror recognises scheduled runs.
    """
    if schedule is not None:
        return CronWorkflow(
            api_version=ARGO_API_VERSION,
            kind="CronWorkflow",
            name=name,
            namespace=namespace,
            schedules=schedule.cron,
            timezone=schedule.timezone,
            concurrency_policy=str(schedule.concurrency_policy),
            suspend=schedule.suspend or None,
            starting_deadline_seconds=schedule.starting_deadline,
            workflow_metadata=m.WorkflowMetadata(labels=labels),
            labels=labels,
            annotations=annotations,
            **spec,
        )
    return Workflow(
        api_version=ARGO_API_VERSION,
        kind="Workflow",
        generate_name=f"{name}-",
        namespace=namespace,
        labels=labels,
        annotations=annotations,
        **spec,
    )


def parameter_text(value: object) -> str:
    """A spec value as an Argo parameter string (booleans as Go prints them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)
