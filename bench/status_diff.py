"""Parse and diff a 10,000-worker workflow status, as the mirror does on every update.

    python bench/status_diff.py [--workers 10000] [--changed 50] [--updates 20]

The status is written the way Argo's controller writes it (and the local runner mirrors it):
node records from ``engine.backends.local.nodes`` (names, FNV ids, display names, boundaries)
and ``progress`` from ``engine.backends.local.status``: a root DAG, one DAG per flow, one
TaskGroup per group, and per worker a Retry node with its Pod, so about 20,000 nodes.

Each update moves ``--changed`` workers one step (Pending → Running → Succeeded/Failed).
Per update it measures the mirror's path (``engine.status.parse_workflow`` + ``diff``, and
the bytes of the rows ``api.mirror.executions`` would upsert) against the baseline of storing the
whole
status JSON each time (``json.dumps`` of ``status``, and its bytes).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any

from api.mirror.executions import group_row, worker_row
from engine.backends.local.nodes import Node, new_node
from engine.backends.local.status import update_progress
from engine.status import RunDiff, diff, parse_workflow

WORKFLOW = "shop-regression-4f2a9c"
FLOWS = 4
GROUPS_PER_FLOW = 5
T0 = "2026-01-01T00:00:00Z"
NEXT = {"Pending": "Running", "Running": "Succeeded"}


class StatusWriter:
    """Builds and updates ``status.nodes`` of one big Drover workflow, node by node."""

    def __init__(self, workers: int) -> None:
        self.nodes: dict[str, Node] = {}
        per_group = workers // (FLOWS * GROUPS_PER_FLOW)
        self.root = self._add(WORKFLOW, "DAG", "Running", None, "main")
        self.pods: list[Node] = []
        self.retries: dict[str, Node] = {}
        for f in range(FLOWS):
            flow = self._add(f"{WORKFLOW}.flow{f}", "DAG", "Running", self.root, f"flow-flow{f}")
            self._link(self.root, flow)
            for g in range(GROUPS_PER_FLOW):
                group = self._add(f"{flow['name']}.group{g}", "TaskGroup", "Running", flow, None)
                self._link(flow, group)
                for shard in range(per_group):
                    retry = self._add(
                        f"{group['name']}({shard}:{shard})", "Retry", "Pending", flow, "worker"
                    )
                    pod = self._add(f"{retry['name']}(0)", "Pod", "Pending", flow, "worker")
                    self._link(group, retry)
                    self._link(retry, pod)
                    self.retries[pod["id"]] = retry
                    self.pods.append(pod)

    def _add(
        self, name: str, kind: str, phase: str, boundary: Node | None, template: str | None
    ) -> Node:
        node = new_node(
            workflow_name=WORKFLOW,
            name=name,
            node_type=kind,
            phase=phase,
            started_at=T0,
            boundary=boundary,
            template_name=template,
        )
        self.nodes[node["id"]] = node
        return node

    @staticmethod
    def _link(parent: Node, child: Node) -> None:
        parent.setdefault("children", []).append(child["id"])

    def advance(self, count: int, rng: random.Random) -> None:
        """Move ``count`` unfinished workers one step, as one controller update would."""
        open_pods = [p for p in self.pods if p["phase"] in NEXT]
        for pod in rng.sample(open_pods, min(count, len(open_pods))):
            phase = NEXT[pod["phase"]]
            if phase == "Succeeded" and rng.random() < 0.05:
                phase = "Failed"
            stamp = "2026-01-01T00:10:00Z"
            for node in (pod, self.retries[pod["id"]]):
                node["phase"] = phase
                if phase in ("Succeeded", "Failed"):
                    node["finishedAt"] = stamp
                    node["outputs"] = {
                        "parameters": [
                            {"name": "summary", "value": '{"passed": 9, "failed": 1}'},
                        ]
                    }

    def workflow(self) -> dict[str, Any]:
        document = {
            "metadata": {"name": WORKFLOW, "uid": "5b1c", "labels": {"drover.dev/run-id": "r1"}},
            "status": {"phase": "Running", "startedAt": T0, "nodes": self.nodes},
        }
        update_progress(document)
        return document


def delta_bytes(delta: RunDiff) -> int:
    """Bytes of the values the mirror writes for one diff (run fields and upserted rows)."""
    rows: list[Any] = [delta.run] if delta.run else []
    rows += [group_row("r1", g) for g in delta.groups]
    rows += [worker_row("r1", w) for w in delta.workers]
    return len(json.dumps(rows, default=str).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=50, help="workers changed per update")
    parser.add_argument("--updates", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    writer = StatusWriter(args.workers)
    first = writer.workflow()
    print(
        f"workflow: {args.workers} workers, {len(first['status']['nodes'])} nodes, "
        f"{args.changed} workers changed per update, {args.updates} updates"
    )
    last = parse_workflow(first)

    parse_s, diff_s, mirror_b, base_s, base_b, changed_rows = [], [], [], [], [], []
    for _ in range(args.updates):
        writer.advance(args.changed, rng)
        workflow = writer.workflow()
        started = time.perf_counter()
        state = parse_workflow(workflow)
        parsed = time.perf_counter()
        delta = diff(last, state)
        diffed = time.perf_counter()
        written = delta_bytes(delta)
        last = state
        parse_s.append(parsed - started)
        diff_s.append(diffed - parsed)
        mirror_b.append(written)
        changed_rows.append(len(delta.workers) + len(delta.groups) + bool(delta.run))

        started = time.perf_counter()
        blob = json.dumps(workflow["status"]).encode()
        base_s.append(time.perf_counter() - started)
        base_b.append(len(blob))

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:8.1f} ms"

    mirror_time = [p + d for p, d in zip(parse_s, diff_s, strict=True)]
    print(f"mirror: parse_workflow per update  {ms(parse_s)} (median)")
    print(f"mirror: diff per update            {ms(diff_s)} (median)")
    print(f"mirror: parse + diff per update    {ms(mirror_time)} (median)")
    print(f"mirror: rows written per update    {statistics.median(changed_rows):8.0f}")
    print(f"mirror: bytes written per update   {statistics.median(mirror_b):8.0f} B")
    print(f"baseline: json.dumps(status)       {ms(base_s)} (median)")
    print(f"baseline: bytes written per update {statistics.median(base_b):8.0f} B")
    ratio_bytes = statistics.median(base_b) / statistics.median(mirror_b)
    ratio_time = statistics.median(mirror_time) / statistics.median(base_s)
    print(f"ratio: baseline bytes / mirror bytes = {ratio_bytes:.0f}x fewer bytes written")
    print(f"ratio: mirror CPU / baseline serialisation = {ratio_time:.1f}x")


if __name__ == "__main__":
    main()
