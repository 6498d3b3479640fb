"""Health, readiness, the cluster doctor, Prometheus metrics and the sharding preview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from sqlalchemy import text

from api.deps import AdminDep, ServiceDep, SessionDep
from api.doctor import doctor_report
from api.metrics import CONTENT_TYPE, service_metrics
from api.models import Execution
from api.runs.history import apply_history
from api.runs.plans import replan
from api.schemas import GroupPreview, ShardingPreviewIn, ShardingPreviewOut, ShardPreview
from api.specs import parse_api_execution
from engine.errors import NotFound
from engine.loading import parse_execution

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


def _seconds(value: float) -> float:
    """Predictions are estimates: a tenth of a second is all the precision they have."""
    return round(value, 1)


@router.post("/sharding/preview", tags=["sharding"], response_model=ShardingPreviewOut)
def sharding_preview(
    body: ShardingPreviewIn, session: SessionDep, _: AdminDep
) -> ShardingPreviewOut:
    """Plan an execution without running it: shards per group, predicted makespan, lower bound.

    ``execution_id`` plans a stored execution as "run now" would, with the durations its
    earlier runs measured; ``execution`` plans a document as given."""
    if body.execution_id is not None:
        row = session.get(Execution, body.execution_id)
        if row is None:
            raise NotFound(f"execution {body.execution_id} not found")
        spec = apply_history(session, parse_execution(row.spec))
    else:
        spec = parse_api_execution(body.execution or {})
    plan = replan(spec, body.strategy)
    groups = []
    for group in plan.groups:
        shards = group.shards
        groups.append(
            GroupPreview(
                key=group.key,
                strategy=str(shards.strategy),
                threads=shards.threads,
                makespan=_seconds(shards.makespan),
                lower_bound=_seconds(shards.lower_bound),
                imbalance=round(shards.imbalance, 3),
                estimated=list(shards.estimated),
                shards=[
                    ShardPreview(index=s.index, load=_seconds(s.load), scenarios=list(s.item_ids))
                    for s in shards.shards
                ],
            )
        )
    return ShardingPreviewOut(
        predicted_makespan=_seconds(plan.predicted_makespan),
        scenarios=plan.scenario_count,
        groups=groups,
    )
