"""SQLAlchemy's engines on the database (:func:`api.embedded_server.database_url` says where it
is), and its schema through Alembic."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from api.embedded_server import database_url
from api.reads import APPLICATION_NAME as READS_NAME

__all__ = [
    "database_url",
    "dispose_engines",
    "get_engine",
    "get_read_engine",
    "migrate",
    "migrate_if_needed",
    "session_factory",
]

_lock = threading.Lock()
_engines: dict[tuple[str, str], Engine] = {}
"""(kind of engine, URL) → its engine: one pool of each kind per database for the process."""

_ENGINE_OPTIONS: dict[str, dict[str, Any]] = {
    "sessions": {"pool_size": 20, "max_overflow": 30, "pool_pre_ping": True, "pool_recycle": 600},
    # Autocommit, not pinged on checkout (a read retries on a dropped connection instead),
    # named in pg_stat_activity.
    "reads": {
        "pool_size": 10,
        "max_overflow": 30,
        "pool_recycle": 600,
        "isolation_level": "AUTOCOMMIT",
        "connect_args": {"application_name": READS_NAME},
    },
}


def _engine(kind: str, url: str | None) -> Engine:
    url = url or database_url()
    with _lock:
        engine = _engines.get((kind, url))
        if engine is None:
            engine = _engines[(kind, url)] = create_engine(url, **_ENGINE_OPTIONS[kind])
    return engine


def get_engine(url: str | None = None) -> Engine:
    """One pooled engine per URL for the whole process."""
    return _engine("sessions", url)


def get_read_engine(url: str | None = None) -> Engine:
    """One pooled engine per URL for :class:`api.reads.Reads`."""
    return _engine("reads", url)


def dispose_engines(url: str) -> None:
    """Close every pooled connection this process holds to ``url`` (a database being dropped)."""
    with _lock:
        engines = [_engines.pop((kind, url), None) for kind in _ENGINE_OPTIONS]
    for engine in engines:
        if engine is not None:
            engine.dispose()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


MIGRATION_LOCK = 0x64726F766572  # "drover": the advisory lock every migrating process takes


def migrate(url: str, revision: str = "head", *, downgrade: bool = False) -> None:
    """``alembic upgrade head`` (or a downgrade) against ``url``, configured in code.

    One process migrates at a time (a Postgres advisory lock): commands started together on
    a new database (a ``drover run`` and the local service it starts, two runs) would otherwise
    both create the schema and one fail. The one that waited finds it at the revision already.
    """
    from alembic import command

    config = alembic_config(url)
    with create_engine(url, poolclass=NullPool).connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
        try:
            if downgrade:
                command.downgrade(config, revision)
            else:
                command.upgrade(config, revision)
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})


MIGRATIONS = Path(__file__).parent.parent / "migrations"
_REVISION = re.compile(
    r"^(down_revision|revision)\s*=\s*(None|\"[^\"]*\"|'[^']*')\s*$", re.MULTILINE
)


def migrate_if_needed(
    url: str,
    engine: Engine,
    *,
    upgrading: Callable[[str], AbstractContextManager[Any]] | None = None,
) -> None:
    """``migrate(url)`` unless the database is at the one head revision already: a command that
    runs often (``drover run``) then skips importing and running Alembic (about a second).

    ``upgrading`` (the CLI's spinner) wraps the upgrade of a database that has runs already: a
    migration may rewrite every stored result (0009: minutes for millions of them).
    """
    head = head_revision()
    versions: list[str] = []
    if head is not None:
        try:
            with engine.connect() as connection:
                current = connection.execute(text("SELECT version_num FROM alembic_version"))
                versions = [row[0] for row in current]
                if versions == [head]:
                    return
        except SQLAlchemyError:
            pass  # no version table yet: a new database
    if upgrading is None or not versions:
        migrate(url)
        return
    with upgrading(
        f"upgrading the database from revision {', '.join(versions)} to {head or 'head'} "
        "(once; with many stored results this can take minutes)"
    ):
        migrate(url)


def head_revision() -> str | None:
    """The head of ``migrations/versions`` read from the files' ``revision`` and
    ``down_revision`` lines; None when there is not exactly one (Alembic then decides)."""
    revisions: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {k: v.strip("\"'") for k, v in _REVISION.findall(path.read_text("utf-8"))}
        if found.keys() != {"revision", "down_revision"}:
            if found or path.name != "__init__.py":
                return None  # a merge (a tuple of parents) or an unusual file: ask Alembic
            continue
        down = found["down_revision"]
        revisions[found["revision"]] = None if down == "None" else down
    heads = set(revisions) - set(revisions.values())
    return heads.pop() if len(heads) == 1 else None


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config
