"""Per scenario of an execution: its last N runs' outcomes and durations, and whether it is
flaky (``engine.flakiness``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.schemas import Page
from engine.flakiness import RunOutcome, assess_flakiness

__all__ = ["ScenarioHistoryOut", "ScenarioRunOut", "scenario_history"]


class ScenarioRunOut(BaseModel):
    run_id: str
    created_at: datetime
    status: str = Field(description="the status that counts: its last attempt's")
    statuses: list[str] = Field(description="every attempt's status in the run, in order")
    attempts: int
    passed_on_rerun: bool
    duration: float | None = Field(description="seconds of its last attempt")


class ScenarioHistoryOut(BaseModel):
    scenario_id: str
    name: str | None
    location: str | None
    flaky: bool = Field(description="passed only on a rerun, or passed in some runs and not others")
    flaky_reason: str | None
    pass_rate: float | None = Field(description="runs it passed in, of those it passed or failed")
    mean_duration: float | None = Field(description="mean seconds over the runs shown")
    runs: list[ScenarioRunOut] = Field(description="newest first")


_HISTORY = text(
    """
    WITH recent AS (
        SELECT id, created_at FROM drover_runs
        WHERE execution_id = :execution_id
        ORDER BY created_at DESC, id DESC LIMIT :runs
    ), per_run AS (
        SELECT r.run_id, r.scenario_id,
               array_agg(r.status ORDER BY r.attempt) AS statuses,
               (array_agg(r.duration ORDER BY r.attempt DESC))[1] AS duration
        FROM drover_scenario_results AS r JOIN recent ON recent.id = r.run_id
        GROUP BY r.run_id, r.scenario_id
    )
    SELECT p.scenario_id, p.run_id, recent.created_at, p.statuses, p.duration,
           s.name, s.location
    FROM per_run AS p
    JOIN recent ON recent.id = p.run_id
    LEFT JOIN drover_run_scenarios AS s
        ON s.run_id = p.run_id AND s.scenario_id = p.scenario_id
    ORDER BY p.scenario_id, recent.created_at DESC, p.run_id DESC
    """
)


def scenario_history(
    session: Session,
    *,
    execution_id: int,
    runs: int,
    flaky: bool | None,
    offset: int,
    limit: int,
) -> Page[ScenarioHistoryOut]:
    """Scenarios of the execution's last ``runs`` runs, by id; ``flaky`` keeps only the flaky
    (True) or the steady (False) ones."""
    by_scenario: dict[str, list[Any]] = {}
    for row in session.execute(_HISTORY, {"execution_id": execution_id, "runs": runs}):
        by_scenario.setdefault(row.scenario_id, []).append(row)
    items = []
    for scenario_id, rows in by_scenario.items():
        outcomes = [RunOutcome(statuses=tuple(r.statuses)) for r in rows]
        verdict = assess_flakiness(outcomes)
        if flaky is not None and verdict.flaky != flaky:
            continue
        durations = [r.duration for r in rows if r.duration is not None]
        named = next((r for r in rows if r.name or r.location), rows[0])
        items.append(
            ScenarioHistoryOut(
                scenario_id=scenario_id,
                name=named.name,
                location=named.location,
                flaky=verdict.flaky,
                flaky_reason=verdict.reason,
                pass_rate=verdict.pass_rate,
                mean_duration=round(sum(durations) / len(durations), 3) if durations else None,
                runs=[
                    ScenarioRunOut(
                        run_id=r.run_id,
                        created_at=r.created_at,
                        status=o.final,
                        statuses=list(o.statuses),
                        attempts=len(o.statuses),
                        passed_on_rerun=o.passed_on_rerun,
                        duration=r.duration,
                    )
                    for r, o in zip(rows, outcomes, strict=True)
                ],
            )
        )
    return Page(total=len(items), offset=offset, limit=limit, items=items[offset : offset + limit])
