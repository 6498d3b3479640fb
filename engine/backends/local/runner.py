"""The run loop: operate, start and stop processes, persist status, apply control requests.

One ``WorkflowRunner`` drives one workflow to completion, either in-process (``LocalBackend.run``)
or in the detached daemon. The operator is touched only by the loop thread; each pod has a
thread that runs its process and reports back through a queue.

A pod that requests CPU starts only once the machine's node (``machine.py``, shared by every
runner under the same ``DROVER_HOME``) binds it; until then its node stays Pending with the
scheduler's message, and stopping it (deadline, stop, terminate) removes it without starting it.

While a pod runs, the loop does what Argo's executor does with the pod's ``ARGO_PROGRESS_FILE``
(workflow/executor/executor.go ``monitorProgress``): reads it (every file tick) and reports what
it last said onto the node (every patch tick), and once more when the pod ends.
"""

from __future__ import annotations

import functools
import json
import math
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.backends.local.claims import collect_claims
from engine.backends.local.data_template import ARGOEXEC_ERROR, DataTemplateError, process_data
from engine.backends.local.log_archive import LogArchive, save_logs
from engine.backends.local.machine import (
    UNSCHEDULABLE_MESSAGE,
    UNSCHEDULABLE_REASON,
    MachineNode,
    PodRequest,
    QuantityError,
    pod_cpu_request,
)
from engine.backends.local.nodes import is_fulfilled
from engine.backends.local.operator import PodLaunch, PodOutcome, Terminated, WorkflowOperator
from engine.backends.local.runtime import (
    PodSetupError,
    Runtime,
    default_runtime,
    host_name,
    plan_pod,
    progress_file,
    progress_ticks,
    run_container_set,
    run_init_containers,
    run_pod,
    start_sidecars,
    stop_sidecars,
    terminate_group,
)
from engine.backends.local.status import (
    reported_progress,
    update_progress,
    update_resource_durations,
)
from engine.backends.local.store import LocalStore, pid_alive
from engine.backends.local.sync_locks import FileLocks
from engine.errors import DroverError, NotFound

__all__ = ["WorkflowRunner"]

_CONTROL_POLL_SECONDS = 0.25

UpdateCallback = Callable[[dict[str, Any]], None]


@dataclass(slots=True)
class ProgressWatch:
    """The executor's ``monitorProgress`` of one pod's progress file: when it next reads the
    file and next reports, the line it read last and the progress not yet reported."""

    path: Path
    next_read: float
    next_report: float
    last_line: str = ""
    pending: str | None = None

    def read(self) -> None:
        """The file's last line, if new and valid, is the progress to report."""
        try:
            data = self.path.read_text(errors="replace")
        except OSError:  # not written (yet): nothing to report
            return
        progress, self.last_line = reported_progress(data, self.last_line)
        if progress is not None:
            self.pending = progress

    def take(self) -> str | None:
        """The progress to report now, reported once (``reportResult``, then cleared)."""
        progress, self.pending = self.pending, None
        return progress


def _next_tick(tick: float, period: float, now: float) -> float:
    """A ``time.Ticker``'s next tick after ``now``: the ticks it could not deliver are dropped."""
    if tick <= now:
        tick += (math.floor((now - tick) / period) + 1) * period
    return tick if tick > now else now + period  # a period too short for a float's precision


