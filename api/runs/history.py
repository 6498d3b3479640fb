"""Scenario history: durations and last results per project, fed back into planning.

The duration (LPT) and fail-first strategies plan from what earlier runs measured; this module
records each finished run and fills an execution's unknown durations and last statuses.

A scenario keeps two windows: its runner's durations, and what it cost a worker where the
runner measured that (pytest: the test's share of its session, its file's collection
included). Plans take the mean cost when there is one, else the mean duration plus
:data:`~api.runs.known_history.SCENARIO_OVERHEAD`: for short tests a worker's time is mostly
not the tests' own.
"""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from api.models import Run
from api.runs.known_history import apply_known_history
from engine.spec import Execution

__all__ = ["HISTORY_WINDOW", "apply_history", "record_history"]

HISTORY_WINDOW = 10
"""How many recent durations a scenario keeps."""


def record_history(session: Session, run_id: str) -> None:
    """Each scenario's latest result of the finished run into its project's history.

    One statement, all in Postgres: each scenario's latest attempt (DISTINCT ON), its windows of
    durations and costs extended by that attempt's (when it passed or failed) and cut to the last
    ``HISTORY_WINDOW``, upserted. Nothing travels to Python and back: at 62,000 scenarios the
    row-by-row version spent 2 s in the driver's array adaptation.
    """
    # The project's name, not the whole spec: at 62,000 scenarios reading that took 0.3 s.
    named = func.coalesce(Run.spec[("project", "name")].as_string(), Run.execution_name)
    project = session.scalar(select(named).where(Run.id == run_id))
    if project is None:
        return
    session.execute(_RECORD, {"project": project, "run_id": run_id, "window": HISTORY_WINDOW})


def _first(value: str) -> str:
    """SQL: the latest attempt's ``value`` as a one-element window (when it passed or failed)."""
    return f"""CASE WHEN latest.{value} IS NOT NULL AND latest.status IN ('passed', 'failed')
            THEN jsonb_build_array(latest.{value}::float8) ELSE '[]'::jsonb END"""


def _extended(column: str) -> str:
    """SQL: the stored window ``column`` with the new one appended, cut to its last ``:window``
    (lax jsonpath keeps a shorter array whole)."""
    return f"""jsonb_path_query_array(
            drover_scenarios.{column} || excluded.{column},
            '$[last - $keep + 1 to last]',
            jsonb_build_object('keep', CAST(:window AS int))
        )"""


# The stored windows are read where the upsert finds each row (``drover_scenarios.<column>``
# in DO UPDATE), not joined beforehand: a join read the history of every project (a 270 MB
# table scanned for 62,000 scenarios, 0.4 s of the 0.7 s statement).
_RECORD = text(
    f"""
    INSERT INTO drover_scenarios (project, scenario_id, durations, costs, last_status,
        last_run_id)
    SELECT :project, latest.scenario_id, {_first("duration")}, {_first("cost")},
        CASE latest.status WHEN 'error' THEN 'failed' ELSE latest.status END, :run_id
    FROM (
        SELECT DISTINCT ON (scenario_id) scenario_id, status, duration, cost
        FROM drover_scenario_results WHERE run_id = :run_id
        ORDER BY scenario_id, attempt DESC
    ) AS latest
    ON CONFLICT (project, scenario_id) DO UPDATE SET
        durations = {_extended("durations")},
        costs = {_extended("costs")},
        last_status = excluded.last_status,
        last_run_id = excluded.last_run_id,
        updated_at = now()
    """
)


def apply_history(session: Session, execution: Execution) -> Execution:
    """The execution with unknown durations (and last statuses) filled in from the history
    (:func:`api.runs.known_history.apply_known_history`, read in the session's transaction)."""
    return apply_known_history(session.connection().exec_driver_sql, execution)
