"""Recognising workflows an operator resubmitted (Argo UI or CLI) as attempts of a Drover run.

``argo resubmit`` / the UI's RESUBMIT create a new Workflow from the old one's spec and copy its
labels, so Drover's run and execution labels carry over; Argo adds the label (and, on newer
servers, the annotation) ``workflows.argoproj.io/resubmitted-from-workflow: <old name>``.

How the mirror uses it, for every ADDED workflow of the watch:

1. ``resubmitted_from(workflow)`` is None → a fresh run (or a scheduled run of a CronWorkflow).
2. It names a workflow the mirror knows → record the new workflow as the next attempt of that
   run (same run id; the previous attempt stays as history), even if Drover did not submit it.
3. It names an unknown workflow → fall back to the run-id label; only when that is missing
   too is it a foreign workflow.

``retry`` needs no detection: Argo retries in place (same name and uid, new nodes, phase back
to Running), so the watch simply delivers MODIFIED events for the same run.
"""

from __future__ import annotations

from typing import Any

from engine.labels import RESUBMITTED_FROM

__all__ = ["resubmitted_from"]


def resubmitted_from(workflow: dict[str, Any]) -> str | None:
    """The name of the workflow this one was resubmitted from, or None."""
    meta = workflow.get("metadata") or {}
    for source in (meta.get("labels"), meta.get("annotations")):
        if isinstance(source, dict):
            value = source.get(RESUBMITTED_FROM)
            if isinstance(value, str) and value:
                return value
    return None
