"""``drover gc``: purge runs (execution and pipeline runs), results and logs older than the
retention age."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.console import console

__all__ = ["gc_command"]


def gc_command(
    older_than_days: Annotated[
        float | None, typer.Option(help="Age in days; default DROVER_RETENTION_DAYS (30).")
    ] = None,
) -> None:
    """Delete finished runs and pipeline runs older than the retention age, with their results,
    job outputs and files."""
    from api.backends import build_backends
    from api.database import (
        database_url,
        embedded_server_scope,
        get_engine,
        migrate,
        session_factory,
    )
    from api.retention import purge
    from api.settings import get_settings

    settings = get_settings()
    days = settings.retention_days if older_than_days is None else older_than_days
    with embedded_server_scope(settings):
        url = database_url(settings)
        migrate(url)
        with session_factory(get_engine(url))() as session:
            purged = purge(session, older_than_days=days, backends=build_backends(settings))
    console.print(
        f"purged {len(purged.runs)} runs and {len(purged.pipeline_runs)} pipeline runs "
        f"older than {days:g} days"
    )
