"""``argo retry`` and ``argo resubmit --memoized`` as pure status rewrites.

Retry keeps every succeeded (or skipped) node, deletes failed/errored pods, exhausted Retry
nodes with their attempts, omitted nodes, shutdown placeholders and the exit handler, and
resets their parents (DAG, Steps, StepGroup, TaskGroup) to Running from ``now``, so the next
operate pass reruns exactly what failed. A failed pod that something below it in the graph
succeeded after (its dependents went on: ``continueOn``) stays, as ``FormulateRetryWorkflow``
keeps it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from engine.backends.local.nodes import LEAF_WORK_TYPES, Node, display_name, node_id
from engine.errors import Conflict

__all__ = ["memoized_status", "retry_workflow"]

_CONTAINERS = ("DAG", "Steps", "StepGroup", "TaskGroup")


def _succeeded_below(nodes: dict[str, Node]) -> Callable[[str], bool]:
    """Whether a node has a Succeeded node among its descendants (``isDescendantNodeSucceeded``
    in Argo's workflow/util/util.go; a DAG task's children are the tasks that depend on it)."""
    seen: dict[str, bool] = {}

    def below(nid: str) -> bool:
        if nid not in seen:
            seen[nid] = False  # a cycle adds nothing
            children = [nodes[c] for c in nodes[nid].get("children") or [] if c in nodes]
            seen[nid] = any(c["phase"] == "Succeeded" or below(c["id"]) for c in children)
        return seen[nid]

    return below


def _reset_nodes(nodes: dict[str, Node], workflow_name: str, now: str | None) -> dict[str, Node]:
    doomed: set[str] = set()
    succeeded_below = _succeeded_below(nodes)
    # Failed attempts of a Retry node that eventually succeeded stay as they are.
    protected = {
        child
        for node in nodes.values()
        if node["type"] == "Retry" and node["phase"] == "Succeeded"
        for child in node.get("children") or []
    }
    for nid, node in nodes.items():
        phase = node["phase"]
        if nid in protected:
            continue
        if node["name"].endswith(".onExit"):
            doomed.add(nid)  # exit handlers run again after the retried part
            continue
        if phase in ("Failed", "Error") and node["type"] in (
            *LEAF_WORK_TYPES,
            "Retry",
            "Suspend",
            "Skipped",
        ):
            if node["type"] in (*LEAF_WORK_TYPES, "Retry") and succeeded_below(
                _retry_parent(nodes, node) or nid
            ):
                continue  # what depends on it went on (continueOn) and succeeded: it stays
            doomed.add(nid)
            if node["type"] == "Retry":
                doomed |= {
                    c
                    for c in node.get("children") or []
                    if nodes.get(c, {}).get("name", "").startswith(node["name"] + "(")
                }
        elif (
            phase == "Omitted"
            or (node["type"] == "Skipped" and "workflow shutdown" in node.get("message", ""))
            or (phase in ("Running", "Pending") and node["type"] in (*LEAF_WORK_TYPES, "Suspend"))
        ):
            doomed.add(nid)
    kept: dict[str, Node] = {}
    for nid, node in nodes.items():
        if nid in doomed:
            continue
        node = copy.deepcopy(node)
        if "children" in node:
            node["children"] = [c for c in node["children"] if c not in doomed]
            if not node["children"]:
                del node["children"]
        if node["phase"] in ("Failed", "Error", "Running") and node["type"] in (
            *_CONTAINERS,
            "Retry",
        ):
            node["phase"] = "Running"
            node["finishedAt"] = None
            if now is not None:
                node["startedAt"] = now  # Argo's resetNode
            node.pop("message", None)
            node.pop("outboundNodes", None)
            node.pop("outputs", None)
        kept[nid] = node
    return kept


def _retry_parent(nodes: dict[str, Node], node: Node) -> str | None:
    """The Retry node an attempt belongs to (Argo's ``FindRetryNodeByChild``)."""
    if not (node.get("nodeFlag") or {}).get("retried"):
        return None
    return next(
        (
            n["id"]
            for n in nodes.values()
            if n["type"] == "Retry" and node["id"] in (n.get("children") or [])
        ),
        None,
    )


def retry_workflow(workflow: dict[str, Any], now: str) -> dict[str, Any]:
    """The workflow reset for ``argo retry``; only Failed/Error workflows can be retried.

    As Argo's ``createNewRetryWorkflow`` (workflow/util/util.go) does, the workflow starts
    again ``now`` (``status.startedAt``) and has no end."""
    status = workflow.get("status") or {}
    if status.get("phase") not in ("Failed", "Error"):
        raise Conflict(
            f"workflow '{workflow['metadata']['name']}' is {status.get('phase')}: "
            "only Failed or Error workflows can be retried"
        )
    retried = copy.deepcopy(workflow)
    retried["spec"].pop("shutdown", None)
    retried["spec"].pop("suspend", None)
    new_status = retried["status"]
    new_status["phase"] = "Running"
    new_status["startedAt"] = now
    new_status["finishedAt"] = None
    for key in ("message", "conditions"):
        new_status.pop(key, None)
    new_status["nodes"] = _reset_nodes(status.get("nodes") or {}, workflow["metadata"]["name"], now)
    labels = retried["metadata"].setdefault("labels", {})
    labels.pop("workflows.argoproj.io/completed", None)
    labels["workflows.argoproj.io/phase"] = "Running"
    return retried


def memoized_status(old: dict[str, Any], new_name: str) -> dict[str, Any]:
    """Status for ``resubmit --memoized``: the old run's succeeded nodes under the new name."""
    old_name = old["metadata"]["name"]
    nodes = _reset_nodes((old.get("status") or {}).get("nodes") or {}, old_name, None)

    def rename(name: str) -> str:
        return new_name + name[len(old_name) :] if name.startswith(old_name) else name

    id_map = {nid: node_id(new_name, rename(node["name"])) for nid, node in nodes.items()}
    renamed: dict[str, Node] = {}
    for nid, node in nodes.items():
        node["name"] = rename(node["name"])
        node["id"] = id_map[nid]
        if node.get("boundaryID") in id_map:
            node["boundaryID"] = id_map[node["boundaryID"]]
        else:
            node.pop("boundaryID", None)
        for key in ("children", "outboundNodes"):
            if key in node:
                node[key] = [id_map[c] for c in node[key] if c in id_map]
        if node["name"] == new_name:
            node["displayName"] = new_name
        renamed[node["id"]] = node
    for node in renamed.values():
        boundary = renamed.get(node.get("boundaryID", ""))
        if boundary is not None:
            node["displayName"] = display_name(node["name"], boundary["name"])
    return {"phase": "Running", "nodes": renamed}
