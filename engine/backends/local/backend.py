"""``LocalBackend``: the embedded runner behind :class:`engine.backends.base.Backend`.

A submitted workflow is executed by a detached runner process
(``python -m engine.backends.local.daemon NAME``); every other call reads or writes the
state directory, so it works from any process, after the fact. ``run`` executes in-process.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import secrets
import signal
import string
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from engine.backends.base import LogLine, WorkflowEvent
from engine.backends.local.node_selector import NodeSelector, SelectorError
from engine.backends.local.operator import format_time
from engine.backends.local.retry import memoized_status, retry_workflow
from engine.backends.local.runner import UpdateCallback, WorkflowRunner
from engine.backends.local.runtime import runtime_named
from engine.backends.local.standby import Order, Standby
from engine.backends.local.store import LocalStore, pid_alive
from engine.backends.local.suspend_outputs import (
    is_active_suspend,
    set_refusal,
    unset_output,
)
from engine.backends.local.validation import check_spec_fields, validate_workflow
from engine.backends.local.watch import carries_labels, file_stamp, poll_events
from engine.backends.node_query import pods_named
from engine.errors import BackendError, Conflict, NotFound, SpecError
from engine.home import default_home
from engine.labels import RESUBMITTED_FROM

__all__ = ["LocalBackend"]

_FINAL_PHASES = ("Succeeded", "Failed", "Error")
CHANGE_CHECK_SECONDS = 0.01
"""How often ``wait_for_change`` looks at a workflow's file: a stat, nothing read."""
_NAME_ALPHABET = string.ascii_lowercase + string.digits
_OBJECT_KINDS = ("ConfigMap", "Secret", "WorkflowTemplate", "ClusterWorkflowTemplate")
# Labels Argo's resubmit does not carry over: who created it, and the old run's state.
_LABELS_NOT_RESUBMITTED = frozenset(
    {
        "workflows.argoproj.io/creator",
        "workflows.argoproj.io/creator-email",
        "workflows.argoproj.io/creator-preferred-username",
        "workflows.argoproj.io/phase",
        "workflows.argoproj.io/completed",
        "workflows.argoproj.io/workflow-archiving-status",
    }
)


def _now() -> str:
    """The time as Argo writes it in a workflow (RFC 3339, seconds, UTC)."""
    return format_time(time.time())


