"""The routes' one-statement reads (api/reads.py) against real Postgres: autocommit connections
named drover-reads that never leave a transaction open, and a read whose connection was dropped
(as by a restart of Postgres) runs again on a new one instead of failing the request."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import ProgrammingError

from api.database import get_read_engine
from api.reads import APPLICATION_NAME, Reads


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """The service's engine for reads, its pool emptied: the next read opens one connection."""
    engine = get_read_engine(database_url)
    engine.dispose()
    yield engine
    engine.dispose()


def _backend(connection: Connection) -> tuple[int, str, str]:
    pid, name = connection.exec_driver_sql(
        "SELECT pg_backend_pid(), current_setting('application_name')"
    ).one()
    status = connection.connection.driver_connection.info.transaction_status  # type: ignore[union-attr]
    return int(pid), str(name), status.name


def test_a_read_is_its_statement_alone_on_a_named_autocommit_connection(engine: Engine) -> None:
    _, name, status = Reads(engine).run(_backend)
    assert name == APPLICATION_NAME
    assert status == "IDLE"  # autocommit: no BEGIN before, no ROLLBACK after, nothing left open


def test_a_dropped_connection_is_read_again_on_a_new_one(engine: Engine, database_url: str) -> None:
    reads = Reads(engine)
    first, _, _ = reads.run(_backend)  # the pool's one connection, now idle in the pool
    libpq = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(libpq, autocommit=True) as admin:  # what a restart does to it
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    again, _, _ = reads.run(_backend)  # not pinged on checkout: fails once, then reads again
    assert again != first


def test_a_failing_statement_is_not_run_again(engine: Engine) -> None:
    calls: list[int] = []

    def broken(connection: Connection) -> None:
        calls.append(1)
        connection.exec_driver_sql("SELECT * FROM no_such_table")

    with pytest.raises(ProgrammingError):
        Reads(engine).run(broken)
    assert calls == [1]
