"""The pipeline runs' mirror: per-job state read from the workflow, written only when it changed.

A pipeline compiles to one main DAG whose task ``<job>`` becomes the node ``<workflow>.<job>``
(the exit job: ``<workflow>.onExit``). ``read_pipeline_status`` turns a Workflow object into
plain data (pure); ``refresh_pipeline_run`` compares it with the stored rows under the run's row
lock and writes the difference; ``PipelineFollower`` does that in one background thread for
every run that is not final, so runs progress whether or not anyone reads them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from api.mirror.loop import FollowLoop
from api.mirror.transitions import accept_phase
from api.models import PipelineRun, PipelineRunJob
from api.notifications import outbox
from engine.backends.base import Backend
from engine.errors import NotFound
from engine.status import FINAL_PHASES, decode_nodes

if TYPE_CHECKING:
    from api.service import Service

__all__ = [
    "EXIT_TASK",
    "JobStatus",
    "PipelineFollower",
    "PipelineStatus",
    "follower_of",
    "job_log_nodes",
    "read_pipeline_status",
    "refresh_pipeline_run",
    "start_pipeline_follower",
]

log = logging.getLogger("drover.pipelines")

EXIT_TASK: Final = "onExit"
MISSING_GRACE: Final = timedelta(seconds=60)
"""How long a run's workflow may be missing (submission in flight) before the run is an Error."""
NOT_REACHED: Final = "not started: the workflow ended before this job was reached"
_RUN_NODE_TYPES: Final = frozenset({"Pod", "HTTP", "Container", "Plugin"})


# ---------------------------------------------------------------------------- reading (pure)


@dataclass(frozen=True)
class JobStatus:
    """What the workflow says about one job; field names are the job row's columns."""

    phase: str
    node_type: str | None = None
    node_id: str | None = None
    message: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    result: str | None = None
    exit_code: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class PipelineStatus:
    phase: str
    message: str | None
    uid: str | None
    started_at: datetime | None
    finished_at: datetime | None
    jobs: dict[str, JobStatus]
    """By job name. A job without a node is Pending while the workflow runs (not started yet,
    or retried: ``argo retry`` deletes the failed nodes), Omitted once it is final, and absent
    while the workflow has no nodes at all (just submitted, or its node status offloaded)."""

    @property
    def final(self) -> bool:
        return self.phase in FINAL_PHASES


def read_pipeline_status(workflow: dict[str, Any], tasks: Mapping[str, str]) -> PipelineStatus:
    """The run and its jobs (``tasks``: job name → task name) in a Workflow object."""
    metadata = workflow.get("metadata") or {}
    status = workflow.get("status") or {}
    name = str(metadata.get("name") or "")
    nodes = decode_nodes(status)
    by_name = {str(node.get("name")): node for node in nodes.values()}
    phase = str(status.get("phase") or "Pending")
    jobs: dict[str, JobStatus] = {}
    for job, task in tasks.items():
        node = by_name.get(f"{name}.{task}")
        if node is not None:
            jobs[job] = _job_status(node, nodes)
        elif phase in FINAL_PHASES:
            # Argo creates no node for a task it never reached (stopped, failed early).
            jobs[job] = JobStatus(phase="Omitted", message=NOT_REACHED)
        elif nodes:
            # The workflow runs and this task has no node: not reached yet, or retried.
            jobs[job] = JobStatus(phase="Pending")
    return PipelineStatus(
        phase=phase,
        message=_text(status.get("message")),
        uid=_text(metadata.get("uid")),
        started_at=_time(status.get("startedAt")),
        finished_at=_time(status.get("finishedAt")),
        jobs=jobs,
    )


