"""``drover run``'s side of the local service (``engine.cli.local_service``).

The command finds the service for its home and environment, or starts it and waits for it to
listen, then hands it the execution and shows what it sends back: the same progress, summary
and exit code as a run in the command's own process. Ctrl-C, SIGTERM and SIGHUP are passed on,
and mean there what they mean in-process (``RunInterrupts``). Whatever keeps the service from
taking the run (it does not start, or it is going away) makes the command run it itself.

``drover discover --execution`` starts the service without waiting for it
(:func:`start_in_background`), and ``drover plan`` asks a running one what earlier runs
measured (:func:`known_history_in_service`).
"""

from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from types import FrameType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from engine.cli.console import abort, err_console, waiting
from engine.cli.local_service_protocol import (
    decode,
    encode,
    service_address,
    service_log,
    service_pid_file,
    write_service_pid,
)
from engine.cli.run_view import ProgressView

if TYPE_CHECKING:
    from api.runs.known_history import KnownHistory

__all__ = ["known_history_in_service", "retire_oldest", "run_in_service", "start_in_background"]

START_SECONDS = 600.0
"""How long a starting service may take to listen: migrating a large database takes minutes."""
MAX_SERVICES = 4
"""Local services a user keeps at most: starting another retires the oldest."""
RETIRE_AFTER_SECONDS = 60.0
"""A service younger than this is never retired: the command that started it may not have
reached it yet, and an idle service that is asked to stop exits at once."""
QUIET_START_SECONDS = 10.0
"""How long a service may take to start before the command says what it is waiting for."""
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_in_service(
    request: dict[str, Any], home: Path, view: ProgressView
) -> tuple[dict[str, Any], list[str], int | None] | None:
    """The outcome, setup-env's last lines and the interrupts' exit code, as ``_run_execution``
    returns them; None when the service cannot take the run."""
    address = service_address(home)
    try:
        conn = _connect_or_start(address, home)
    except OSError as error:  # no room for its socket or log, say: the command runs it
        err_console.print(f"warning: no local service ({error}): running in this process")
        return None
    if conn is None:
        return None
    with conn, conn.makefile("rb") as frames:
        try:
            conn.sendall(encode({"run": request}))
            accepted = frames.readline() == encode({"accepted": True})
        except OSError:
            accepted = False
        if not accepted:
            return None  # it closed before taking the run: it is going away
        with _forwarding_signals(conn), view, suppress(OSError):
            for line in frames:
                frame = decode(line)
                if "update" in frame:
                    view.update(_namespace(frame["update"]))
                elif "say" in frame:
                    view.say(frame["say"])
                elif "finish" in frame:
                    view.finish(_namespace(frame["finish"]["state"]), frame["finish"]["verdict"])
                elif "done" in frame:
                    done = frame["done"]
                    return done["outcome"], done["setup_log"], done["exit_code"]
                elif "error" in frame:
                    abort(frame["error"], code=frame.get("code", 1))
                elif "unavailable" in frame:
                    return None
    abort(
        f"the local service ended during the run (its log: {service_log(home)}); the run goes on "
        "without it: `drover get` follows its workflow"
    )


def known_history_in_service(home: Path, project: str) -> KnownHistory | None:
    """What the project's earlier runs measured, read by the running local service, which
    holds the database open; None when none runs here (a read starts none) or it cannot say."""
    conn = _connect(service_address(home))
    if conn is None:
        return None
    with conn, conn.makefile("rb") as frames:
        try:
            conn.sendall(encode({"history": {"project": project}}))
            rows = decode(frames.readline()).get("history")
        except (OSError, ValueError):  # it closed without answering: it is going away
            return None
    if not isinstance(rows, list):
        return None
    return {scenario_id: (mean, last_status) for scenario_id, mean, last_status in rows}


def _namespace(value: Any) -> Any:
    """A JSON state read by attribute, as the view reads the service's models."""
    if isinstance(value, dict):
        return SimpleNamespace(**{k: _namespace(v) for k, v in value.items()})
    if isinstance(value, list):
        return [_namespace(v) for v in value]
    return value