def _merge_arguments(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """A workflow's arguments over its WorkflowTemplate's, by name (Argo's ``MergeTo``)."""
    merged: dict[str, Any] = {}
    for kind in ("parameters", "artifacts"):
        given = {item["name"]: item for item in (override or {}).get(kind) or []}
        items = [given.pop(item["name"], item) for item in (base or {}).get(kind) or []]
        items.extend(given.values())
        if items:
            merged[kind] = items
    return merged


def _suspend_nodes_matching(workflow: dict[str, Any], selector: str) -> list[dict[str, Any]]:
    """The running Suspend nodes ``selector`` matches; ``updateSuspendedNode``'s refusals,
    before the request goes to the runner: a selector ``fields.ParseSelector`` rejects, or one
    that matches none."""
    try:
        matcher = NodeSelector.parse(selector)
    except SelectorError as exc:
        raise Conflict(str(exc)) from None
    nodes = (workflow.get("status") or {}).get("nodes") or {}
    matched = [n for n in nodes.values() if is_active_suspend(n) and matcher.matches(n)]
    if not matched:
        raise Conflict(
            "currently, set only targets suspend nodes: no suspend nodes matching "
            f"nodeFieldSelector: {selector}"
        )
    return matched


class LocalBackend:
    """Runs Argo Workflow manifests on this machine, keeping Argo's status shape.

    >>> backend = LocalBackend(Path("/tmp/drover-home"))          # doctest: +SKIP
    >>> workflow = backend.run(yaml.safe_load(open("dag.yaml")))  # doctest: +SKIP
    >>> workflow["status"]["phase"]                               # doctest: +SKIP
    'Succeeded'
    """

    kind = "local"

    def __init__(self, home: Path | None = None, *, runtime: str | None = None) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.store = LocalStore(self.home)
        self.runtime_name = runtime
        # Per thread, the workflow it last read and that file's stamp before the read: a
        # follower waits for changes after what it has seen, not after it started waiting.
        self._last_read = threading.local()
        self._standby: Standby | None = None
        self._standby_lock = threading.Lock()

    # ------------------------------------------------------------------ objects

    def apply(self, obj: dict[str, Any]) -> None:
        """Store a ConfigMap, Secret or (Cluster)WorkflowTemplate for workflows to use."""
        _check_object(obj, "")
        self.store.put_object(obj)

    # ------------------------------------------------------------------ submission

    def _prepare(self, manifest: dict[str, Any]) -> dict[str, Any]:
        workflow = copy.deepcopy(manifest)
        workflow.setdefault("apiVersion", "argoproj.io/v1alpha1")
        workflow.setdefault("kind", "Workflow")
        spec = workflow.get("spec") or {}
        ref = spec.get("workflowTemplateRef")
        if ref and spec.get("templates"):
            # Argo's WorkflowTemplateRefFields (workflow/validate/validate.go).
            raise SpecError(
                "spec.templates",
                "Templates is invalid field in spec if workflow referred WorkflowTemplate "
                "reference",
                "the templates come from the WorkflowTemplate: drop spec.templates",
            )
        if ref:
            check_spec_fields(spec)  # before its arguments are merged with the template's
            kind = "ClusterWorkflowTemplate" if ref.get("clusterScope") else "WorkflowTemplate"
            template = self.store.get_object(kind, ref.get("name", ""))
            if template is None:  # the lister's error (fetchWorkflowSpec, operator.go)
                raise SpecError(
                    "spec.workflowTemplateRef.name",
                    f'{kind.lower()}.argoproj.io "{ref.get("name")}" not found',
                    f"the local runner knows the {kind}s applied to it (`drover templates sync`)",
                )
            merged = copy.deepcopy(template.get("spec") or {})
            own = {k: v for k, v in spec.items() if k != "workflowTemplateRef"}
            arguments = _merge_arguments(merged.get("arguments") or {}, own.pop("arguments", {}))
            merged.update(own)
            if arguments:
                merged["arguments"] = arguments
            workflow["spec"] = merged
        validate_workflow(workflow, self.store.lookup_template)
        meta = workflow.setdefault("metadata", {})
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise SpecError("metadata.name", "either name or generateName is required")
            while True:
                name = prefix + "".join(secrets.choice(_NAME_ALPHABET) for _ in range(5))
                if not self.store.exists(name):
                    break
            meta["name"] = name
        elif self.store.exists(meta["name"]):
            raise Conflict(f"workflow '{meta['name']}' already exists")
        meta.setdefault("namespace", "default")
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        if ref:  # setWfTemplateLabel (operator.go)
            scope = "cluster-workflow-template" if ref.get("clusterScope") else "workflow-template"
            meta.setdefault("labels", {})[f"workflows.argoproj.io/{scope}"] = str(ref.get("name"))
        # As created: no phase (Unknown, "") and no phase label until the runner's first pass
        # marks it Running (markWorkflowRunning).
        workflow["status"] = {"nodes": {}}
        return workflow

    def submit(
        self,
        manifest: dict[str, Any],
        *,
        objects: Sequence[dict[str, Any]] = (),
        wait: bool = False,
        timeout: float | None = None,
    ) -> str:
        """Store ``objects`` (plan ConfigMaps, Secrets), then the workflow, and start a detached
        runner; returns the workflow name. ``wait`` blocks until it completes."""
        workflow = self._prepare(manifest)
        for index, obj in enumerate(objects):
            _check_object(obj, f"objects[{index}].")
        for obj in objects:
            self.store.put_object(obj)
        name = str(workflow["metadata"]["name"])
        self._hold_for_runner(name)
        self.store.create(workflow)
        self._spawn_runner(name)
        if wait:
            self.wait(name, timeout)
        return name

    def run(
        self,
        manifest: dict[str, Any],
        *,
        on_update: UpdateCallback | None = None,
        save_interval: float = 0.05,
    ) -> dict[str, Any]:
        """Execute in this process until the workflow completes; returns the Workflow object."""
        workflow = self._prepare(manifest)
        name = str(workflow["metadata"]["name"])
        self._hold_for_runner(name)
        self.store.create(workflow)
        return self._run_in_process(name, on_update, save_interval)

    def _run_in_process(
        self, name: str, on_update: UpdateCallback | None = None, save_interval: float = 0.05
    ) -> dict[str, Any]:
        pid_path = self.store.pid_path(name)
        pid_path.write_text(str(os.getpid()))
        runtime = runtime_named(self.runtime_name)
        self.store.runtime_path(name).write_text(runtime.name)
        try:
            runner = WorkflowRunner(
                self.store,
                name,
                runtime=runtime,
                on_update=on_update,
                save_interval=save_interval,
            )
            return runner.run()
        finally:
            pid_path.unlink(missing_ok=True)

    def _runtime_for(self, name: str, started_like: str | None = None) -> str:
        """The runtime a workflow runs with: the one it (or the run it repeats) was started
        with, else this backend's choice, else the machine's default."""
        for recorded in (name, started_like):
            path = self.store.runtime_path(recorded) if recorded else None
            if path is not None and path.is_file():
                return path.read_text().strip()
        return runtime_named(self.runtime_name).name

    def keep_runner_ready(self) -> int:
        """Have a runner standing by for the next workflow this backend starts (for a
        long-lived submitter: see :mod:`engine.backends.local.standby`); its pid."""
        with self._standby_lock:
            if self._standby is None or not self._standby.alive():
                self.store.root.mkdir(parents=True, exist_ok=True)
                self._standby = Standby(self._runner_env(""), cwd=self.store.root)
            return self._standby.process.pid

    def _runner_env(self, runtime: str) -> dict[str, str]:
        env = dict(os.environ)
        env["DROVER_HOME"] = str(self.home)
        env["DROVER_LOCAL_RUNTIME"] = runtime
        return env

    def _spawn_runner(self, name: str, *, started_like: str | None = None) -> None:
        """Start the detached runner of ``name``, which ``_hold_for_runner`` holds until then:
        the runner standing by, if one is, else a new one."""
        runtime = self._runtime_for(name, started_like)
        self.store.runtime_path(name).write_text(runtime)
        env = self._runner_env(runtime)
        directory = self.store.workflow_dir(name)
        with self._standby_lock:
            standby, self._standby = self._standby, None
        if standby is not None:
            order = Order(name, runtime, directory, directory / "runner.log")
            pid = standby.hand_over(order, env)
            if pid is not None:
                self.store.pid_path(name).write_text(str(pid))
                return
        try:
            with (directory / "runner.log").open("ab") as log:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "engine.backends.local.daemon", name],
                    # ``python -m`` puts its working directory first on sys.path: started in
                    # the caller's, a project's secrets.py or queue.py would replace the
                    # standard library's in the runner.
                    cwd=directory,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError:
            self.store.pid_path(name).unlink(missing_ok=True)  # nobody runs it: readers say so
            raise
        self.store.pid_path(name).write_text(str(proc.pid))

    def _hold_for_runner(self, name: str) -> None:
        """Record this process as the runner of ``name`` until the real one starts.

        Submit, retry and resubmit make a workflow runnable before its runner exists, and a
        reader in between (the service's mirror, ``drover list``) would otherwise find no
        runner and mark it Error, as it does a workflow whose runner died. If this process
        dies before starting the runner, readers find it gone and do just that.
        """
        path = self.store.pid_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.store.ready_path(name).unlink(missing_ok=True)  # never signal this process
        path.write_text(str(os.getpid()))

    # ------------------------------------------------------------------ reading

    def get(self, name: str) -> dict[str, Any]:
        """The Workflow object with its status; a vanished runner marks it Error."""
        self._last_read.stamp = (name, file_stamp(self.store.workflow_dir(name) / "workflow.json"))
        workflow = self.store.load(name)
        status = workflow.get("status") or {}
        if status.get("phase") not in _FINAL_PHASES:
            pid = self.store.runner_pid(name)
            if (pid is None or not pid_alive(pid)) and self.store.load(name)["status"].get(
                "phase"
            ) not in _FINAL_PHASES:
                workflow = self._mark_runner_gone(workflow, pid)
        return workflow

    def _mark_runner_gone(self, workflow: dict[str, Any], pid: int | None) -> dict[str, Any]:
        now = _now()
        status = workflow.setdefault("status", {})
        message = f"the local runner process ({pid}) is gone; state as last persisted"
        for node in (status.get("nodes") or {}).values():
            if node["phase"] in ("Pending", "Running"):
                node["phase"] = "Error"
                node["message"] = "runner process gone"
                node["finishedAt"] = node.get("finishedAt") or now
        status["phase"] = "Error"
        status["message"] = message
        status["finishedAt"] = now
        workflow["metadata"].setdefault("labels", {})["workflows.argoproj.io/phase"] = "Error"
        self.store.save(workflow)
        return workflow

    def list(self, *, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Stored workflows carrying all ``labels`` (every one when None), newest first."""
        workflows = []
        for name in self.store.names():
            with contextlib.suppress(NotFound):  # deleted meanwhile
                workflow = self.get(name)
                if carries_labels(workflow, labels):
                    workflows.append(workflow)
        workflows.sort(key=lambda w: str(w["metadata"].get("creationTimestamp", "")), reverse=True)
        return workflows

    def wait(self, name: str, timeout: float | None = None) -> dict[str, Any]:
        """Block until the workflow completes (or ``timeout`` seconds pass)."""
        deadline = None if timeout is None else time.time() + timeout
        while True:
            workflow = self.get(name)
            if workflow["status"].get("phase") in _FINAL_PHASES:
                return workflow
            if deadline is not None and time.time() >= deadline:
                return workflow
            time.sleep(0.05)

    def wait_for_change(self, name: str, timeout: float, *, at_least: float = 0.0) -> bool:
        """Return once ``workflow.json`` of ``name`` is rewritten (checked every
        ``CHANGE_CHECK_SECONDS``: a stat) and ``at_least`` seconds passed, at the latest after
        ``timeout`` seconds; True when it was. Rewritten since this thread last read it with
        :meth:`get`, if that was its last read: a change while the follower was busy with what
        it read counts."""
        path = self.store.workflow_dir(name) / "workflow.json"
        last_name, seen = getattr(self._last_read, "stamp", (None, None))
        if last_name != name:
            seen = file_stamp(path)
        started = time.monotonic()
        time.sleep(min(at_least, timeout))
        while file_stamp(path) == seen:
            left = started + timeout - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(CHANGE_CHECK_SECONDS, left))
        return True

    def logs(
        self, name: str, *, node: str | None = None, follow: bool = False
    ) -> Iterator[LogLine]:
        """Lines of the workflow's pods; ``node`` (an id, name, display name or template name)
        keeps those at or below that node (see :func:`~engine.backends.node_query.pods_named`)."""
        offsets: dict[str, int] = {}
        partial: dict[str, str] = {}
        while True:
            workflow = self.get(name)
            nodes = workflow["status"].get("nodes", {})
            if node is None:
                pods = [n for n in nodes.values() if n["type"] == "Pod"]
            else:
                named = pods_named(nodes, node)
                if not named and not follow:
                    what = "no node" if named is None else "no pod at or below node"
                    raise NotFound(f"{what} '{node}' in workflow '{name}'")
                pods = named or []
            pods.sort(key=lambda n: (n.get("startedAt") or "", n["name"]))
            for pod in pods:
                path = self.store.log_path(name, pod["id"])
                if not path.exists():
                    continue
                with path.open("rb") as handle:
                    handle.seek(offsets.get(pod["id"], 0))
                    data = handle.read()
                    offsets[pod["id"]] = handle.tell()
                text = partial.pop(pod["id"], "") + data.decode(errors="replace")
                lines = text.split("\n")
                if lines[-1]:
                    partial[pod["id"]] = lines[-1]
                for line in lines[:-1]:
                    yield LogLine(pod=pod["id"], content=line, display_name=pod["displayName"])
            if not follow or workflow["status"].get("phase") in _FINAL_PHASES:
                for pod_id, rest in partial.items():
                    display = next((p["displayName"] for p in pods if p["id"] == pod_id), None)
                    yield LogLine(pod=pod_id, content=rest, display_name=display)
                return
            time.sleep(0.1)

    # ------------------------------------------------------------------ control

    def _control(
        self, name: str, action: str, node_field_selector: str | None = None, **details: str
    ) -> None:
        workflow = self.get(name)
        if workflow["status"].get("phase") in _FINAL_PHASES:
            raise Conflict(
                f"workflow '{name}' has already completed ({workflow['status']['phase']})"
            )
        if node_field_selector:
            _suspend_nodes_matching(workflow, node_field_selector)
            details["selector"] = node_field_selector
        self.store.add_control(name, action, **details)
        pid = self.store.runner_pid(name)
        ready = self.store.ready_path(name).exists()
        if pid is not None and pid != os.getpid() and ready and pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGUSR1)

    def stop(
        self, name: str, *, message: str | None = None, node_field_selector: str | None = None
    ) -> None:
        """Fail running nodes and start nothing new, but run exit handlers; with
        ``node_field_selector``, fail only the running Suspend nodes it matches, with
        ``message`` (Argo's StopWorkflow). A whole workflow's stop records no message."""
        details = {"message": message} if message and node_field_selector else {}
        self._control(name, "stop", node_field_selector, **details)

    def terminate(self, name: str) -> None:
        """Like stop, without exit handlers."""
        self._control(name, "terminate")

    def suspend(self, name: str) -> None:
        """Start no new nodes until resumed (running ones carry on)."""
        self._control(name, "suspend")

    def resume(self, name: str, *, node_field_selector: str | None = None) -> None:
        """Undo suspend and release indefinite Suspend nodes; with ``node_field_selector``,
        release only the running Suspend nodes it matches (Argo's ResumeWorkflow). Refused,
        changing nothing, while a Suspend node waits for an output it has no default for."""
        if not node_field_selector:
            for node in ((self.get(name).get("status") or {}).get("nodes") or {}).values():
                unset = is_active_suspend(node) and unset_output(node)
                if unset:
                    raise Conflict(unset)
        self._control(name, "resume", node_field_selector)

    def set_node(
        self,
        name: str,
        *,
        node_field_selector: str,
        output_parameters: Mapping[str, str] | None = None,
        phase: str | None = None,
        message: str | None = None,
    ) -> None:
        """``argo node set``: the phase, message or supplied output parameters of the running
        Suspend nodes ``node_field_selector`` matches (Argo's ``updateSuspendedNode``); returns
        once the runner has taken them."""
        outputs = dict(output_parameters or {})
        matched = _suspend_nodes_matching(self.get(name), node_field_selector)
        for node in matched:
            refusal = set_refusal(node, outputs)
            if refusal is not None:
                raise Conflict(refusal)
        details = {"outputs": json.dumps(outputs), "phase": phase or "", "message": message or ""}
        self._control(name, "set", node_field_selector, **details)
        ids = {n["id"] for n in matched}

        def applied(node: dict[str, Any]) -> bool:
            params = {p["name"]: p for p in (node.get("outputs") or {}).get("parameters") or []}
            return (
                (not message or node.get("message") == message)
                and (not phase or node.get("phase") == phase)
                and all(
                    params.get(k, {}).get("value") == v and "valueFrom" not in params.get(k, {})
                    for k, v in outputs.items()
                )
            )

        deadline = time.monotonic() + 30
        while not all(applied(self.get(name)["status"]["nodes"][i]) for i in ids):
            if time.monotonic() > deadline:
                raise BackendError(f"the runner of workflow '{name}' did not take the change")
            time.sleep(0.02)

    def retry(
        self,
        name: str,
        *,
        restart_successful: bool = False,
        node_field_selector: str | None = None,
        wait: bool = False,
    ) -> None:
        """Rerun the failed part of a Failed/Error workflow, keeping what succeeded;
        ``restart_successful`` with ``node_field_selector`` reruns the matching nodes too
        (a selector alone, or the flag alone, changes nothing, as on Argo)."""
        workflow = self.get(name)
        pid = self.store.runner_pid(name)
        if pid is not None and pid_alive(pid) and not self._runner_ends(workflow, pid):
            raise Conflict(f"workflow '{name}' is still being run")
        selector = node_field_selector if restart_successful else None
        retried = retry_workflow(workflow, _now(), node_field_selector=selector)
        self._hold_for_runner(name)
        self.store.save(retried)
        self._spawn_runner(name)
        if wait:
            self.wait(name)

    @staticmethod
    def _runner_ends(workflow: dict[str, Any], pid: int, grace: float = 10.0) -> bool:
        """Whether the runner of a finished workflow exits within ``grace`` seconds: it writes
        the final status, then leaves, so a retry right after the end waits for it."""
        if (workflow.get("status") or {}).get("phase") not in _FINAL_PHASES:
            return False
        deadline = time.monotonic() + grace
        while pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def resubmit(self, name: str, *, memoized: bool = False, wait: bool = False) -> str:
        """A new workflow from the same spec; ``memoized`` reuses the old run's successes.

        Labels and annotations carry over as Argo's resubmit does it (not the creator's nor
        the old run's state), plus ``workflows.argoproj.io/resubmitted-from-workflow: name``.
        """
        old = self.get(name)
        meta = old["metadata"]
        labels = {
            k: v for k, v in (meta.get("labels") or {}).items() if k not in _LABELS_NOT_RESUBMITTED
        }
        labels[RESUBMITTED_FROM] = name
        manifest: dict[str, Any] = {
            "apiVersion": old.get("apiVersion", "argoproj.io/v1alpha1"),
            "kind": "Workflow",
            "metadata": {
                "generateName": meta.get("generateName") or f"{name}-",
                "labels": labels,
            },
            "spec": {k: v for k, v in old["spec"].items() if k not in ("shutdown", "suspend")},
        }
        if meta.get("annotations"):
            manifest["metadata"]["annotations"] = dict(meta["annotations"])
        if memoized and old["status"].get("phase") not in ("Failed", "Error"):
            # FormulateResubmitWorkflow (workflow/util/util.go): nothing to reuse otherwise.
            raise Conflict("workflow must be Failed/Error to resubmit in memoized mode")
        workflow = self._prepare(manifest)
        new_name = str(workflow["metadata"]["name"])
        if memoized:
            workflow["status"] = memoized_status(old, new_name, _now())
        self._hold_for_runner(new_name)
        self.store.create(workflow)
        self._spawn_runner(new_name, started_like=name)
        if wait:
            self.wait(new_name)
        return new_name

    def watch(
        self, *, labels: dict[str, str] | None = None, interval: float = 0.2
    ) -> Iterator[WorkflowEvent]:
        """Changes of stored workflows carrying ``labels``, polled every ``interval`` seconds."""
        return poll_events(
            self.store.root / "workflows", self.get, labels=labels, interval=interval
        )

    def read_artifact(self, name: str, node_id: str, artifact: str) -> bytes | None:
        """An output artifact the runner stored for node ``node_id``, or None."""
        path = self.store.artifact_path(name, node_id, artifact)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    def ui_url(self, name: str) -> str | None:
        """There is no UI for local workflows (``drover workflows get`` shows them)."""
        return None

    def delete(self, name: str) -> None:
        """Terminate if running, then remove every file of the workflow."""
        if not self.store.exists(name):
            raise NotFound(f"workflow '{name}' not found")
        pid = self.store.runner_pid(name)
        if pid is not None and pid != os.getpid() and pid_alive(pid):
            with contextlib.suppress(Conflict):  # completed: its runner is only finishing
                self.terminate(name)
            deadline = time.time() + 10
            while time.time() < deadline and pid_alive(pid):
                time.sleep(0.05)
        self.store.delete(name)


def _check_object(obj: dict[str, Any], where: str) -> None:
    kind = obj.get("kind")
    if kind not in _OBJECT_KINDS:
        raise SpecError(
            f"{where}kind",
            f"cannot apply {kind!r} locally",
            "ConfigMap, Secret or WorkflowTemplate",
        )
    if not (obj.get("metadata") or {}).get("name"):
        raise SpecError(f"{where}metadata.name", "required")
    if kind in ("WorkflowTemplate", "ClusterWorkflowTemplate"):
        check_spec_fields(obj.get("spec"), f"{where}spec")  # as the API server's schema would