def _job_status(node: dict[str, Any], nodes: dict[str, dict[str, Any]]) -> JobStatus:
    node_type = _text(node.get("type"))
    # A Retry node's children are its attempts; any other node's are the tasks after it.
    children = node.get("children") if node_type == "Retry" else None
    attempts = [nodes[c] for c in children or [] if c in nodes]
    outputs = node.get("outputs") or {}
    if node_type == "Retry" and not outputs:
        # Argo copies the last attempt's outputs to the Retry node; read them there if not.
        outputs = next((a["outputs"] for a in reversed(attempts) if a.get("outputs")), {})
    parameters = {
        str(p["name"]): p.get("value")
        for p in outputs.get("parameters") or []
        if isinstance(p, dict) and "name" in p
    }
    return JobStatus(
        phase=str(node.get("phase") or "Pending"),
        node_type=node_type,
        node_id=_text(node.get("id")),
        message=_text(node.get("message")),
        outputs=parameters,
        result=_text(outputs.get("result")),
        exit_code=_text(outputs.get("exitCode")),
        attempts=len(attempts) if node_type == "Retry" else int(node_type in _RUN_NODE_TYPES),
        started_at=_time(node.get("startedAt")),
        finished_at=_time(node.get("finishedAt")),
    )


def job_log_nodes(workflow: dict[str, Any], task: str, *, follow: bool) -> list[str]:
    """Names of the pod nodes whose logs make up a job's log: its pod, or each attempt's.

    A job not started yet has none, unless following: then its future pod's name.
    """
    name = str((workflow.get("metadata") or {}).get("name") or "")
    nodes = decode_nodes(workflow.get("status") or {})
    by_name = {str(node.get("name")): node for node in nodes.values()}
    node = by_name.get(f"{name}.{task}")
    if node is None:
        return [f"{name}.{task}"] if follow else []
    if node.get("type") == "Pod":
        return [str(node["name"])]
    if node.get("type") != "Retry":
        return []  # skipped, omitted, or an HTTP job (no pod); a DAG node's children are
        # the tasks that follow it, not its own
    attempts = [nodes[c] for c in node.get("children") or [] if c in nodes]
    return [str(a["name"]) for a in attempts if a.get("type") == "Pod"]


def changed_job_fields(stored: JobStatus, current: JobStatus) -> dict[str, Any]:
    """The columns whose value differs between the stored row and the workflow."""
    return {
        f.name: getattr(current, f.name)
        for f in fields(JobStatus)
        if getattr(current, f.name) != getattr(stored, f.name)
    }


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


# ---------------------------------------------------------------------------- writing


def _stored(row: PipelineRunJob) -> JobStatus:
    return JobStatus(**{f.name: getattr(row, f.name) for f in fields(JobStatus)})


def refresh_pipeline_run(session: Session, *, run_id: str, backend: Backend | None) -> bool:
    """Bring one run's rows up to date with its workflow; True once the run is final.

    The workflow is read before the run's row is locked; the comparison and the writes happen
    under the lock, so a read route and the follower never write the same change twice. A read
    that the run's row changed during (a retry, a cancel, another reader's write) is dropped:
    it may be older than that change (a retried run would go back to Failed), the next is not.
    """
    run = session.get(PipelineRun, run_id, populate_existing=True)
    if run is None or run.phase in FINAL_PHASES:
        return True
    if backend is None:
        return False
    workflow_name, created_at, seen = run.workflow_name, run.created_at, run.updated_at
    session.rollback()  # read the workflow outside any transaction
    try:
        workflow = backend.get(workflow_name)
    except NotFound:
        if datetime.now(UTC) - created_at < MISSING_GRACE:
            return False
        gone = {"phase": "Error", "message": f"workflow {workflow_name} no longer exists"}
        run = session.get(PipelineRun, run_id, with_for_update=True, populate_existing=True)
        if run is not None and run.phase not in FINAL_PHASES:
            outbox.on_pipeline_run_phase(session, run, gone)
        session.execute(
            update(PipelineRun)
            .where(PipelineRun.id == run_id, PipelineRun.phase.not_in(FINAL_PHASES))
            .values(**gone)
        )
        session.commit()
        return True

    run = session.get(PipelineRun, run_id, with_for_update=True, populate_existing=True)
    if run is None:
        session.rollback()
        return True
    if run.updated_at != seen:
        final = run.phase in FINAL_PHASES
        session.rollback()
        return final
    rows = {
        row.job: row
        for row in session.scalars(
            select(PipelineRunJob)
            .where(PipelineRunJob.run_id == run_id)
            .execution_options(populate_existing=True)
        )
    }
    status = read_pipeline_status(workflow, {job: row.task for job, row in rows.items()})
    for job, current in status.jobs.items():
        changes = changed_job_fields(_stored(rows[job]), current)
        if changes:
            session.execute(
                update(PipelineRunJob)
                .where(PipelineRunJob.run_id == run_id, PipelineRunJob.job == job)
                .values(**changes)
            )
    run_values = _run_changes(run, status)
    outbox.on_pipeline_run_phase(session, run, run_values)
    if run_values:
        session.execute(update(PipelineRun).where(PipelineRun.id == run_id).values(**run_values))
    session.commit()
    return str(run_values.get("phase", run.phase)) in FINAL_PHASES


