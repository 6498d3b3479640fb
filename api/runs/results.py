"""Per-scenario results: idempotent batched ingest and the run counters derived from them.

Both channels land here: the agents' posts (live) and the results artifacts the mirror reads
when a worker finishes. ``INSERT ... ON CONFLICT`` on (run, scenario, attempt) makes a repeated
or doubled report harmless; the one thing a later report adds is where the attempt's artifacts
were kept (a live pytest result is posted before its artifacts are collected). Only rows
inserted (``xmax = 0``) count as new.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from api.mirror.transitions import latest_status, result_counts
from api.models import LeaseItem, Run, RunScenario, ScenarioResult
from engine.spec import MAX_SCENARIO_ID

__all__ = [
    "RESULT_JSON",
    "ResultIn",
    "count_results",
    "counter_delta",
    "ingest_results",
    "latest_statuses",
    "refresh_counters",
    "results_from_report",
    "whole_run_joins",
]

ResultStatus = Literal["passed", "failed", "skipped", "error"]
PropertyText = Annotated[str, Field(max_length=4000)]


RUN_ATTEMPT_STRIDE = 100_000
"""Stored attempt = (run attempt - 1) * stride + the agent's attempt (pod retry * 100 + rerun)."""


class ResultIn(BaseModel):
    """One scenario's outcome as an agent reports it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    scenario_id: str = Field(alias="id", min_length=1, max_length=MAX_SCENARIO_ID)
    status: ResultStatus
    attempt: int = Field(default=0, ge=0, lt=RUN_ATTEMPT_STRIDE)
    """The agent's: pod retry n numbers its reruns from n * 100 + 1 (up to 10 pod retries)."""
    duration: float | None = Field(default=None, ge=0)
    cost: float | None = Field(default=None, ge=0)
    """Seconds the worker's session spent on it, overhead included (what plans balance)."""
    error: str | None = Field(default=None, max_length=100_000)
    artifacts: list[str] = Field(default_factory=list, max_length=100)
    properties: list[tuple[PropertyText, PropertyText]] = Field(
        default_factory=list, max_length=100
    )
    """What the test recorded about itself (pytest's ``record_property``), in order."""
    artifact_dir: str | None = Field(
        default=None,
        max_length=500,
        description="where the artifacts are in the worker's kept reports (relative, no '..')",
    )
    group: str | None = Field(default=None, max_length=400)
    shard: int | None = Field(default=None, ge=0)
    worker: str | None = Field(default=None, max_length=300)
    reported_at: datetime | None = None

    @field_validator("artifact_dir")
    @classmethod
    def _relative(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = value.split("/")
        if value.startswith("/") or "\x00" in value or ".." in parts or "" in parts:
            raise ValueError("artifact_dir must be a relative path without '..' or empty parts")
        return value


def ingest_results(
    session: Session, run_id: str, results: Sequence[ResultIn], *, source: str = "agent"
) -> int:
    """Insert new results (duplicates are ignored), update counters; returns how many were new.

    Counters move by the difference the batch makes to its scenarios' counting status (the
    latest attempt each), so a batch costs the same however many results the run holds. The
    run row is locked for the duration, which serialises concurrent batches of one run.
    """
    if not results:
        return 0
    run_attempt = session.scalar(select(Run.attempt).where(Run.id == run_id).with_for_update())
    # Agents number attempts within one run attempt; a retried or resubmitted run starts them
    # again, so its results are stored past every earlier run attempt's numbers.
    offset = (max(run_attempt or 1, 1) - 1) * RUN_ATTEMPT_STRIDE
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for r in results:
        rows[(r.scenario_id, r.attempt)] = {
            "scenario_id": r.scenario_id,
            "attempt": offset + r.attempt,
            "group_key": r.group,
            "shard": r.shard,
            "worker": r.worker,
            "status": r.status,
            "duration": r.duration,
            "cost": r.cost,
            "error": r.error,
            "artifacts": r.artifacts,
            "artifact_dir": r.artifact_dir,
            "properties": r.properties or None,
            "reported_at": r.reported_at,
        }
    # One JSON document, not an array per column: json writes it in C, where the driver
    # adapts arrays element by element in Python (~0.1 s per column at 60,000 results).
    batch = json.dumps(list(rows.values()), default=str)
    touched = session.execute(
        _INSERT_AND_READ, {"run_id": run_id, "source": source, "rows": batch}
    ).all()
    inserted = sum(1 for row in touched if row.new)
    if not inserted:
        return 0
    _renumber(session, run_id, touched)
    before: dict[str, dict[int, str]] = {}
    after: dict[str, dict[int, str]] = {}
    for row in touched:
        after.setdefault(row.scenario_id, {})[row.attempt] = row.status
        if not row.new:
            before.setdefault(row.scenario_id, {})[row.attempt] = row.status
    latest_before = {k: latest_status(v) for k, v in before.items()}
    latest_after = {k: latest_status(v) for k, v in after.items()}
    delta = counter_delta(latest_before, latest_after)
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(
            passed=Run.passed + delta["passed"],
            failed=Run.failed + delta["failed"],
            skipped=Run.skipped + delta["skipped"],
            errored=Run.errored + delta["error"],
            result_rows=Run.result_rows + inserted,
            updated_at=func.now(),
        )
    )
    _count_into_plan(session, run_id, latest_before, latest_after)
    session.execute(
        update(LeaseItem)
        .where(LeaseItem.run_id == run_id, LeaseItem.scenario_id.in_(_json_values(after)))
        .values(state="done", leased_until=None)
    )
    return inserted


