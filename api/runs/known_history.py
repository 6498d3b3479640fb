"""What earlier runs measured, as planning reads it: each scenario's mean cost (else its mean
duration) and last status, filled into an execution where the spec leaves them unknown.

Written against a plain ``execute(query, params)`` in psycopg's parameter style, so the service
reads it through its SQLAlchemy session (:func:`api.runs.history.apply_history`) and
``drover plan`` through one psycopg connection, without importing SQLAlchemy (a quarter of a
second of that command's start-up), or has the running local service read it
(:func:`known_history`) and fills it in itself. :mod:`api.runs.history` records what this reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from engine.spec import Execution
from engine.spec import Scenario as SpecScenario

__all__ = [
    "SCENARIO_OVERHEAD",
    "Execute",
    "KnownHistory",
    "apply_known_history",
    "fill_known_history",
    "known_history",
]

SCENARIO_OVERHEAD = 0.001
"""Seconds a worker spends on each scenario besides what its runner reports as the scenario's
duration (pytest's JUnit ``time`` leaves out its own hooks, reports and output: about a
millisecond a test here, more than many unit tests take). Added to a mean duration from
history when the scenario has no measured cost."""


class Execute(Protocol):
    """Runs one query with ``%(name)s`` parameters and yields its rows."""

    def __call__(self, query: str, params: dict[str, Any], /) -> Iterable[Sequence[Any]]: ...


_KNOWN = """
    SELECT scenario_id, last_status, coalesce(
            (SELECT avg(c::float8) FROM jsonb_array_elements_text(costs) AS c),
            (SELECT avg(d::float8) FROM jsonb_array_elements_text(durations) AS d)
                + CAST(%(overhead)s AS float8)
        ) AS mean
    FROM drover_scenarios WHERE project = %(project)s
"""
"""Each scenario's mean cost (else mean duration and the overhead) and last status, computed
where the rows are."""


KnownHistory = dict[str, tuple[float | None, str | None]]
"""Each scenario id's mean cost (or duration) and last status, as the project's runs left them."""


def known_history(execute: Execute, project: str) -> KnownHistory:
    """What the project's earlier runs measured, read with ``execute``."""
    params = {"project": project, "overhead": SCENARIO_OVERHEAD}
    return {
        scenario_id: (mean, last_status)
        for scenario_id, last_status, mean in execute(_KNOWN, params)
    }


def apply_known_history(execute: Execute, execution: Execution) -> Execution:
    """The execution with unknown durations (and last statuses) filled in from history."""
    return fill_known_history(execution, known_history(execute, execution.project.name))


def fill_known_history(execution: Execution, rows: KnownHistory) -> Execution:
    """The execution with unknown durations (and last statuses) filled in from ``rows``."""
    if not rows:
        return execution

    def filled(scenarios: list[SpecScenario]) -> list[SpecScenario]:
        out = []
        for scenario in scenarios:
            mean, last_status = rows.get(scenario.id, (None, None))
            update: dict[str, Any] = {}
            if mean is not None and scenario.duration is None:
                update["duration"] = round(mean, 4)
            if last_status and scenario.last_status is None:
                update["last_status"] = last_status
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
