"""Health, readiness, the cluster doctor, Prometheus metrics and the sharding preview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from sqlalchemy import text

from api.deps import AdminDep, ServiceDep, SessionDep
from api.doctor import doctor_report
from api.metrics import CONTENT_TYPE, service_metrics
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


@router.get("/system/doctor")
def doctor(service: ServiceDep, _: AdminDep) -> dict[str, Any]:
    """Is the Argo path ready (the checks of ``drover doctor``): ``ok`` and every check with
    what it found and, when something is missing, how to fix it."""
    return doctor_report(service.settings).to_dict()


@router.get("/metrics", response_class=Response)
def metrics(service: ServiceDep, _: AdminDep) -> Response:
    """Prometheus text format: runs by phase, results by status, mirror state."""
    return Response(service_metrics(service.sessions, service.mirror), media_type=CONTENT_TYPE)


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
