"""The mirror: follows every unfinished run's workflow and writes only what changed.

Every workflow it reads is parsed with ``engine.status``, diffed against the last state it
wrote, passed through the transition rules and written as one delta in one transaction
(``write_delta``). The last-written state advances only after a commit, so a database outage
just makes the next diff bigger: the mirror catches up when Postgres is back. On start it
re-attaches to every run not in a final phase; when a worker finishes it reads the worker's
results artifact, so results the agent could not post are not lost.

A failed sync is retried with backoff. ``follow`` (what ``drover run`` waits in) gives up after
``max_failures`` failures in a row with a ``MirrorError`` naming the run, the step that failed
and the error's first line; the background loop backs off per run (up to ``MAX_BACKOFF``), so a
run that keeps failing neither slows the others nor floods the log, and a database outage is
caught up on once Postgres is back. Errors are logged by their first line, never with the SQL
statement and parameters SQLAlchemy appends to them.

Where workflows come from depends on the backend:

- local: one thread polls each followed run's workflow (``backend.get``), which is cheap;
- Argo: a thread per backend consumes ``backend.watch()`` (which resumes and relists by
  itself), and each followed run is also re-read every ``resync_interval`` seconds, so a lost
  event or a failed write is made good. Events also reveal what happened outside Drover: a
  retry in the Argo UI (the run's workflow runs again) and a resubmit (a new workflow
  labelled ``resubmitted-from-workflow``), both recorded as the run's next attempt, and the
  workflows a schedule's CronWorkflow spawns, adopted as new runs. Pipeline runs retried or
  resubmitted there are noticed too (``api.pipelines.control.notice_pipeline_workflow``); the
  pipeline
  follower mirrors them.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any, Final, NamedTuple

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from api.auth import create_token
from api.mirror.loop import MAX_BACKOFF, FollowLoop, backoff
from api.mirror.transitions import accept_phase, is_stale
from api.models import Run, RunGroup, RunWorker
from api.notifications import outbox
from api.pipelines.control import notice_pipeline_workflow
from api.runs.attempts import record_resubmission, record_retry, workflow_runs_again
from api.runs.history import record_history
from api.runs.plans import token_secret, worker_token_secret
from api.runs.report_store import ReportStore, ReportStoreError
from api.runs.results import ingest_results, refresh_counters, results_from_report
from api.schedules.runs import adopt_scheduled_workflow
from engine.backends.argo.resubmission import resubmitted_from
from engine.backends.base import (
    Backend,
    RestoresObjects,
    SignalsChanges,
    StoppableWatch,
    WorkflowEvent,
    is_newer,
)
from engine.errors import DroverError, NotFound
from engine.gc_pause import paused_collection
from engine.labels import LABEL_RUN
from engine.status import (
    GroupState,
    RunDiff,
    RunState,
    ScenarioCounts,
    WorkerState,
    decode_nodes,
    diff,
    is_archive_record,
    is_final,
    parse_workflow,
)

__all__ = [
    "MAX_BACKOFF",
    "WATCHED_KINDS",
    "Mirror",
    "MirrorError",
    "Written",
    "describe",
    "group_row",
    "worker_row",
    "write_delta",
]

log = logging.getLogger("drover.mirror")

FINAL_RUN_PHASES = frozenset({"Succeeded", "Failed", "Error"})
WATCHED_KINDS = frozenset({"argo"})
"""Backends the mirror watches; the others it polls run by run."""
IDLE_RESYNC_SECONDS = 2.0
"""How often ``follow`` reads a run whose workflow signals no change (see ``SignalsChanges``)."""


class MirrorError(DroverError):
    """The mirror gave up on a run: which run, the step that failed, the error's first line."""


class _StepFailed(DroverError):
    """A step of one sync failed; the message says which, and the error's first line."""


def describe(error: BaseException) -> str:
    """An error in one short line: its type and first line, without the SQL statement and
    parameters SQLAlchemy appends (a bulk insert's would be megabytes)."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    lines = str(cause).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if not isinstance(cause, DroverError):  # Drover's own messages need no type name
        first = f"{type(cause).__name__}: {first}" if first else type(cause).__name__
    return first if len(first) <= 300 else first[:299] + "…"


@contextmanager
def _step(what: str) -> Iterator[None]:
    """Name the step of a sync an error escaped from (the innermost step names it)."""
    try:
        yield
    except _StepFailed:
        raise
    except Exception as error:
        raise _StepFailed(f"{what}: {describe(error)}") from error


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


class Written(NamedTuple):
    """A diff ``write_delta`` wrote."""

    attempt: int
    """The run's attempt it was written to."""
    manifest: dict[str, Any] | None
    """The run's manifest when its workflow's name now has another uid than recorded: it was
    retried from the archive (server/workflowarchive/archived_workflow_server.go
    RetryArchivedWorkflow re-creates it under the same name), without the plan ConfigMaps that
    Kubernetes deleted with the earlier incarnation."""


