"""Container logs saved as output artifacts (``archiveLogs``), as Argo's executor saves them.

Whether a pod's logs are archived is ``IsArchiveLogs`` (workflow/controller/workflowpod.go): the
artifact repository's setting when on (the local repository's is off), else the template's
``archiveLocation.archiveLogs``, else the workflow's ``spec.archiveLogs``.
They go under the template's archive location when it has a key, else under the repository's
default key format, ``{{workflow.name}}/{{pod.name}}`` (``addArchiveLocation``). ``SaveLogs``
(workflow/executor/executor.go) then stores each main container's log, ``<container>.log``
below that key, as an output artifact ``<container>-logs`` after the template's own; a
container that left no log is passed over.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.backends.local.scope import keyed_location

__all__ = ["LogArchive", "log_archive", "save_logs"]


@dataclass(frozen=True, slots=True)
class LogArchive:
    """Where a pod's container logs go: ``<kind>.key`` ``<key>/<container>.log``."""

    kind: str
    key: str


def log_archive(
    spec: Mapping[str, Any], template: Mapping[str, Any], workflow_name: str, pod_name: str
) -> LogArchive | None:
    """Where the pod of ``template`` archives its logs; None when it does not."""
    location = template.get("archiveLocation") or {}
    archive = spec.get("archiveLogs")
    if location.get("archiveLogs") is not None:
        archive = location["archiveLogs"]
    if not archive or "http" in template:  # an HTTP template runs in no pod of its own
        return None
    keyed = keyed_location(location)
    if keyed is not None:
        return LogArchive(*keyed)
    return LogArchive("s3", f"{workflow_name}/{pod_name}")


def save_logs(
    archive: LogArchive, logs: Mapping[str, Path], repository: Callable[[str], Path]
) -> list[dict[str, Any]]:
    """Copy each container's log (name → file, in the pod's order) into the repository; the
    output artifacts that record them."""
    artifacts = []
    for container, log in logs.items():
        if not log.is_file():
            continue
        key = f"{archive.key.rstrip('/')}/{container}.log"
        target = repository(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(log, target)
        location = {"blob" if archive.kind == "azure" else "key": key}
        artifacts.append({"name": f"{container}-logs", archive.kind: location})
    return artifacts
