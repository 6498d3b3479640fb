"""A made-up event of each type, for the "send test" action and the API docs."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.notifications.events import (
    Counts,
    Event,
    EventType,
    GroupInfo,
    RunInfo,
    ScenarioInfo,
    ScheduleInfo,
    Verdict,
)

__all__ = ["sample_event"]


def sample_event(type_: EventType, key: str, *, name: str = "example") -> Event:
    """A plausible ``type_`` event with id ``key``, marked as a test in its message."""
    counts = Counts(total=24, passed=22, failed=1, skipped=1)
    run = RunInfo(id="test0000", name=name, phase="Failed", workflow_name=f"{name}-test0000")
    common = {"id": key, "type": type_, "occurred_at": datetime.now(UTC)}
    note = "test notification from Drover: no run is behind it"
    if type_ is EventType.SCHEDULE_SKIPPED:
        schedule = ScheduleInfo(
            id=0, cron="0 2 * * *", policy="Forbid", target=name, active_run="test0000"
        )
        return Event(**common, schedule=schedule, message=note)
    if type_ is EventType.GROUP_FINISHED:
        group = GroupInfo(key="main.smoke", name="smoke", phase="Failed", counts=counts)
        return Event(**common, run=run, group=group, verdict=Verdict.FAILED, message=note)
    if type_ is EventType.SCENARIO_FLAKY:
        scenario = ScenarioInfo(id="tests/test_cart.py::test_total", attempts=2)
        return Event(**common, run=run, scenario=scenario, message=note)
    if type_ is EventType.RUN_FINISHED:
        return Event(**common, run=run, verdict=Verdict.FAILED, counts=counts, message=note)
    return Event(**common, run=run.model_copy(update={"phase": "Running"}), message=note)
