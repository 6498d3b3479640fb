"""Read views of a run, shared by the API routes and ``drover run``: detail and outcomes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import cast, func, literal, or_, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from api.models import LeaseItem, Run, RunGroup, RunWorker, ScenarioResult
from api.runs.progress import GroupFacts, compute_progress
from api.schemas import GroupOut, RunDetail, RunOut, RunSummary, WorkerOut

__all__ = ["SETUP_STEP", "run_detail", "run_summaries", "scenario_outcomes", "setup_error"]

SETUP_STEP = "setup-env"
"""The step every compiled execution runs first; no scenario runs when it fails."""


def run_detail(session: Session, run: Run) -> RunDetail:
    """The run with its progress, flows, groups and workers: O(groups + workers) rows read,
    whatever the number of results (the ingest keeps the counters)."""
    # setup-env's row comes along, so setup_error finds it in the session (no round trip).
    rows = session.scalars(
        select(RunGroup)
        .where(
            RunGroup.run_id == run.id, or_(RunGroup.planned.is_(True), RunGroup.key == SETUP_STEP)
        )
        .order_by(RunGroup.position)
    ).all()
    groups = [g for g in rows if g.planned]
    workers = session.scalars(
        select(RunWorker)
        .where(RunWorker.run_id == run.id)
        .order_by(RunWorker.group_key, RunWorker.shard)
    ).all()
    by_group: dict[str, list[RunWorker]] = {}
    for worker in workers:
        by_group.setdefault(worker.group_key, []).append(worker)
    leased = _leased(session, [run.id]) if run.queue_mode else {}
    facts = [_facts(g, by_group.get(g.key, []), leased.get((run.id, g.key))) for g in groups]
    overall, flows, per_group = compute_progress(facts)
    return RunDetail(
        **RunOut.model_validate(run).model_dump(),
        progress=overall,
        flows=flows,
        setup_error=_setup_failure(
            session, run, next((g for g in rows if g.key == SETUP_STEP), None)
        ),
        groups=[
            GroupOut(
                key=g.key,
                flow=g.flow,
                name=g.name,
                title=g.title or g.name,
                phase=g.phase,
                threads=g.threads,
                started_at=g.started_at,
                finished_at=g.finished_at,
                progress=per_group[g.key],
                workers=[WorkerOut.model_validate(w) for w in by_group.get(g.key, [])],
            )
            for g in groups
        ],
    )


def _facts(group: RunGroup, workers: list[RunWorker], leased: int | None) -> GroupFacts:
    running = (
        leased
        if leased is not None
        else sum(max(w.planned - w.completed, 0) for w in workers if w.phase == "Running")
    )
    return GroupFacts(
        key=group.key,
        flow=group.flow or "",
        total=group.total,
        passed=group.passed,
        failed=group.failed,
        errored=group.errored,
        skipped=group.skipped,
        running=running,
    )


def _leased(session: Session, run_ids: list[str]) -> dict[tuple[str, str], int]:
    """Queue mode: scenarios leased right now, per run and group (an index range each)."""
    rows = session.execute(
        select(LeaseItem.run_id, LeaseItem.group_key, func.count())
        .where(LeaseItem.run_id.in_(run_ids), LeaseItem.state == "leased")
        .group_by(LeaseItem.run_id, LeaseItem.group_key)
    ).all()
    return {(r, g): n for r, g, n in rows}


def run_summaries(session: Session, runs: list[Run]) -> list[RunSummary]:
    """Runs of a list with their progress: three queries for the page, whatever its runs hold."""
    ids = [r.id for r in runs]
    groups = session.scalars(
        select(RunGroup).where(RunGroup.run_id.in_(ids), RunGroup.planned.is_(True))
    ).all()
    workers = session.execute(
        select(RunWorker.run_id, RunWorker.group_key, RunWorker.planned, RunWorker.completed).where(
            RunWorker.run_id.in_(ids), RunWorker.phase == "Running"
        )
    ).all()
    running: dict[tuple[str, str], int] = {}
    for run_id, group_key, planned, completed in workers:
        key = (run_id, group_key)
        running[key] = running.get(key, 0) + max(planned - completed, 0)
    queued = [r.id for r in runs if r.queue_mode]
    leased = _leased(session, queued) if queued else {}
    queue_runs = set(queued)
    facts: dict[str, list[GroupFacts]] = {}
    for g in groups:
        key = (g.run_id, g.key)
        now = leased.get(key, 0) if g.run_id in queue_runs else running.get(key, 0)
        facts.setdefault(g.run_id, []).append(
            GroupFacts(
                key=g.key,
                flow=g.flow or "",
                total=g.total,
                passed=g.passed,
                failed=g.failed,
                errored=g.errored,
                skipped=g.skipped,
                running=now,
            )
        )
    out = []
    for run in runs:
        overall, _, _ = compute_progress(facts.get(run.id, []))
        out.append(RunSummary(**RunOut.model_validate(run).model_dump(), progress=overall))
    return out


def setup_error(session: Session, run: Run) -> str | None:
    """``setup-env Failed: <its pod's message>`` when setup-env failed or errored, else None.

    Then no group ran, and this, not the groups' ``Pending``, is why.
    """
    return _setup_failure(session, run, session.get(RunGroup, (run.id, SETUP_STEP)))


def _setup_failure(session: Session, run: Run, step: RunGroup | None) -> str | None:
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
    # Columns, not ORM objects: at 62,000 results the objects cost a second. An empty list of
    # artifacts (most results) comes as NULL, not as JSON to decode (a third of the rest).
    r = ScenarioResult
    artifacts = func.nullif(r.artifacts, cast(literal("[]"), JSONB), type_=JSONB)
    latest = {
        row.scenario_id: row
        for row in session.execute(
            select(
                r.scenario_id,
                r.shard,
                r.status,
                r.duration,
                r.attempt,
                r.error,
                r.worker,
                artifacts.label("artifacts"),
            )
            .where(r.run_id == run.id)
            .distinct(r.scenario_id)
            .order_by(r.scenario_id, r.attempt.desc())
        )
    }
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
                        "artifacts": row.artifacts or [],
                    }
                )
    return outcomes
