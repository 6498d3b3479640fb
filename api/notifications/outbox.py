"""Writing run events into the outbox (``drover_events``), in the caller's transaction.

Each ``on_*`` function is called by the code that makes a transition (the mirror, ``start_run``,
the scheduler, the pipeline follower) with the session of that transition, so the event
commits or rolls back with it. The event's key is unique: whatever path notices a transition,
however often, it is stored once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import exists, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from api.models import (
    OutboxEvent,
    PipelineRun,
    PipelineRunJob,
    Run,
    RunGroup,
    RunWorker,
    Schedule,
)
from api.runs.verdicts import stopped_by_user
from engine.notifications.events import (
    Counts,
    Event,
    EventType,
    GroupInfo,
    RunInfo,
    ScheduleInfo,
    Trigger,
    flaky_scenarios,
    verdict_of,
)
from engine.status import FINAL_PHASES, GroupState

__all__ = [
    "emit",
    "on_group_states",
    "on_pipeline_failed_to_start",
    "on_pipeline_run_phase",
    "on_run_failed_to_start",
    "on_run_finished",
    "on_run_phase",
    "on_run_retried",
    "on_schedule_skipped",
    "run_info",
    "unannounced_runs",
]


def emit(session: Session, event: Event) -> bool:
    """Store ``event`` unless its key is stored already; True when stored now."""
    stored = session.execute(
        insert(OutboxEvent)
        .values(
            key=event.id,
            type=event.type.value,
            version=event.version,
            run_id=event.run.id if event.run else None,
            payload=event.model_dump(mode="json", exclude_none=True),
            dispatched=False,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxEvent.id)
    ).scalar()
    return stored is not None


def _record(session: Session, type_: EventType, /, *key: object, **fields: Any) -> bool:
    """Store an event of ``type_`` happening now, keyed ``<type>/<key parts>`` (``emit``)."""
    event = Event(id=Event.key(type_, *key), type=type_, occurred_at=datetime.now(UTC), **fields)
    return emit(session, event)


def _trigger(schedule_id: int | None, resubmitted_from: str | None) -> Trigger:
    if schedule_id is not None:
        return Trigger.SCHEDULE
    return Trigger.RESUBMIT if resubmitted_from else Trigger.MANUAL


def run_info(run: Run, phase: str | None = None) -> RunInfo:
    return RunInfo(
        kind="execution",
        id=run.id,
        name=run.execution_name,
        attempt=run.attempt,
        backend=run.backend,
        phase=phase or run.phase,
        trigger=_trigger(run.schedule_id, run.resubmitted_from),
        schedule_id=run.schedule_id,
        workflow_name=run.workflow_name,
        message=run.message,
        argo_url=run.ui_url,
    )


def run_counts(run: Run) -> Counts:
    return Counts(
        total=run.total,
        passed=run.passed,
        failed=run.failed,
        skipped=run.skipped,
        error=run.errored,
    )


def on_run_phase(session: Session, run: Run, new_phase: str) -> None:
    """The run left Pending: ``run.started`` (once per attempt)."""
    if run.phase == "Pending" and new_phase != "Pending":
        _record(session, EventType.RUN_STARTED, run.id, run.attempt, run=run_info(run, new_phase))


def on_run_retried(session: Session, run_id: str) -> None:
    """A retry set a finished run Running again as its next attempt: ``run.started`` of it
    (a resubmit goes back to Pending, and the mirror sees it start)."""
    run = session.get(Run, run_id, populate_existing=True)
    if run is None:
        return
    _record(session, EventType.RUN_STARTED, run.id, run.attempt, run=run_info(run))


_GROUP_COUNTS = text(
    "SELECT status, count(*) FROM (SELECT DISTINCT ON (scenario_id) status "
    "FROM drover_scenario_results WHERE run_id = :run_id AND group_key = :group_key "
    "ORDER BY scenario_id, attempt DESC) latest GROUP BY status"
)


def unannounced_runs() -> Any:
    """Ids of final runs whose ``run.finished`` is missing: the facade died between the
    transaction that made the run final and the one that recounts it and stores the event.
    The mirror re-attaches to them, so the recount and the event happen after all. Runs that
    finished before the outbox held its first event (before notifications existed) are not
    announced late."""
    first_event = select(func.min(OutboxEvent.created_at)).scalar_subquery()
    key = func.concat("run.finished/", Run.id, "/", Run.attempt)
    return select(Run.id).where(
        Run.phase.in_(FINAL_PHASES),
        Run.finished_at >= first_event,
        ~exists(select(OutboxEvent.id).where(OutboxEvent.key == key)),
    )


def _group_counts(session: Session, run_id: str, group_key: str, total: int) -> Counts:
    """The workers' own summaries (output parameters, in the same status as the group's
    phase) when every worker has one; else the results reported so far."""
    summaries = list(
        session.scalars(
            select(RunWorker.summary).where(
                RunWorker.run_id == run_id, RunWorker.group_key == group_key
            )
        )
    )
    names = ("passed", "failed", "skipped", "error")
    if summaries and all(isinstance(s, dict) for s in summaries):
        sums = {k: sum(int(s.get(k) or 0) for s in summaries if s) for k in names}
        return Counts(total=total, **sums)
    by_status: dict[str, int] = {
        str(status): int(n)
        for status, n in session.execute(_GROUP_COUNTS, {"run_id": run_id, "group_key": group_key})
    }
    return Counts(total=total, **{k: int(by_status.get(k, 0)) for k in names})


def on_group_states(session: Session, run: Run, groups: list[GroupState]) -> None:
    """Planned groups that reached a final phase: ``group.finished``, with the counts of the
    results reported so far (workers' artifacts may still add some)."""
    finished = [g for g in groups if g.phase in FINAL_PHASES]
    if not finished:
        return
    planned = {
        key: total
        for key, total in session.execute(
            select(RunGroup.key, RunGroup.total).where(
                RunGroup.run_id == run.id,
                RunGroup.planned.is_(True),
                RunGroup.key.in_([g.key for g in finished]),
            )
        )
    }
    for group in finished:
        if group.key not in planned:
            continue  # setup-env, the exit handler
        counts = _group_counts(session, run.id, group.key, planned[group.key])
        _record(
            session,
            EventType.GROUP_FINISHED,
            run.id,
            run.attempt,
            group.key,
            run=run_info(run),
            group=GroupInfo(
                key=group.key,
                name=group.key.rsplit(".", 1)[-1],
                phase=group.phase,
                counts=counts,
            ),
            verdict=verdict_of(group.phase, counts),
            message=group.message,
        )


# Every attempt of the scenarios tried more than once. One scan of the run's rows with a window
# count: a self-join (IN a GROUP BY ... HAVING subquery) was planned as a nested loop when the
# statistics had not seen the new run yet (estimate: 1 row), quadratic in the run's results
# (62,000 results: over 15 minutes of CPU, and `drover run` waited for it).
_ATTEMPTS = text(
    "SELECT scenario_id, attempt, status, error FROM ("
    "SELECT scenario_id, attempt, status, error, "
    "count(*) OVER (PARTITION BY scenario_id) AS tries "
    "FROM drover_scenario_results WHERE run_id = :run_id) AS attempts WHERE tries > 1"
)


def on_run_finished(session: Session, run_id: str) -> None:
    """The run is final and its counters are recounted: ``run.finished`` with the verdict, and
    ``scenario.flaky`` for each scenario that passed only after failing in this run."""
    run = session.get(Run, run_id, populate_existing=True)
    if run is None or run.phase not in FINAL_PHASES:
        return
    counts = run_counts(run)
    info = run_info(run)
    canceled = stopped_by_user(run.message)
    _record(
        session,
        EventType.RUN_FINISHED,
        run.id,
        run.attempt,
        run=info,
        verdict=verdict_of(run.phase, counts, canceled=canceled),
        counts=counts,
        message=run.message,
    )
    rows = [tuple(r) for r in session.execute(_ATTEMPTS, {"run_id": run_id})]
    for scenario in flaky_scenarios(rows):
        _record(
            session,
            EventType.SCENARIO_FLAKY,
            run.id,
            run.attempt,
            scenario.id,
            run=info,
            scenario=scenario,
        )


def on_run_failed_to_start(session: Session, run_id: str, message: str) -> None:
    run = session.get(Run, run_id, populate_existing=True)
    if run is None:
        return
    _record(
        session,
        EventType.RUN_FAILED_TO_START,
        run.id,
        run.attempt,
        run=run_info(run, "Error"),
        message=message,
    )


def pipeline_run_info(run: PipelineRun, phase: str | None = None) -> RunInfo:
    annotations = (run.manifest.get("metadata") or {}).get("annotations") or {}
    return RunInfo(
        kind="pipeline",
        id=run.id,
        name=run.pipeline_name,
        backend=run.backend,
        phase=phase or run.phase,
        trigger=_trigger(run.schedule_id, annotations.get("drover.dev/resubmitted-from")),
        schedule_id=run.schedule_id,
        workflow_name=run.workflow_name,
        message=run.message,
    )


def on_pipeline_run_phase(session: Session, run: PipelineRun, values: dict[str, Any]) -> None:
    """A pipeline run's phase changes: ``run.started`` when it leaves Pending, ``run.finished``
    (jobs as counts: succeeded → passed, failed/error, skipped/omitted) when it is final."""
    new_phase = str(values.get("phase", run.phase))
    if new_phase == run.phase:
        return
    info = pipeline_run_info(run, new_phase).model_copy(
        update={"message": values.get("message", run.message)}
    )
    if run.phase == "Pending":
        _record(session, EventType.RUN_STARTED, "pipeline", run.id, run=info)
    if new_phase in FINAL_PHASES:
        phases = list(
            session.scalars(select(PipelineRunJob.phase).where(PipelineRunJob.run_id == run.id))
        )
        counts = Counts(
            total=len(phases),
            passed=phases.count("Succeeded"),
            failed=phases.count("Failed"),
            error=phases.count("Error"),
            skipped=phases.count("Skipped") + phases.count("Omitted"),
        )
        canceled = stopped_by_user(info.message)
        _record(
            session,
            EventType.RUN_FINISHED,
            "pipeline",
            run.id,
            run=info,
            verdict=verdict_of(new_phase, counts, canceled=canceled),
            counts=counts,
            message=info.message,
        )


def on_pipeline_failed_to_start(session: Session, run_id: str, message: str) -> None:
    run = session.get(PipelineRun, run_id, populate_existing=True)
    if run is None:
        return
    _record(
        session,
        EventType.RUN_FAILED_TO_START,
        "pipeline",
        run.id,
        run=pipeline_run_info(run, "Error"),
        message=message,
    )


def on_schedule_skipped(
    session: Session, schedule: Schedule, *, target: str, active_run: str, fired_at: datetime
) -> bool:
    """A firing of ``schedule`` at ``fired_at`` skipped under ``Forbid``; True when new."""
    return _record(
        session,
        EventType.SCHEDULE_SKIPPED,
        schedule.id,
        fired_at.isoformat(),
        schedule=ScheduleInfo(
            id=schedule.id,
            cron=schedule.cron,
            policy=schedule.concurrency_policy,
            target=target,
            active_run=active_run,
        ),
    )
