"""The exit handler's summary: the workflow's final status and, when given, the shard results."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from drover_agent.plan import PlanError, load_run_plan
from drover_agent.results import STATUSES

__all__ = ["collect_results", "summary", "summary_of"]

LISTED_FAILURES = 20


def collect_results(results_dir: Path) -> list[dict[str, Any]]:
    """Every shard results file under ``results_dir`` (other JSON files are ignored)."""
    found = []
    for path in sorted(results_dir.rglob("*.json")):
        try:
            document = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(document, dict) and "results" in document and "group" in document:
            found.append(document)
    return found


def summary(plan_dir: Path, status: str, results_dir: Path | None) -> str:
    found = results_dir is not None and results_dir.is_dir()
    return summary_of(plan_dir, status, collect_results(results_dir) if found else None)


def summary_of(plan_dir: Path, status: str, shards: list[dict[str, Any]] | None) -> str:
    """The summary of the workflow's end and of ``shards``' results (none: the status only)."""
    try:
        execution = load_run_plan(plan_dir).execution or "?"
    except PlanError:
        execution = "?"
    lines = [f"execution {execution}: workflow {status}"]
    if shards is None:
        return "\n".join(lines)
    per_group: dict[str, Counter[str]] = {}
    failures: list[str] = []
    for shard in shards:
        counts = per_group.setdefault(str(shard["group"]), Counter())
        for result in shard["results"]:
            counts[result["status"]] += 1
            if result["status"] in ("failed", "error"):
                first_line = (result.get("error") or "").strip().splitlines()[:1]
                failures.append(f"  {result['status']}: {result['id']}  {' '.join(first_line)}")
    total: Counter[str] = Counter()
    for group, counts in sorted(per_group.items()):
        total.update(counts)
        lines.append(f"  {group}: " + ", ".join(f"{counts[s]} {s}" for s in STATUSES))
    lines.append(f"{len(shards)} shards: " + ", ".join(f"{total[s]} {s}" for s in STATUSES))
    if failures:
        lines.append("failing scenarios:")
        lines.extend(failures[:LISTED_FAILURES])
        if len(failures) > LISTED_FAILURES:
            lines.append(f"  ... and {len(failures) - LISTED_FAILURES} more")
    return "\n".join(lines)
