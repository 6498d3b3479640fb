"""The FastAPI application: ``create_app(settings)`` wires database, mirror, scheduler, routes."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.dashboard import mount_dashboard
from api.limits import BodyLimit
from api.mirror.pipelines import start_pipeline_follower
from api.notifications import routes as notifications
from api.notifications.runtime import start_notifications
from api.openapi import install_spec_schemas
from api.retention import purge
from api.routes import executions, pipelines, projects, reports, runs, schedules, signin, system
from api.runs.changes import RunChanges
from api.schedules.runs import sync_all_schedules
from api.schedules.scheduler import Scheduler, fire_schedule
from api.schedules.skips import watch_argo_skips
from api.schemas import ERROR_RESPONSES
from api.service import Service, build_service
from api.settings import Settings, get_settings
from api.stream_reads import StreamReads
from engine.backends.argo import ArgoBackend
from engine.errors import (
    BackendError,
    Conflict,
    DroverError,
    NotFound,
    SpecError,
    Unsupported,
)
from engine.loading import describe_error

__all__ = ["build_service", "create_app"]

log = logging.getLogger("drover.api")


def _start_background(service: Service) -> list[Any]:
    service.mirror.start()
    stoppers: list[Any] = [service.mirror.stop]
    cron_backend = service.backends.get(service.default_backend)
    if isinstance(cron_backend, ArgoBackend):
        # Argo fires the schedules; make its CronWorkflows match them (again) first.
        _sync_cron_workflows(service, cron_backend)
        stoppers.append(watch_argo_skips(service.sessions))
    elif service.settings.scheduler:
        fire = functools.partial(
            fire_schedule,
            backend=service.backend(),
            mirror=service.mirror,
            facade_url=service.settings.public_url,
        )
        scheduler = Scheduler(service.sessions, fire)
        scheduler.start()
        stoppers.append(scheduler.stop)
    stop_gc = threading.Event()

    def gc_loop() -> None:
        while not stop_gc.wait(service.settings.gc_interval):
            try:
                with service.sessions() as session:
                    purge(
                        session,
                        older_than_days=service.settings.retention_days,
                        backends=service.backends,
                        reports=service.reports,
                    )
            except Exception as exc:
                log.warning("retention purge failed: %s", exc)

    threading.Thread(target=gc_loop, name="drover-gc", daemon=True).start()
    stoppers.append(stop_gc.set)
    return stoppers


def _sync_cron_workflows(service: Service, backend: ArgoBackend) -> None:
    try:
        with service.sessions() as session:
            sync_all_schedules(
                session,
                backend,
                facade_url=service.settings.public_url,
                service_account=service.settings.service_account,
                artifact_repository=service.settings.argo_artifact_repository,
                agent_service_account=service.settings.agent_service_account,
            )
    except (DroverError, SQLAlchemyError) as exc:
        # The service still starts; the next start or schedule change tries again.
        log.warning("could not sync schedules to Argo CronWorkflows: %s", exc)


def _start_streaming(service: Service) -> Callable[[], None]:
    """The event streams' reads and the change watcher that wakes them, on connections of
    their own; the stopper leaves the service as it found it (a later app starts them anew)."""
    reads = StreamReads(service.sessions.kw["bind"])
    changes = RunChanges(reads.sessions)
    service.stream_reads, service.changes = reads, changes
    changes.start()

    def stop() -> None:
        changes.stop()
        reads.close()
        service.stream_reads = service.changes = None

    return stop


def _error(status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"detail": detail, **{k: v for k, v in extra.items() if v}}, status_code=status
    )


def create_app(settings: Settings | None = None, *, service: Service | None = None) -> FastAPI:
    """The app; ``service`` lets tests share one, otherwise it is built at startup."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = service or build_service(settings)
        app.state.service = own
        stoppers = _start_background(own)
        if own.stream_reads is None:
            engine = own.sessions.kw["bind"]
            own.stream_reads = StreamReads(engine)
            stoppers.append(own.stream_reads.close)
        if own.changes is None:  # on the streams' connections: it watches for them
            own.changes = RunChanges(own.stream_reads.sessions)
            own.changes.start()
            stoppers.append(own.changes.stop)
        stoppers.append(start_pipeline_follower(own))
        stoppers.append(start_notifications(own))
        try:
            yield
        finally:
            for stop in reversed(stoppers):
                stop()

    app = FastAPI(
        title="Drover",
        version="0.1.0",
        description="Run test executions as Argo Workflows (or locally) and follow them live.",
        lifespan=lifespan,
    )

    _add_cors(app, settings.cors_origins)

    @app.exception_handler(SpecError)
    async def spec_error(_: Request, exc: SpecError) -> JSONResponse:
        return _error(422, exc.message, field=exc.path, hint=exc.hint)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(Unsupported)
    async def unsupported(_: Request, exc: Unsupported) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(BackendError)
    async def backend_error(_: Request, exc: BackendError) -> JSONResponse:
        # Argo or Kubernetes failed (after retries): not the caller's fault, try again later.
        return _error(502, str(exc))

    @app.exception_handler(DroverError)
    async def drover_error(_: Request, exc: DroverError) -> JSONResponse:
        return _error(422, str(exc))

    @app.exception_handler(IntegrityError)
    async def integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        return _error(409, "conflicts with an existing record: " + str(exc.orig).splitlines()[0])

    @app.exception_handler(DataError)
    async def bad_value(_: Request, exc: DataError) -> JSONResponse:
        return _error(
            422, "a value is out of range for its field: " + str(exc.orig).splitlines()[0]
        )

    @app.exception_handler(OperationalError)
    async def database_down(_: Request, exc: OperationalError) -> JSONResponse:
        return _error(503, "database unavailable, retry shortly")

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(
            {"detail": f"{field}: {_message(first)}", "field": field, "errors": _jsonable(errors)},
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            return _error(400, "the request body is not valid JSON", field="body")
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, results_limit=settings.max_results_body_bytes
    )
    api = APIRouter(prefix="/api/v1")
    for module in (
        projects,
        executions,
        runs,
        reports,
        schedules,
        pipelines,
        signin,
        notifications,
    ):
        api.include_router(module.router, responses=ERROR_RESPONSES)
    api.include_router(notifications.tools_router, responses=ERROR_RESPONSES)
    api.include_router(system.router, responses=ERROR_RESPONSES)
    app.include_router(api)
    # Probes also at the root, where orchestrators look for them.
    app.add_api_route("/healthz", system.healthz, include_in_schema=False)
    app.add_api_route("/readyz", system.readyz, include_in_schema=False)
    install_spec_schemas(app)
    mount_dashboard(app)
    return app


def _add_cors(app: FastAPI, origins: list[str]) -> None:
    """Let browsers on ``origins`` call the API: bearer tokens in ``Authorization``, and
    ``Last-Event-ID``/``Idempotency-Key`` sent; ``*`` allows any origin, without credentials."""
    if not origins:
        return
    wildcard = "*" in origins
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"] if wildcard else origins,
        allow_credentials=not wildcard,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "Idempotency-Key",
            "Last-Event-ID",
            "X-CSRF-Token",
        ],
        expose_headers=["Location", "Retry-After"],
        max_age=600,
    )


def _jsonable(errors: Any) -> list[dict[str, Any]]:
    out = []
    for error in errors:
        out.append(
            {
                "loc": [str(p) for p in error.get("loc", ())],
                "msg": str(error.get("msg")),
                "type": error.get("type"),
            }
        )
    return out


def _message(error: dict[str, Any]) -> str:
    """The words a spec file's reader would get for the same mistake (with the fix)."""
    if "type" not in error:
        return str(error.get("msg"))
    return describe_error(error)