def _run_changes(run: PipelineRun, status: PipelineStatus) -> dict[str, Any]:
    proposed = {
        "phase": accept_phase(run.phase, status.phase),
        "message": status.message,
        "workflow_uid": status.uid or run.workflow_uid,
        "started_at": status.started_at,
        "finished_at": status.finished_at,
    }
    changes = {key: value for key, value in proposed.items() if getattr(run, key) != value}
    if changes:
        changes["updated_at"] = datetime.now(UTC)
    return changes


# ---------------------------------------------------------------------------- following


class PipelineFollower:
    """Refreshes every pipeline run that is not final, until the app stops (``FollowLoop``,
    the same loop the mirror of executions' runs uses)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        backends: Mapping[str, Backend],
        *,
        poll_interval: float = 0.2,
        remote_interval: float = 2.0,
        idle_interval: float = 2.0,
    ) -> None:
        self.sessions = sessions
        self.backends = backends
        self.poll_interval = poll_interval
        """Seconds between reads of a local run (a file read)."""
        self.remote_interval = remote_interval
        """Seconds between reads of a run on any other backend (a request to the Argo Server)."""
        self.errors = 0
        self._backend_of: dict[str, str] = {}
        self._loop = FollowLoop(
            "drover-pipeline-follower",
            runs=self._unfinished,
            sync=self._refresh,
            describe=lambda exc: str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
            on_error=self._count_error,
            idle_interval=idle_interval,
            what="pipeline run",
        )

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def wake(self) -> None:
        """A run was started or cancelled: look now rather than after the idle interval."""
        self._loop.wake()

    def _count_error(self) -> None:
        self.errors += 1

    def _unfinished(self) -> dict[str, float]:
        """Every pipeline run not final, with how often to read it."""
        with self.sessions() as session:
            runs = session.execute(
                select(PipelineRun.id, PipelineRun.backend).where(
                    PipelineRun.phase.not_in(FINAL_PHASES)
                )
            ).all()
        self._backend_of = {run_id: backend for run_id, backend in runs}
        return {
            run_id: self.poll_interval if backend == "local" else self.remote_interval
            for run_id, backend in runs
        }

    def _refresh(self, run_id: str) -> bool:
        backend = self.backends.get(self._backend_of.get(run_id, ""))
        with self.sessions() as session:
            return refresh_pipeline_run(session, run_id=run_id, backend=backend)


def start_pipeline_follower(service: Service) -> Callable[[], None]:
    """Start the follower for the app's lifetime (from its lifespan); returns its stopper."""
    follower = PipelineFollower(
        service.sessions, service.backends, poll_interval=service.settings.poll_interval
    )
    service.background.append(follower)
    follower.start()
    return follower.stop


def follower_of(service: Service) -> PipelineFollower | None:
    return next((b for b in service.background if isinstance(b, PipelineFollower)), None)
