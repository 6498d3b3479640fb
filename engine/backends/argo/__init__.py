"""The Argo backend: Drover's compiled workflows on an Argo Server (Hera + Kubernetes API)."""

from __future__ import annotations

from engine.backends.argo.argo_objects import CronWorkflows, WorkflowTemplates
from engine.backends.argo.backend import DROVER_LABELS, ArgoBackend
from engine.backends.argo.failures import RetryPolicy
from engine.backends.argo.resubmission import resubmitted_from
from engine.backends.argo.settings import ArgoSettings
from engine.backends.argo.status_codec import compress_nodes, decompress_nodes, inflate_status
from engine.backends.argo.watch import WatchState, WorkflowWatcher

__all__ = [
    "DROVER_LABELS",
    "ArgoBackend",
    "ArgoSettings",
    "CronWorkflows",
    "RetryPolicy",
    "WatchState",
    "WorkflowTemplates",
    "WorkflowWatcher",
    "compress_nodes",
    "decompress_nodes",
    "inflate_status",
    "resubmitted_from",
]
