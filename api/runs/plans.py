"""From a stored execution to what a run is compiled from and recorded with.

Shared by runs started now (``api.runs.control``) and runs a schedule's CronWorkflow starts on Argo
(``api.schedules.runs``): the same planning (with scenario history), the same wiring of agent
containers to the facade, and the same rows for a run's groups, workers and queue items.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from api.models import LeaseItem, RunGroup, RunScenario, RunWorker
from api.runs.history import apply_history
from engine.errors import SpecError
from engine.loading import parse_execution
from engine.planning import ExecutionPlan, plan_execution
from engine.sharding import ShardItem, Strategy
from engine.sharding.estimates import fill_durations
from engine.spec import Execution

__all__ = [
    "DEFAULT_DURATION",
    "inject_facade",
    "is_queue_mode",
    "new_run_id",
    "plan_of_run",
    "plan_with_history",
    "record_plan",
    "replan",
    "token_secret",
]

DEFAULT_DURATION = 30.0
"""Seconds assumed for a scenario no run has timed yet (when none of its group has either)."""


def new_run_id() -> str:
    return secrets.token_hex(6)


def plan_with_history(
    session: Session, spec: Execution, *, base_dir: Path | None, strategy: str | None = None
) -> ExecutionPlan:
    """The plan of ``spec``, its relative ``project.path`` resolved against ``base_dir`` and
    its scenario durations taken from earlier runs. ``plan.execution`` is what was planned:
    ``replan(plan.execution)`` gives the same plan again."""
    spec = _resolve_project_path(spec, base_dir)
    spec = apply_history(session, spec)
    return replan(spec, strategy)


def plan_of_run(spec: dict[str, Any], strategy: str | None) -> ExecutionPlan:
    """The plan a run was started with, again: its stored spec is the planned execution (the
    durations it was planned with filled in), planned with the run's strategy."""
    return replan(parse_execution(spec), strategy)


def replan(spec: Execution, strategy: str | None = None) -> ExecutionPlan:
    """Plan an execution whose durations are filled in already (a stored plan's spec)."""
    return plan_execution(spec, strategy=strategy, default_duration=DEFAULT_DURATION)


def _resolve_project_path(spec: Execution, base_dir: Path | None) -> Execution:
    path = spec.project.path
    if path is None or Path(path).is_absolute():
        return spec
    if base_dir is None:  # a stored execution: never the server's own working directory
        raise SpecError(
            "project.path",
            f"{path!r} is relative and the execution has no folder it is relative to",
            "store the execution with the test project's absolute path, or use project.repo",
        )
    project = spec.project.model_copy(update={"path": str((base_dir / path).resolve())})
    return spec.model_copy(update={"project": project})


TOKEN_KEY = "token"


def worker_token_secret(run_id: str) -> str:
    """The name of the Secret that carries run ``run_id``'s worker token."""
    return f"drover-run-{run_id}-token"


