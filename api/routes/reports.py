"""Reports and artifacts: the run's JUnit XML, its HTML reports as static sites, and each
result's artifacts (streamed by Starlette's ``FileResponse``, which answers ``Range`` requests
with 206 partial content, so a video seeks)."""

from __future__ import annotations

import mimetypes
import os
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from api.deps import AdminDep, RowId, ServiceDep, SessionDep
from api.models import Run, ScenarioResult
from api.runs.report_store import REPORT_KINDS
from api.runs.reports import write_run_junit

router = APIRouter(tags=["reports"])

# Types the standard table may lack on a slim image; what browsers and the report viewers need.
CONTENT_TYPES = {
    ".webm": "video/webm",
    ".zip": "application/zip",
    ".md": "text/markdown; charset=utf-8",
    ".ndjson": "application/x-ndjson",
    ".json": "application/json",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
    ".xml": "application/xml",
}


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _run(session: SessionDep, run_id: str) -> Run:
    run = session.get(Run, run_id)
    if run is None:
        raise HTTPException(404, f"run {run_id} not found")
    return run


@router.get(
    "/runs/{run_id}/report.xml",
    response_class=FileResponse,
    responses={200: {"content": {"application/xml": {}}}},
)
def run_junit(run_id: str, session: SessionDep, _: AdminDep) -> FileResponse:
    """The run's JUnit XML: one testsuite per group, each scenario once with its final outcome,
    earlier attempts as Surefire's ``flakyFailure``/``rerunFailure``."""
    _run(session, run_id)
    handle, path = tempfile.mkstemp(prefix="drover-junit-", suffix=".xml")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            write_run_junit(session, run_id, out)
    except BaseException:
        os.unlink(path)
        raise
    return FileResponse(
        path,
        media_type="application/xml",
        filename=f"{run_id}-junit.xml",
        content_disposition_type="inline",
        background=BackgroundTask(os.unlink, path),
    )


@router.get("/runs/{run_id}/reports")
def run_reports(run_id: str, session: SessionDep, _: AdminDep) -> Any:
    """Which reports the run has (links to each), and what could not be made."""
    run = _run(session, run_id)
    index = run.reports or {"reports": {}, "problems": []}
    base = f"/api/v1/runs/{run_id}"
    links = {"junit": f"{base}/report.xml"}
    for kind in REPORT_KINDS:
        if kind in (index.get("reports") or {}):
            links[kind] = f"{base}/reports/{kind}/"
    return {
        "stored": run.reports is not None,
        "links": links,
        "problems": index.get("problems") or [],
        "bytes": run.reports_bytes,
    }


@router.get("/runs/{run_id}/reports/{kind}/{path:path}", response_class=FileResponse)
def report_site(
    run_id: str, kind: str, path: str, session: SessionDep, service: ServiceDep, _: AdminDep
) -> FileResponse:
    """A file of the run's ``kind`` HTML report (``playwright``, ``cucumber``), served as a
    static site: an empty path is its ``index.html``."""
    if kind not in REPORT_KINDS:
        raise HTTPException(404, f"no report kind {kind!r}; the kinds: {', '.join(REPORT_KINDS)}")
    _run(session, run_id)
    found = service.reports.run_file(run_id, f"{kind}/{path or 'index.html'}")
    if found is None:
        raise HTTPException(404, f"the run has no {kind} report file {path or 'index.html'!r}")
    return FileResponse(found, media_type=content_type(found.name))


@router.get("/results/{result_id}/artifacts/{name}", response_class=FileResponse)
def result_artifact(
    result_id: RowId, name: str, session: SessionDep, service: ServiceDep, _: AdminDep
) -> FileResponse:
    """One artifact of a result (a name from its ``artifacts``), streamed; ``Range`` requests
    are answered with the part asked for."""
    result = session.get(ScenarioResult, result_id)
    if result is None:
        raise HTTPException(404, f"result {result_id} not found")
    if name not in (result.artifacts or []) or not result.artifact_dir:
        raise HTTPException(404, f"result {result_id} has no artifact {name!r}")
    found = service.reports.artifact(result.run_id, result.worker, result.artifact_dir, name)
    if found is None:
        raise HTTPException(404, f"artifact {name!r} of result {result_id} is not stored (yet)")
    return FileResponse(
        found,
        media_type=content_type(name),
        filename=name,
        content_disposition_type="inline",
    )