@contextmanager
def _forwarding_signals(conn: socket.socket) -> Iterator[None]:
    """Each signal received while the run goes on is sent to the service, which acts on it."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        with suppress(OSError):
            conn.sendall(encode({"signal": signum}))

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _connect(address: Path) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(str(address))
    except OSError:
        conn.close()
        return None
    return conn


def _connect_or_start(address: Path, home: Path) -> socket.socket | None:
    conn = _connect(address)
    if conn is not None:
        return conn
    with _starting_lock(address.parent) as runtime:
        if runtime is None:
            err_console.print(f"warning: {address.parent} is not yours: running in this process")
            return None
        conn = _connect(address)
        if conn is None:
            starting = _service_pid(address)  # started by another command, not listening yet
            if starting is None:
                retire_oldest(runtime, keep=MAX_SERVICES - 1)
                starting = _spawn(address, home)
            conn = _wait_listening(address, starting, service_log(home))
        return conn


def start_in_background(home: Path) -> None:
    """Start the service for this home and environment unless one runs already, without
    waiting for it: ``drover discover --execution`` does, so that the ``drover run`` that
    follows finds it ready (its imports and Postgres take about a second). Nothing is said
    when it cannot start: the run says it, or runs in its own process."""
    address = service_address(home)
    with suppress(OSError), _starting_lock(address.parent) as runtime:
        # A service listening or starting is named in its pid file.
        if runtime is not None and _service_pid(address) is None:
            retire_oldest(runtime, keep=MAX_SERVICES - 1)
            _spawn(address, home)


@contextmanager
def _starting_lock(runtime: Path) -> Iterator[Path | None]:
    """The runtime directory, locked: one command starts a service at a time (a lock on the
    directory, which leaves no file behind); None when the directory is not this user's."""
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    if runtime.stat().st_uid != os.getuid():
        yield None
        return
    lock = os.open(runtime, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield runtime
    finally:
        os.close(lock)


def _service_pid(address: Path, *, starting: bool = True) -> int | None:
    """The process its pid file names, if it is alive and is the service of ``address``: a
    pid file outlives a killed service, and its number may be another process's by now (a
    process that has exited, zombies included, has an empty command line). A process also
    reads empty while it execs: with ``starting``, the service just spawned is taken for alive
    then (without, so is any other process its number went to, caught execing)."""
    pid_file = service_pid_file(address)
    with suppress(OSError, ValueError):
        pid = int(pid_file.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if str(address).encode() in cmdline.split(b"\0"):
            return pid
        if starting and not cmdline and _exec_in_progress(pid):
            return pid
    return None


def _exec_in_progress(pid: int) -> bool:
    """An empty command line of a live process (not a zombie, not dead, not a kernel thread)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    state, flags = fields[0], int(fields[6])
    return state not in ("Z", "X", "x") and not flags & 0x00200000  # PF_KTHREAD


def retire_oldest(runtime: Path, keep: int) -> None:
    """SIGTERM to all but the ``keep`` youngest services of this user: each serves one
    environment, and commands run in many (a suite's own ``PYTEST_ADDOPTS``, another venv)
    would otherwise leave one idle per environment. A retired service finishes its runs."""
    services = []
    for pid_file in runtime.glob("service-*.pid"):
        address = pid_file.with_suffix(".sock")
        pid = _service_pid(address)
        if pid is not None:
            with suppress(OSError):
                services.append((pid_file.stat().st_mtime, pid, address))
    settled = time.time() - RETIRE_AFTER_SECONDS
    for started, pid, address in sorted(services)[: max(0, len(services) - keep)]:
        # A service old enough to retire has long exec'd: one execing is another process.
        if started < settled and _service_pid(address, starting=False) == pid:
            with suppress(OSError):
                os.kill(pid, signal.SIGTERM)


def _spawn(address: Path, home: Path) -> int:
    """Start the service of ``address`` and name it in its pid file at once, so that a
    command coming while it starts waits for it instead of starting another."""
    log = service_log(home)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        service = subprocess.Popen(
            [sys.executable, "-m", "engine.cli.local_service", str(address)],
            # ``python -m`` puts its working directory first on sys.path: a directory of
            # Drover's own, never the project's.
            cwd=log.parent,
            # The home as this command means it: a relative one is relative to its directory.
            env={**os.environ, "DROVER_HOME": str(home.absolute())},
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    write_service_pid(address, service.pid)
    return service.pid


def _wait_listening(address: Path, pid: int, log: Path) -> socket.socket | None:
    """A connection once the starting service ``pid`` listens; None if it ends first (its
    pid file then names no live service: a process that exited has no command line)."""
    begun = time.monotonic()
    spinning = False
    with ExitStack() as spinner:
        while _service_pid(address) == pid and time.monotonic() - begun < START_SECONDS:
            conn = _connect(address)
            if conn is not None:
                return conn
            if not spinning and time.monotonic() - begun > QUIET_START_SECONDS:
                # Longer than imports and a new Postgres cluster take: it upgrades the schema.
                spinner.enter_context(waiting(f"starting the local service (its log: {log})"))
                spinning = True
            time.sleep(0.02)
    conn = _connect(address)  # it may have listened just before it was looked at
    if conn is not None:
        return conn
    err_console.print(
        f"warning: the local service did not start (its log: {log}): running in this process",
        highlight=False,
    )
    return None
