"""Pages of a run's results for a frontend: keyset-paginated, named, numbered 1, 2, 3.

A page costs the same at its 2,000th page as at its first: ``after`` (the cursor of the page
before) continues the unique index (run, scenario, attempt) instead of counting rows to skip.
Each result is joined to its planned scenario (name, location, tags) and numbered among its
scenario's attempts in this run: stored attempts encode the run attempt and the pod retry
(``api.results.RUN_ATTEMPT_STRIDE``), which a frontend should not have to decode.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Text, any_, bindparam, func, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from api.models import Run, RunScenario, ScenarioResult
from api.results import RUN_ATTEMPT_STRIDE
from api.schemas import ResultOut, ResultPage, worker_id
from engine.errors import SpecError

__all__ = ["ResultQuery", "decode_cursor", "encode_cursor", "results_page"]


@dataclass(frozen=True)
class ResultQuery:
    status: str | None = None
    group: str | None = None
    after: str | None = None
    offset: int = 0
    limit: int = 100


def encode_cursor(scenario_id: str, attempt: int) -> str:
    raw = json.dumps([scenario_id, attempt], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    """The (scenario id, stored attempt) a page ended at; a cursor not made here is 422."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        scenario_id, attempt = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if isinstance(scenario_id, str) and isinstance(attempt, int):
            return scenario_id, attempt
    except (ValueError, TypeError):
        pass
    raise SpecError("after", "is not a cursor this API gave", "pass a page's next_cursor as is")


def results_page(session: Session, run: Run, query: ResultQuery) -> ResultPage:
    where = [ScenarioResult.run_id == run.id]
    if query.status is not None:
        where.append(ScenarioResult.status == query.status)
    if query.group is not None:
        where.append(ScenarioResult.group_key == query.group)
    if query.status is None and query.group is None:
        total = run.result_rows  # kept by the ingest: no count over the run's results
    else:
        total = session.scalar(select(func.count()).where(*where)) or 0
    # The page alone first (an index range), then what its scenarios need: joining the
    # catalog in the same statement lets the planner scan all of it for a deep page.
    page = select(ScenarioResult).where(*where)
    if query.after is not None:
        scenario_id, attempt = decode_cursor(query.after)
        page = page.where(
            tuple_(ScenarioResult.scenario_id, ScenarioResult.attempt) > (scenario_id, attempt)
        )
    elif query.offset:
        page = page.offset(query.offset)
    rows = session.scalars(
        page.order_by(ScenarioResult.scenario_id, ScenarioResult.attempt).limit(query.limit + 1)
    ).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    scenario_ids = sorted({r.scenario_id for r in rows})
    known = _attempt_numbers(session, run.id, scenario_ids)
    items = [_result_out(row, known, known.get(row.scenario_id)) for row in rows]
    last = rows[-1] if rows else None
    return ResultPage(
        total=total,
        offset=query.offset if query.after is None else 0,
        limit=query.limit,
        items=items,
        next_cursor=encode_cursor(last.scenario_id, last.attempt) if more and last else None,
    )


def _attempt_numbers(session: Session, run_id: str, scenario_ids: list[str]) -> dict[str, Any]:
    """For the page's scenarios only (an index range each), in one round trip: each result's
    number among its scenario's attempts and whether it is the latest, by (scenario, stored
    attempt); and each scenario's planned (name, location, tags), by scenario."""
    if not scenario_ids:
        return {}
    ids = bindparam(None, scenario_ids, type_=ARRAY(Text))
    number = func.row_number().over(
        partition_by=ScenarioResult.scenario_id, order_by=ScenarioResult.attempt
    )
    count = func.count().over(partition_by=ScenarioResult.scenario_id)
    rows = session.execute(
        select(
            ScenarioResult.scenario_id,
            ScenarioResult.attempt,
            number,
            count,
            RunScenario.name,
            RunScenario.location,
            RunScenario.tags,
        )
        .outerjoin(
            RunScenario,
            (RunScenario.run_id == ScenarioResult.run_id)
            & (RunScenario.scenario_id == ScenarioResult.scenario_id),
        )
        .where(ScenarioResult.run_id == run_id, ScenarioResult.scenario_id == any_(ids))
    ).all()
    out: dict[Any, Any] = {}
    for scenario_id, attempt, n, total, name, location, tags in rows:
        out[(scenario_id, attempt)] = (n, n == total)
        out[scenario_id] = (name, location, tags)
    return out


def _result_out(
    result: ScenarioResult,
    numbers: dict[Any, Any],
    planned: Any,
) -> ResultOut:
    name, location, tags = planned if planned is not None else (None, None, [])
    number, latest = numbers.get((result.scenario_id, result.attempt), (1, True))
    finished = result.reported_at or result.created_at
    started = (
        finished - timedelta(seconds=result.duration)
        if finished is not None and result.duration is not None
        else None
    )
    return ResultOut(
        id=result.id,
        scenario_id=result.scenario_id,
        name=name,
        location=location,
        tags=list(tags or []),
        attempt=number,
        run_attempt=result.attempt // RUN_ATTEMPT_STRIDE + 1,
        latest=latest,
        status=result.status,
        duration=result.duration,
        started_at=started,
        finished_at=finished,
        group_key=result.group_key,
        shard=result.shard,
        worker_id=worker_id(result.group_key, result.shard),
        worker=result.worker,
        error=result.error,
        artifacts=list(result.artifacts or []),
        artifact_dir=result.artifact_dir,
        source=result.source,
        created_at=result.created_at,
    )
