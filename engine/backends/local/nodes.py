"""Argo node identity and node records: names, ids, display names and phase predicates.

Mirrors what Argo's controller writes into ``status.nodes``: a node id is the workflow name,
a dash and the FNV-1a 32-bit hash of the node name in decimal; the root node's id is the
workflow name itself. Nodes are kept as plain dicts in Argo's JSON shape, so the status we
persist is exactly the document ``argo get -o json`` would print.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

__all__ = [
    "COMPLETED_PHASES",
    "FULFILLED_PHASES",
    "LEAF_WORK_TYPES",
    "Node",
    "display_name",
    "fnv1a_32",
    "format_time",
    "is_fulfilled",
    "last_attempt",
    "new_node",
    "node_id",
    "on_exit_node_name",
    "parse_time",
    "retry_attempt_name",
    "retry_attempts",
    "retry_node_children",
]

Node = dict[str, Any]

#: Phases after which a node never changes again on its own.
COMPLETED_PHASES: Final = frozenset({"Succeeded", "Failed", "Error"})
#: Completed, or decided not to run at all.
FULFILLED_PHASES: Final = COMPLETED_PHASES | {"Skipped", "Omitted"}

#: Nodes that do the work themselves: a pod, or an HTTP request (Argo's agent makes it).
LEAF_WORK_TYPES: Final = ("Pod", "HTTP")

_FNV_OFFSET: Final = 0x811C9DC5
_FNV_PRIME: Final = 0x01000193
# Argo strips "[n]." or "." between the boundary name and the rest of a node name.
_STEPS_OR_DAG_SEPARATOR: Final = re.compile(r"^(\[\d+\])?\.")


def is_fulfilled(node: Node) -> bool:
    """Argo's ``NodeStatus.Fulfilled``: a finished phase, or a daemon that is up."""
    return node["phase"] in FULFILLED_PHASES or (
        bool(node.get("daemoned")) and node["phase"] != "Pending"
    )


def retry_attempts(node: Node, nodes: Mapping[str, Node]) -> list[str]:
    """Argo's ``getChildNodeIdsRetried`` (workflow/controller/operator.go): the attempts of a
    Retry node, its children flagged ``retried``; the lifecycle hooks of a retried template
    are children of its Retry node too, flagged ``hooked``."""
    return [
        child
        for child in node.get("children") or []
        if ((nodes.get(child) or {}).get("nodeFlag") or {}).get("retried")
    ]


def last_attempt(node: Node, nodes: Mapping[str, Node]) -> Node | None:
    """The last attempt of a Retry node (``getChildNodeIdsAndLastRetriedNode``), or None."""
    attempts = retry_attempts(node, nodes)
    return nodes[attempts[-1]] if attempts else None


def retry_node_children(node: Node, nodes: Mapping[str, Node]) -> list[str]:
    """Argo's ``getRetryNodeChildrenIds`` (workflow/controller/operator.go): where a DAG's
    BFS goes on past a Retry node, last child first: a hook child itself, else the children
    of each attempt (a dependent hangs off the attempt that was last when it started)."""
    found: list[str] = []
    for child_id in reversed(node.get("children") or []):
        child = nodes.get(child_id)
        if child is None:
            continue
        if (child.get("nodeFlag") or {}).get("hooked"):
            found.append(child_id)
        else:
            found.extend(child.get("children") or [])
    return found


def fnv1a_32(text: str) -> int:
    """FNV-1a 32-bit hash of the UTF-8 bytes of ``text`` (Go's ``hash/fnv.New32a``)."""
    value = _FNV_OFFSET
    for byte in text.encode():
        value = ((value ^ byte) * _FNV_PRIME) & 0xFFFFFFFF
    return value


@lru_cache(maxsize=65536)
def node_id(workflow_name: str, node_name: str) -> str:
    """Argo's ``Workflow.NodeID``: the root node's id is the workflow name."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{fnv1a_32(node_name)}"


def display_name(node_name: str, boundary_name: str | None) -> str:
    """The node name relative to its boundary node, as Argo's ``initializeNode`` computes it."""
    if boundary_name is None:
        return node_name
    relative = node_name.removeprefix(boundary_name)
    return _STEPS_OR_DAG_SEPARATOR.sub("", relative, count=1)


def retry_attempt_name(retry_node_name: str, attempt: int) -> str:
    return f"{retry_node_name}({attempt})"


def on_exit_node_name(parent_node_name: str) -> str:
    return f"{parent_node_name}.onExit"


def format_time(epoch: float) -> str:
    """An instant as Argo writes ``startedAt``/``finishedAt`` (RFC 3339, whole seconds, UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def new_node(
    *,
    workflow_name: str,
    name: str,
    node_type: str,
    phase: str,
    started_at: str,
    boundary: Node | None,
    template_name: str | None,
    message: str = "",
) -> Node:
    """A node record in Argo's shape; fulfilled nodes get ``finishedAt = startedAt``."""
    node: Node = {
        "id": node_id(workflow_name, name),
        "name": name,
        "displayName": display_name(name, boundary["name"] if boundary else None),
        "type": node_type,
        "phase": phase,
        "startedAt": started_at,
        "finishedAt": started_at if phase in FULFILLED_PHASES else None,
    }
    if template_name:
        node["templateName"] = template_name
    if boundary is not None:
        node["boundaryID"] = boundary["id"]
    if message:
        node["message"] = message
    return node
