"""Labels and annotations Drover puts on Argo objects, and the paths its pods agree on.

The mirror finds Drover's workflows by these labels, so they are part of the contract
between the compiler, the backends and the API.
"""

from __future__ import annotations

__all__ = [
    "ANNOTATION_DESCRIPTION",
    "ANNOTATION_TITLE",
    "CRON_WORKFLOW",
    "LABEL_EXECUTION",
    "LABEL_MANAGED_BY",
    "LABEL_PLAN",
    "LABEL_RUN",
    "LABEL_SCHEDULE",
    "OUT_DIR",
    "PLAN_DIR",
    "REPORTS_KEY_ROOT",
    "RESUBMITTED_FROM",
    "WORKSPACE_DIR",
    "reports_key_prefix",
]

LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_EXECUTION = "drover.dev/execution"
LABEL_RUN = "drover.dev/run-id"
LABEL_PLAN = "drover.dev/plan-id"
LABEL_SCHEDULE = "drover.dev/schedule"
"""On a schedule's CronWorkflow and the workflows it spawns: the service's schedule id."""

# Argo UI shows these in the workflow list (since v3.4).
ANNOTATION_TITLE = "workflows.argoproj.io/title"
ANNOTATION_DESCRIPTION = "workflows.argoproj.io/description"
RESUBMITTED_FROM = "workflows.argoproj.io/resubmitted-from-workflow"
CRON_WORKFLOW = "workflows.argoproj.io/cron-workflow"
"""Argo's label on a workflow a CronWorkflow spawned: the CronWorkflow's name."""

# Where things live inside Drover's pods.
PLAN_DIR = "/drover/plan"
WORKSPACE_DIR = "/workspace"
OUT_DIR = "/tmp/drover"
REPORTS_KEY_ROOT = "drover"
"""Reports go to the artifact repository under ``drover/<workflow name>/`` (key-only)."""


def reports_key_prefix(workflow_name: str) -> str:
    """Where a workflow's reports are in the artifact repository (retention removes them)."""
    return f"{REPORTS_KEY_ROOT}/{workflow_name}"
