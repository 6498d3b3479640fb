"""Pages of a run's results for a frontend: keyset-paginated, named, numbered 1, 2, 3.

A page costs the same at its 2,000th page as at its first: ``after`` (the cursor of the page
before) continues the unique index (run, scenario, attempt) instead of counting rows to skip.
Each result carries its planned scenario's name, location and tags and its number among its
scenario's attempts in this run (stored attempts encode the run attempt and the pod retry,
``api.runs.results.RUN_ATTEMPT_STRIDE``, which a frontend should not have to decode): the
ingest keeps them on the result's row (``api.runs.results``), so a page reads nothing else.
"""

from __future__ import annotations

import base64
import functools
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic_core import to_json
from sqlalchemy import Connection, func, select

from api.models import Run, ScenarioResult
from api.runs.results import RESULT_JSON
from api.schemas import ResultPage
from engine.errors import SpecError

__all__ = [
    "PageJson",
    "ResultQuery",
    "decode_cursor",
    "encode_cursor",
    "results_page",
    "results_page_json",
]


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


class PageJson(NamedTuple):
    body: bytes
    """The page as ``ResultPage`` JSON."""
    stamp: tuple[Any, str]
    """The run's ``(updated_at, phase)`` read with the page: what it is cached under."""


def results_page(connection: Connection, run: Run, query: ResultQuery) -> ResultPage:
    """The page as a model (for callers that want one)."""
    page = results_page_json(connection, run.id, query)
    return ResultPage.model_validate_json(page.body if page else b"")


def results_page_json(connection: Connection, run_id: str, query: ResultQuery) -> PageJson | None:
    """The page of run ``run_id`` as ``ResultPage`` JSON with the run's stamp (None: no such
    run), built from the rows in one pass: the values come from the database, so they are not
    validated again on the way out."""
    where = [ScenarioResult.run_id == run_id]
    if query.status is not None:
        where.append(ScenarioResult.status == query.status)
    if query.group is not None:
        where.append(ScenarioResult.group_key == query.group)
    # One round trip: the page (an index range) and the run's row count and stamp. Plain SQL
    # from fixed fragments, run on the connection as it is: building and running the
    # statement through the ORM cost more than Postgres' work.
    params: dict[str, Any] = {"run_id": run_id}
    if query.status is not None:
        params["status"] = query.status
    if query.group is not None:
        params["group"] = query.group
    if query.after is not None:
        params["after_id"], params["after_attempt"] = decode_cursor(query.after)
    elif query.offset:
        params["offset"] = query.offset
    statement = _page_statement(
        query.status is not None,
        query.group is not None,
        "after_id" in params,
        "offset" in params,
        query.limit,
    )
    page = connection.exec_driver_sql(statement, params).first()
    if page is None:
        return None
    total, stamp = page.rows, (page.updated_at, page.phase)
    if query.status is not None or query.group is not None:
        total = connection.scalar(select(func.count()).where(*where)) or 0
    head = to_json(
        {
            "total": total,
            "offset": query.offset if query.after is None else 0,
            "limit": query.limit,
            "next_cursor": encode_cursor(page.last_id, page.last_attempt) if page.more else None,
        }
    )
    # Postgres wrote the items' JSON (``RESULT_JSON``) and joined them: here it is only framed.
    items = page.items.encode() if page.items else b""
    return PageJson(head[:-1] + b',"items":[' + items + b"]}", stamp)


@functools.lru_cache(maxsize=256)
def _page_statement(status: bool, group: bool, after: bool, offset: bool, limit: int) -> str:
    """The page statement for one combination of filters and one page size (the driver's
    placeholders: values are bound, never inlined; ``limit`` is an int the route bounds).

    The page size is written in, not bound: the driver prepares a statement it runs often and
    Postgres then reuses one plan instead of planning every page (a third of the statement's
    time), but only a plan that knows the LIMIT is the index range it should be; not knowing
    it, the reused plan would read and sort the whole run."""
    where = "run_id = %(run_id)s"
    where += " AND status = %(status)s" if status else ""
    where += " AND group_key = %(group)s" if group else ""
    where += " AND (scenario_id, attempt) > (%(after_id)s, %(after_attempt)s)" if after else ""
    # One row whenever the run exists: its count and stamp, and the page's items as one text
    # (rows 1..limit; a row limit + 1 means there is a next page, after row limit).
    return f"""
        SELECT r.result_rows AS rows, r.updated_at, r.phase, page.*
        FROM drover_runs AS r
        CROSS JOIN LATERAL (
            SELECT string_agg(item, ',' ORDER BY k) FILTER (WHERE k <= {int(limit)}) AS items,
                count(*) > {int(limit)} AS more,
                min(scenario_id) FILTER (WHERE k = {int(limit)}) AS last_id,
                min(attempt) FILTER (WHERE k = {int(limit)}) AS last_attempt
            FROM (
                SELECT coalesce(p.item, {RESULT_JSON}) AS item, p.scenario_id, p.attempt,
                    row_number() OVER (ORDER BY p.scenario_id, p.attempt) AS k
                FROM (
                    SELECT id, scenario_id, attempt, status, duration, group_key, shard, worker,
                        error, artifacts, artifact_dir, properties, source, reported_at,
                        created_at, attempt_number, latest, name, location, tags, item
                    FROM drover_scenario_results
                    WHERE {where}
                    ORDER BY scenario_id, attempt
                    LIMIT {int(limit) + 1}{" OFFSET %(offset)s" if offset else ""}
                ) AS p
            ) AS numbered
        ) AS page
        WHERE r.id = %(run_id)s
        """
