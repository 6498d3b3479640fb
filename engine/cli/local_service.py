"""The local service: ``python -m engine.cli.local_service SOCKET``, started by ``drover run``.

Importing the service (Hera's models, SQLAlchemy's ORM) and connecting to Postgres is most of
what ``drover run`` spends before its workflow exists: about a second and a half. A process
that has done it once takes the runs of the ``drover run`` commands that follow, as Gradle's
daemon takes builds: each command sends its execution and shows what the service sends back,
and the run itself is ``engine.cli.run.execute_run``, the same as in-process.

It serves one home, interpreter and environment (its address says which, see
``engine.cli.local_service_protocol``), holds the embedded Postgres while it lives, and exits
after ``DROVER_LOCAL_SERVICE_IDLE`` seconds without a run, when its home is removed, or when the
embedded Postgres was stopped under it (``drover db stop``). It takes runs concurrently, one
thread each. A command that goes away leaves its run to finish and be mirrored here. It also
answers ``drover plan``'s question of what earlier runs measured, from the database it holds.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.cli.interrupts import RunInterrupts
from engine.cli.lifetime import long_lived_objects
from engine.cli.local_service_protocol import (
    DEFAULT_IDLE_SECONDS,
    IDLE_ENV,
    decode,
    encode,
    service_log,
    service_pid_file,
    write_service_pid,
)
from engine.errors import DroverError
from engine.home import default_home

__all__ = ["LocalService", "RemoteView", "main"]

log = logging.getLogger("drover.local_service")

CHECK_SECONDS = 1.0
"""How often the service looks at its home, its database and its idle time."""
FIRST_RUN_SECONDS = 60.0
"""How long a new service waits for its first run whatever its idle limit: the command that
started it connects as soon as it listens, but a loaded machine may not run it for a while."""


class RemoteView:
    """The progress view of a run in the service: what ``ProgressView`` would show, sent to
    the command that shows it. Once the command has gone, the run goes on unseen."""

    def __init__(self, send: Callable[[dict[str, Any]], None]) -> None:
        self._send = send

    def __enter__(self) -> RemoteView:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, state: Any) -> None:
        self._send({"update": state.model_dump(mode="json")})

    def say(self, text: str) -> None:
        self._send({"say": text})

    def finish(self, state: Any, verdict: str | None) -> None:
        self._send({"finish": {"state": state.model_dump(mode="json"), "verdict": verdict}})


class _Connection:
    """One command's connection: frames out under a lock, nothing raised once it is gone."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.reader = conn.makefile("rb")
        self._lock = threading.Lock()
        self.gone = False

    def send(self, frame: dict[str, Any]) -> None:
        if self.gone:
            return
        data = encode(frame)
        with self._lock:
            try:
                self.conn.sendall(data)
            except OSError:
                self.gone = True

    def close(self) -> None:
        self.reader.close()
        self.conn.close()


