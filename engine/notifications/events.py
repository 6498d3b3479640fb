"""Run events: one typed, versioned model for everything Drover tells the outside world.

An event is written once, in the same transaction as the transition that caused it (the
outbox, ``api.notifications.outbox``); its ``id`` is a natural key of that transition
(``run.finished/<run>/<attempt>``), so writing it twice is a no-op and a receiver can use it
to drop a delivery it has already processed. ``version`` changes when a field changes meaning
or goes away; new optional fields keep the version.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.notifications.event_types import EventType, Trigger, Verdict
from engine.verdict import Verdict as RunVerdict
from engine.verdict import run_verdict

__all__ = [
    "SCHEMA_VERSION",
    "Counts",
    "Event",
    "EventType",
    "GroupInfo",
    "RunInfo",
    "ScenarioInfo",
    "ScheduleInfo",
    "Trigger",
    "Verdict",
    "flaky_scenarios",
    "verdict_of",
]

SCHEMA_VERSION: Final = 1
_FINAL: Final = frozenset({"Succeeded", "Failed", "Error"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Counts(_Model):
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    error: int = 0

    @property
    def not_run(self) -> int:
        return max(self.total - self.passed - self.failed - self.skipped - self.error, 0)


class RunInfo(_Model):
    """The run an event is about (a test execution's run, or a pipeline's)."""

    kind: Literal["execution", "pipeline"] = "execution"
    id: str
    name: str
    """The execution's or pipeline's name."""
    attempt: int = 1
    backend: str = "local"
    phase: str = "Pending"
    trigger: Trigger = Trigger.MANUAL
    schedule_id: int | None = None
    workflow_name: str | None = None
    message: str | None = None
    url: str | None = None
    """The run's page in Drover."""
    argo_url: str | None = None
    """The workflow in the Argo UI (Argo runs only)."""


class GroupInfo(_Model):
    key: str
    name: str
    phase: str
    counts: Counts = Field(default_factory=Counts)


class ScenarioInfo(_Model):
    id: str
    attempts: int
    """Attempts the scenario needed before it passed."""
    errors: list[str] = Field(default_factory=list)
    """First lines of the failed attempts' errors."""


class ScheduleInfo(_Model):
    id: int
    cron: str
    policy: str
    target: str
    """The execution or pipeline the schedule starts."""
    active_run: str | None = None
    """The run still going that made a ``Forbid`` schedule skip."""


class Event(_Model):
    id: str
    """The natural key of the transition: the same transition never makes two events."""
    type: EventType
    version: int = SCHEMA_VERSION
    occurred_at: datetime
    run: RunInfo | None = None
    group: GroupInfo | None = None
    verdict: Verdict | None = None
    counts: Counts | None = None
    scenario: ScenarioInfo | None = None
    schedule: ScheduleInfo | None = None
    message: str | None = None

    @classmethod
    def key(cls, type_: EventType, *parts: object) -> str:
        return "/".join([type_.value, *(str(p) for p in parts)])


def verdict_of(
    phase: str, counts: Counts | Mapping[str, int], *, canceled: bool = False
) -> Verdict:
    """The verdict of a finished run (or group) from its phase and counts: the run views'
    ``engine.verdict.run_verdict`` (failed tests make it ``failed``; errors, scenarios that
    never ran or a failed workflow make it ``error``), and ``canceled`` for a stopped run that
    had no failed test."""
    c = (
        counts
        if isinstance(counts, Counts)
        else Counts(**{k: int(v) for k, v in counts.items() if k in Counts.model_fields})
    )
    verdict = run_verdict(
        phase if phase in _FINAL else "Error",
        total=c.total,
        passed=c.passed,
        failed=c.failed,
        errored=c.error,
        skipped=c.skipped,
    )
    if verdict is RunVerdict.FAILED:
        return Verdict.FAILED
    if canceled:
        return Verdict.CANCELED
    return Verdict.PASSED if verdict is RunVerdict.PASSED else Verdict.ERROR


def flaky_scenarios(attempts: list[tuple[str, int, str, str | None]]) -> list[ScenarioInfo]:
    """Scenarios that passed in their last attempt after failing an earlier one, from rows of
    (scenario id, attempt, status, error); in scenario order."""
    by_scenario: dict[str, list[tuple[int, str, str | None]]] = {}
    for scenario_id, attempt, status, error in attempts:
        by_scenario.setdefault(scenario_id, []).append((attempt, status, error))
    flaky = []
    for scenario_id in sorted(by_scenario):
        rows = sorted(by_scenario[scenario_id])
        earlier = [r for r in rows[:-1] if r[1] in ("failed", "error")]
        if rows[-1][1] == "passed" and earlier:
            errors = [(e.strip().splitlines() or [""])[0][:300] for _, _, e in earlier if e]
            flaky.append(ScenarioInfo(id=scenario_id, attempts=len(rows), errors=errors))
    return flaky
