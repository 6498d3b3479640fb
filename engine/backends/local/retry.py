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

from engine.backends.local.node_selector import NodeSelector, SelectorError
from engine.backends.local.nodes import LEAF_WORK_TYPES, Node, node_id
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


def _below(nodes: dict[str, Node], roots: set[str]) -> set[str]:
    """Every node reachable from ``roots`` through ``children``, the roots left out."""
    found: set[str] = set()
    stack = [c for r in roots for c in nodes[r].get("children") or []]
    while stack:
        nid = stack.pop()
        if nid in found or nid not in nodes:
            continue
        found.add(nid)
        stack.extend(nodes[nid].get("children") or [])
    return found - roots


def _restarted(nodes: dict[str, Node], selected: set[str]) -> tuple[set[str], set[str]]:
    """For ``--restart-successful`` with a node field selector (``getNodeIDsToReset`` then
    ``resetPath``): what comes after a selected node goes, and the selected nodes and every
    node before them run again (the containers among them are reset, pods kept)."""
    if not selected:
        return set(), set()
    after = _below(nodes, selected)
    before = {nid for nid in nodes if nid not in after and _below(nodes, {nid}) & selected}
    return after, before | selected


def _reset_nodes(
    nodes: dict[str, Node], workflow_name: str, now: str | None, selected: set[str]
) -> dict[str, Node]:
    after, restarted = _restarted(nodes, selected)
    # What comes after a selected node goes, and so does a selected pod (it runs again);
    # the containers on the way are reset below.
    doomed = {nid for nid in after if nid not in restarted}
    doomed |= {nid for nid in selected if nodes[nid]["type"] not in (*_CONTAINERS, "Retry")}
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
        if (node["phase"] in ("Failed", "Error", "Running") or nid in restarted) and node[
            "type"
        ] in (*_CONTAINERS, "Retry"):
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


def retry_workflow(
    workflow: dict[str, Any], now: str, *, node_field_selector: str | None = None
) -> dict[str, Any]:
    """The workflow reset for ``argo retry``; only Failed/Error workflows can be retried, and a
    Succeeded one with ``--restart-successful`` and a node field selector, whose matching nodes
    run again (``FormulateRetryWorkflow``, workflow/util/util.go).

    As Argo's ``createNewRetryWorkflow`` does, the workflow starts again ``now``
    (``status.startedAt``) and has no end."""
    status = workflow.get("status") or {}
    phase = status.get("phase")
    if phase not in ("Failed", "Error") and not (phase == "Succeeded" and node_field_selector):
        raise Conflict(
            f"workflow '{workflow['metadata']['name']}' is {phase}: only Failed or Error "
            "workflows can be retried (a Succeeded one with restart-successful and a node "
            "field selector)"
        )
    nodes: dict[str, Node] = status.get("nodes") or {}
    selected: set[str] = set()
    if node_field_selector:
        try:
            matcher = NodeSelector.parse(node_field_selector)
        except SelectorError as exc:
            raise Conflict(str(exc)) from None
        selected = {nid for nid, node in nodes.items() if matcher.matches(node)}
    retried = copy.deepcopy(workflow)
    retried["spec"].pop("shutdown", None)
    retried["spec"].pop("suspend", None)
    new_status = retried["status"]
    new_status["phase"] = "Running"
    new_status["startedAt"] = now
    new_status["finishedAt"] = None
    for key in ("message", "conditions"):
        new_status.pop(key, None)
    new_status["nodes"] = _reset_nodes(nodes, workflow["metadata"]["name"], now, selected)
    labels = retried["metadata"].setdefault("labels", {})
    labels.pop("workflows.argoproj.io/completed", None)
    labels["workflows.argoproj.io/phase"] = "Running"
    return retried


def memoized_status(old: dict[str, Any], new_name: str, now: str) -> dict[str, Any]:
    """Status for ``resubmit --memoized``, as Argo's ``FormulateResubmitWorkflow``
    (workflow/util/util.go) writes it: the old nodes under the new name, but for the
    workflow's exit handler. A pod that did not fail becomes a Skipped node ("original pod:
    <old id>"); a Skipped node with no Succeeded node below it is dropped (its parent keeps
    its id, as Argo's ``convertNodeID`` does, until the node is made again); every other node
    is Pending, a failed pod with no start (``executeTemplate`` starts it again). The kept
    nodes start and end ``now``; the workflow is not yet picked up (Argo: phase Unknown)."""
    old_name = old["metadata"]["name"]
    old_nodes: dict[str, Node] = (old.get("status") or {}).get("nodes") or {}
    succeeded_below = _succeeded_below(old_nodes)

    def renamed(name: str) -> str:  # the "^<old name>" regexp Argo replaces
        return new_name + name[len(old_name) :] if name.startswith(old_name) else name

    def new_id(old_id: str) -> str:  # convertNodeID
        return node_id(new_name, renamed(str((old_nodes.get(old_id) or {}).get("name", ""))))

    nodes: dict[str, Node] = {}
    for old_id, old_node in old_nodes.items():
        if old_node["name"].startswith(f"{old_name}.onExit"):
            continue
        node = copy.deepcopy(old_node)
        node["name"] = renamed(node["name"])
        node["id"] = node_id(new_name, node["name"])
        if node.get("boundaryID"):
            node["boundaryID"] = new_id(node["boundaryID"])
        failed = node["phase"] in ("Failed", "Error")
        start = None if failed and node["type"] == "Pod" else now
        node["startedAt"] = node["finishedAt"] = start
        for key in ("children", "outboundNodes"):
            if key in node:
                node[key] = [new_id(child) for child in node[key]]
        if not failed and node["type"] == "Pod":
            node.update(type="Skipped", phase="Skipped", message=f"original pod: {old_id}")
        elif node["type"] == "Skipped" and not succeeded_below(old_id):
            continue
        else:
            node["phase"] = "Pending"
            node.pop("message", None)
        nodes[node["id"]] = node
    return {
        "phase": "Pending",
        "nodes": nodes,
        "conditions": [{"type": "Completed", "status": "False"}],
    }
