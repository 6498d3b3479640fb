"""The in-process scheduler for the local backend: starts runs when a schedule is due.

It behaves like Argo's CronWorkflow controller (which fires schedules on Argo, see
``api.schedules.runs``): a due schedule whose previous run is still going is skipped under
``Forbid``, terminates that run first under ``Replace`` and runs alongside under ``Allow``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from croniter import croniter
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.mirror.executions import Mirror
from api.models import PipelineRun, Run, Schedule
from api.notifications import outbox
from api.pipelines.control import control_pipeline_run, start_pipeline_run
from api.runs.control import FINAL, control_run, start_run
from engine.backends.base import Backend
from engine.errors import DroverError, SpecError
from engine.spec import zone_named

__all__ = ["Scheduler", "fire_schedule", "next_fire_time"]

log = logging.getLogger("drover.scheduler")


def next_fire_time(cron: str, timezone: str, after: datetime) -> datetime:
    """The next time ``cron`` fires after ``after``, in ``timezone``; SpecError when invalid."""
    zone = zone_named(timezone)
    if zone is None:
        raise SpecError("timezone", f"unknown time zone {timezone!r}")
    if not croniter.is_valid(cron):
        raise SpecError("cron", f"{cron!r} is not a valid cron expression")
    fire: datetime = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return fire.astimezone(UTC)


def fire_schedule(
    session: Session,
    schedule: Schedule,
    *,
    backend: Backend,
    mirror: Mirror | None = None,
    facade_url: str | None = None,
) -> str | None:
    """Start the schedule's run (of its execution or pipeline) under its concurrency policy;
    None when ``Forbid`` skips it."""
    runs: type[Run] | type[PipelineRun] = Run if schedule.execution_id else PipelineRun
    active = list(
        session.scalars(
            select(runs.id).where(runs.schedule_id == schedule.id, runs.phase.not_in(FINAL))
        )
    )
    if active and schedule.concurrency_policy == "Forbid":
        log.info("schedule %d skipped: run %s is still going", schedule.id, active[0])
        name = Run.execution_name if runs is Run else PipelineRun.pipeline_name
        target = session.scalar(select(name).where(runs.id == active[0]))
        fired_at = schedule.last_run_at or datetime.now(UTC)
        outbox.on_schedule_skipped(
            session, schedule, target=str(target), active_run=active[0], fired_at=fired_at
        )
        session.commit()
        return None
    if schedule.concurrency_policy == "Replace":
        for run_id in active:
            try:
                _terminate(session, runs, run_id, backend, mirror)
            except DroverError as exc:  # finished meanwhile, or its workflow is gone
                log.info("schedule %d: run %s not terminated: %s", schedule.id, run_id, exc)
    if schedule.pipeline_id is not None:
        return start_pipeline_run(
            session,
            pipeline_id=schedule.pipeline_id,
            backend=backend,
            schedule_id=schedule.id,
            facade_url=facade_url,
        ).run.id
    return start_run(
        session,
        execution_id=schedule.execution_id,
        backend=backend,
        mirror=mirror,
        facade_url=facade_url,
        schedule_id=schedule.id,
    ).run.id


def _terminate(
    session: Session,
    runs: type[Run] | type[PipelineRun],
    run_id: str,
    backend: Backend,
    mirror: Mirror | None,
) -> None:
    if runs is PipelineRun:
        control_pipeline_run(session, run_id=run_id, action="terminate", backend=backend)
        return
    run = session.get(Run, run_id)
    if run is not None:
        control_run(session, run, "terminate", backend, mirror)


class Scheduler:
    """Every ``interval`` seconds, start a run for each due schedule and move it forward."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        fire: Callable[[Session, Schedule], str | None],
        *,
        interval: float = 5.0,
    ) -> None:
        self.sessions = sessions
        self.fire = fire
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="drover-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.tick(datetime.now(UTC))
            except (SQLAlchemyError, OSError) as exc:
                log.warning("scheduler tick failed: %s", exc)

    def tick(self, now: datetime) -> list[str]:
        started = []
        with self.sessions() as session:
            due = session.scalars(
                select(Schedule)
                .where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
                .with_for_update(skip_locked=True)
            ).all()
            for schedule in due:
                schedule.next_run_at = next_fire_time(schedule.cron, schedule.timezone, now)
                schedule.last_run_at = now
            session.commit()
            for schedule in due:
                try:
                    run_id = self.fire(session, schedule)
                except DroverError as exc:  # e.g. the execution no longer compiles
                    session.rollback()
                    log.warning("schedule %d could not start a run: %s", schedule.id, exc)
                    continue
                if run_id is not None:
                    schedule.last_run_id = run_id
                    session.commit()
                    started.append(run_id)
        return started
