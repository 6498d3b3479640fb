"""Derived status fields: ``progress`` of nodes and workflow, ``resourcesDuration`` totals.

Argo's ``progress`` is "done/total" over pod nodes: a pod is ``1/1`` once fulfilled and
``0/1`` before; a parent node sums the pods beneath it; the workflow sums all pods.
"""

from __future__ import annotations

from typing import Any

from engine.backends.local.nodes import FULFILLED_PHASES, Node

__all__ = ["update_progress"]


def _grouped_counts(
    nodes: dict[str, Node], node: Node, boundary: dict[str, list[int]]
) -> list[int]:
    """Pods under a Retry/TaskGroup/StepGroup node: its children and what they contain."""
    counts = [0, 0]
    for child_id in node.get("children") or []:
        child = nodes.get(child_id)
        if child is None or child.get("boundaryID") != node.get("boundaryID"):
            continue
        if child["type"] == "Pod":
            counts[0] += int(child["phase"] in FULFILLED_PHASES)
            counts[1] += 1
        elif child["type"] in ("Retry", "TaskGroup"):
            sub = _grouped_counts(nodes, child, boundary)
            counts = [counts[0] + sub[0], counts[1] + sub[1]]
        elif child["type"] in ("DAG", "Steps"):
            sub = boundary.get(child_id, [0, 0])
            counts = [counts[0] + sub[0], counts[1] + sub[1]]
    return counts


def update_progress(workflow: dict[str, Any]) -> None:
    """Set ``progress`` on every node and on the workflow, and sum ``resourcesDuration``."""
    status = workflow.get("status") or {}
    nodes: dict[str, Node] = status.get("nodes") or {}
    boundary: dict[str, list[int]] = {}
    total = [0, 0]
    cpu = 0
    for node in nodes.values():
        if node["type"] != "Pod":
            continue
        done = int(node["phase"] in FULFILLED_PHASES)
        node["progress"] = "1/1" if done else "0/1"
        total[0] += done
        total[1] += 1
        cpu += int((node.get("resourcesDuration") or {}).get("cpu", 0))
        ancestor = node.get("boundaryID")
        while ancestor:
            counts = boundary.setdefault(ancestor, [0, 0])
            counts[0] += done
            counts[1] += 1
            ancestor = (nodes.get(ancestor) or {}).get("boundaryID")
    for nid, node in nodes.items():
        if node["type"] in ("DAG", "Steps"):
            done, count = boundary.get(nid, [0, 0])
            node["progress"] = f"{done}/{count}"
        elif node["type"] in ("Retry", "TaskGroup", "StepGroup"):
            done, count = _grouped_counts(nodes, node, boundary)
            node["progress"] = f"{done}/{count}"
    status["progress"] = f"{total[0]}/{total[1]}"
    if cpu:
        status["resourcesDuration"] = {"cpu": cpu, "memory": cpu}
