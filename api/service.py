"""The service object (database sessions, backends, mirror) and how it is built.

Apart from :mod:`api.app`, so that ``drover run``, which uses the service without serving HTTP,
never imports FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from api.backends import build_backends
from api.database import (
    database_url,
    get_engine,
    get_read_engine,
    migrate_if_needed,
    session_factory,
)
from api.mirror.executions import Mirror
from api.reads import Reads
from api.runs.changes import RunChanges
from api.runs.report_store import ReportStore
from api.settings import Settings
from api.stream_reads import StreamReads
from engine.backends.base import Backend
from engine.errors import Conflict

__all__ = ["Service", "build_service"]


@dataclass
class Service:
    """What the app (or a CLI command) holds for its lifetime."""

    settings: Settings
    sessions: sessionmaker[Session]
    backends: dict[str, Backend]
    mirror: Mirror
    reports: ReportStore
    reads: Reads
    """One-statement reads of the routes polled most, on autocommit connections of their own."""
    default_backend: str = "local"
    background: list[object] = field(default_factory=list)
    changes: RunChanges | None = None
    """Wakes event streams when their run changes (the app starts it)."""
    stream_reads: StreamReads | None = None
    """Reads for event streams, shared between them, on connections of their own (the app
    makes it)."""

    def backend(self, name: str | None = None) -> Backend:
        backend = self.backends.get(name or self.default_backend)
        if backend is None:
            raise Conflict(f"backend {name!r} is not configured")  # the API answers 409
        return backend


def build_service(
    settings: Settings,
    *,
    migrate_schema: bool = True,
    upgrading: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> Service:
    """The service over ``settings``' database, its schema brought to head first (``upgrading``:
    see :func:`api.database.migrate_if_needed`)."""
    url = database_url(settings)
    engine = get_engine(url)
    if migrate_schema:
        migrate_if_needed(url, engine, upgrading=upgrading)
    sessions = session_factory(engine)
    backends = build_backends(settings)
    reports = ReportStore(settings.reports_dir)
    mirror = Mirror(
        sessions,
        backends,
        poll_interval=settings.poll_interval,
        resync_interval=settings.argo_resync_seconds,
        reports=reports,
    )
    return Service(
        settings=settings,
        sessions=sessions,
        backends=backends,
        mirror=mirror,
        reports=reports,
        reads=Reads(get_read_engine(url)),
        default_backend=settings.backend,
    )
