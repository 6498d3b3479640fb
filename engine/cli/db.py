"""``drover db upgrade|downgrade|current|stop``: the service's schema, through Alembic, and
the embedded Postgres server."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.console import console
from engine.cli.options import DroverTyper

__all__ = ["db_app"]

db_app = DroverTyper(
    help="Manage Drover's database schema and its embedded Postgres.", no_args_is_help=True
)


@db_app.command("upgrade")
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database up (the embedded server runs meanwhile if DATABASE_URL is unset)."""
    from api.database import database_url, migrate
    from api.embedded_server import embedded_server_scope
    from api.settings import get_settings

    with embedded_server_scope(get_settings()):
        migrate(database_url(), revision)
    console.print(f"database at [bold]{revision}[/]")


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Migrate the database down."""
    from api.database import database_url, migrate
    from api.embedded_server import embedded_server_scope
    from api.settings import get_settings

    with embedded_server_scope(get_settings()):
        migrate(database_url(), revision, downgrade=True)
    console.print(f"database at [bold]{revision}[/]")


@db_app.command("current")
def current() -> None:
    """Print the database's current revision."""
    from alembic.runtime.migration import MigrationContext

    from api.database import database_url, get_engine
    from api.embedded_server import embedded_server_scope
    from api.settings import get_settings

    with (
        embedded_server_scope(get_settings()),
        get_engine(database_url()).connect() as connection,
    ):
        revision = MigrationContext.configure(connection).get_current_revision()
    console.print(revision or "(empty database)")


@db_app.command("stop")
def stop() -> None:
    """Stop the embedded Postgres under $DROVER_HOME/postgres.

    The last command using a server a command started stops it; this stops one left running
    (started by a command that was killed, or running before drover serve started), even
    under other commands.
    """
    from api.embedded_server import embedded_url, stop_embedded
    from api.settings import get_settings

    settings = get_settings()
    if settings.database_url:
        console.print("DATABASE_URL names the database: there is no embedded Postgres to stop")
        return
    pgdata = settings.postgres_dir
    if not (pgdata / "postmaster.pid").exists():
        console.print(f"the embedded Postgres under {pgdata} is not running", highlight=False)
        return
    embedded_url(pgdata)  # join the running server, then stop it
    stop_embedded(pgdata)
    console.print(f"stopped the embedded Postgres under {pgdata}", highlight=False)
