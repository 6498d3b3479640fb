"""``volumeClaimGC`` for the local runner: delete a finished workflow's claims as Argo does.

Argo's ``deletePVCs`` (workflow/controller/operator.go) runs when a workflow completes:
``OnWorkflowCompletion`` deletes every claim made from ``volumeClaimTemplates``;
``OnWorkflowSuccess`` (the default: ``VolumeClaimGC.GetStrategy`` in
pkg/apis/workflow/v1alpha1/workflow_types.go) only if the workflow Succeeded, keeping them for
a retry. A retried workflow mounts the same claim again
(``createPVCs`` reuses a claim it owns) or a new, empty one if it was deleted; the local runner
keeps claims as directories named after the workflow, so both follow. ``deletePVCs`` only asks
the API server to delete each claim; Kubernetes frees the volume afterwards. So here a deleted
claim's directory moves aside at once, and its files are freed once the completed workflow is
written (:meth:`LocalStore.free_discarded`): a large workspace no longer delays the end.
"""

from __future__ import annotations

from typing import Any

from engine.backends.local.store import LocalStore

__all__ = ["collect_claims"]


def collect_claims(store: LocalStore, workflow: dict[str, Any]) -> list[str]:
    """Delete the claims ``workflow``'s volumeClaimGC says to; returns their names."""
    spec = workflow.get("spec") or {}
    templates = spec.get("volumeClaimTemplates") or []
    strategy = (spec.get("volumeClaimGC") or {}).get("strategy") or "OnWorkflowSuccess"
    phase = (workflow.get("status") or {}).get("phase")
    if not templates or (strategy == "OnWorkflowSuccess" and phase != "Succeeded"):
        return []
    name = workflow["metadata"]["name"]
    deleted = []
    for template in templates:
        claim = template["metadata"]["name"]
        directory = store.claim_dir(name, claim)
        if directory.exists():
            store.discard(directory)
            deleted.append(claim)
    return deleted
