"""Read an Argo Workflow object's ``status`` into Drover's run state, and diff two states.

Pure and forgiving: statuses come from Argo (possibly mid-run, compressed or hand-edited) and
from the local runner, so missing children, null timestamps and unknown node types are normal
input here. Nothing in this module raises on a malformed status; it reads what it can.

Vocabulary, for a compiled Drover workflow ``wf``::

    wf.<flow>                      DAG node of template ``flow-<flow>``
    wf.<flow>.<group>              the group: one DAG task fanned out over its shards
    wf.<flow>.<group>(i:i)         worker i (a Retry node when the worker template retries)
    wf.<flow>.<group>(i:i)(n)      attempt n of worker i (a Pod)

A *worker* is a Retry node or a Pod that is not an attempt of a Retry node; its *group* is its
node name without the workflow prefix and the trailing ``(i:item)``/``(n)`` parts, so for
Drover that is the group key ``flow.group``, and for any other workflow the task's path.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from collections import Counter
from dataclasses import dataclass, field, fields
from typing import Any, Final

from engine.backends.argo.pod_names import pod_name

__all__ = [
    "FINAL_PHASES",
    "GroupState",
    "RunDiff",
    "RunState",
    "ScenarioCounts",
    "WorkerState",
    "decode_nodes",
    "diff",
    "is_archive_record",
    "is_final",
    "parse_workflow",
]

FINAL_PHASES: Final = frozenset({"Succeeded", "Failed", "Error"})
_WORKER_TYPES: Final = frozenset({"Pod", "Retry", "Container", "HTTP", "Plugin"})
_GROUP_ONLY_TYPES: Final = frozenset({"TaskGroup", "Skipped"})
"""Nodes that name a group that has no workers (yet): a fan-out task, an omitted task."""
_ATTEMPT_SUFFIX: Final = re.compile(r"\((\d+)\)$")
_ITEM_SUFFIX: Final = re.compile(r"\((\d+):[^()]*\)$")
_EMPTY: Final[dict[str, Any]] = {}


ARCHIVING_STATUS: Final = "workflows.argoproj.io/workflow-archiving-status"
"""``Persisted`` on every workflow the archive returns (``ListWorkflows``, ``GetWorkflow``)."""


def is_final(phase: str | None) -> bool:
    return phase in FINAL_PHASES


def is_archive_record(workflow: dict[str, Any]) -> bool:
    """An archived workflow as the Argo Server lists it: a summary, not the workflow's state.

    ``ListWorkflows`` (server/workflow/workflow_server.go) appends the archive's records to
    the live workflows, and the archive lists only metadata (labelled ``Persisted``), phase,
    times and progress (persist/sqldb/workflow_archive.go ``ListWorkflows``): no
    resourceVersion and no nodes.
    Such a record must neither finish a run nor stand for its workers; ``GetWorkflow`` of the
    same name returns the whole archived workflow.
    """
    metadata = workflow.get("metadata") or {}
    status = workflow.get("status") or {}
    persisted = (metadata.get("labels") or {}).get(ARCHIVING_STATUS) == "Persisted"
    return (
        persisted
        and not metadata.get("resourceVersion")
        and not (
            status.get("nodes")
            or status.get("compressedNodes")
            or status.get("offloadNodeStatusVersion")
        )
    )


@dataclass(frozen=True, slots=True)
class ScenarioCounts:
    """The ``summary`` output parameter a worker's agent writes."""

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    error: int = 0

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped + self.error


@dataclass(frozen=True, slots=True)
class WorkerState:
    group: str
    shard: int
    node_id: str
    phase: str
    attempts: int
    pod_name: str | None
    started_at: str | None
    finished_at: str | None
    message: str | None
    summary: ScenarioCounts | None
    last_attempt_node_id: str | None
    """The Pod node of the latest attempt (where its logs and artifacts live)."""

    @property
    def key(self) -> tuple[str, int]:
        return (self.group, self.shard)


@dataclass(frozen=True, slots=True)
class GroupState:
    key: str
    node_id: str | None
    phase: str
    node_type: str | None
    started_at: str | None
    finished_at: str | None
    message: str | None