def write_delta(
    session: Session,
    run_id: str,
    delta: RunDiff,
    held: Mapping[str, Any] | None = None,
    *,
    attempt: int | None = None,
) -> Written | None:
    """Persist one diff: the run's changed fields, and upserts of changed groups and workers.
    ``held`` are run fields of the same copy written later, which the staleness check weighs;
    ``attempt``, the run's attempt the copy's earlier part was written to.

    None when nothing was written: the run is gone, or the copy is not the run's state (a
    finished run runs again only once a retry or resubmission is recorded, ``is_stale``; a
    copy's end read from the workers after a retry was recorded is the retried attempt's)."""
    run = session.get(Run, run_id, with_for_update=True)
    proposed = {**delta.run, **(held or {})}
    if run is None or (attempt is not None and run.attempt != attempt):
        return None
    if is_stale(
        run.phase,
        proposed.get("phase"),
        attempt=(run.started_at, run.finished_at),
        proposed_attempt=(_time(proposed.get("started_at")), _time(proposed.get("finished_at"))),
    ):
        return None
    reincarnated = False
    if delta.run:
        values: dict[str, Any] = {}
        if "phase" in delta.run:
            values["phase"] = accept_phase(run.phase, str(delta.run["phase"]))
            outbox.on_run_phase(session, run, values["phase"])
        if delta.run.get("uid"):
            reincarnated = bool(run.workflow_uid) and run.workflow_uid != delta.run["uid"]
            reincarnated &= delta.run.get("name", run.workflow_name) == run.workflow_name
            values["workflow_uid"] = delta.run["uid"]
        if "message" in delta.run:
            values["message"] = delta.run["message"]
        if "suspended" in delta.run:
            values["suspended"] = bool(delta.run["suspended"])
        for name in ("started_at", "finished_at"):
            if name in delta.run:
                values[name] = _time(delta.run[name])
        if values:
            session.execute(update(Run).where(Run.id == run_id).values(**values))
    if (delta.groups or delta.workers) and not delta.run:
        # A change of a group or worker is a change of the run (what event streams wait for).
        session.execute(update(Run).where(Run.id == run_id).values(updated_at=func.now()))
    for group in delta.groups:
        row = group_row(run_id, group)
        mirrored = {k: row[k] for k in ("phase", "node_id", "message", "started_at", "finished_at")}
        session.execute(
            insert(RunGroup)
            .values(row)
            .on_conflict_do_update(index_elements=["run_id", "key"], set_=mirrored)
        )
    for worker in delta.workers:
        row = worker_row(run_id, worker)
        mirrored = {k: v for k, v in row.items() if k not in ("run_id", "group_key", "shard")}
        session.execute(
            insert(RunWorker)
            .values(row)
            .on_conflict_do_update(index_elements=["run_id", "group_key", "shard"], set_=mirrored)
        )
    outbox.on_group_states(session, run, list(delta.groups))
    return Written(run.attempt, (run.manifest or {}) if reincarnated else None)


_ENDING_FIELDS: Final[tuple[str, ...]] = ("phase", "finished_at", "message")


def _before_ending(state: RunState, last: RunState | None) -> RunState:
    """``state`` as it was before its end: the ending fields of the last state written, or of
    an unfinished run when none was."""
    if last is None or last.final:
        return replace(state, phase="Running", finished_at=None, message=None)
    return replace(state, phase=last.phase, finished_at=last.finished_at, message=last.message)


