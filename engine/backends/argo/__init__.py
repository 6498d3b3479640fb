"""The Argo backend: Drover's compiled workflows on an Argo Server (Hera + Kubernetes API).

Names load on first use (PEP 562): the mirror needs :mod:`.watch` and :mod:`.resubmission`, and
importing those must not pull in the Kubernetes client that :class:`ArgoBackend` needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.backends.argo.argo_objects import CronWorkflows, WorkflowTemplates
    from engine.backends.argo.backend import DROVER_LABELS, ArgoBackend
    from engine.backends.argo.failures import RetryPolicy
    from engine.backends.argo.resubmission import resubmitted_from
    from engine.backends.argo.settings import ArgoSettings
    from engine.backends.argo.status_codec import compress_nodes, decompress_nodes, inflate_status
    from engine.backends.argo.watch import WatchState, WorkflowWatcher

_MODULES = {
    "DROVER_LABELS": "backend",
    "ArgoBackend": "backend",
    "ArgoSettings": "settings",
    "CronWorkflows": "argo_objects",
    "RetryPolicy": "failures",
    "WatchState": "watch",
    "WorkflowTemplates": "argo_objects",
    "WorkflowWatcher": "watch",
    "compress_nodes": "status_codec",
    "decompress_nodes": "status_codec",
    "inflate_status": "status_codec",
    "resubmitted_from": "resubmission",
}

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


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
