"""``drover gc``: purge runs (execution and pipeline runs), results and logs older than the
retention age."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.console import console
from engine.cli.service_db import service_session

__all__ = ["gc_command"]


def gc_command(
    older_than_days: Annotated[
        float | None, typer.Option(help="Age in days; default DROVER_RETENTION_DAYS (30).")
    ] = None,
) -> None:
    """Delete finished runs and pipeline runs older than the retention age, with their results,
    job outputs, files, reports and artifacts; say how much space that freed."""
    from api.backends import build_backends
    from api.retention import purge
    from api.runs.report_store import ReportStore

    with service_session() as (settings, session):
        days = settings.retention_days if older_than_days is None else older_than_days
        purged = purge(
            session,
            older_than_days=days,
            backends=build_backends(settings),
            reports=ReportStore(settings.reports_dir),
        )
    console.print(
        f"purged {len(purged.runs)} runs and {len(purged.pipeline_runs)} pipeline runs "
        f"older than {days:g} days; their reports and artifacts freed "
        f"{human_bytes(purged.freed_bytes)}"
    )


def human_bytes(count: int) -> str:
    """``1.5 MB`` style (decimal units, as ``du --si``)."""
    size = float(count)
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{count} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