def _renumber(session: Session, run_id: str, touched: Sequence[Any]) -> None:
    """Number the earlier attempts of the batch's scenarios again where new ones changed
    their place (new rows were numbered as they were inserted)."""
    stored = [row for row in touched if row.attempt_number is not None]
    if not stored:  # no scenario of the batch had an attempt before (a worker's first report)
        return
    scenarios = {row.scenario_id for row in stored}
    attempts: dict[str, set[int]] = {}
    for row in touched:
        if row.scenario_id in scenarios:
            attempts.setdefault(row.scenario_id, set()).add(row.attempt)
    changed: list[dict[str, Any]] = []
    for row in stored:
        ordered = sorted(attempts[row.scenario_id])
        number, latest = ordered.index(row.attempt) + 1, row.attempt == ordered[-1]
        if (number, latest) != (row.attempt_number, row.latest):
            changed.append(
                {"scenario_id": row.scenario_id, "attempt": row.attempt, "number": number,
                 "latest": latest}
            )  # fmt: skip
    if changed:
        session.execute(_RENUMBER, {"run_id": run_id, "rows": json.dumps(changed)})


def _count_into_plan(
    session: Session, run_id: str, before: dict[str, str], after: dict[str, str]
) -> None:
    """Move the counters of the groups and shards the changed scenarios were planned in, so
    progress is read from O(groups + workers) rows. Scenarios outside the plan count only in
    the run's totals."""
    changed = [i for i, status in after.items() if before.get(i) != status]
    if not changed:
        return
    where = session.execute(
        select(RunScenario.scenario_id, RunScenario.group_key, RunScenario.shard).where(
            RunScenario.run_id == run_id, RunScenario.scenario_id.in_(_json_values(changed))
        )
    ).all()
    before_in: dict[str, list[str]] = {}
    after_in: dict[str, list[str]] = {}
    shards: dict[tuple[str, int], int] = {}
    for scenario_id, group_key, shard in where:
        after_in.setdefault(group_key, []).append(after[scenario_id])
        if scenario_id in before:
            before_in.setdefault(group_key, []).append(before[scenario_id])
        elif shard is not None:
            shards[(group_key, shard)] = shards.get((group_key, shard), 0) + 1
    groups: dict[str, dict[str, int]] = {}
    for key, statuses in after_in.items():
        added, removed = result_counts(statuses), result_counts(before_in.get(key, []))
        groups[key] = {name: added[name] - removed[name] for name in added}
    if groups:
        session.execute(
            _ADD_TO_GROUP,
            [
                {"run_id": run_id, "key": key, **{f"d_{name}": v for name, v in totals.items()}}
                for key, totals in groups.items()
            ],
        )
    if shards:
        session.execute(
            _ADD_TO_SHARD,
            [{"run_id": run_id, "key": g, "shard": i, "n": n} for (g, i), n in shards.items()],
        )


