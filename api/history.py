"""Scenario history: durations and last results per project, fed back into planning.

The duration (LPT) and fail-first strategies plan from what earlier runs measured; this module
records each finished run and fills an execution's unknown durations and last statuses.
"""

from __future__ import annotations

from statistics import fmean
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from api.models import Run, Scenario
from engine.spec import Execution

__all__ = ["HISTORY_WINDOW", "apply_history", "record_history"]

HISTORY_WINDOW = 10
"""How many recent durations a scenario keeps."""

_LATEST = text(
    "SELECT DISTINCT ON (scenario_id) scenario_id, status, duration "
    "FROM drover_scenario_results WHERE run_id = :run_id ORDER BY scenario_id, attempt DESC"
)


def record_history(session: Session, run_id: str) -> None:
    run = session.get(Run, run_id)
    if run is None:
        return
    project = str((run.spec.get("project") or {}).get("name") or run.execution_name)
    existing = {
        s.scenario_id: s
        for s in session.scalars(select(Scenario).where(Scenario.project == project))
    }
    rows: list[dict[str, Any]] = []
    for scenario_id, status, duration in session.execute(_LATEST, {"run_id": run_id}):
        old = existing.get(scenario_id)
        durations = list(old.durations) if old is not None else []
        if duration is not None and status in ("passed", "failed"):
            durations = [*durations, float(duration)][-HISTORY_WINDOW:]
        rows.append(
            {
                "project": project,
                "scenario_id": scenario_id,
                "durations": durations,
                "last_status": "failed" if status == "error" else status,
                "last_run_id": run_id,
            }
        )
    if rows:
        statement = insert(Scenario).values(rows)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["project", "scenario_id"],
                set_={
                    "durations": statement.excluded.durations,
                    "last_status": statement.excluded.last_status,
                    "last_run_id": statement.excluded.last_run_id,
                    "updated_at": text("now()"),
                },
            )
        )


def apply_history(session: Session, execution: Execution) -> Execution:
    """The execution with unknown durations (and last statuses) filled in from history."""
    rows = {
        s.scenario_id: s
        for s in session.scalars(select(Scenario).where(Scenario.project == execution.project.name))
    }
    if not rows:
        return execution
    scenarios = []
    for scenario in execution.scenarios:
        row = rows.get(scenario.id)
        update: dict[str, Any] = {}
        if row is not None and scenario.duration is None and row.durations:
            update["duration"] = round(fmean(float(d) for d in row.durations), 3)
        if row is not None and scenario.last_status is None and row.last_status:
            update["last_status"] = row.last_status
        scenarios.append(scenario.model_copy(update=update) if update else scenario)
    return execution.model_copy(update={"scenarios": scenarios})
