"""The dashboard's pages (HTML shells) and static files, mounted beside ``/api/v1``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles

from api.dashboard.shell import render_shell
from api.deps import AdminDep, RowId, SessionDep
from api.models import Execution, ExecutionVersion
from engine.errors import NotFound
from engine.yaml_io import dump

__all__ = ["mount_dashboard"]

STATIC = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)


def _page(page: str, title: str, **data: str) -> HTMLResponse:
    # The shell holds no data, only names; the script fetches the rest signed in.
    return HTMLResponse(
        render_shell(page, title, **data),
        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
    )


@router.get("/")
def runs_page() -> HTMLResponse:
    return _page("runs", "Runs")


@router.get("/login")
def login_page(next: str = Query("/", max_length=500)) -> HTMLResponse:
    # Only a path on this site: never an open redirect.
    target = next if next.startswith("/") and not next.startswith("//") else "/"
    return _page("login", "Sign in", next=target)


@router.get("/runs/{run_id}")
def run_page(run_id: str) -> HTMLResponse:
    return _page("run", "Run", run_id=run_id)


@router.get("/runs/{run_id}/logs")
def log_page(run_id: str, worker: str = Query("", max_length=300)) -> HTMLResponse:
    return _page("logs", "Log", run_id=run_id, worker=worker)


@router.get("/executions")
def executions_page() -> HTMLResponse:
    return _page("executions", "Executions")


@router.get("/executions/{execution_id}")
def execution_page(execution_id: RowId) -> HTMLResponse:
    return _page("execution", "Execution", execution_id=str(execution_id))


@router.get("/executions/{execution_id}/spec.yaml")
def execution_spec(
    execution_id: RowId,
    session: SessionDep,
    _: AdminDep,
    version: int | None = Query(None, ge=1, le=2_147_483_647),
) -> PlainTextResponse:
    """The spec as YAML (``version``: an earlier one), for reading, diffing and download."""
    execution = session.get(Execution, execution_id)
    if execution is None:
        raise NotFound(f"no execution {execution_id}")
    spec = execution.spec
    if version is not None and version != execution.version:
        row = session.get(ExecutionVersion, (execution_id, version))
        if row is None:
            raise NotFound(f"execution {execution_id} has no version {version}")
        spec = row.spec
    return PlainTextResponse(dump(spec), media_type="application/yaml; charset=utf-8")


@router.get("/pipelines")
def pipelines_page() -> HTMLResponse:
    return _page("pipelines", "Pipelines")


@router.get("/pipeline-runs/{run_id}")
def pipeline_run_page(run_id: str) -> HTMLResponse:
    return _page("pipeline-run", "Pipeline run", run_id=run_id)


@router.get("/pipeline-runs/{run_id}/logs")
def pipeline_log_page(run_id: str, job: str = Query("", max_length=63)) -> HTMLResponse:
    return _page("logs", "Log", pipeline_run_id=run_id, job=job)


def mount_dashboard(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