def group_row(run_id: str, group: GroupState) -> dict[str, Any]:
    """The ``drover_run_groups`` row the mirror upserts for a changed group."""
    return {
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


def worker_row(run_id: str, worker: WorkerState) -> dict[str, Any]:
    """The ``drover_run_workers`` row the mirror upserts for a changed worker."""
    return {
        "run_id": run_id,
        "group_key": worker.group,
        "shard": worker.shard,
        "phase": worker.phase,
        "attempts": worker.attempts,
        "node_id": worker.node_id,
        "last_attempt_node_id": worker.last_attempt_node_id,
        "pod_name": worker.pod_name,
        "message": worker.message,
        "summary": None if worker.summary is None else _summary_json(worker.summary),
        "started_at": _time(worker.started_at),
        "finished_at": _time(worker.finished_at),
    }


def _summary_json(counts: ScenarioCounts) -> dict[str, int]:
    return {
        "passed": counts.passed,
        "failed": counts.failed,
        "skipped": counts.skipped,
        "error": counts.error,
    }


class Mirror:
    """Follows runs of the given backends until they finish."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        backends: Mapping[str, Backend],
        *,
        poll_interval: float = 0.2,
        resync_interval: float = 300.0,
        max_failures: int = 6,
        reports: ReportStore | None = None,
    ) -> None:
        self.sessions = sessions
        self.backends = backends
        self.reports = reports
        """Where workers' kept reports and the run's merged reports are unpacked (None: not
        kept; the results still are)."""
        self.poll_interval = poll_interval
        self.resync_interval = resync_interval
        self.max_failures = max_failures
        """Failed syncs in a row after which ``follow`` gives up on its run."""
        self._last: dict[str, RunState] = {}
        self._versions: dict[str, tuple[str, str]] = {}
        """Run id → (workflow name, resourceVersion) last applied: older copies are skipped."""
        self._synced_at: dict[str, float] = {}
        """Run id → when a watched run was last re-read in full (``time.monotonic``)."""
        self._backend_of: dict[str, Backend] = {}
        """Run id → the backend of its workflow, on which ``follow`` waits for a change."""
        self._recorded: dict[str, tuple[int, int]] = {}
        """Run id → (run attempt, result rows) when its counters and history were recorded
        (every worker of the attempt finished and read, maybe while its exit handler ran)."""
        self._attempts: dict[str, int] = {}
        """Run id → the run attempt its last state was written to (``Written.attempt``)."""
        self._followed: set[str] = set()
        self._lock = threading.Lock()
        self._apply_lock = threading.RLock()
        """Serialises writes of one workflow's state between the watch and the resync."""
        self._stop = threading.Event()
        self._loop: FollowLoop | None = None
        """Syncs every followed run (``start``); ``follow`` syncs one in the caller's thread."""
        self._threads: list[threading.Thread] = []
        self._watches: list[StoppableWatch] = []
        """The backends' watches being consumed, which ``stop`` ends."""
        self.errors = 0
        """Failed sync attempts so far (a database or backend outage shows here)."""

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Re-attach to every unfinished run, then follow them in background threads."""
        self.reattach()
        for name, backend in self.backends.items():
            if backend.kind in WATCHED_KINDS:
                self._spawn(f"drover-watch-{name}", functools.partial(self._watch, name, backend))
        self._loop = FollowLoop(
            "drover-mirror",
            runs=lambda: dict.fromkeys(self.followed, self.poll_interval),
            sync=functools.partial(self.sync, only_when_due=True),
            describe=describe,
            on_final=self._finished,
            on_error=self._count_error,
            idle_interval=self.poll_interval,
        )
        self._loop.start()

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop following: the loop ends, and so does every watch, even one waiting in a quiet
        stream or pausing before a reconnect (its ``stop`` cuts both short)."""
        self._stop.set()
        with self._lock:
            watches = list(self._watches)
        for watch in watches:
            watch.stop()
        if self._loop is not None:
            self._loop.stop()
        for thread in self._threads:
            thread.join(timeout=timeout)
            if thread.is_alive():
                log.warning("%s did not stop within %.0f s", thread.name, timeout)
        self._threads.clear()

    def reattach(self) -> list[str]:
        for attempt in range(30):
            try:
                with self.sessions() as session:
                    ids = list(
                        session.scalars(
                            select(Run.id).where(
                                Run.phase.not_in(FINAL_RUN_PHASES)
                                | Run.id.in_(_unread_workers())
                                | Run.id.in_(outbox.unannounced_runs())
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
        if self._loop is not None:
            self._loop.wake()

    def _finished(self, run_id: str) -> None:
        with self._lock:
            self._followed.discard(run_id)
            self._last.pop(run_id, None)
            self._versions.pop(run_id, None)
            self._synced_at.pop(run_id, None)
            self._backend_of.pop(run_id, None)
            self._recorded.pop(run_id, None)
            self._attempts.pop(run_id, None)

    @property
    def followed(self) -> set[str]:
        with self._lock:
            return set(self._followed)

    def _count_error(self) -> None:
        self.errors += 1

    def follow(
        self,
        run_id: str,
        on_state: Callable[[RunState], None] | None = None,
        *,
        interval: float | None = None,
    ) -> RunState | None:
        """Sync ``run_id`` in this thread until it is final and ingested (``drover run``).

        A failed sync is retried with backoff; after ``max_failures`` failures in a row this
        raises ``MirrorError`` (one line: the run, the step that failed, the error's first line).
        """
        failures = 0
        while True:
            try:
                finished = self.sync(run_id)
                failures = 0
            except Exception as exc:
                self.errors += 1
                failures += 1
                if failures >= self.max_failures:
                    raise MirrorError(
                        f"mirror of run {run_id} gave up after {failures} failed attempts in a "
                        f"row: {describe(exc)}"
                    ) from exc
                log.warning(
                    "mirror of run %s failed (%d of %d), will retry: %s",
                    run_id,
                    failures,
                    self.max_failures,
                    describe(exc),
                )
                finished = False
            state = self._last.get(run_id)
            if on_state is not None and state is not None:
                on_state(state)
            if finished:
                self._finished(run_id)  # a local service follows run after run
                return state
            delay = backoff(self.poll_interval if interval is None else interval, failures)
            backend = self._backend_of.get(run_id)
            if failures == 0 and state is not None and isinstance(backend, SignalsChanges):
                _wait_for_change(backend, state, delay, on_state)
            else:
                time.sleep(delay)

    # ------------------------------------------------------------------ one sync

    def sync(self, run_id: str, *, only_when_due: bool = False) -> bool:
        """Bring run ``run_id`` up to date; True once it is final and fully ingested.

        ``only_when_due``: a run of a watched backend is re-read only once per resync interval
        (its events arrive through the watch).
        """
        with _step("reading the run"), self.sessions() as session:
            run = session.get(Run, run_id)
            if run is None or run.workflow_name is None:
                return run is None
            backend = self.backends.get(run.backend)
            if backend is None:
                return False
            workflow_name = run.workflow_name
        self._backend_of[run_id] = backend
        if backend.kind in WATCHED_KINDS:
            now = time.monotonic()
            last = self._synced_at.get(run_id)
            if only_when_due and last is not None and now - last < self.resync_interval:
                return False
            self._synced_at[run_id] = now
        try:
            workflow = backend.get(workflow_name)
        except NotFound:
            with _step(f"recording that workflow {workflow_name} is gone"):
                return self._workflow_gone(run_id, workflow_name)
        except Exception as error:
            raise _StepFailed(f"reading workflow {workflow_name}: {describe(error)}") from error
        with self._apply_lock:
            return self.apply(run_id, workflow, backend)

    def apply(self, run_id: str, workflow: dict[str, Any], backend: Backend | None) -> bool:
        """Write what changed since the last state of this run; True once final and ingested."""
        if is_archive_record(workflow):
            # An archive list record (after a watch gap): no nodes, so it says nothing of the
            # workers. The Argo Server answers a get of the same name from the archive, whole.
            if backend is None:
                return False
            try:
                workflow = backend.get(_name_and_version(workflow)[0])
            except DroverError as error:
                log.warning("archived workflow unreadable, the resync retries: %s", error)
                return False
            if is_archive_record(workflow):
                return False
        name, version = _name_and_version(workflow)
        seen = self._versions.get(run_id)
        if version and seen is not None and seen[0] == name and not is_newer(version, seen[1]):
            return False  # a copy older than what is written already (resync vs watch)
        state = parse_workflow(workflow)
        last = self._last.get(run_id)
        delta = diff(last, state)
        # A run reads as finished only with its results in: the end of a finished workflow
        # (phase, end, message) is written once its workers' results are read and counted.
        ending = (
            {k: delta.run.pop(k) for k in _ENDING_FIELDS if k in delta.run} if state.final else {}
        )
        if not delta.empty or ending:
            what = "writing the workflow's state"
            with _step(what), self.sessions() as session, session.begin():
                written = write_delta(session, run_id, delta, ending)
            if written is None:
                # Not the run's state (yet): a retry seen here before it is recorded. The last
                # state stays, so the copy after the record still carries all that changed (a
                # new uid above all, which puts the plan back).
                return False
            self._attempts[run_id] = written.attempt
            if written.manifest is not None and backend is not None:
                self._restore_objects(backend, run_id, name, written.manifest)
        # Until the end is written, the last state is one without it: each diff carries it again.
        self._last[run_id] = _before_ending(state, last) if ending else state
        if version:
            self._versions[run_id] = (name, version)
        attempt = self._attempts.get(run_id)
        if attempt is None:  # no state of the run written here yet: nothing to read for
            return False
        done_reading = self._read_finished_workers(run_id, state, backend, attempt)
        if ending and done_reading:  # every result is in and counted (``ingest_results``)
            # Unless a retry was recorded while the results were read: this end is then the
            # retried attempt's, and the retried workflow's copies carry the run on.
            end = RunDiff(run=ending)
            with _step("recording the run's end"), self.sessions() as session, session.begin():
                if write_delta(session, run_id, end, attempt=attempt) is None:
                    return False
            self._last[run_id] = state
        if done_reading and (state.final or self._plan_done(run_id, state)):
            # Results come from the workers: once the last one is read, the counters and the
            # history are recorded while the exit handler runs, not after it (packaging's 62,000
            # results: 2 s of the run's end, beside its 1.2 s exit handler).
            self._record_results(run_id)
        if state.final and done_reading:
            self._store_run_reports(run_id, workflow, backend)
            what = "recording that the run finished"
            with _step(what), self.sessions() as session, session.begin():
                outbox.on_run_finished(session, run_id)
            return True
        return False

    def _plan_done(self, run_id: str, state: RunState) -> bool:
        """Every worker the run planned has finished (and, with ``_read_finished_workers``
        True, been read): no more results can come. Without a plan, more may."""
        workers = state.workers.values()
        if not workers or not all(is_final(worker.phase) for worker in workers):
            return False
        with self.sessions() as session:  # a recorded plan has a row for each of its workers
            plan = select(RunGroup.run_id).where(RunGroup.run_id == run_id, RunGroup.planned)
            return bool(session.scalar(select(plan.exists())))

    def _record_results(self, run_id: str) -> None:
        """The run's counters recounted and its scenarios' history recorded, once per run
        attempt (a retried run records its new attempt's results again). Results stored since
        (live posts the service ingested late) are counted again, not added to the history."""
        what = "recording the run's counters and scenario history"
        with _step(what), self.sessions() as session, session.begin():
            run = session.execute(
                select(Run.attempt, Run.result_rows).where(Run.id == run_id)
            ).one_or_none()
            if run is None:
                return
            recorded = self._recorded.get(run_id)
            if recorded == (run.attempt, run.result_rows):
                return
            refresh_counters(session, run_id)
            if recorded is None or recorded[0] != run.attempt:
                record_history(session, run_id)
        self._recorded[run_id] = (run.attempt, run.result_rows)

    def _store_run_reports(
        self, run_id: str, workflow: dict[str, Any], backend: Backend | None
    ) -> None:
        """Keep the exit handler's merged reports (once): JUnit XML and the HTML reports."""
        if self.reports is None or backend is None:
            return
        with self.sessions() as session:
            if session.scalar(select(Run.reports).where(Run.id == run_id)) is not None:
                return
        state = parse_workflow(workflow)
        node_id = exit_handler_node(workflow)
        index: dict[str, Any] = {"reports": {}, "problems": ["the exit handler did not run"]}
        size = 0
        if node_id is not None:
            blob = _read_artifact(backend, state.name, node_id, "reports")
            index["problems"] = ["the exit handler stored no reports"]
            if blob:
                try:
                    index, size = self.reports.store_run(run_id, blob)
                except (ReportStoreError, ValueError) as error:
                    index["problems"] = [str(error)]
        with _step("recording the run's reports"), self.sessions() as session, session.begin():
            session.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(reports=index, reports_bytes=Run.reports_bytes + size)
            )

    def _store_worker_reports(
        self, run_id: str, backend: Backend, workflow_name: str, node_id: str, pod: str
    ) -> int:
        """Unpack a finished worker pod's kept reports; the bytes they take."""
        if self.reports is None:
            return 0
        blob = _read_artifact(backend, workflow_name, node_id, "reports")
        if not blob:
            return 0
        try:
            return self.reports.store_worker(run_id, pod, blob)
        except (ReportStoreError, ValueError) as error:
            log.warning("reports of worker %s not kept: %s", node_id, error)
            return 0

    def _workflow_gone(self, run_id: str, workflow_name: str) -> bool:
        """The run's workflow no longer exists: an unfinished run ends as Error."""
        with self.sessions() as session, session.begin():
            run = session.get(Run, run_id, with_for_update=True)
            if run is None or run.workflow_name != workflow_name:
                return run is None
            if run.phase not in FINAL_RUN_PHASES:
                log.warning(
                    "workflow %s of run %s is gone before it finished", workflow_name, run_id
                )
                session.execute(
                    update(Run)
                    .where(Run.id == run_id)
                    .values(
                        phase="Error",
                        message=f"workflow {workflow_name} was deleted before it finished",
                        finished_at=func.now(),
                    )
                )
                session.execute(
                    update(RunWorker)
                    .where(RunWorker.run_id == run_id)
                    .values(results_read=True)  # nothing left to read
                )
            refresh_counters(session, run_id)
            outbox.on_run_finished(session, run_id)
        return True

    # ------------------------------------------------------------------ watched backends

    def _watch(self, backend_name: str, backend: Backend) -> None:
        """Consume the backend's watch until stopped; a failed watch is started again."""
        delay = 1.0
        while not self._stop.is_set():
            events = backend.watch()
            stoppable = events if isinstance(events, StoppableWatch) else None
            if stoppable is not None:
                with self._lock:
                    self._watches.append(stoppable)
            try:
                # Checked after registering: a stop() that ran before did not see this watch.
                while not self._stop.is_set():
                    event = next(events, None)
                    if event is None or self._stop.is_set():
                        break
                    self.on_event(backend_name, backend, event)
                    delay = 1.0
            except DroverError as exc:
                self.errors += 1
                log.warning(
                    "watch of backend %s failed, restarting: %s", backend_name, describe(exc)
                )
            finally:
                with self._lock:
                    self._watches = [w for w in self._watches if w is not stoppable]
            self._stop.wait(delay)
            delay = min(delay * 2, 30.0)

    def on_event(self, backend_name: str, backend: Backend, event: WorkflowEvent) -> None:
        """One watch event → the same write path as a poll; failures wait for the resync."""
        name, _ = _name_and_version(event.workflow)
        try:
            with self._apply_lock:
                if event.type == "DELETED":
                    # Read again before believing it: the name may already belong to a new
                    # incarnation (retried from the archive), or the archive has the workflow.
                    run_id = self._unfinished_run(backend_name, name)
                    if run_id is not None and self.sync(run_id):
                        self._finished(run_id)
                    return
                run_id = self._run_of_event(backend_name, backend, event.workflow)
                if run_id is not None and self.apply(run_id, event.workflow, backend):
                    self._finished(run_id)
        except (SQLAlchemyError, OSError, DroverError) as exc:
            self.errors += 1
            log.warning("mirror of workflow %s failed, the resync retries: %s", name, describe(exc))

    def _unfinished_run(self, backend_name: str, workflow_name: str) -> str | None:
        """The run this workflow is the current attempt of, unless mirrored to its end."""
        with self.sessions() as session:
            run = session.execute(
                select(Run.id, Run.phase).where(
                    Run.backend == backend_name, Run.workflow_name == workflow_name
                )
            ).one_or_none()
        if run is None or (run.phase in FINAL_RUN_PHASES and run.id not in self.followed):
            return None
        return str(run.id)

    def _run_of_event(
        self, backend_name: str, backend: Backend, workflow: dict[str, Any]
    ) -> str | None:
        """The run this workflow belongs to, recording a retry or resubmit seen first here;
        None for workflows that are no run's (any more), or whose run is mirrored already."""
        name, _ = _name_and_version(workflow)
        with self.sessions() as session, session.begin():
            run = session.scalar(
                select(Run).where(Run.backend == backend_name, Run.workflow_name == name)
            )
            if run is not None:
                finished = run.phase in FINAL_RUN_PHASES
                if finished and workflow_runs_again(workflow, run.started_at):
                    # Its workflow runs (or ran) again: retried, in the Argo UI or by us.
                    record_retry(session, run.id)
                elif finished and run.id not in self.followed:
                    return None  # finished and mirrored: nothing new
                self.attach(run.id)
                return run.id
            run = self._resubmitted_run(session, backend_name, backend, workflow)
            if run is None:
                if notice_pipeline_workflow(session, backend_name, workflow) is not None:
                    return None  # a pipeline run's: the pipeline follower mirrors it
                return self._adopt(backend_name, backend, workflow)
            previous = run.workflow_name or ""
            if not record_resubmission(
                session,
                run.id,
                previous=previous,
                workflow_name=name,
                workflow_uid=(workflow.get("metadata") or {}).get("uid"),
                ui_url=backend.ui_url(name),
            ):
                return None
            log.info("run %s: workflow %s resubmitted as %s", run.id, previous, name)
            run_id, manifest = run.id, run.manifest
        # Once the resubmission is committed: restoring the token adds a row that refers to
        # the run, which this transaction holds locked.
        self._restore_objects(backend, run_id, name, manifest)
        with self._lock:
            self._last.pop(run_id, None)
            self._versions.pop(run_id, None)
        self.attach(run_id)
        return run_id

    def _restore_objects(
        self, backend: Backend, run_id: str, workflow_name: str, manifest: dict[str, Any] | None
    ) -> None:
        """A retried or resubmitted workflow needs its plan ConfigMaps and its workers' token
        Secret, which went with the workflow it came from (issue 12 defect 16): put back the
        run's plan from Postgres, and a new token, since only the old one's hash is kept."""
        if not isinstance(backend, RestoresObjects):
            return
        configmaps = (manifest or {}).get("configmaps") or []
        try:
            restored = backend.restore_objects(workflow_name, configmaps) if configmaps else 0
        except DroverError as error:
            log.warning("plan of workflow %s not restored: %s", workflow_name, describe(error))
        else:
            if restored:
                log.info("workflow %s: %d plan ConfigMaps restored", workflow_name, restored)
        secret = worker_token_secret(run_id)
        if secret not in json.dumps((manifest or {}).get("workflow") or {}):
            return  # started without a facade to report to
        try:
            with self.sessions() as session:
                token = create_token(session, name=f"worker of run {run_id}", run_id=run_id)
                document = token_secret(secret, token, {LABEL_RUN: run_id})
                # Unless the earlier Secret is still there, its token with it.
                if backend.restore_objects(workflow_name, [document]):
                    session.commit()
        except (DroverError, SQLAlchemyError) as error:
            log.warning("token of workflow %s not restored: %s", workflow_name, describe(error))

    def _adopt(self, backend_name: str, backend: Backend, workflow: dict[str, Any]) -> str | None:
        """A workflow a schedule spawned becomes a new run, followed once committed."""
        with self.sessions() as session, session.begin():
            run = adopt_scheduled_workflow(session, backend_name, backend, workflow)
            run_id = run.id if run is not None else None
        if run_id is not None:
            self.attach(run_id)
        return run_id

    def _resubmitted_run(
        self, session: Session, backend_name: str, backend: Backend, workflow: dict[str, Any]
    ) -> Run | None:
        """The run whose workflow this one was resubmitted from (see ``resubmitted_from``)."""
        source = resubmitted_from(workflow)
        if source is None:
            return None
        run = session.scalar(
            select(Run)
            .where(Run.backend == backend_name, Run.workflow_name == source)
            .with_for_update()
        )
        if run is not None:
            return run
        # Resubmitted from an attempt we did not see: the run label still names the run,
        # but only a workflow newer than the run's current one may replace it.
        run_id = ((workflow.get("metadata") or {}).get("labels") or {}).get(LABEL_RUN)
        run = session.get(Run, run_id, with_for_update=True) if run_id else None
        if run is None or run.backend != backend_name or run.workflow_name is None:
            return None
        try:
            current = backend.get(run.workflow_name)
        except NotFound:
            return run
        return run if _created(workflow) > _created(current) else None

    # ------------------------------------------------------------------ results artifacts

    def _read_finished_workers(
        self, run_id: str, state: RunState, backend: Backend | None, attempt: int
    ) -> bool:
        """Ingest the results artifact of each finished worker once; True when none is left.
        ``attempt`` is the run attempt ``state`` was written to: after a retry a worker the copy
        shows finished is the earlier attempt's, its artifact not the retried pod's."""
        with _step("listing the finished workers"), self.sessions() as session:
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
            where = (group_key, shard, pod_name)
            remaining += not self._read_worker(run_id, state, backend, worker, where, attempt)
        return remaining == 0

    @paused_collection()  # a worker's results: 31,000 read, parsed and stored at once
    def _read_worker(
        self,
        run_id: str,
        state: RunState,
        backend: Backend | None,
        worker: WorkerState | None,
        where: tuple[str, int, str | None],
        attempt: int,
    ) -> bool:
        """Store a finished worker's results (none when it left no artifact) and mark it read;
        False, storing none, once the run is past ``attempt`` (retried meanwhile)."""
        group_key, shard, pod_name = where
        if self._run_attempt(run_id) != attempt:
            return False
        results = []
        kept = 0
        if worker is not None and backend is not None and worker.last_attempt_node_id:
            kept = self._store_worker_reports(
                run_id,
                backend,
                state.name,
                worker.last_attempt_node_id,
                pod_name or worker.last_attempt_node_id,
            )
            blob = _read_results(backend, state.name, worker.last_attempt_node_id)
            if blob:
                try:
                    results = results_from_report(json.loads(blob), worker=pod_name)
                except ValueError:
                    log.warning("unreadable results artifact of %s", worker.node_id)
        step = f"storing the results of worker {group_key} shard {shard}"
        with _step(step), self.sessions() as session, session.begin():
            if kept:
                session.execute(
                    update(Run)
                    .where(Run.id == run_id)
                    .values(reports_bytes=Run.reports_bytes + kept)
                )
            if self._run_attempt(run_id, session) != attempt:
                return False
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
        return True

    def _run_attempt(self, run_id: str, locking: Session | None = None) -> int | None:
        """The run's attempt now; read in ``locking``'s transaction, it holds the run's row
        (as every writer of the run does first) until that transaction ends."""
        query = select(Run.attempt).where(Run.id == run_id)
        if locking is not None:
            return locking.scalar(query.with_for_update())
        with self.sessions() as session:
            return session.scalar(query)


def _wait_for_change(
    backend: SignalsChanges,
    state: RunState,
    delay: float,
    on_state: Callable[[RunState], None] | None,
) -> None:
    """Until the run's workflow changes (at most a few syncs per ``delay`` while many pods
    change it) or :data:`IDLE_RESYNC_SECONDS` pass: a sync reads the database and the
    workflow, CPU the workers need while nothing changes (a runner that died changes nothing,
    hence the resync). ``on_state`` is still called every ``delay`` (interrupts, the view)."""
    deadline = time.monotonic() + IDLE_RESYNC_SECONDS
    while not backend.wait_for_change(state.name, delay, at_least=delay / 4):
        if time.monotonic() >= deadline:
            return
        if on_state is not None:
            on_state(state)


def exit_handler_node(workflow: dict[str, Any]) -> str | None:
    """The id of the exit handler's pod node: Argo names it ``<workflow>.onExit`` (the CLI's
    ``argo get`` finds it as ``wf.NodeID(wf.ObjectMeta.Name + ".onExit")``, cmd/argo/commands/
    common/get.go); Drover's cleanup has no retryStrategy, so that node is the Pod itself."""
    name = str((workflow.get("metadata") or {}).get("name") or "")
    nodes = decode_nodes(workflow.get("status") or {})
    for node_id, node in nodes.items():
        if node.get("name") == f"{name}.onExit" and node.get("type") == "Pod":
            return str(node.get("id") or node_id)
    return None


def _read_artifact(backend: Backend, workflow_name: str, node_id: str, name: str) -> bytes | None:
    try:
        return backend.read_artifact(workflow_name, node_id, name)
    except DroverError as error:
        log.warning("%s artifact of %s unavailable: %s", name, node_id, error)
        return None


def _read_results(backend: Backend, workflow_name: str, node_id: str) -> bytes | None:
    """A worker's results artifact; a backend that cannot serve it counts as none (the agent
    posted its results live), after the backend's own retries."""
    try:
        return backend.read_artifact(workflow_name, node_id, "results")
    except DroverError as error:
        log.warning("results artifact of %s unavailable: %s", node_id, error)
        return None


def _name_and_version(workflow: dict[str, Any]) -> tuple[str, str]:
    meta = workflow.get("metadata") or {}
    return str(meta.get("name") or ""), str(meta.get("resourceVersion") or "")


def _created(workflow: dict[str, Any]) -> str:
    """RFC 3339 in UTC (``...Z``), so comparable as text."""
    return str((workflow.get("metadata") or {}).get("creationTimestamp") or "")


def _unread_workers() -> Any:
    return select(RunWorker.run_id).where(
        RunWorker.results_read.is_(False), RunWorker.phase.in_(FINAL_RUN_PHASES)
    )
