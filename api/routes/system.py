"""Health, readiness, Prometheus metrics and the sharding preview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from sqlalchemy import func, select, text

from api.deps import AdminDep, ServiceDep, SessionDep
from api.models import Run, ScenarioResult
from api.schemas import ShardingPreviewIn
from engine.loading import parse_execution
from engine.planning import plan_execution

router = APIRouter(tags=["system"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up (no dependencies checked)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(session: SessionDep) -> dict[str, str]:
    """The database answers."""
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:
        raise HTTPException(503, f"database not ready: {type(exc).__name__}") from None
    return {"status": "ready"}


@router.get("/metrics", response_class=Response)
def metrics(service: ServiceDep, session: SessionDep, _: AdminDep) -> Response:
    """Prometheus text format: runs by phase, results by status, mirror state."""
    lines = [
        "# HELP drover_runs Runs by phase.",
        "# TYPE drover_runs gauge",
    ]
    for phase, count in session.execute(select(Run.phase, func.count()).group_by(Run.phase)):
        lines.append(f'drover_runs{{phase="{phase}"}} {count}')
    lines += [
        "# HELP drover_scenario_results Scenario results by status.",
        "# TYPE drover_scenario_results gauge",
    ]
    for status, count in session.execute(
        select(ScenarioResult.status, func.count()).group_by(ScenarioResult.status)
    ):
        lines.append(f'drover_scenario_results{{status="{status}"}} {count}')
    lines += [
        "# HELP drover_mirror_followed_runs Runs the mirror is following.",
        "# TYPE drover_mirror_followed_runs gauge",
        f"drover_mirror_followed_runs {len(service.mirror.followed)}",
        "# HELP drover_mirror_errors_total Failed mirror syncs (retried).",
        "# TYPE drover_mirror_errors_total counter",
        f"drover_mirror_errors_total {service.mirror.errors}",
    ]
    return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")


@router.post("/sharding/preview", tags=["sharding"])
def sharding_preview(body: ShardingPreviewIn, _: AdminDep) -> dict[str, Any]:
    """Plan an execution without running it: shards per group, predicted makespan, lower bound."""
    plan = plan_execution(parse_execution(body.execution), strategy=body.strategy)
    groups = []
    for group in plan.groups:
        shards = group.shards
        groups.append(
            {
                "key": group.key,
                "strategy": str(shards.strategy),
                "threads": shards.threads,
                "makespan": shards.makespan,
                "lower_bound": shards.lower_bound,
                "imbalance": shards.imbalance,
                "estimated": list(shards.estimated),
                "shards": [
                    {"index": s.index, "load": s.load, "scenarios": list(s.item_ids)}
                    for s in shards.shards
                ],
            }
        )
    return {
        "predicted_makespan": plan.predicted_makespan,
        "scenarios": plan.scenario_count,
        "groups": groups,
    }
