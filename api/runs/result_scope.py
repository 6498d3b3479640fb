"""What a run's results may be: scenarios of its plan, attempts its retry settings allow.

A worker token is for reporting the run's own scenarios. A result for a scenario the plan does
not hold, or under an attempt no worker could make (pod retry n numbers its reruns from
n * 100 + 1, up to the group's ``pod_retries`` and ``retries``), would skew the run's counters
(passed 60 and failed 1 of 60), so it is refused with 422 naming the result.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import LeaseItem, Run, RunGroup
from api.runs.results import ResultIn
from engine.errors import SpecError

__all__ = ["ATTEMPTS_PER_POD", "PlanScope", "check_results", "plan_scope"]

ATTEMPTS_PER_POD = 100
"""The agent's numbering: pod retry n runs scenario attempts n * 100 + 1, n * 100 + 2, ..."""
_CACHED = 512


@dataclass(frozen=True)
class PlanScope:
    ids: frozenset[str]
    """Every scenario id of the plan (empty: a run recorded without plan, nothing checked)."""
    pod_retries: int
    """The most pod retries any group allows."""
    reruns: int
    """The most reruns of a failed scenario any group allows."""


_cache: dict[str, PlanScope] = {}
_lock = threading.Lock()


def plan_scope(session: Session, run: Run) -> PlanScope:
    """The run's scope; a plan never changes, so it is read once per run and process."""
    with _lock:
        cached = _cache.get(run.id)
    if cached is not None:
        return cached
    ids: set[str] = set()
    for shards in session.scalars(
        select(RunGroup.shards).where(RunGroup.run_id == run.id, RunGroup.planned.is_(True))
    ):
        for shard in shards or []:
            ids.update(str(i) for i in shard)
    if run.queue_mode:
        ids.update(session.scalars(select(LeaseItem.scenario_id).where(LeaseItem.run_id == run.id)))
    pod_retries, reruns = _retry_limits(run.spec or {})
    scope = PlanScope(ids=frozenset(ids), pod_retries=pod_retries, reruns=reruns)
    with _lock:
        if len(_cache) >= _CACHED:
            _cache.pop(next(iter(_cache)))
        _cache[run.id] = scope
    return scope


def _retry_limits(spec: dict[str, Any]) -> tuple[int, int]:
    """The largest ``pod_retries`` and ``retries`` of any group (defaults as the spec's)."""
    defaults = spec.get("defaults") or {}
    pod_default = int(defaults.get("pod_retries", 2))
    rerun_default = int(defaults.get("retries", 0))
    pods, reruns = [pod_default], [rerun_default]
    for flow in spec.get("flows") or []:
        for group in flow.get("groups") or []:
            pods.append(
                int(
                    group.get("pod_retries")
                    if group.get("pod_retries") is not None
                    else pod_default
                )
            )
            reruns.append(
                int(group.get("retries") if group.get("retries") is not None else rerun_default)
            )
    return max(pods), max(reruns)


def check_results(scope: PlanScope, results: Sequence[ResultIn]) -> None:
    """Raise ``SpecError`` naming the first result outside the scope."""
    for index, result in enumerate(results):
        if scope.ids and result.scenario_id not in scope.ids:
            raise SpecError(
                f"results[{index}].id",
                f"scenario {result.scenario_id[:200]!r} is not in this run's plan",
                "report only the scenarios of the worker's shard or lease",
            )
        if result.attempt == 0:
            continue  # unnumbered (agents before attempts were numbered)
        pod, rerun = divmod(result.attempt - 1, ATTEMPTS_PER_POD)
        if pod > scope.pod_retries or rerun > scope.reruns:
            raise SpecError(
                f"results[{index}].attempt",
                f"attempt {result.attempt} is not one this run makes: pod retry {pod} of at most "
                f"{scope.pod_retries}, rerun {rerun} of at most {scope.reruns}",
                "attempts are numbered pod retry * 100 + rerun + 1",
            )
