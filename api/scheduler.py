"""The in-process scheduler for the local backend: starts runs when a schedule is due."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.models import Schedule
from engine.errors import SpecError

__all__ = ["Scheduler", "next_fire_time"]

log = logging.getLogger("drover.scheduler")


def next_fire_time(cron: str, timezone: str, after: datetime) -> datetime:
    """The next time ``cron`` fires after ``after``, in ``timezone``; SpecError when invalid."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SpecError("timezone", f"unknown time zone {timezone!r}") from None
    if not croniter.is_valid(cron):
        raise SpecError("cron", f"{cron!r} is not a valid cron expression")
    fire: datetime = croniter(cron, after.astimezone(zone)).get_next(datetime)
    return fire.astimezone(UTC)


class Scheduler:
    """Every ``interval`` seconds, start a run for each due schedule and move it forward."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        start: Callable[[Session, int], str],
        *,
        interval: float = 5.0,
    ) -> None:
        self.sessions = sessions
        self.start_run = start
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
                run_id = self.start_run(session, schedule.execution_id)
                schedule.last_run_id = run_id
                session.commit()
                started.append(run_id)
        return started
