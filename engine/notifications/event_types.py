"""The kinds of run event and the enums an event carries, apart from the events' models:
``drover notifications test --event`` offers them without loading pydantic (a tenth of a
second of every command's start), and a spec's subscriptions filter on them without building
the event models (15 ms of every spec load)."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["EventType", "Trigger", "Verdict"]


class EventType(StrEnum):
    RUN_STARTED = "run.started"
    GROUP_FINISHED = "group.finished"
    RUN_FINISHED = "run.finished"
    RUN_FAILED_TO_START = "run.failed_to_start"
    SCENARIO_FLAKY = "scenario.flaky"
    SCHEDULE_SKIPPED = "schedule.skipped"


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    """The run broke (setup failed, workflow error, deleted) rather than tests failing."""
    CANCELED = "canceled"


class Trigger(StrEnum):
    MANUAL = "manual"
    """Started through the API or the CLI."""
    SCHEDULE = "schedule"
    RESUBMIT = "resubmit"
