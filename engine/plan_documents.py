"""The shard plan as files for the agent, packed into ConfigMaps that stay under Kubernetes' 1 MiB.

The plan travels outside the Workflow so the manifest's size does not grow with the number of
scenarios. Workers see it as one directory (a projected volume over every plan ConfigMap):

- ``run.json``: the project (source, ref, setup commands) and the runner;
- ``<flow>.<group>.json`` per group: settings and each worker's scenarios, in order.

Large plans are gzip-compressed (``.json.gz`` in ``binaryData``) and, when one group alone would
not fit in a ConfigMap, split by workers into ``<key>.part<N>.json.gz``; the agent merges parts.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from engine.planning import ExecutionPlan, GroupPlan
from engine.spec import ENTRY_FIELDS

__all__ = [
    "CONFIGMAP_BUDGET",
    "PLAN_FORMAT_VERSION",
    "PlanFile",
    "group_document",
    "plan_configmaps",
    "plan_files",
    "plan_id",
    "run_document",
]

PLAN_FORMAT_VERSION = 1
# The API server refuses objects over 1 MiB; leave room for metadata and base64 padding.
CONFIGMAP_BUDGET = 900_000
# Below this total the plan stays plain JSON, readable with `kubectl get configmap -o yaml`.
PLAIN_LIMIT = 256_000


@dataclass(frozen=True)
class PlanFile:
    name: str
    content: bytes
    binary: bool

    @property
    def stored_size(self) -> int:
        """Bytes the file takes inside a ConfigMap (binaryData is base64)."""
        return (len(self.content) + 2) // 3 * 4 if self.binary else len(self.content)


_DOCUMENT = TypeAdapter(dict[str, Any])


def _dumps(document: dict[str, Any]) -> bytes:
    """Compact JSON, each scenario model written as its entry by pydantic's serializer (in
    one pass, without a dict per scenario)."""
    return _DOCUMENT.dump_json(document, **ENTRY_FIELDS)


def run_document(plan: ExecutionPlan) -> dict[str, Any]:
    project = plan.execution.project
    return {
        "version": PLAN_FORMAT_VERSION,
        "execution": plan.execution.name,
        "project": {
            "name": project.name,
            "repo": project.repo,
            "path": project.path,
            "ref": project.ref,
            "setup": project.setup,
            "runner": project.runner.model_dump(mode="json"),
        },
        "groups": [g.key for g in plan.groups],
    }


def group_document(group: GroupPlan, workers: range | None = None) -> dict[str, Any]:
    settings = group.settings
    indexes = workers if workers is not None else range(settings.threads)
    return {
        "version": PLAN_FORMAT_VERSION,
        "group": group.key,
        "flow": group.flow,
        "name": group.name,
        "threads": settings.threads,
        "strategy": str(settings.strategy),
        "retries": settings.retries,
        "scenario_timeout": settings.scenario_timeout,
        "predicted_makespan": round(group.shards.makespan, 3),
        "workers": {str(i): group.workers[i] for i in indexes},
    }


def plan_files(plan: ExecutionPlan, *, budget: int = CONFIGMAP_BUDGET) -> list[PlanFile]:
    """Every file of the plan directory, compressed and split only as far as needed."""
    run = PlanFile("run.json", _dumps(run_document(plan)), binary=False)
    plain = [PlanFile(f"{g.key}.json", _dumps(group_document(g)), False) for g in plan.groups]
    if run.stored_size + sum(f.stored_size for f in plain) <= PLAIN_LIMIT:
        return [run, *plain]
    files = [run]
    for group, document in zip(plan.groups, plain, strict=True):
        files.extend(_compressed_group_files(group, document.content, budget))
    return files


def _compressed_group_files(group: GroupPlan, document: bytes, budget: int) -> list[PlanFile]:
    whole = PlanFile(f"{group.key}.json.gz", _gzip_bytes(document), binary=True)
    if whole.stored_size <= budget:
        return [whole]
    # Split the workers into as many equal ranges as needed for each part to fit.
    threads = group.settings.threads
    parts = -(-whole.stored_size // budget) + 1
    while True:
        size = -(-threads // parts)
        files = [
            PlanFile(
                f"{group.key}.part{n}.json.gz",
                _gzip(group_document(group, range(start, min(start + size, threads)))),
                binary=True,
            )
            for n, start in enumerate(range(0, threads, size))
        ]
        if all(f.stored_size <= budget for f in files) or size == 1:
            return files
        parts *= 2


def _gzip(document: dict[str, Any]) -> bytes:
    return _gzip_bytes(_dumps(document))


def _gzip_bytes(content: bytes) -> bytes:
    # mtime=0 keeps the bytes, and so the plan id, deterministic.
    return gzip.compress(content, compresslevel=6, mtime=0)


def plan_id(files: list[PlanFile]) -> str:
    """A short content hash: equal plans share ConfigMaps, a changed plan gets new ones."""
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.name.encode() + b"\0" + f.content + b"\0")
    return digest.hexdigest()[:10]


def plan_configmaps(
    files: list[PlanFile],
    *,
    name_prefix: str,
    labels: dict[str, str],
    budget: int = CONFIGMAP_BUDGET,
) -> list[dict[str, Any]]:
    """Pack the files, in order, into as few ConfigMaps as fit the budget."""
    bins: list[list[PlanFile]] = []
    used: list[int] = []
    for f in files:
        for i, size in enumerate(used):
            if size + f.stored_size <= budget:
                bins[i].append(f)
                used[i] += f.stored_size
                break
        else:
            bins.append([f])
            used.append(f.stored_size)
    configmaps = []
    for i, members in enumerate(bins):
        data = {f.name: f.content.decode() for f in members if not f.binary}
        binary = {f.name: base64.b64encode(f.content).decode() for f in members if f.binary}
        configmap: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name_prefix}-{i}", "labels": dict(labels)},
        }
        if data:
            configmap["data"] = data
        if binary:
            configmap["binaryData"] = binary
        configmaps.append(configmap)
    return configmaps