@dataclass(frozen=True)
class RunState:
    name: str
    uid: str | None
    phase: str
    """Argo's workflow phase; ``Pending`` when the controller has not written one yet."""
    started_at: str | None
    finished_at: str | None
    message: str | None
    progress: str | None
    labels: dict[str, str] = field(default_factory=dict)
    groups: dict[str, GroupState] = field(default_factory=dict)
    workers: dict[tuple[str, int], WorkerState] = field(default_factory=dict)
    pod_phases: dict[str, int] = field(default_factory=dict)
    """How many Pod nodes are in each phase."""
    suspended: bool = False
    """``spec.suspend``: Argo's ``SuspendWorkflow`` sets it, ``ResumeWorkflow`` clears it
    (workflow/util/util.go); the phase stays Running meanwhile."""

    @property
    def final(self) -> bool:
        return is_final(self.phase)


@dataclass(frozen=True)
class RunDiff:
    """What changed between two states: run fields by name, and changed/new groups and workers."""

    run: dict[str, Any] = field(default_factory=dict)
    groups: list[GroupState] = field(default_factory=list)
    workers: list[WorkerState] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.run or self.groups or self.workers)


_RUN_FIELDS: Final = (
    "name",
    "uid",
    "phase",
    "started_at",
    "finished_at",
    "message",
    "progress",
    "suspended",
)


def diff(old: RunState | None, new: RunState) -> RunDiff:
    """Only what differs; ``old=None`` means everything is new."""
    if old is None:
        return RunDiff(
            run={f: getattr(new, f) for f in _RUN_FIELDS},
            groups=list(new.groups.values()),
            workers=list(new.workers.values()),
        )
    run = {f: getattr(new, f) for f in _RUN_FIELDS if getattr(old, f) != getattr(new, f)}
    groups = [g for k, g in new.groups.items() if old.groups.get(k) != g]
    workers = [w for k, w in new.workers.items() if old.workers.get(k) != w]
    return RunDiff(run=run, groups=groups, workers=workers)


def parse_workflow(obj: Any) -> RunState:
    """The run state in a Workflow object (``argo get -o json`` shape); never raises."""
    obj = obj if isinstance(obj, dict) else _EMPTY
    metadata = _mapping(obj.get("metadata"))
    status = _mapping(obj.get("status"))
    name = _text(metadata.get("name")) or ""
    nodes = decode_nodes(status)
    labels = {str(k): str(v) for k, v in _mapping(metadata.get("labels")).items()}
    return RunState(
        name=name,
        uid=_text(metadata.get("uid")),
        phase=_text(status.get("phase")) or "Pending",
        started_at=_text(status.get("startedAt")),
        finished_at=_text(status.get("finishedAt")),
        message=_text(status.get("message")),
        progress=_text(status.get("progress")),
        labels=labels,
        groups=_groups(name, nodes),
        workers=_workers(obj, nodes),
        pod_phases=dict(
            Counter(_text(n.get("phase")) or "Pending" for n in nodes.values() if _is_pod(n))
        ),
        suspended=_mapping(obj.get("spec")).get("suspend") is True,
    )


