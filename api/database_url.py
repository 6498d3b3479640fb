"""Where the database is: ``DATABASE_URL``, or the embedded Postgres under
``$DROVER_HOME/postgres`` (:mod:`api.embedded_server`, started on first use).

No SQLAlchemy here: a command that only reads (``drover plan``) connects through psycopg alone.
"""

from __future__ import annotations

from api.embedded_server import embedded_url
from api.settings import Settings, get_settings

__all__ = ["database_url", "libpq_url"]

_SQLALCHEMY = "postgresql+psycopg://"
_PLAIN = ("postgresql://", "postgres://")


def database_url(settings: Settings | None = None) -> str:
    """The URL in SQLAlchemy's form, for its psycopg dialect."""
    settings = settings or get_settings()
    if settings.database_url:
        url = settings.database_url
        for plain in _PLAIN:
            if url.startswith(plain):
                return _SQLALCHEMY + url[len(plain) :]
        return url
    return embedded_url(settings.postgres_dir)


def libpq_url(settings: Settings | None = None) -> str:
    """The URL as libpq (and so ``psycopg.connect``) reads it."""
    url = database_url(settings)
    return "postgresql://" + url[len(_SQLALCHEMY) :] if url.startswith(_SQLALCHEMY) else url
