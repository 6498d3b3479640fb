"""The mirror: follows every unfinished run's workflow and writes only what changed.

One thread polls each followed run's backend, parses the Workflow with ``engine.status``,
diffs it against the last state it wrote, applies the transition rules and writes the delta in
one transaction (``write_delta``). The last-written state advances only after a commit, so a
database outage just makes the next diff bigger: the mirror catches up when Postgres is back.
On start it re-attaches to every run not in a final phase; when a worker finishes it reads the
worker's results artifact, so results the agent could not post are not lost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.backends import RunBackend
from api.history import record_history
from api.models import Run, RunGroup, RunWorker
from api.results import ingest_results, refresh_counters, results_from_report
from api.transitions import accept_phase
from engine.errors import DroverError
from engine.status import RunDiff, RunState, diff, is_final, parse_workflow

__all__ = ["Mirror", "write_delta"]

log = logging.getLogger("drover.mirror")

FINAL_RUN_PHASES = frozenset({"Succeeded", "Failed", "Error"})


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def write_delta(session: Session, run_id: str, delta: RunDiff) -> None:
    """Persist one diff: the run's changed fields, and upserts of changed groups and workers."""
    run = session.get(Run, run_id, with_for_update=True)
    if run is None:
        return
    if delta.run:
        values: dict[str, Any] = {}
        if "phase" in delta.run:
            values["phase"] = accept_phase(run.phase, str(delta.run["phase"]))
        if delta.run.get("uid"):
            values["workflow_uid"] = delta.run["uid"]
        if "message" in delta.run:
            values["message"] = delta.run["message"]
        for name in ("started_at", "finished_at"):
            if name in delta.run:
                values[name] = _time(delta.run[name])
        if values:
            session.execute(update(Run).where(Run.id == run_id).values(**values))
    for group in delta.groups:
        row = {
            "run_id": run_id,
            "key": group.key,
            "name": group.key.rsplit(".", 1)[-1],
            "planned": False,
            "phase": group.phase,
            "node_id": group.node_id,
            "message": group.message,
            "started_at": _time(group.started_at),
            "finished_at": _time(group.finished_at),
        }
        mirrored = {k: row[k] for k in ("phase", "node_id", "message", "started_at", "finished_at")}
        session.execute(
            insert(RunGroup)
            .values(row)
            .on_conflict_do_update(index_elements=["run_id", "key"], set_=mirrored)
        )
    for worker in delta.workers:
        row = {
            "run_id": run_id,
            "group_key": worker.group,
            "shard": worker.shard,
            "phase": worker.phase,
            "attempts": worker.attempts,
            "node_id": worker.node_id,
            "last_attempt_node_id": worker.last_attempt_node_id,
            "pod_name": worker.pod_name,
            "message": worker.message,
            "summary": None if worker.summary is None else _summary_json(worker),
            "started_at": _time(worker.started_at),
            "finished_at": _time(worker.finished_at),
        }
        mirrored = {k: v for k, v in row.items() if k not in ("run_id", "group_key", "shard")}
        session.execute(
            insert(RunWorker)
            .values(row)
            .on_conflict_do_update(index_elements=["run_id", "group_key", "shard"], set_=mirrored)
        )


def _summary_json(worker: Any) -> dict[str, int]:
    s = worker.summary
    return {"passed": s.passed, "failed": s.failed, "skipped": s.skipped, "error": s.error}


