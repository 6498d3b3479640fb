"""The service's database for the commands that read or write it (gc, token, notifications):
migrated, on ``DATABASE_URL`` or the embedded Postgres, which is stopped afterwards unless it
was running before."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from api.settings import Settings

__all__ = ["service_session"]


@contextmanager
def service_session() -> Iterator[tuple[Settings, Session]]:
    """The service's settings and a session on its migrated database."""
    # SQLAlchemy and the service come in only with the commands that use them.
    from api.database import database_url, get_engine, migrate, session_factory
    from api.embedded_server import embedded_server_scope
    from api.settings import get_settings

    settings = get_settings()
    with embedded_server_scope(settings):
        url = database_url(settings)
        migrate(url)
        with session_factory(get_engine(url))() as session:
            yield settings, session
