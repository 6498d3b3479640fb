"""Argo's names of pods and their nodes, both ways (Argo's ``GeneratePodName``, pod names v2).

With ``POD_NAMES=v2`` (the default since Argo 3.4) a pod is ``<workflow>-<template>-<hash>``
(``<workflow>-<hash>`` for an inline template, which has no name) and its node id is
``<workflow>-<hash>``, where hash is FNV-1a 32-bit of the node name; with v1 the pod name is the
node id itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["node_id_of_pod", "pod_name"]

POD_NAME_FORMAT = "workflows.argoproj.io/pod-name-format"
_MAX_PREFIX = 253 - 10 - 1  # maxK8sResourceNameLength - k8sNamingHashLength - "-"


def _fnv1a_32(text: str) -> int:
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def pod_name(workflow: dict[str, Any], node: dict[str, Any]) -> str:
    """The pod that runs ``node`` (a Pod-type node of ``workflow``'s status)."""
    meta = workflow.get("metadata") or {}
    name = str(meta.get("name", ""))
    if (meta.get("annotations") or {}).get(POD_NAME_FORMAT) == "v1":
        return str(node.get("id") or "")
    node_name = str(node.get("name", ""))
    if node_name == name:
        return name
    template = node.get("templateName") or (node.get("templateRef") or {}).get("template") or ""
    prefix = f"{name}-{template}" if template else name  # an inline template has no name
    return f"{prefix[:_MAX_PREFIX]}-{_fnv1a_32(node_name)}"


def node_id_of_pod(workflow_name: str, pod: str) -> str:
    """The node id of a pod named by either format (the hash suffix is shared)."""
    if pod == workflow_name or not pod.startswith(f"{workflow_name}-"):
        return pod
    return f"{workflow_name}-{pod.rsplit('-', 1)[1]}"