_ADD_TO_GROUP = text(
    "UPDATE drover_run_groups SET passed = passed + :d_passed, failed = failed + :d_failed, "
    "skipped = skipped + :d_skipped, errored = errored + :d_error "
    "WHERE run_id = :run_id AND key = :key"
)
_ADD_TO_SHARD = text(
    "UPDATE drover_run_workers SET completed = completed + :n "
    "WHERE run_id = :run_id AND group_key = :key AND shard = :shard"
)


def _json_values(values: Iterable[str]) -> Any:
    """``IN (SELECT ...)`` of one JSON parameter, not one parameter per value as ``IN (...)``
    would bind (nor an array, which the driver adapts element by element in Python: 0.12 s at
    30,000 ids against 0.02 s for json)."""
    ids = bindparam(None, list(values), type_=JSONB)  # SQLAlchemy serialises it with json
    return select(func.jsonb_array_elements_text(ids))


def _value(sql: str) -> str:
    """A value as JSON text: to_json escapes strings and writes numbers as JSON does."""
    return f"coalesce(to_json({sql})::text, 'null')"


def _time(sql: str) -> str:
    """A time in UTC as a JSON string with a ``Z`` (digits and punctuation: nothing to escape)."""
    utc = f"""to_char(({sql}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    return f"""coalesce('"' || {utc} || '"', 'null')"""


_FINISHED = "coalesce(p.reported_at, p.created_at)"
RESULT_JSON = f"""
    concat(
        '{{"id":', p.id,
        ',"scenario_id":', {_value("p.scenario_id")},
        ',"name":', {_value("p.name")},
        ',"location":', {_value("p.location")},
        ',"tags":', coalesce(p.tags::text, '[]'),
        ',"attempt":', p.attempt_number,
        ',"run_attempt":', p.attempt / {RUN_ATTEMPT_STRIDE} + 1,
        ',"latest":', p.latest::text,
        ',"status":', {_value("p.status")},
        ',"duration":', {_value("p.duration")},
        ',"started_at":', {_time(f"{_FINISHED} - p.duration * interval '1 second'")},
        ',"finished_at":', {_time(_FINISHED)},
        ',"group_key":', {_value("p.group_key")},
        ',"shard":', {_value("p.shard")},
        ',"worker_id":', {_value("p.group_key || '/' || p.shard")},
        ',"worker":', {_value("p.worker")},
        ',"error":', {_value("p.error")},
        ',"artifacts":', coalesce(p.artifacts::text, '[]'),
        ',"artifact_dir":', {_value("p.artifact_dir")},
        ',"properties":', coalesce(p.properties::text, '[]'),
        ',"source":', {_value("p.source")},
        ',"created_at":', {_time("p.created_at")},
        '}}'
    )
"""
"""One result (the row ``p``) as ``ResultOut`` JSON; times in UTC with a ``Z``. The ingest
stores it with the row (``item``) and drops it when the row changes (a number, its artifacts);
a page reads it as it is, or builds it from the row (``api.runs.result_pages``). Written piece by
piece:
json_build_object looks up how to write each of its 22 arguments again for every row: a
quarter of the statement's time at 100 rows (1.44 ms against 1.05 ms, EXPLAIN ANALYZE)."""


