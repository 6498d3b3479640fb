"""Per-scenario results of a run, read from the workers' ``results`` artifacts.

Every planned scenario gets exactly one outcome: the agent's final result for it, or
``not_run`` when its worker never started (a halted flow) or ended without reporting it.
The artifact reader is injected, so this works for the local store and an artifact repository.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.planning import ExecutionPlan
from engine.status import RunState

__all__ = ["ArtifactReader", "ScenarioOutcome", "collect_results", "outcome_counts"]

ArtifactReader = Callable[[str], bytes | None]
"""Given a Pod node id, the bytes of its ``results`` artifact, or None."""

OUTCOMES = ("passed", "failed", "skipped", "error", "not_run")


@dataclass(frozen=True)
class ScenarioOutcome:
    id: str
    group: str
    shard: int
    status: str
    """passed | failed | skipped | error | not_run"""
    duration: float | None = None
    attempt: int | None = None
    error: str | None = None
    worker: str | None = None
    artifacts: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _read_report(read: ArtifactReader, node_id: str | None) -> dict[str, dict[str, Any]]:
    if node_id is None:
        return {}
    blob = read(node_id)
    if not blob:
        return {}
    try:
        document = json.loads(blob)
        return {str(r["id"]): r for r in document.get("results", []) if isinstance(r, dict)}
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


def collect_results(
    plan: ExecutionPlan, state: RunState, read_artifact: ArtifactReader
) -> list[ScenarioOutcome]:
    """One outcome per planned scenario, in plan order."""
    outcomes: list[ScenarioOutcome] = []
    for group in plan.groups:
        for index, planned in enumerate(group.workers):
            worker = state.workers.get((group.key, index))
            node_id = worker.last_attempt_node_id if worker else None
            reported = _read_report(read_artifact, node_id)
            for scenario in planned:
                result = reported.get(scenario.id)
                if result is None:
                    reason = (
                        "its worker never started"
                        if worker is None
                        else f"its worker ended {worker.phase} without reporting it"
                    )
                    outcomes.append(
                        ScenarioOutcome(
                            id=scenario.id,
                            group=group.key,
                            shard=index,
                            status="not_run",
                            error=reason,
                            worker=worker.pod_name if worker else None,
                        )
                    )
                    continue
                outcomes.append(
                    ScenarioOutcome(
                        id=scenario.id,
                        group=group.key,
                        shard=index,
                        status=str(result.get("status", "error")),
                        duration=result.get("duration"),
                        attempt=result.get("attempt"),
                        error=result.get("error"),
                        worker=worker.pod_name if worker else None,
                        artifacts=list(result.get("artifacts") or []),
                    )
                )
    return outcomes


def outcome_counts(outcomes: list[ScenarioOutcome]) -> dict[str, int]:
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome in outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    return counts
