"""Derived status fields: ``progress`` of nodes and workflow, ``resourcesDuration`` totals.

``progress`` is Argo's ``N/M`` (pkg/apis/workflow/v1alpha1/progress.go), computed before each
persist as workflow/progress/updater.go ``UpdateProgress`` does: executable nodes (Pod, HTTP,
Plugin, Container, Suspend) hold their own, ``0/1`` by default, made complete (``M/M``) once
Succeeded, Skipped or Omitted; every other node sums the executable nodes reachable through
its ``children``; the workflow sums all executable nodes. A pod may report its own progress
through the file ``ARGO_PROGRESS_FILE`` names (workflow/executor/executor.go
``monitorProgress``): ``reported_progress`` reads it as the executor does.
"""

from __future__ import annotations

import re
from typing import Any, Final

from engine.backends.local.nodes import Node

__all__ = [
    "PROGRESS_DEFAULT",
    "PROGRESS_ZERO",
    "add_progress",
    "complete_progress",
    "executable",
    "is_valid_progress",
    "parse_progress",
    "reported_progress",
    "update_progress",
    "update_resource_durations",
]

PROGRESS_ZERO: Final = "0/0"
"""``ProgressZero``: the sum of nothing (not the same as no progress)."""
PROGRESS_DEFAULT: Final = "0/1"
"""``ProgressDefault``: an executable node that has reported nothing."""

_EXECUTABLE: Final = frozenset({"Pod", "HTTP", "Plugin", "Container", "Suspend"})
_COMPLETE_PHASES: Final = frozenset({"Succeeded", "Skipped", "Omitted"})
_INT64_MAX: Final = 2**63 - 1
_INT64_MIN: Final = -(2**63)
_GO_INT: Final = re.compile(r"[+-]?[0-9]+")


def _int64(text: str) -> int:
    """Go's ``parseInt64``: ``strconv.ParseInt(s, 10, 64)`` with its error dropped (0 for a
    malformed number, the nearest bound for one out of range)."""
    if not _GO_INT.fullmatch(text):
        return 0
    return max(_INT64_MIN, min(_INT64_MAX, int(text)))


def _n_m(progress: str) -> tuple[int, int]:
    """``Progress.N()`` and ``Progress.M()``. Without a ``/`` Go's ``M()`` indexes past the
    split and panics; here M is 0, which no valid progress has."""
    n, sep, m = progress.partition("/")
    return _int64(n), _int64(m) if sep else 0


def is_valid_progress(progress: str | None) -> bool:
    """``Progress.IsValid``: ``N/M`` with ``0 <= N <= M`` and ``M > 0``."""
    if not progress:
        return False
    n, m = _n_m(progress)
    return 0 <= n <= m and m > 0


def parse_progress(text: str) -> str | None:
    """``ParseProgress``: the text itself when it is a valid progress, else None."""
    return text if is_valid_progress(text) else None


def add_progress(a: str, b: str) -> str:
    """``Progress.Add``: N and M summed."""
    an, am = _n_m(a)
    bn, bm = _n_m(b)
    return f"{an + bn}/{am + bm}"


def complete_progress(progress: str) -> str:
    """``Progress.Complete``: ``M/M``."""
    m = _n_m(progress)[1]
    return f"{m}/{m}"


def executable(node_type: str) -> bool:
    """updater.go ``executable``: node types whose progress is their own, not summed."""
    return node_type in _EXECUTABLE


def update_progress(workflow: dict[str, Any]) -> None:
    """updater.go ``UpdateProgress``: executable nodes first (default ``0/1``, complete once
    Succeeded/Skipped/Omitted, invalid ones left out), then every other node's sum over its
    children where that sum is valid; the workflow's progress is the executable nodes' total.

    Argo's ``sumProgress`` walks each node's descendants afresh, counting each once: quadratic,
    which a persist of a workflow of thousands of nodes cannot afford here. The same sums come
    from each node's reachable executable nodes as a bitset, built once per call from its
    children's (``_reachable``), and counted with popcounts: a ``0/1`` or ``1/1`` node adds its
    bit to M (and to N when complete); the few nodes that reported other values are added one
    by one."""
    status = workflow.setdefault("status", {})
    nodes: dict[str, Node] = status.get("nodes") or {}
    total_n = total_m = 0
    bits: dict[str, int] = {}
    ones_m = ones_n = 0
    others: list[tuple[int, int, int]] = []  # (bit, N, M) of any other valid progress
    for node_id, node in nodes.items():
        if not executable(node["type"]):
            continue
        if not node.get("progress"):
            node["progress"] = PROGRESS_DEFAULT
        n, m = _n_m(node["progress"])
        if not 0 <= n <= m or m <= 0:
            continue
        if node["phase"] in _COMPLETE_PHASES:
            n = m
            node["progress"] = f"{m}/{m}"
        total_n, total_m = total_n + n, total_m + m
        bit = 1 << len(bits)
        bits[node_id] = bit
        if m == 1:
            ones_m |= bit
            ones_n |= bit if n == 1 else 0
        else:
            others.append((bit, n, m))
    for node_id, reach in _reachable(nodes, bits).items():
        node = nodes[node_id]
        if executable(node["type"]):
            continue
        n = (reach & ones_n).bit_count() + sum(on for bit, on, _ in others if reach & bit)
        m = (reach & ones_m).bit_count() + sum(om for bit, _, om in others if reach & bit)
        if 0 <= n <= m and m > 0:
            node["progress"] = f"{n}/{m}"
    status["progress"] = f"{total_n}/{total_m}"


def _reachable(nodes: dict[str, Node], bits: dict[str, int]) -> dict[str, int]:
    """Each node's descendants through ``children`` links (missing ones ignored), as the union
    of the ``bits`` of those that have one; built children first, without recursion."""
    reach: dict[str, int] = {}
    for root in nodes:
        if root in reach:
            continue
        stack, entered = [root], {root}
        while stack:
            node_id = stack[-1]
            children = [c for c in nodes[node_id].get("children") or [] if c in nodes]
            pending = [c for c in children if c not in reach and c not in entered]
            if pending:
                stack.extend(pending)
                entered.update(pending)
                continue
            stack.pop()
            union = 0
            for child in children:
                union |= bits.get(child, 0) | reach.get(child, 0)
            reach[node_id] = union
    return reach


def update_resource_durations(workflow: dict[str, Any]) -> None:
    """``status.resourcesDuration``: the pods' CPU seconds summed (memory counted alike)."""
    status = workflow.setdefault("status", {})
    cpu = sum(
        int((node.get("resourcesDuration") or {}).get("cpu", 0))
        for node in (status.get("nodes") or {}).values()
        if node["type"] == "Pod"
    )
    if cpu:
        status["resourcesDuration"] = {"cpu": cpu, "memory": cpu}


def reported_progress(data: str, last_line: str) -> tuple[str | None, str]:
    """What the executor's ``monitorProgress`` makes of the progress file's content: its last
    line, trimmed, when it differs from ``last_line`` (the one read before) and is a valid
    progress; with the line now last read. An empty or unchanged last line reports nothing."""
    lines = data.strip().split("\n")
    most_recent = lines[-1].strip()
    if not most_recent or most_recent == last_line:
        return None, last_line
    return parse_progress(most_recent), most_recent