class Mirror:
    """Follows runs of the given backends until they finish."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        backends: Mapping[str, RunBackend],
        *,
        poll_interval: float = 0.2,
    ) -> None:
        self.sessions = sessions
        self.backends = backends
        self.poll_interval = poll_interval
        self._last: dict[str, RunState] = {}
        self._followed: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors = 0
        """Failed sync attempts so far (a database or backend outage shows here)."""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Re-attach to every unfinished run, then follow them in a background thread."""
        self.reattach()
        self._thread = threading.Thread(target=self._loop, name="drover-mirror", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def reattach(self) -> list[str]:
        for attempt in range(30):
            try:
                with self.sessions() as session:
                    ids = list(
                        session.scalars(
                            select(Run.id).where(
                                Run.phase.not_in(FINAL_RUN_PHASES) | Run.id.in_(_unread_workers())
                            )
                        )
                    )
                break
            except SQLAlchemyError:
                log.warning("database not reachable, retrying re-attach (%d)", attempt)
                time.sleep(1.0)
        else:
            return []
        for run_id in ids:
            self.attach(run_id)
        return ids

    def attach(self, run_id: str) -> None:
        with self._lock:
            self._followed.add(run_id)
        self._wake.set()

    @property
    def followed(self) -> set[str]:
        with self._lock:
            return set(self._followed)

    def _loop(self) -> None:
        backoff = self.poll_interval
        while not self._stop.is_set():
            failed = False
            for run_id in sorted(self.followed):
                try:
                    if self.sync(run_id):
                        with self._lock:
                            self._followed.discard(run_id)
                            self._last.pop(run_id, None)
                except (SQLAlchemyError, OSError, DroverError) as exc:
                    failed = True
                    self.errors += 1
                    log.warning("mirror of run %s failed, will retry: %s", run_id, exc)
            backoff = min(backoff * 2, 5.0) if failed else self.poll_interval
            self._wake.wait(backoff)
            self._wake.clear()

    def follow(
        self,
        run_id: str,
        on_state: Callable[[RunState], None] | None = None,
        *,
        interval: float | None = None,
    ) -> RunState | None:
        """Sync ``run_id`` in this thread until it is final and ingested (``drover run``)."""
        while True:
            try:
                finished = self.sync(run_id)
            except (SQLAlchemyError, OSError, DroverError) as exc:
                self.errors += 1
                log.warning("mirror of run %s failed, will retry: %s", run_id, exc)
                finished = False
            state = self._last.get(run_id)
            if on_state is not None and state is not None:
                on_state(state)
            if finished:
                return state
            time.sleep(self.poll_interval if interval is None else interval)

    # ------------------------------------------------------------------ one sync

    def sync(self, run_id: str) -> bool:
        """Bring run ``run_id`` up to date; True once it is final and fully ingested."""
        with self.sessions() as session:
            run = session.get(Run, run_id)
            if run is None or run.workflow_name is None:
                return run is None
            backend = self.backends.get(run.backend)
            if backend is None:
                return False
            workflow_name = run.workflow_name
        workflow = backend.get(workflow_name)
        return self.apply(run_id, workflow, backend)

    def apply(self, run_id: str, workflow: dict[str, Any], backend: RunBackend | None) -> bool:
        state = parse_workflow(workflow)
        delta = diff(self._last.get(run_id), state)
        with self.sessions() as session, session.begin():
            if not delta.empty:
                write_delta(session, run_id, delta)
        self._last[run_id] = state
        done_reading = self._read_finished_workers(run_id, state, backend)
        if state.final and done_reading:
            with self.sessions() as session, session.begin():
                refresh_counters(session, run_id)
                record_history(session, run_id)
            return True
        return False

    def _read_finished_workers(
        self, run_id: str, state: RunState, backend: RunBackend | None
    ) -> bool:
        """Ingest the results artifact of each finished worker once; True when none is left."""
        with self.sessions() as session:
            unread = session.execute(
                select(RunWorker.group_key, RunWorker.shard, RunWorker.pod_name).where(
                    RunWorker.run_id == run_id, RunWorker.results_read.is_(False)
                )
            ).all()
        remaining = 0
        for group_key, shard, pod_name in unread:
            worker = state.workers.get((group_key, shard))
            finished = worker is not None and is_final(worker.phase)
            if not finished and not state.final:
                remaining += 1
                continue
            results = []
            if worker is not None and backend is not None and worker.last_attempt_node_id:
                blob = backend.read_artifact(state.name, worker.last_attempt_node_id, "results")
                if blob:
                    try:
                        results = results_from_report(json.loads(blob), worker=pod_name)
                    except ValueError:
                        log.warning("unreadable results artifact of %s", worker.node_id)
            with self.sessions() as session, session.begin():
                ingest_results(session, run_id, results, source="artifact")
                session.execute(
                    update(RunWorker)
                    .where(
                        RunWorker.run_id == run_id,
                        RunWorker.group_key == group_key,
                        RunWorker.shard == shard,
                    )
                    .values(results_read=True)
                )
        return remaining == 0


def _unread_workers() -> Any:
    return select(RunWorker.run_id).where(
        RunWorker.results_read.is_(False), RunWorker.phase.in_(FINAL_RUN_PHASES)
    )