# One round trip: insert the batch (a JSON array of rows), skipping known (run, scenario,
# attempt), and return the new rows plus the earlier rows of the same scenarios (the
# statement's snapshot does not see its own inserts, so those are exactly the "before" rows).
# A new row is numbered among its scenario's attempts, known and incoming, takes its
# scenario's name, location and tags from the run's plan, and is stored with its JSON (its id
# and creation time are drawn first, as their defaults would be, for the JSON to hold them);
# a row reported again (a worker's results file repeats what it posted) only meets its
# conflict, so none of that is worked out for it (the run's lock keeps the rows it has still:
# a row not known here is new).
_INSERT_AND_READ = text(
    f"""
    WITH incoming AS (
        SELECT * FROM json_to_recordset(CAST(:rows AS json)) AS t(
            scenario_id text, attempt int, group_key text, shard int, worker text, status text,
            duration float8, error text, artifacts jsonb, artifact_dir text,
            reported_at timestamptz, cost float8, properties jsonb
        )
    ), known AS (
        SELECT scenario_id, attempt, status, attempt_number, latest
        FROM drover_scenario_results
        WHERE run_id = :run_id AND scenario_id IN (SELECT scenario_id FROM incoming)
    ), every_attempt AS (
        -- The batch beside the stored attempts of its scenarios, compared by window functions
        -- rather than joins: Postgres guesses 100 rows for json_to_recordset and, on a table
        -- autovacuum has not analysed, as few as 1 for the others, and a join planned on such
        -- guesses rescans one side per row of the other (5 s for 3,461 results once).
        SELECT *, bool_or(NOT is_incoming) OVER (PARTITION BY scenario_id, attempt) AS stored
        FROM (
            SELECT i.*, true AS is_incoming, NULL::int AS stored_number,
                NULL::boolean AS stored_latest
            FROM incoming AS i
            UNION ALL
            SELECT k.scenario_id, k.attempt, NULL, NULL, NULL, k.status, NULL, NULL, NULL, NULL,
                NULL, NULL, NULL, false, k.attempt_number, k.latest
            FROM known AS k
        ) AS both_sides
    ), numbered AS (
        -- Each attempt once (a result reported again is its stored row), numbered in order.
        SELECT *,
            row_number() OVER (PARTITION BY scenario_id ORDER BY attempt) AS number,
            attempt = max(attempt) OVER (PARTITION BY scenario_id) AS is_latest,
            bool_or(is_incoming) OVER (PARTITION BY scenario_id) AS has_fresh
        FROM every_attempt
        WHERE NOT (is_incoming AND stored)
    ), prepared AS MATERIALIZED (
        SELECT nextval('drover_scenario_results_id_seq') AS id, clock_timestamp() AS created_at,
            CAST(:source AS text) AS source, n.scenario_id, n.attempt, n.group_key, n.shard,
            n.worker, n.status, n.duration, n.cost, n.error, n.artifacts, n.artifact_dir,
            n.properties, n.reported_at, n.number AS attempt_number, n.is_latest AS latest, s.name,
            s.location, s.tags
        FROM numbered AS n
        LEFT JOIN drover_run_scenarios AS s
            ON s.run_id = :run_id AND s.scenario_id = n.scenario_id
        WHERE n.is_incoming
    ), inserted AS (
        INSERT INTO drover_scenario_results (id, run_id, scenario_id, attempt, group_key, shard,
            worker, status, duration, cost, error, artifacts, artifact_dir, properties, source,
            reported_at, created_at, attempt_number, latest, name, location, tags, item)
        SELECT p.id, :run_id, p.scenario_id, p.attempt, p.group_key, p.shard, p.worker,
            p.status, p.duration, p.cost, p.error, p.artifacts, p.artifact_dir, p.properties,
            p.source, p.reported_at, p.created_at, p.attempt_number, p.latest, p.name,
            p.location, p.tags, {RESULT_JSON}
        FROM prepared AS p
        UNION ALL  -- reported again: only to meet their conflict (their artifacts may be new)
        SELECT nextval('drover_scenario_results_id_seq'), :run_id, r.scenario_id, r.attempt,
            r.group_key, r.shard, r.worker, r.status, r.duration, r.cost, r.error, r.artifacts,
            r.artifact_dir, r.properties, :source, r.reported_at, clock_timestamp(), 1, true,
            NULL, NULL, NULL, NULL
        FROM every_attempt AS r
        WHERE r.is_incoming AND r.stored
        ON CONFLICT (run_id, scenario_id, attempt) DO UPDATE
            SET artifacts = EXCLUDED.artifacts, artifact_dir = EXCLUDED.artifact_dir,
                worker = COALESCE(EXCLUDED.worker, drover_scenario_results.worker), item = NULL
            WHERE drover_scenario_results.artifact_dir IS NULL
              AND EXCLUDED.artifact_dir IS NOT NULL
        RETURNING scenario_id, attempt, status, (xmax = 0) AS fresh
    )
    SELECT scenario_id, attempt, status, fresh AS new, NULL::int AS attempt_number,
        NULL::boolean AS latest
    FROM inserted
    UNION ALL  -- the stored attempts of scenarios with a new one, numbered as they were
    SELECT scenario_id, attempt, status, false, stored_number, stored_latest
    FROM numbered
    WHERE NOT is_incoming AND has_fresh
    """
)