class LocalService:
    """Runs executions for ``drover run`` over a Unix socket at ``address``."""

    def __init__(self, address: Path, idle_seconds: float) -> None:
        from api.settings import Settings

        self.address = address
        self.idle_seconds = idle_seconds
        self.settings = Settings()
        self.home = default_home()
        self.service: Any = None
        self._bound_inode = 0
        self._active = 0
        self._last_active = time.monotonic()
        self._served = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def serve(self) -> None:
        from api.embedded_server import embedded_server_scope

        # SIGTERM: take no more runs, follow those in progress to their end, stop Postgres.
        signal.signal(signal.SIGTERM, lambda _signum, _frame: self._stopping.set())
        with embedded_server_scope(self.settings, warn=log.warning, start_now=True):
            with long_lived_objects():
                # What each run imports, imported once.
                from api.runs import reports, views  # noqa: F401
                from api.service import build_service
                from engine import loading, sharding  # noqa: F401
                from engine.cli import run  # noqa: F401

            self.service = build_service(self.settings)
            self._keep_runner_ready()
            listener = self._listen()
            self._last_active = time.monotonic()  # idle from now, not from the start-up
            log.info("listening on %s for %s", self.address, self.home)
            try:
                while True:
                    try:
                        conn, _ = listener.accept()
                    except TimeoutError:
                        # Only after a quiet interval: a command that started this service
                        # connects at once, and an idle limit of 0 must still serve it.
                        if self._should_go_on():
                            continue
                        break
                    self._begin()
                    threading.Thread(
                        target=self._handle, args=(conn,), name="drover-run", daemon=True
                    ).start()
            finally:
                self._unlink_own_address()
                listener.close()
            while self._active:  # runs in progress are followed to their end
                time.sleep(CHECK_SECONDS)

    def _listen(self) -> socket.socket:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # A service is started only while no live one is named at this address (its pid
        # file, written by the command that started it): a file here is a dead service's.
        self.address.unlink(missing_ok=True)
        listener.bind(str(self.address))
        self._bound_inode = os.stat(self.address).st_ino
        write_service_pid(self.address, os.getpid())
        listener.listen(64)
        listener.settimeout(CHECK_SECONDS)
        return listener

    def _unlink_own_address(self) -> None:
        """Remove the address unless another service has bound it since."""
        try:
            if os.stat(self.address).st_ino == self._bound_inode:
                self.address.unlink()
                service_pid_file(self.address).unlink(missing_ok=True)
        except OSError:
            pass

    def _should_go_on(self) -> bool:
        if self._stopping.is_set():
            log.info("asked to stop: exiting")
            return False
        if not self.home.is_dir() or not self.address.exists():
            log.info("home or address gone: exiting")
            return False
        if not self._database_running():
            log.info("the embedded Postgres stopped: exiting")
            return False
        with self._lock:
            limit = self.idle_seconds if self._served else max(self.idle_seconds, FIRST_RUN_SECONDS)
            idle = self._active == 0 and time.monotonic() - self._last_active > limit
        if idle:
            log.info("no run for %.0f s: exiting", self.idle_seconds)
        return not idle

    def _database_running(self) -> bool:
        from api.embedded_server import postmaster_running

        return bool(self.settings.database_url) or postmaster_running(self.settings.postgres_dir)

    def _begin(self) -> None:
        with self._lock:
            self._served = True
            self._active += 1
            self._last_active = time.monotonic()

    def _end(self) -> None:
        with self._lock:
            self._active -= 1
            self._last_active = time.monotonic()

    def _handle(self, conn: socket.socket) -> None:
        connection = _Connection(conn)
        try:
            first = connection.reader.readline()
            if not first:
                return
            frame = decode(first)
            if "history" in frame:
                self._answer_history(frame["history"]["project"], connection)
                return
            request = frame["run"]
            connection.send({"accepted": True})
            if not self._database_running():
                connection.send({"unavailable": "the embedded Postgres stopped"})
                return
            self._run(request, connection)
        except Exception as error:  # a defect here must not end the service's other runs
            log.error("run request failed:\n%s", traceback.format_exc())
            where = service_log(self.home)
            connection.send({"error": f"the local service failed: {error} (its log: {where})"})
        finally:
            connection.close()
            self._end()
            self._keep_runner_ready()  # after the run: its start-up is the run's CPU

    def _keep_runner_ready(self) -> None:
        from engine.backends.local import LocalBackend

        backend = self.service.backend()
        if isinstance(backend, LocalBackend):
            backend.keep_runner_ready()

    def _answer_history(self, project: str, connection: _Connection) -> None:
        """What the project's earlier runs measured, for ``drover plan``."""
        from api.runs.known_history import known_history

        if not self._database_running():
            connection.send({"unavailable": "the embedded Postgres stopped"})
            return
        with self.service.sessions() as session:
            rows = known_history(session.connection().exec_driver_sql, project)
        log.info("earlier runs of %s read for a plan", project)
        connection.send({"history": [[scenario_id, *known] for scenario_id, known in rows.items()]})

    def _run(self, request: dict[str, Any], connection: _Connection) -> None:
        from engine.cli.console import exit_code_for
        from engine.cli.run import ReportTargets, control_run_by_id, execute_run
        from engine.gc_pause import paused_collection
        from engine.loading import load_execution, parse_document
        from engine.pipelines import is_pipeline_document
        from engine.sharding import Strategy

        view = RemoteView(connection.send)
        run_ids: list[str] = []
        interrupts = RunInterrupts(
            lambda action: control_run_by_id(self.service, run_ids[0], action),
            view.say,
            ready=lambda: bool(run_ids),
        )
        threading.Thread(
            target=_forward_signals, args=(connection, interrupts), daemon=True
        ).start()
        base_dir = Path(request["base_dir"])
        try:
            # Not frozen (as the command's own load is): it would stay in this process for good.
            with paused_collection():
                document = parse_document(request["text"], Path(request["spec"]))
                if is_pipeline_document(document):
                    connection.send({"unavailable": "a pipeline runs in the command's process"})
                    return
                execution = load_execution(base_dir / Path(request["spec"]).name, document)
            strategy = Strategy(request["strategy"]) if request.get("strategy") else None
            targets = ReportTargets(
                *(Path(request[k]) if request.get(k) else None for k in vars(ReportTargets()))
            )
            log.info("running execution %s", execution.name)
            outcome, setup_log = execute_run(
                self.service, execution, base_dir, strategy, targets, view, interrupts, run_ids
            )
        except DroverError as error:
            connection.send({"error": str(error), "code": exit_code_for(error)})
            return
        done = {"outcome": outcome, "setup_log": setup_log, "exit_code": interrupts.exit_code}
        connection.send({"done": done})


def _forward_signals(connection: _Connection, interrupts: RunInterrupts) -> None:
    """The signals the command received, counted as if this process had received them."""
    try:
        for line in connection.reader:
            signum = decode(line).get("signal")
            if isinstance(signum, int):
                interrupts.receive(signum)
    except (OSError, ValueError):
        return


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m engine.cli.local_service SOCKET", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(process)d %(name)s: %(message)s")
    idle = float(os.environ.get(IDLE_ENV) or DEFAULT_IDLE_SECONDS)
    LocalService(Path(args[0]), idle).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