def token_secret(name: str, token: str, labels: dict[str, str]) -> dict[str, Any]:
    """The Secret that carries a worker token into the pods. It is submitted with the plan
    ConfigMaps and owned by the Workflow (or CronWorkflow), so it goes when they go; the token
    never appears in the manifest, the Argo UI, the archive or Drover's stored manifest."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "drover", **labels}},
        "type": "Opaque",
        "stringData": {TOKEN_KEY: token},
    }


def inject_facade(document: dict[str, Any], url: str, run_ref: str, secret: str) -> None:
    """Tell the agent containers of a Workflow (or CronWorkflow) where the facade is, which run
    they serve (its id, or ``{{workflow.name}}`` for runs a schedule spawns), and the Secret
    holding their token (see :func:`token_secret`)."""
    token = {"secretKeyRef": {"name": secret, "key": TOKEN_KEY}}
    env = [
        {"name": "DROVER_FACADE_URL", "value": url},
        {"name": "DROVER_RUN_ID", "value": run_ref},
        {"name": "DROVER_TOKEN", "valueFrom": token},
    ]
    spec = document.get("spec", {})
    templates = spec.get("templates") or spec.get("workflowSpec", {}).get("templates", [])
    for template in templates:
        container = template.get("container")
        if container and container.get("command", [None])[0] == "drover-agent":
            container["env"] = [*container.get("env", []), *env]


CatalogRow = tuple[str, str, int | None, str | None, str | None, str]
"""A planned scenario: id, group, shard (None in queue mode), name, location, tags as JSON."""


def record_plan(session: Session, run_id: str, plan: ExecutionPlan) -> None:
    """The run's planned groups, workers and scenarios, and its queue items in queue mode
    (idempotent)."""
    groups, workers, leases = [], [], []
    catalog: list[CatalogRow] = []
    for position, group in enumerate(plan.groups):
        queued = group.settings.strategy == Strategy.QUEUE
        shards = [[s.id for s in worker] for worker in group.workers]
        groups.append(
            {
                "run_id": run_id,
                "key": group.key,
                "flow": group.flow,
                "name": group.name,
                "title": group.title or group.name,
                "position": position,
                "planned": True,
                "threads": group.settings.threads,
                "total": len(group.scenarios),
                "shards": shards,
            }
        )
        workers += [
            {
                "run_id": run_id,
                "group_key": group.key,
                "shard": i,
                "planned": 0 if queued else len(ids),
            }
            for i, ids in enumerate(shards)
        ]
        shard_of = {} if queued else {i: n for n, ids in enumerate(shards) for i in ids}
        catalog += [
            (
                scenario.id,
                group.key,
                shard_of.get(scenario.id),
                scenario.name or None,
                scenario.location or None,
                json.dumps(scenario.tags) if scenario.tags else "[]",
            )
            for scenario in group.scenarios
        ]
        if queued:
            # Unknown durations are estimated the way the planner does (median of the known).
            items = [ShardItem(id=s.id, duration=s.duration) for s in group.scenarios]
            expected, _ = fill_durations(items, DEFAULT_DURATION)
            leases += [
                {"run_id": run_id, "group_key": group.key, "scenario_id": s.id, "expected": e}
                for s, e in zip(group.scenarios, expected, strict=True)
            ]
    for table, rows in ((RunGroup, groups), (RunWorker, workers), (LeaseItem, leases)):
        if rows:
            # executemany, not one VALUES list: a row's parameters per statement, so a plan of
            # any size stays within Postgres's 65,535 parameters per statement.
            session.execute(insert(table).on_conflict_do_nothing(), rows)
    if catalog:
        _insert_catalog(session, run_id, catalog)


def _insert_catalog(
    session: Session,
    run_id: str,
    catalog: list[CatalogRow],
) -> None:
    """The run's scenarios (ids are unique in an execution). A run's first catalog is copied
    in (``COPY``: 0.6 s for 62,000 scenarios, where one ``INSERT`` from a JSON document took
    1.5 s); a run that has one already gets only what it lacks."""
    if session.scalar(select(exists().where(RunScenario.run_id == run_id))):
        columns = ("scenario_id", "group_key", "shard", "name", "location", "tags")
        rows = [dict(zip(columns, row, strict=True)) for row in catalog]
        session.execute(_INSERT_SCENARIOS, {"run_id": run_id, "rows": json.dumps(rows)})
        return
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(_COPY_SCENARIOS) as copy:
        for row in catalog:
            copy.write_row((run_id, *row))


_COPY_SCENARIOS = (
    "COPY drover_run_scenarios (run_id, scenario_id, group_key, shard, name, location, tags) "
    "FROM STDIN"
)
_INSERT_SCENARIOS = text(
    """
    INSERT INTO drover_run_scenarios (run_id, scenario_id, group_key, shard, name, location, tags)
    SELECT :run_id, scenario_id, group_key, shard, name, location, CAST(tags AS jsonb)
    FROM json_to_recordset(CAST(:rows AS json)) AS t(
        scenario_id text, group_key text, shard int, name text, location text, tags text
    )
    ON CONFLICT DO NOTHING
    """
)


def is_queue_mode(plan: ExecutionPlan) -> bool:
    return any(g.settings.strategy == Strategy.QUEUE for g in plan.groups)