# Earlier attempts whose number or "latest" an arriving attempt changed (a rerun makes its
# scenario's previous attempt no longer the latest; a late attempt moves the later ones' numbers).
_RENUMBER = text(
    """
    UPDATE drover_scenario_results AS r
    SET attempt_number = u.number, latest = u.latest, item = NULL
    FROM json_to_recordset(CAST(:rows AS json))
        AS u(scenario_id text, attempt int, number int, latest boolean)
    WHERE r.run_id = :run_id AND r.scenario_id = u.scenario_id AND r.attempt = u.attempt
    """
)


def counter_delta(before: dict[str, str], after: dict[str, str]) -> dict[str, int]:
    """How the run's counters change when scenarios' counting statuses go from before to after."""
    added = result_counts(list(after.values()))
    removed = result_counts(list(before.values()))
    return {k: added[k] - removed[k] for k in added}


def whole_run_joins(session: Session) -> None:
    """For the rest of the transaction, joins by hash or merge, never a nested loop.

    For statements that read a whole run (its recount, its history). Right after a run the
    planner's statistics have not seen its rows and estimate a row or two; it then joins 62,000
    results to 62,000 plan rows in a nested loop over a materialised scan: one recount of
    packaging's suite took 109 s (bench/real_suites.py, Postgres' slow-statement log). Without
    nested loops the same statement takes 0.1 s whatever the estimate.
    """
    session.execute(text("SET LOCAL enable_nestloop = off"))


def refresh_counters(session: Session, run_id: str) -> None:
    """Recount the run's counters, its groups' and its shards' from all its results (the
    latest attempt each): at the end of a run, and after a workflow vanished.

    The run's row is locked first, as every writer of a run locks it (the ingest, the mirror's
    state, a retry) before its groups and workers: updating the workers first and the run last
    deadlocked with a retry that came as the mirror recorded the failed attempt's end."""
    session.execute(select(Run.id).where(Run.id == run_id).with_for_update())
    whole_run_joins(session)
    counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    for status, n in session.execute(_RECOUNT, {"run_id": run_id}):
        counts[status if status in counts else "error"] += n
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(
            passed=counts["passed"],
            failed=counts["failed"],
            skipped=counts["skipped"],
            errored=counts["error"],
            result_rows=select(func.count())
            .where(ScenarioResult.run_id == run_id)
            .scalar_subquery(),
            updated_at=func.now(),
        )
    )


