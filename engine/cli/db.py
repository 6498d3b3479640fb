"""``drover db upgrade|downgrade|current``: the service's schema, through Alembic."""

from __future__ import annotations

from typing import Annotated

import typer

from engine.cli.console import console
from engine.cli.options import DroverTyper

__all__ = ["db_app"]

db_app = DroverTyper(help="Manage Drover's database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database up (the embedded server starts if DATABASE_URL is unset)."""
    from api.database import database_url, migrate

    migrate(database_url(), revision)
    console.print(f"database at [bold]{revision}[/]")


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, e.g. -1 or base.")],
) -> None:
    """Migrate the database down."""
    from api.database import database_url, migrate

    migrate(database_url(), revision, downgrade=True)
    console.print(f"database at [bold]{revision}[/]")


@db_app.command("current")
def current() -> None:
    """Print the database's current revision."""
    from alembic.runtime.migration import MigrationContext

    from api.database import database_url, get_engine

    with get_engine(database_url()).connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
    console.print(revision or "(empty database)")