class WorkflowRunner:
    """Runs one stored workflow until it completes."""

    def __init__(
        self,
        store: LocalStore,
        name: str,
        *,
        runtime: Runtime | None = None,
        on_update: UpdateCallback | None = None,
        save_interval: float = 0.05,
        machine: MachineNode | None = None,
    ) -> None:
        self.store = store
        self.name = name
        self.current: dict[str, Any] = {}
        """The workflow as this runner operates on it."""
        self.runtime = runtime or default_runtime()
        self.on_update = on_update
        self.save_interval = save_interval
        self.machine = machine or MachineNode(store.root)
        # SimpleQueue: its put is reentrant, so wake() may run in a signal handler that
        # interrupted this thread inside get(). queue.Queue's put would wait for the lock its
        # own thread holds there, forever (a runner hung with its finished pods still bound
        # on the node, and every workflow waiting for room stuck behind it).
        self.events: queue.SimpleQueue[tuple[str, str, PodOutcome | None]] = queue.SimpleQueue()
        self.processes: dict[str, list[subprocess.Popen[bytes]]] = {}  # a containerSet's: all
        self.pending_kills: set[str] = set()
        self.threads: dict[str, threading.Thread] = {}
        self.lock = threading.Lock()
        # The node: pods waiting to be bound, requests and releases for the next pass, and the
        # pods holding room on it.
        self.waiting: dict[str, PodLaunch] = {}
        self.requests: list[PodRequest] = []
        self.releases: list[str] = []
        self.bound: set[str] = set()
        # Self-reported progress: (patch, file) ticks, None when not monitored; running pods.
        self.progress_ticks = progress_ticks()
        self.progress_watches: dict[str, ProgressWatch] = {}

    def wake(self) -> None:
        """Make the loop look at control requests now (safe from signal handlers)."""
        self.events.put(("wake", "", None))

    def run(self) -> dict[str, Any]:
        try:
            return self._run()
        finally:
            if self.bound or self.waiting or self.requests or self.releases:
                self.machine.release_all(self.name)
            self.store.free_discarded()

    def _run(self) -> dict[str, Any]:
        workflow = self.current = self.store.load(self.name)
        operator = WorkflowOperator(
            workflow,
            config_lookup=self.store.lookup_key,
            object_lookup=self.store.get_object,
            baseline_lookup=self.store.newest_succeeded,
            locks=FileLocks(self.store.root / "sync-locks.json", self._holds_locks),
            cache_save=self.store.save_cache_entry,
            template_lookup=self.store.lookup_template,
            host_name=host_name(),
        )
        last_save = 0.0
        dirty = True
        claims_collected = False
        while True:
            dirty |= self._apply_controls(operator)
            dirty |= self._monitor_progress(operator, time.time())
            operator.operate()
            for launch in operator.launches:
                self._admit(workflow, launch)
            dirty |= bool(operator.launches)
            operator.launches.clear()
            for nid in list(operator.kills):
                self._kill(nid)
                del operator.kills[nid]
            dirty |= self._schedule(workflow, operator)
            if operator.completed and not claims_collected:
                # Argo's operate deletes the claims before its deferred persistUpdates writes the
                # completed workflow (workflow/controller/operator.go): whoever sees it finished
                # finds them gone.
                collect_claims(self.store, workflow)
                claims_collected = True
            finished = operator.completed and not self.threads
            now = time.time()
            if dirty and (finished or now - last_save >= self.save_interval):
                self._persist(workflow)
                last_save, dirty = now, False
            if finished:
                return workflow
            timeout = _CONTROL_POLL_SECONDS
            wakeup = operator.next_wakeup()
            if wakeup is not None:
                timeout = max(0.0, min(timeout, wakeup - time.time()))
            if dirty:
                timeout = min(timeout, max(0.0, self.save_interval - (time.time() - last_save)))
            dirty |= self._drain(operator, timeout)

    # ------------------------------------------------------------------ events

    def _drain(self, operator: WorkflowOperator, timeout: float) -> bool:
        try:
            event = self.events.get(timeout=timeout)
        except queue.Empty:
            return False
        changed = False
        while True:
            kind, nid, outcome = event
            if kind == "started":
                operator.pod_started(nid)
                changed = True
            elif kind == "initializing":
                changed |= operator.pod_initializing(nid)
            elif kind == "finished" and outcome is not None:
                self._final_progress(operator, nid)
                operator.pod_finished(nid, outcome)
                self.threads.pop(nid, None)
                if nid in self.bound:
                    self.bound.discard(nid)
                    self.releases.append(nid)
                changed = True
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return changed

    def _holds_locks(self, holder: str) -> bool:
        """Whether the workflow of a lock holder (``<namespace>/<workflow>[/<node>]``) still
        runs: not completed, its runner alive."""
        parts = holder.split("/")
        workflow = parts[1] if len(parts) > 1 else ""
        if workflow == self.name:  # this runner's own: a node holds until it is fulfilled
            nodes = (self.current.get("status") or {}).get("nodes") or {}
            node = nodes.get(parts[2]) if len(parts) > 2 else None
            return len(parts) == 2 or (node is not None and not is_fulfilled(node))
        pid = self.store.runner_pid(workflow)
        if pid is None or not pid_alive(pid):
            return False
        try:
            phase = self.store.load(workflow)["status"].get("phase")
        except NotFound:
            return False
        return phase not in ("Succeeded", "Failed", "Error")

    def _apply_controls(self, operator: WorkflowOperator) -> bool:
        controls = self.store.take_controls(self.name)
        for control in controls:
            action, selector = control["action"], control.get("selector")
            if selector and action in ("stop", "resume"):  # one suspend node, not the workflow
                phase = "Failed" if action == "stop" else "Succeeded"
                operator.set_node_values(selector, {}, phase, control.get("message") or None)
            elif action == "set" and selector:
                operator.set_node_values(
                    selector,
                    json.loads(control.get("outputs") or "{}"),
                    control.get("phase") or None,
                    control.get("message") or None,
                )
            elif action == "stop":
                operator.request_shutdown("Stop")
            elif action == "terminate":
                operator.request_shutdown("Terminate")
            elif action == "suspend":
                operator.set_suspended(True)
            elif action == "resume":
                operator.set_suspended(False)
        return bool(controls)

    def _persist(self, workflow: dict[str, Any]) -> None:
        # Argo's persistUpdates: resource.UpdateResourceDurations, progress.UpdateProgress.
        update_resource_durations(workflow)
        update_progress(workflow)
        self.store.save(workflow)
        if self.on_update is not None:
            self.on_update(workflow)

    # ------------------------------------------------------------------ the node

    def _admit(self, workflow: dict[str, Any], launch: PodLaunch) -> None:
        """Start a pod that needs no room now; queue one that requests CPU for the node."""
        if "http" in launch.template:  # Argo's agent makes the request: no pod of its own
            self._start(workflow, launch)
            return
        try:
            cpu = pod_cpu_request(launch.template)
        except QuantityError as exc:  # the API server would refuse to create the pod
            self.events.put(("finished", launch.node_id, _unscheduled(launch, error=str(exc))))
            return
        if cpu <= 0:  # no request: the scheduler places it whatever the node's load
            self._start(workflow, launch)
            return
        spec = workflow.get("spec") or {}
        self.waiting[launch.node_id] = launch
        self.requests.append(
            PodRequest(
                workflow=self.name,
                node_id=launch.node_id,
                cpu=cpu,
                workflow_priority=int(spec.get("priority") or 0),
                workflow_created=str(workflow["metadata"].get("creationTimestamp", "")),
            )
        )

    def _schedule(self, workflow: dict[str, Any], operator: WorkflowOperator) -> bool:
        """One pass of the node's scheduler: give back finished pods, queue new ones, start
        those bound to this runner; the rest carry the scheduler's message. True if a node
        changed."""
        if not (self.waiting or self.requests or self.releases):
            return False
        bound = self.machine.sync(self.name, request=self.requests, release=self.releases)
        self.requests, self.releases = [], []
        changed = False
        for nid in list(self.waiting):
            if nid in bound:
                self.bound.add(nid)
                self._start(workflow, self.waiting.pop(nid))
            else:
                changed |= operator.pod_unschedulable(
                    nid, UNSCHEDULABLE_REASON, UNSCHEDULABLE_MESSAGE
                )
        return changed

    # ------------------------------------------------------------------ progress

    def _watch_progress(self, launch: PodLaunch) -> None:
        """Follow the pod's progress file from its start (its wait container's); a file left by
        an earlier run of the same node (``argo retry``) is not the pod's."""
        if self.progress_ticks is None or "http" in launch.template:
            return
        path = progress_file(self.store.pod_dir(self.name, launch.node_id))
        path.unlink(missing_ok=True)
        now = time.time()
        patch, read = self.progress_ticks
        self.progress_watches[launch.node_id] = ProgressWatch(path, now + read, now + patch)

    def _monitor_progress(self, operator: WorkflowOperator, now: float) -> bool:
        """One look at each running pod's progress file, as ``monitorProgress`` does: read at
        its file tick (and before reporting), report at its patch tick. True if a node changed."""
        if self.progress_ticks is None:
            return False
        patch, read = self.progress_ticks
        changed = False
        for nid, watch in self.progress_watches.items():
            report = now >= watch.next_report
            if report or now >= watch.next_read:
                watch.next_read = _next_tick(watch.next_read, read, now)
                watch.read()
            if report:
                watch.next_report = _next_tick(watch.next_report, patch, now)
                progress = watch.take()
                changed |= progress is not None and operator.pod_progress(nid, progress)
        return changed

    def _final_progress(self, operator: WorkflowOperator, nid: str) -> None:
        """What the pod's file says when it has ended, reported (Argo reports it only if a
        patch tick falls after the last write: here always, as if one did)."""
        watch = self.progress_watches.pop(nid, None)
        if watch is None:
            return
        watch.read()
        progress = watch.take()
        if progress is not None:
            operator.pod_progress(nid, progress)

    # ------------------------------------------------------------------ pods

    def _start(self, workflow: dict[str, Any], launch: PodLaunch) -> None:
        self._watch_progress(launch)
        thread = threading.Thread(
            target=self._pod_thread,
            args=(workflow, launch),
            name=f"pod-{launch.node_id}",
            daemon=True,
        )
        self.threads[launch.node_id] = thread
        thread.start()

    def _pod_thread(self, workflow: dict[str, Any], launch: PodLaunch) -> None:
        nid = launch.node_id
        if "http" in launch.template:
            self.events.put(("started", nid, None))
            self.events.put(("finished", nid, self._http_outcome(launch)))
            return
        if "data" in launch.template:
            self.events.put(("started", nid, None))
            self.events.put(("finished", nid, self._data_outcome(launch)))
            return
        try:
            sidecars = []
            try:
                if "containerSet" in launch.template:
                    outcome = run_container_set(
                        self.store,
                        workflow,
                        launch,
                        self.runtime,
                        lambda proc: self._on_start(nid, proc),
                        stopped=lambda: nid in self.pending_kills,
                    )
                else:
                    on_start = functools.partial(self._on_start, nid)
                    plan = plan_pod(self.store, workflow, launch)
                    failed = run_init_containers(
                        self.store,
                        workflow,
                        launch,
                        self.runtime,
                        functools.partial(self._on_start, nid, event="initializing"),
                    )
                    if failed is not None:
                        outcome = failed
                    else:
                        sidecars = start_sidecars(self.store, workflow, launch, self.runtime)
                        outcome = run_pod(plan, self.runtime, on_start)
            finally:
                stop_sidecars(sidecars)
        except (PodSetupError, DroverError, OSError) as exc:
            outcome = PodOutcome(
                None, error=str(exc), started_at=time.time(), finished_at=time.time()
            )
        if launch.logs is not None:
            self._archive_logs(launch, launch.logs, outcome)
        with self.lock:
            self.processes.pop(nid, None)
            self.pending_kills.discard(nid)
        self.events.put(("finished", nid, outcome))

    def _http_outcome(self, launch: PodLaunch) -> PodOutcome:
        """Argo runs HTTP templates in its agent, not in a pod: here, a request from this thread."""
        started = time.time()
        http = dict(launch.template["http"])
        if launch.deadline is not None:
            remaining = max(launch.deadline - started, 0.001)
            http["timeoutSeconds"] = min(float(http.get("timeoutSeconds") or remaining), remaining)
        # httpx (and the rich it brings) only for workflows with HTTP steps: every run's
        # runner process starts ~0.09 s sooner without it.
        from engine.backends.local.http_template import execute_http_template

        result = execute_http_template(
            http, resolve_secret=lambda name, key: self.store.lookup_key("Secret", name, key)
        )
        finished = time.time()
        outputs = {"result": result.outputs["result"]} if "result" in result.outputs else {}
        if result.phase == "Error":
            return PodOutcome(
                None, outputs, error=result.message, started_at=started, finished_at=finished
            )
        return PodOutcome(
            0 if result.phase == "Succeeded" else 1,
            outputs,
            message=result.message or None,
            started_at=started,
            finished_at=finished,
        )

    def _archive_logs(self, launch: PodLaunch, archive: LogArchive, outcome: PodOutcome) -> None:
        """``SaveLogs``: each main container's log, as an output artifact after the template's."""
        nid = launch.node_id
        if "containerSet" in launch.template:
            names = [c["name"] for c in launch.template["containerSet"].get("containers") or []]
            logs = {c: self.store.container_log_path(self.name, nid, c) for c in names}
        else:
            logs = {"main": self.store.log_path(self.name, nid)}
        saved = save_logs(archive, logs, self.store.repository_path)
        if saved:
            outcome.outputs["artifacts"] = [*outcome.outputs.get("artifacts", []), *saved]

    def _data_outcome(self, launch: PodLaunch) -> PodOutcome:
        """A data template's pod runs ``argoexec data`` (engine.backends.local.data_template)."""
        started = time.time()
        try:
            result = process_data(launch.template["data"], self.store.repository_path(""))
        except DataTemplateError as error:
            return PodOutcome(
                ARGOEXEC_ERROR,
                {"exitCode": str(ARGOEXEC_ERROR)},
                started_at=started,
                finished_at=time.time(),
                termination_message=str(error),
            )
        outputs = {"result": result, "exitCode": "0"}
        return PodOutcome(0, outputs, started_at=started, finished_at=time.time())

    def _on_start(self, nid: str, proc: subprocess.Popen[bytes], event: str = "started") -> None:
        """A process of the pod started: an init container ("initializing": the pod is still
        Pending) or one of its containers ("started": Running)."""
        with self.lock:
            self.processes.setdefault(nid, []).append(proc)
            kill_now = nid in self.pending_kills
        self.events.put((event, nid, None))
        if kill_now:
            threading.Thread(target=terminate_group, args=(proc,), daemon=True).start()

    def _kill(self, nid: str) -> None:
        launch = self.waiting.pop(nid, None)
        if launch is not None:  # still Pending for room: removed, never started
            self.requests = [r for r in self.requests if r.node_id != nid]
            self.releases.append(nid)
            self.events.put(("finished", nid, _unscheduled(launch)))
            return
        with self.lock:
            # Also kept for a process that starts after this: the pod's first (none yet), or a
            # sandbox set up again after its first attempt failed.
            self.pending_kills.add(nid)
            running = [proc for proc in self.processes.get(nid, []) if proc.poll() is None]
        for proc in running:
            threading.Thread(target=terminate_group, args=(proc,), daemon=True).start()


def _unscheduled(launch: PodLaunch, error: str | None = None) -> PodOutcome:
    """The outcome of a pod that never got onto the node: no container of it ran."""
    now = time.time()
    containers = (launch.template.get("containerSet") or {}).get("containers") or []
    return PodOutcome(
        None,
        error=error,
        started_at=now,
        finished_at=now,
        containers={str(c.get("name", "")): Terminated(None) for c in containers},
        scheduled=False,
    )