_LATEST = """
    SELECT DISTINCT ON (r.scenario_id) r.scenario_id, r.status, s.group_key, s.shard
    FROM drover_scenario_results AS r
    LEFT JOIN drover_run_scenarios AS s ON s.run_id = r.run_id AND s.scenario_id = r.scenario_id
    WHERE r.run_id = :run_id
    ORDER BY r.scenario_id, r.attempt DESC
"""
# One statement: the latest attempts are sorted out once (a CTE read three times is evaluated
# once) and feed the groups' counters, the shards' and the run's totals (its result).
_RECOUNT = text(
    f"""
    WITH latest AS ({_LATEST}),
    groups AS (
        UPDATE drover_run_groups AS g SET
            passed = coalesce(c.passed, 0), failed = coalesce(c.failed, 0),
            errored = coalesce(c.errored, 0), skipped = coalesce(c.skipped, 0)
        FROM drover_run_groups AS k
        LEFT JOIN (
            SELECT group_key,
                count(*) FILTER (WHERE status = 'passed') AS passed,
                count(*) FILTER (WHERE status = 'failed') AS failed,
                count(*) FILTER (WHERE status NOT IN ('passed', 'failed', 'skipped')) AS errored,
                count(*) FILTER (WHERE status = 'skipped') AS skipped
            FROM latest WHERE group_key IS NOT NULL GROUP BY group_key
        ) AS c ON c.group_key = k.key
        WHERE k.run_id = :run_id AND g.run_id = k.run_id AND g.key = k.key AND k.planned
    ),
    shards AS (
        UPDATE drover_run_workers AS w SET completed = coalesce(c.n, 0)
        FROM drover_run_workers AS k
        LEFT JOIN (
            SELECT group_key, shard, count(*) AS n
            FROM latest WHERE shard IS NOT NULL GROUP BY group_key, shard
        ) AS c ON c.group_key = k.group_key AND c.shard = k.shard
        WHERE k.run_id = :run_id AND w.run_id = k.run_id AND w.group_key = k.group_key
          AND w.shard = k.shard
    )
    SELECT status, count(*) FROM latest GROUP BY status
    """
)


def latest_statuses(session: Session, run_id: str) -> dict[str, str]:
    """Scenario id → the status that counts."""
    query = text(
        "SELECT DISTINCT ON (scenario_id) scenario_id, status FROM drover_scenario_results "
        "WHERE run_id = :run_id ORDER BY scenario_id, attempt DESC"
    )
    return {row[0]: row[1] for row in session.execute(query, {"run_id": run_id})}


def results_from_report(report: Any, *, worker: str | None) -> list[ResultIn]:
    """The results in an agent's results JSON (``results`` and earlier ``retried`` attempts)."""
    if not isinstance(report, dict):
        return []
    group = report.get("group") if isinstance(report.get("group"), str) else None
    shard = report.get("shard") if isinstance(report.get("shard"), int) else None
    out = []
    for entry in [*_entries(report.get("retried")), *_entries(report.get("results"))]:
        try:
            out.append(
                ResultIn.model_validate(
                    {
                        "id": entry.get("id"),
                        "status": entry.get("status"),
                        "attempt": entry.get("attempt") or 0,
                        "duration": entry.get("duration"),
                        "cost": entry.get("cost"),
                        "error": entry.get("error"),
                        "artifacts": entry.get("artifacts") or [],
                        "artifact_dir": entry.get("artifact_dir"),
                        "properties": entry.get("properties") or [],
                        "group": group,
                        "shard": shard,
                        "worker": worker,
                    }
                )
            )
        except ValueError:
            continue  # one bad entry must not lose the others
    return out


def _entries(value: Any) -> list[dict[str, Any]]:
    return [e for e in value if isinstance(e, dict)] if isinstance(value, list) else []


def count_results(session: Session, run_id: str) -> int:
    return session.scalar(select(func.count()).where(ScenarioResult.run_id == run_id)) or 0
