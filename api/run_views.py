"""Read views of a run, shared by the API routes and ``drover run``: detail and outcomes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.models import LeaseItem, Run, RunGroup, RunWorker, ScenarioResult
from api.progress import GroupFacts, compute_progress
from api.results import latest_statuses
from api.schemas import GroupOut, RunDetail, RunOut, WorkerOut

__all__ = ["SETUP_STEP", "run_detail", "scenario_outcomes", "setup_error"]

SETUP_STEP = "setup-env"
"""The step every compiled execution runs first; no scenario runs when it fails."""


def run_detail(session: Session, run: Run) -> RunDetail:
    groups = session.scalars(
        select(RunGroup)
        .where(RunGroup.run_id == run.id, RunGroup.planned.is_(True))
        .order_by(RunGroup.position)
    ).all()
    workers = session.scalars(
        select(RunWorker).where(RunWorker.run_id == run.id).order_by(RunWorker.shard)
    ).all()
    leased: dict[str, int] = {}
    if run.queue_mode:
        leased = dict(
            session.execute(
                select(LeaseItem.group_key, func.count())
                .where(LeaseItem.run_id == run.id, LeaseItem.state == "leased")
                .group_by(LeaseItem.group_key)
            ).all()
        )
    by_group: dict[str, list[RunWorker]] = {}
    for worker in workers:
        by_group.setdefault(worker.group_key, []).append(worker)
    facts = [
        GroupFacts(
            key=g.key,
            flow=g.flow or "",
            total=g.total,
            shards=g.shards,
            phase=g.phase,
            running_shards=frozenset(
                w.shard for w in by_group.get(g.key, []) if w.phase == "Running"
            ),
            leased=leased.get(g.key, 0) if run.queue_mode else None,
        )
        for g in groups
    ]
    overall, flows, per_group = compute_progress(facts, latest_statuses(session, run.id))
    return RunDetail(
        **RunOut.model_validate(run).model_dump(),
        progress=overall,
        flows=flows,
        setup_error=setup_error(session, run),
        groups=[
            GroupOut(
                key=g.key,
                flow=g.flow,
                name=g.name,
                phase=g.phase,
                threads=g.threads,
                progress=per_group[g.key],
                workers=[WorkerOut.model_validate(w) for w in by_group.get(g.key, [])],
            )
            for g in groups
        ],
    )


def setup_error(session: Session, run: Run) -> str | None:
    """``setup-env Failed: <its pod's message>`` when setup-env failed or errored, else None.

    Then no group ran, and this, not the groups' ``Pending``, is why.
    """
    step = session.get(RunGroup, (run.id, SETUP_STEP))
    if step is None or step.phase not in ("Failed", "Error"):
        return None
    worker = session.scalars(
        select(RunWorker).where(RunWorker.run_id == run.id, RunWorker.group_key == SETUP_STEP)
    ).first()
    message = (worker.message if worker else None) or step.message or run.message
    return f"{SETUP_STEP} {step.phase}: {message or 'no message'}"


def _not_run(run: Run, group: RunGroup, setup: str | None) -> str:
    """Why a planned scenario has no result."""
    if setup is not None:
        return f"not run: {setup}"
    why = f"group {group.key} {group.phase}"
    if group.message:
        return f"{why} ({group.message})"
    if run.phase in ("Succeeded", "Failed", "Error") and run.message:
        return f"{why}; the run ended {run.phase}: {run.message}"
    return why


def scenario_outcomes(session: Session, run: Run) -> list[dict[str, Any]]:
    """One outcome per planned scenario, in plan order: its latest attempt, or ``not_run``."""
    latest: dict[str, ScenarioResult] = {}
    for result in session.scalars(
        select(ScenarioResult)
        .where(ScenarioResult.run_id == run.id)
        .order_by(ScenarioResult.scenario_id, ScenarioResult.attempt)
    ):
        latest[result.scenario_id] = result
    groups = session.scalars(
        select(RunGroup)
        .where(RunGroup.run_id == run.id, RunGroup.planned.is_(True))
        .order_by(RunGroup.position)
    ).all()
    setup = setup_error(session, run)
    outcomes: list[dict[str, Any]] = []
    for group in groups:
        for shard, ids in enumerate(group.shards):
            for scenario_id in ids:
                row = latest.get(scenario_id)
                if row is None:
                    outcomes.append(
                        {"id": scenario_id, "group": group.key, "shard": shard,
                         "status": "not_run", "error": _not_run(run, group, setup)}
                    )  # fmt: skip
                    continue
                outcomes.append(
                    {
                        "id": scenario_id,
                        "group": group.key,
                        "shard": row.shard if row.shard is not None else shard,
                        "status": row.status,
                        "duration": row.duration,
                        "attempt": row.attempt,
                        "error": row.error,
                        "worker": row.worker,
                        "artifacts": row.artifacts,
                    }
                )
    return outcomes
