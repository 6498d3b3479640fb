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

from pydantic_core import to_json
from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import Session

from api.models import Run, RunScenario, ScenarioResult
from api.results import RUN_ATTEMPT_STRIDE
from api.schemas import ResultPage, worker_id
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
    """The page as a model (for callers that want one)."""
    return ResultPage.model_validate_json(
        results_page_json(session, run.id, run.result_rows, query)
    )


def results_page_json(session: Session, run_id: str, result_rows: int, query: ResultQuery) -> bytes:
    """The page of run ``run_id`` (which holds ``result_rows`` results) as ``ResultPage`` JSON,
    built from the rows in one pass: the values come from the database, so they are not
    validated again on the way out."""
    where = [ScenarioResult.run_id == run_id]
    if query.status is not None:
        where.append(ScenarioResult.status == query.status)
    if query.group is not None:
        where.append(ScenarioResult.group_key == query.group)
    if query.status is None and query.group is None:
        total = result_rows  # kept by the ingest: no count over the run's results
    else:
        total = session.scalar(select(func.count()).where(*where)) or 0
    # One round trip: the page (an index range), then for its scenarios only (an index range
    # each) every attempt, numbered, and their planned names. Joining the catalog to the page
    # directly would let the planner scan all of it for a deep page.
    page = select(*_PAGE_COLUMNS).where(*where)
    if query.after is not None:
        scenario_id, attempt = decode_cursor(query.after)
        page = page.where(
            tuple_(ScenarioResult.scenario_id, ScenarioResult.attempt) > (scenario_id, attempt)
        )
    elif query.offset:
        page = page.offset(query.offset)
    paged = (
        page.order_by(ScenarioResult.scenario_id, ScenarioResult.attempt)
        .limit(query.limit + 1)
        .cte("page")
    )
    numbered = (
        select(
            ScenarioResult.scenario_id,
            ScenarioResult.attempt,
            func.row_number()
            .over(partition_by=ScenarioResult.scenario_id, order_by=ScenarioResult.attempt)
            .label("number"),
            func.count().over(partition_by=ScenarioResult.scenario_id).label("attempts"),
        )
        .where(
            ScenarioResult.run_id == run_id,
            ScenarioResult.scenario_id.in_(select(paged.c.scenario_id)),
        )
        .cte("numbered")
    )
    statement = (
        select(
            paged,
            numbered.c.number,
            numbered.c.attempts,
            RunScenario.name.label("planned_name"),
            RunScenario.location,
            RunScenario.tags,
        )
        .join(
            numbered,
            and_(
                numbered.c.scenario_id == paged.c.scenario_id,
                numbered.c.attempt == paged.c.attempt,
            ),
        )
        .outerjoin(
            RunScenario,
            and_(RunScenario.run_id == run_id, RunScenario.scenario_id == paged.c.scenario_id),
        )
        .order_by(paged.c.scenario_id, paged.c.attempt)
    )
    rows = session.execute(statement).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    last = rows[-1] if rows else None
    return to_json(
        {
            "total": total,
            "offset": query.offset if query.after is None else 0,
            "limit": query.limit,
            "items": [_result_out(row) for row in rows],
            "next_cursor": (
                encode_cursor(last.scenario_id, last.attempt) if more and last else None
            ),
        }
    )


_PAGE_COLUMNS = (
    ScenarioResult.id,
    ScenarioResult.scenario_id,
    ScenarioResult.attempt,
    ScenarioResult.status,
    ScenarioResult.duration,
    ScenarioResult.group_key,
    ScenarioResult.shard,
    ScenarioResult.worker,
    ScenarioResult.error,
    ScenarioResult.artifacts,
    ScenarioResult.source,
    ScenarioResult.reported_at,
    ScenarioResult.created_at,
)


def _result_out(row: Any) -> dict[str, Any]:
    """A result as the API shows it (``ResultOut``), from one row of the page statement."""
    finished = row.reported_at or row.created_at
    started = (
        finished - timedelta(seconds=row.duration)
        if finished is not None and row.duration is not None
        else None
    )
    return dict(
        id=row.id,
        scenario_id=row.scenario_id,
        name=row.planned_name,
        location=row.location,
        tags=list(row.tags or []),
        attempt=row.number,
        run_attempt=row.attempt // RUN_ATTEMPT_STRIDE + 1,
        latest=row.number == row.attempts,
        status=row.status,
        duration=row.duration,
        started_at=started,
        finished_at=finished,
        group_key=row.group_key,
        shard=row.shard,
        worker_id=worker_id(row.group_key, row.shard),
        worker=row.worker,
        error=row.error,
        artifacts=list(row.artifacts or []),
        source=row.source,
        created_at=row.created_at,
    )
