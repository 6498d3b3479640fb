"""Estimated durations (``estimatedDuration``) from the last run of the same template.

Argo's estimator (workflow/controller/estimation): a workflow made from a WorkflowTemplate,
a ClusterWorkflowTemplate or a CronWorkflow (its label says which) takes as baseline the newest
Succeeded workflow with the same label in its namespace. The workflow's estimate is the
baseline's duration, a node's the duration of the baseline's node of the same name (its
workflow name swapped), in whole seconds; with no baseline, or no such node, there is none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engine.backends.local.nodes import Node, node_id, parse_time

__all__ = ["BASELINE_LABELS", "BaselineLookup", "Estimator"]

#: The labels that make a baseline, as the estimator factory looks for them.
BASELINE_LABELS = (
    "workflows.argoproj.io/workflow-template",
    "workflows.argoproj.io/cluster-workflow-template",
    "workflows.argoproj.io/cron-workflow",
)

#: ``(label, value, namespace)`` → the newest Succeeded workflow carrying it, None if none.
BaselineLookup = Callable[[str, str, str], Mapping[str, Any] | None]


class Estimator:
    """Estimates for one workflow, its baseline looked up once."""

    def __init__(self, workflow: Mapping[str, Any], lookup: BaselineLookup) -> None:
        self.name = str(workflow["metadata"]["name"])
        self.lookup = lookup
        self.workflow = workflow
        self._baseline: Mapping[str, Any] | None = None
        self._looked = False

    def baseline(self) -> Mapping[str, Any] | None:
        if not self._looked:
            self._looked = True
            meta = self.workflow["metadata"]
            labels = meta.get("labels") or {}
            label = next((k for k in BASELINE_LABELS if k in labels), None)
            if label is not None:
                namespace = str(meta.get("namespace", "default"))
                self._baseline = self.lookup(label, str(labels[label]), namespace)
        return self._baseline

    def workflow_seconds(self) -> int:
        """``EstimateWorkflowDuration``: 0 when there is no baseline."""
        baseline = self.baseline()
        return 0 if baseline is None else _seconds(baseline.get("status") or {})

    def node_seconds(self, node_name: str) -> int:
        """``EstimateNodeDuration``: 0 when the baseline has no such node."""
        baseline = self.baseline()
        if baseline is None:
            return 0
        old_name = str(baseline["metadata"]["name"])
        old = node_id(old_name, node_name.replace(self.name, old_name, 1))
        node: Node | None = ((baseline.get("status") or {}).get("nodes") or {}).get(old)
        return 0 if node is None else _seconds(node)


def _seconds(record: Mapping[str, Any]) -> int:
    """``GetDuration`` of a status or node, whole seconds; 0 without both ends."""
    started, finished = record.get("startedAt"), record.get("finishedAt")
    if not started or not finished:
        return 0
    return max(0, int(parse_time(str(finished)) - parse_time(str(started))))
