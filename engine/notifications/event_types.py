"""The kinds of run event, apart from the events' models: ``drover notifications test
--event`` offers them without loading pydantic (a tenth of a second of every command's start)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventType"]


class EventType(StrEnum):
    RUN_STARTED = "run.started"
    GROUP_FINISHED = "group.finished"
    RUN_FINISHED = "run.finished"
    RUN_FAILED_TO_START = "run.failed_to_start"
    SCENARIO_FLAKY = "scenario.flaky"
    SCHEDULE_SKIPPED = "schedule.skipped"
