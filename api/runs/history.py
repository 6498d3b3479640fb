"""Scenario history: durations and last results per project, fed back into planning.

The duration (LPT) and fail-first strategies plan from what earlier runs measured; this module
records each finished run and fills an execution's unknown durations and last statuses.
"""

from __future__ import annotations

import json
from statistics import fmean
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from api.models import Run, Scenario
from engine.spec import Execution
from engine.spec import Scenario as SpecScenario

__all__ = ["HISTORY_WINDOW", "SCENARIO_OVERHEAD", "apply_history", "record_history"]

HISTORY_WINDOW = 10
"""How many recent durations a scenario keeps."""

SCENARIO_OVERHEAD = 0.001
"""Seconds a worker spends on each scenario besides what its runner reports as the scenario's
duration (pytest's JUnit ``time`` leaves out its own hooks, reports and output: about a
millisecond a test here, more than many unit tests take). Added to every duration from
history, so plans balance what workers really spend, not only the tests' own time."""

_LATEST = text(
    "SELECT DISTINCT ON (scenario_id) scenario_id, status, duration "
    "FROM drover_scenario_results WHERE run_id = :run_id ORDER BY scenario_id, attempt DESC"
)


def record_history(session: Session, run_id: str) -> None:
    """Each scenario's latest result of the finished run into its project's history.

    One statement whatever the run's size: the rows travel as arrays (``unnest``), so a run of
    any number of scenarios stays within Postgres's 65,535 parameters per statement.
    """
    run = session.get(Run, run_id)
    if run is None:
        return
    project = str((run.spec.get("project") or {}).get("name") or run.execution_name)
    known = select(Scenario.scenario_id, Scenario.durations).where(Scenario.project == project)
    existing: dict[str, list[Any]] = {i: d for i, d in session.execute(known)}
    scenario_ids: list[str] = []
    windows: list[str] = []
    statuses: list[str] = []
    for scenario_id, status, duration in session.execute(_LATEST, {"run_id": run_id}):
        durations = list(existing.get(scenario_id) or [])
        if duration is not None and status in ("passed", "failed"):
            durations = [*durations, float(duration)][-HISTORY_WINDOW:]
        scenario_ids.append(scenario_id)
        windows.append(json.dumps(durations))
        statuses.append("failed" if status == "error" else status)
    if scenario_ids:
        session.execute(
            _UPSERT,
            {
                "project": project,
                "run_id": run_id,
                "scenario_ids": scenario_ids,
                "durations": windows,
                "statuses": statuses,
            },
        )


_UPSERT = text(
    """
    INSERT INTO drover_scenarios (project, scenario_id, durations, last_status, last_run_id)
    SELECT :project, scenario_id, durations, last_status, :run_id
    FROM unnest(
        CAST(:scenario_ids AS text[]), CAST(:durations AS jsonb[]), CAST(:statuses AS text[])
    ) AS t(scenario_id, durations, last_status)
    ON CONFLICT (project, scenario_id) DO UPDATE SET
        durations = excluded.durations,
        last_status = excluded.last_status,
        last_run_id = excluded.last_run_id,
        updated_at = now()
    """
)


def apply_history(session: Session, execution: Execution) -> Execution:
    """The execution with unknown durations (and last statuses) filled in from history."""
    rows = {
        s.scenario_id: s
        for s in session.scalars(select(Scenario).where(Scenario.project == execution.project.name))
    }
    if not rows:
        return execution

    def filled(scenarios: list[SpecScenario]) -> list[SpecScenario]:
        out = []
        for scenario in scenarios:
            row = rows.get(scenario.id)
            update: dict[str, Any] = {}
            if row is not None and scenario.duration is None and row.durations:
                mean = fmean(float(d) for d in row.durations)
                update["duration"] = round(mean + SCENARIO_OVERHEAD, 4)
            if row is not None and scenario.last_status is None and row.last_status:
                update["last_status"] = row.last_status
            out.append(scenario.model_copy(update=update) if update else scenario)
        return out

    # The catalog groups select from, and the scenarios groups list themselves.
    flows = [
        flow.model_copy(
            update={
                "groups": [
                    g.model_copy(update={"scenarios": filled(g.scenarios)}) for g in flow.groups
                ]
            }
        )
        for flow in execution.flows
    ]
    return execution.model_copy(update={"scenarios": filled(execution.scenarios), "flows": flows})
