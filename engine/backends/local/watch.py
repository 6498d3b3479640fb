"""Watching the local state directory: Argo's ADDED/MODIFIED/DELETED events, by polling.

Every process that runs or controls a local workflow rewrites its ``workflow.json``
atomically, so a change of the file's stamp (mtime, size, inode) is a change of the workflow.
The decision of what changed is pure (:func:`changes`); :func:`poll_events` does the I/O.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

from engine.backends.base import WorkflowEvent
from engine.errors import NotFound

__all__ = ["Stamp", "carries_labels", "changes", "file_stamp", "poll_events", "stamps"]

Stamp = tuple[int, int, int]
"""``(mtime_ns, size, inode)`` of a ``workflow.json``."""
ChangeType = Literal["ADDED", "MODIFIED", "DELETED"]


def carries_labels(workflow: dict[str, Any], labels: dict[str, str] | None) -> bool:
    """Whether the workflow has every label in ``labels`` with that value (None: any)."""
    if not labels:
        return True
    present = (workflow.get("metadata") or {}).get("labels") or {}
    return all(present.get(key) == value for key, value in labels.items())


def changes(previous: dict[str, Stamp], current: dict[str, Stamp]) -> list[tuple[ChangeType, str]]:
    """What happened between two scans, by workflow name (sorted, deletions last)."""
    found: list[tuple[ChangeType, str]] = []
    for name in sorted(current):
        before = previous.get(name)
        if before is None:
            found.append(("ADDED", name))
        elif before != current[name]:
            found.append(("MODIFIED", name))
    found += [("DELETED", name) for name in sorted(set(previous) - set(current))]
    return found


def stamps(workflows_dir: Path) -> dict[str, Stamp]:
    """The stamp of every stored workflow (a directory without ``workflow.json`` is skipped)."""
    found: dict[str, Stamp] = {}
    try:
        entries = list(os.scandir(workflows_dir))
    except FileNotFoundError:
        return found
    for entry in entries:
        stamp = file_stamp(os.path.join(entry.path, "workflow.json"))
        if stamp is not None:
            found[entry.name] = stamp
    return found


def file_stamp(path: str | Path) -> Stamp | None:
    """The stamp of one ``workflow.json`` (None: there is none)."""
    try:
        stat = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (stat.st_mtime_ns, stat.st_size, stat.st_ino)


def poll_events(
    workflows_dir: Path,
    load: Callable[[str], dict[str, Any]],
    *,
    labels: dict[str, str] | None = None,
    interval: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[WorkflowEvent]:
    """Events for workflows carrying ``labels``, forever: every existing one first (ADDED).

    A workflow counts as added the first time it is seen carrying the labels, and as deleted
    when its files are gone; ``load`` reads one workflow (``LocalBackend.get``).
    """
    known: dict[str, Stamp] = {}
    emitted: dict[str, dict[str, Any]] = {}
    """Name → metadata of workflows the consumer has seen (what a DELETED event carries)."""
    while True:
        current = stamps(workflows_dir)
        for change, name in changes(known, current):
            if change == "DELETED":
                meta = emitted.pop(name, None)
                if meta is not None:
                    yield WorkflowEvent("DELETED", {"metadata": meta})
                continue
            try:
                workflow = load(name)
            except NotFound:  # removed between the scan and the read
                current.pop(name, None)
                continue
            if not carries_labels(workflow, labels):
                continue
            kind: ChangeType = "MODIFIED" if name in emitted else "ADDED"
            emitted[name] = dict(workflow.get("metadata") or {})
            yield WorkflowEvent(kind, workflow)
        known = current
        sleep(interval)
