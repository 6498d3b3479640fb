"""``schedule.skipped`` on Argo, inferred from what Argo does leave behind.

Argo's CronWorkflow controller skips a ``Forbid`` firing with only a log line and a
Prometheus counter: ``enforceRuntimePolicy`` (workflow/cron/operator.go) returns false when
``status.active`` is not empty, after ``metrics.CronWfPolicy`` and ``log.Info`` — no Kubernetes
Event (the cron controller records one only for a malformed CronWorkflow, controller.go), no
status field (``run`` sets ``status.lastScheduledTime`` only after it submitted a workflow), and
the counter ``cronworkflows_concurrencypolicy_triggered`` lives on the controller's metrics
port, counts without saying which firing, and restarts with the controller.

What it does leave is enough: the workflow a firing makes has a fixed name,
``getChildWorkflowName`` = ``<cron workflow>-<unix seconds of the scheduled time>``, and the
scheduled time is the cron entry's tick (``scheduledTimeFunc`` from ``cron.AddJob`` in
controller.go). Drover mirrors every workflow a schedule spawns as a run, with its start and
end. So a tick ``T`` of a ``Forbid`` schedule whose workflow never appeared, while a run of the
schedule was going at ``T`` (started, or created, before ``T``, not finished by ``T``), is the
firing Argo skipped; it is announced with the same event (and key) as the local scheduler's.

Ticks are looked at once they are ``GRACE`` old (the controller submits within a second, the
watch shows the workflow soon after) and up to ``LOOKBACK`` back, so a facade that was down
announces the skips it missed; the outbox key makes looking twice harmless. A tick with no
workflow and no run going is left alone: the controller was down, the CronWorkflow was
suspended, or ``startingDeadlineSeconds`` let a missed firing go — not a ``Forbid`` skip. A run
that ended just before ``T`` but was still in the controller's ``status.active`` (its informer
lagging) makes a skip this does not see.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from api.models import PipelineRun, Run, Schedule
from api.notifications import outbox
from api.schedules.scheduler import next_fire_time
from engine.errors import SpecError

__all__ = [
    "CHECK_INTERVAL",
    "GRACE",
    "LOOKBACK",
    "RunSpan",
    "announce_argo_skips",
    "skipped_firings",
    "watch_argo_skips",
]

log = logging.getLogger("drover.schedules")

GRACE = timedelta(seconds=60)
"""How old a tick is before its missing workflow counts as not made."""
LOOKBACK = timedelta(hours=6)
"""How far back ticks are looked at (a facade down longer misses older skips)."""
CHECK_INTERVAL = 30.0
"""Seconds between two looks of the facade's background check."""
MAX_TICKS = 1_000
"""Ticks looked at per schedule and pass at the most (a per-minute cron over LOOKBACK: 360)."""


@dataclass(frozen=True)
class RunSpan:
    """A run a schedule spawned: its workflow, and when it was going."""

    run_id: str
    target: str
    workflow_name: str
    began: datetime
    ended: datetime | None

    def going_at(self, moment: datetime) -> bool:
        return self.began <= moment and (self.ended is None or self.ended > moment)


def ticks(cron: str, timezone: str, start: datetime, end: datetime) -> Iterator[datetime]:
    """The schedule's firing times in ``(start, end]``, oldest first (at most ``MAX_TICKS``)."""
    moment = next_fire_time(cron, timezone, start)
    for _ in range(MAX_TICKS):
        if moment > end:
            return
        yield moment
        moment = next_fire_time(cron, timezone, moment)


def skipped_firings(
    cron_workflow: str, firings: list[datetime], runs: list[RunSpan]
) -> list[tuple[datetime, RunSpan]]:
    """The firings Argo skipped under ``Forbid``: no workflow ``<cron>-<unix>`` for the firing,
    and a run of the schedule going at that moment (the earliest started one is named)."""
    spawned = {span.workflow_name for span in runs}
    skipped = []
    for moment in firings:
        if f"{cron_workflow}-{int(moment.timestamp())}" in spawned:
            continue
        going = sorted((s for s in runs if s.going_at(moment)), key=lambda s: s.began)
        if going:
            skipped.append((moment, going[0]))
    return skipped


def _spans(session: Session, schedule: Schedule, since: datetime) -> list[RunSpan]:
    runs: type[Run] | type[PipelineRun] = Run if schedule.execution_id else PipelineRun
    target = Run.execution_name if runs is Run else PipelineRun.pipeline_name
    rows = session.execute(
        select(
            runs.id,
            target,
            runs.workflow_name,
            func.coalesce(runs.started_at, runs.created_at),
            runs.finished_at,
        ).where(
            runs.schedule_id == schedule.id,
            runs.workflow_name.is_not(None),
            or_(runs.finished_at.is_(None), runs.finished_at > since),
        )
    ).all()
    return [
        RunSpan(str(run_id), str(name), str(workflow), began, ended)
        for run_id, name, workflow, began, ended in rows
    ]


def announce_argo_skips(session: Session, now: datetime | None = None) -> int:
    """Store ``schedule.skipped`` for every ``Forbid`` firing Argo skipped in the last
    ``LOOKBACK`` (once each, whoever looks); how many were new. The caller commits."""
    now = now or datetime.now(UTC)
    start, end = now - LOOKBACK, now - GRACE
    schedules = session.scalars(
        select(Schedule).where(
            Schedule.cron_workflow.is_not(None),
            Schedule.enabled.is_(True),
            Schedule.concurrency_policy == "Forbid",
        )
    ).all()
    stored = 0
    for schedule in schedules:
        try:
            firings = list(ticks(schedule.cron, schedule.timezone, start, end))
        except SpecError as exc:  # saved before a check existed; Argo refuses it too
            log.warning("schedule %d: %s", schedule.id, exc)
            continue
        if not firings:
            continue
        runs = _spans(session, schedule, start)
        for moment, span in skipped_firings(str(schedule.cron_workflow), firings, runs):
            stored += outbox.on_schedule_skipped(
                session, schedule, target=span.target, active_run=span.run_id, fired_at=moment
            )
    if stored:
        log.info("Argo skipped %d Forbid firings while a run was going", stored)
    return stored


def watch_argo_skips(sessions: sessionmaker[Session]) -> Callable[[], None]:
    """Look every ``CHECK_INTERVAL`` seconds, in a thread of the facade; returns its stopper.
    Replicas may all look: each skip is stored once."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(CHECK_INTERVAL):
            try:
                with sessions() as session:
                    announce_argo_skips(session)
                    session.commit()
            except Exception as exc:  # the database is down: the next look catches up
                log.warning("looking for skipped Argo schedule firings failed: %s", exc)

    threading.Thread(target=loop, name="drover-argo-skips", daemon=True).start()
    return stop.set
