"""The outer Argo document both compilers share: a Workflow, or a CronWorkflow when scheduled."""

from __future__ import annotations

import json
from typing import Any

from hera.workflows import CronWorkflow, Workflow
from hera.workflows import models as m

from engine.spec import Schedule

__all__ = ["ARGO_API_VERSION", "parameter_text", "workflow_document"]

ARGO_API_VERSION = "argoproj.io/v1alpha1"


class _CronWorkflow(CronWorkflow):
    """Hera's CronWorkflow whose ``spec.workflowMetadata`` (what the controller puts on each
    workflow it spawns; Hera does not map it) carries the CronWorkflow's own labels and
    annotations. Argo's ``toWorkflow`` (workflow/common/convert.go) gives a spawned workflow
    only ``workflowMetadata``'s labels and annotations, never the CronWorkflow's own, so the
    title and description the Argo UI shows would be lost otherwise."""

    def build(self) -> Any:
        built = super().build()
        built.spec.workflow_metadata = m.ObjectMeta(
            labels=dict(self.labels or {}), annotations=dict(self.annotations or {}) or None
        )
        return built


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

    Spawned workflows carry ``labels`` from the moment they are created (the CronWorkflow's
    ``spec.workflowMetadata``), which is how the watch and the mirror find scheduled runs.
    """
    if schedule is not None:
        return _CronWorkflow(
            api_version=ARGO_API_VERSION,
            kind="CronWorkflow",
            name=name,
            namespace=namespace,
            schedules=schedule.cron,
            timezone=schedule.timezone,
            concurrency_policy=str(schedule.concurrency_policy),
            cron_suspend=schedule.suspend or None,
            starting_deadline_seconds=schedule.starting_deadline,
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