def decode_nodes(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``status.nodes``, or the decoded ``status.compressedNodes`` (base64 of gzip JSON)."""
    nodes = status.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        nodes = _decompress(status.get("compressedNodes"))
    return {
        str(node_id): node | ({"id": node_id} if "id" not in node else {})
        for node_id, node in nodes.items()
        if isinstance(node, dict)
    }


def _decompress(blob: Any) -> dict[str, Any]:
    if not isinstance(blob, str) or not blob:
        return {}
    try:
        raw = base64.b64decode(blob)
        data = json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else zlib.decompress(raw))
    except (binascii.Error, OSError, EOFError, zlib.error, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _groups(workflow: str, nodes: dict[str, dict[str, Any]]) -> dict[str, GroupState]:
    """One entry per task path that has workers; the task node itself when it exists."""
    by_name = {_text(n.get("name")): n for n in nodes.values()}
    task_nodes = [n for n in nodes.values() if n.get("type") in _GROUP_ONLY_TYPES]
    paths = {_task_path(workflow, _text(n.get("name")) or "") for n in _worker_nodes(nodes)}
    paths |= {_task_path(workflow, _text(n.get("name")) or "") for n in task_nodes}
    groups = {}
    for path in sorted(p for p in paths if p):
        node = by_name.get(f"{workflow}.{path}") or by_name.get(f"{workflow}{path}") or _EMPTY
        groups[path] = GroupState(
            key=path,
            node_id=_text(node.get("id")),
            phase=_text(node.get("phase")) or "Pending",
            node_type=_text(node.get("type")),
            started_at=_text(node.get("startedAt")),
            finished_at=_text(node.get("finishedAt")),
            message=_text(node.get("message")),
        )
    return groups


def _workers(
    obj: dict[str, Any], nodes: dict[str, dict[str, Any]]
) -> dict[tuple[str, int], WorkerState]:
    workflow = _text(_mapping(obj.get("metadata")).get("name")) or ""
    workers: dict[tuple[str, int], WorkerState] = {}
    for node in _worker_nodes(nodes):
        name = _text(node.get("name")) or ""
        if node.get("type") == "Retry":
            attempts = [nodes[c] for c in _children(node) if c in nodes]
        else:
            attempts = [node]
        last = max(attempts, key=_attempt_number) if attempts else node
        worker = WorkerState(
            group=_task_path(workflow, name),
            shard=_shard_index(name),
            node_id=_text(node.get("id")) or "",
            phase=_text(node.get("phase")) or "Pending",
            attempts=len(attempts),
            pod_name=pod_name(obj, last) if attempts and _is_pod(last) else None,
            started_at=_text(node.get("startedAt")),
            finished_at=_text(node.get("finishedAt")),
            # A retry's own message ("No more retries left") says less than its last pod's.
            message=_text(last.get("message")) or _text(node.get("message")),
            summary=_summary(node) or _summary(last),
            last_attempt_node_id=_text(last.get("id")) if attempts else None,
        )
        workers[worker.key] = worker
    return workers


def _worker_nodes(nodes: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Retry nodes, and Pods that are not an attempt of a Retry node."""
    attempts = {
        c for n in nodes.values() if n.get("type") == "Retry" for c in _children(n) if c in nodes
    }
    return [
        n
        for node_id, n in nodes.items()
        if n.get("type") in _WORKER_TYPES and node_id not in attempts
    ]


def _task_path(workflow: str, name: str) -> str:
    if workflow and name.startswith(workflow) and name[len(workflow) : len(workflow) + 1] in ".[":
        path = name[len(workflow) :]
    else:
        cut = min((i for i in (name.find("."), name.find("[")) if i >= 0), default=len(name))
        path = name[cut:]
    path = path.removeprefix(".")
    while True:
        stripped = _ATTEMPT_SUFFIX.sub("", _ITEM_SUFFIX.sub("", path))
        if stripped == path:
            return path
        path = stripped


def _shard_index(name: str) -> int:
    name = _ATTEMPT_SUFFIX.sub("", name)
    match = _ITEM_SUFFIX.search(name)
    return int(match.group(1)) if match else 0


def _attempt_number(node: dict[str, Any]) -> int:
    match = _ATTEMPT_SUFFIX.search(_text(node.get("name")) or "")
    return int(match.group(1)) if match else -1


def _summary(node: dict[str, Any]) -> ScenarioCounts | None:
    for parameter in _list(_mapping(node.get("outputs")).get("parameters")):
        if isinstance(parameter, dict) and parameter.get("name") == "summary":
            try:
                data = json.loads(str(parameter.get("value")))
            except ValueError:
                return None
            if not isinstance(data, dict):
                return None
            values = {f.name: _count(data.get(f.name)) for f in fields(ScenarioCounts)}
            return ScenarioCounts(**values)
    return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _is_pod(node: dict[str, Any]) -> bool:
    return node.get("type") == "Pod"


def _children(node: dict[str, Any]) -> list[str]:
    return [str(c) for c in _list(node.get("children"))]


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else _EMPTY


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """Strings as they are; YAML-parsed datetimes and other scalars as text; null as None."""
    if value is None or isinstance(value, dict | list):
        return None
    if hasattr(value, "isoformat"):
        text: str = value.isoformat().replace("+00:00", "Z")
        return text
    return str(value)
