"""A run's reports as the service gives them: its JUnit XML (from the stored results, so every
run has one, with or without an artifact repository) and its stored merged reports.

The CLI (``drover run --junit/--report``) and the API (``/runs/{id}/report.xml``,
``/runs/{id}/reports/...``) both call these.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from drover_agent.junit import Attempt, Case, JunitCounts, write_junit
from drover_agent.results import read_properties
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.models import Run, ScenarioResult
from api.runs.report_store import ReportStore

__all__ = ["copy_run_reports", "write_run_junit"]

ROWS_PER_FETCH = 2000


def write_run_junit(session: Session, run_id: str, out: IO[str]) -> JunitCounts:
    """The run's JUnit XML from its results, streamed: one suite per group, each scenario once
    with its final (latest) attempt, earlier attempts as Surefire's reruns."""
    run = session.get(Run, run_id)
    name = run.execution_name if run is not None else run_id
    rows = session.execute(
        select(
            ScenarioResult.group_key,
            ScenarioResult.scenario_id,
            ScenarioResult.attempt,
            ScenarioResult.status,
            ScenarioResult.duration,
            ScenarioResult.error,
            ScenarioResult.properties,
        )
        .where(ScenarioResult.run_id == run_id)
        .order_by(ScenarioResult.group_key, ScenarioResult.scenario_id, ScenarioResult.attempt)
        .execution_options(yield_per=ROWS_PER_FETCH)
    )

    def cases() -> Iterator[Case]:
        key: tuple[str, str] | None = None
        attempts: list[Attempt] = []
        for group, scenario, number, status, duration, error, properties in rows:
            row_key = (group or "", scenario)
            if key is not None and row_key != key:
                yield Case(key[1], key[0], attempts[-1], tuple(attempts[:-1]))
                attempts = []
            key = row_key
            recorded = read_properties(properties)
            attempts.append(Attempt(status, duration or 0.0, number, error, recorded))
        if key is not None:
            yield Case(key[1], key[0], attempts[-1], tuple(attempts[:-1]))

    return write_junit(out, cases(), name=name)


def copy_run_reports(store: ReportStore, run_id: str, target: Path) -> list[str]:
    """Copy the run's stored merged reports (HTML sites, the merged JUnit) into ``target``;
    what was copied (empty when the run has none)."""
    source = store.run_dir(run_id) / "run"
    if not source.is_dir():
        return []
    target.mkdir(parents=True, exist_ok=True)
    copied = []
    for entry in sorted(source.iterdir()):
        if entry.is_dir():
            shutil.copytree(entry, target / entry.name, dirs_exist_ok=True)
        else:
            shutil.copy2(entry, target / entry.name)
        copied.append(entry.name)
    return copied
