"""Persistence under ``$DROVER_HOME/local``: workflows, logs, artifacts, volumes, objects.

Layout (one directory per workflow, so every command works from another process)::

    local/workflows/<name>/workflow.json      the Workflow object with its status (atomic writes)
    local/workflows/<name>/runner.pid         pid of the detached runner while it runs
    local/workflows/<name>/control/*.json     control requests (stop, terminate, suspend, resume)
    local/workflows/<name>/logs/<node id>.log combined stdout/stderr of each pod node
    local/workflows/<name>/artifacts/<node id>/<artifact name>
    local/workflows/<name>/volumes/<claim>/   volumeClaimTemplates
    local/workflows/<name>/pods/<node id>/    per-pod scratch (private /tmp, script, emptyDirs)
    local/pvcs/<claimName>/                   pre-existing persistentVolumeClaims
    local/discarded/<unique>/                 deleted claims, until their files are freed
    local/bytecode-cache/<project>/           the bytecode sandboxed pods share
    local/objects/<Kind>/<name>.json          ConfigMaps, Secrets, WorkflowTemplates
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from engine.backends.local.memory_claims import MemoryClaims
from engine.errors import NotFound

__all__ = ["LocalStore", "pid_alive"]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, exited and not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _write_atomic(path: Path, text: str) -> None:
    """Write through a temp file of its own in the same folder, then rename over ``path``.

    The temp name is unique per call (not per process): threads of one process writing the same
    document (concurrent submits of the facade) must not rename each other's half-written file.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # as a plain write would leave it (mkstemp makes it 0600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class LocalStore:
    """Files of the local backend; every write of a document is atomic."""

    def __init__(self, home: Path) -> None:
        self.root = Path(home) / "local"
        (self.root / "workflows").mkdir(parents=True, exist_ok=True)
        self.memory = MemoryClaims(self.root)

    # ------------------------------------------------------------------ workflows

    def workflow_dir(self, name: str) -> Path:
        return self.root / "workflows" / name

    def exists(self, name: str) -> bool:
        return (self.workflow_dir(name) / "workflow.json").is_file()

    def create(self, workflow: dict[str, Any]) -> None:
        directory = self.workflow_dir(workflow["metadata"]["name"])
        for sub in ("logs", "artifacts", "volumes", "pods", "control"):
            (directory / sub).mkdir(parents=True, exist_ok=True)
        self.save(workflow)

    def save(self, workflow: dict[str, Any]) -> None:
        path = self.workflow_dir(workflow["metadata"]["name"]) / "workflow.json"
        _write_atomic(path, json.dumps(workflow, separators=(",", ":")))

    def load(self, name: str) -> dict[str, Any]:
        path = self.workflow_dir(name) / "workflow.json"
        for _ in range(5):
            try:
                loaded: dict[str, Any] = json.loads(path.read_text())
                return loaded
            except FileNotFoundError:
                raise NotFound(f"workflow '{name}' not found") from None
            except json.JSONDecodeError:  # pragma: no cover - atomic writes make this rare
                time.sleep(0.01)
        raise NotFound(f"workflow '{name}' is unreadable")

    def names(self) -> list[str]:
        base = self.root / "workflows"
        return sorted(p.name for p in base.iterdir() if (p / "workflow.json").is_file())

    def newest_succeeded(self, label: str, value: str, namespace: str) -> dict[str, Any] | None:
        """The newest workflow (by creation) labelled ``label=value`` in ``namespace`` whose
        phase label says Succeeded: an estimator's baseline (estimator_factory.go)."""
        newest: dict[str, Any] | None = None
        for name in self.names():
            try:
                workflow = self.load(name)
            except (OSError, ValueError, NotFound):
                continue  # deleted or being written meanwhile
            meta = workflow.get("metadata") or {}
            labels = meta.get("labels") or {}
            if (
                labels.get(label) != value
                or labels.get("workflows.argoproj.io/phase") != "Succeeded"
                or meta.get("namespace", "default") != namespace
            ):
                continue
            created = str(meta.get("creationTimestamp", ""))
            if newest is None or created > str(newest["metadata"].get("creationTimestamp", "")):
                newest = workflow
        return newest

    def delete(self, name: str) -> None:
        shutil.rmtree(self.workflow_dir(name), ignore_errors=True)
        self.memory.delete_workflow(name)

    # ------------------------------------------------------------------ runner pid

    def pid_path(self, name: str) -> Path:
        return self.workflow_dir(name) / "runner.pid"

    def runtime_path(self, name: str) -> Path:
        """The runtime the workflow was started with; its retries and resubmits keep it."""
        return self.workflow_dir(name) / "runtime"

    def ready_path(self, name: str) -> Path:
        """Present once the runner process handles signals (before that, one would kill it)."""
        return self.workflow_dir(name) / "runner.ready"

    def runner_pid(self, name: str) -> int | None:
        try:
            return int(self.pid_path(name).read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    # ------------------------------------------------------------------ control requests

    def add_control(self, name: str, action: str, **details: str) -> None:
        """A request for the workflow's runner: ``action`` and what it needs (a node selector,
        a message)."""
        directory = self.workflow_dir(name) / "control"
        directory.mkdir(parents=True, exist_ok=True)
        stamp = f"{time.time_ns()}-{os.getpid()}"
        _write_atomic(directory / f"{stamp}.json", json.dumps({**details, "action": action}))

    def take_controls(self, name: str) -> list[dict[str, str]]:
        directory = self.workflow_dir(name) / "control"
        controls: list[dict[str, str]] = []
        if not directory.is_dir():
            return controls
        for path in sorted(directory.glob("*.json")):
            with contextlib.suppress(OSError, ValueError, KeyError):
                control = json.loads(path.read_text())
                controls.append({str(k): str(v) for k, v in control.items()})
            path.unlink(missing_ok=True)
        return [c for c in controls if "action" in c]

    # ------------------------------------------------------------------ per-node files

    def log_path(self, name: str, node_id: str) -> Path:
        return self.workflow_dir(name) / "logs" / f"{node_id}.log"

    def container_log_path(self, name: str, node_id: str, container: str) -> Path:
        """One container's own log, beside the pod's (a containerSet's containers share that)."""
        return self.workflow_dir(name) / "logs" / node_id / f"{container}.log"

    def artifact_path(self, name: str, node_id: str, artifact: str) -> Path:
        return self.workflow_dir(name) / "artifacts" / node_id / artifact

    def repository_path(self, key: str) -> Path:
        """Where the local artifact repository keeps the artifact stored under ``key``."""
        return self.root / "artifact-repository" / key

    def pod_dir(self, name: str, node_id: str) -> Path:
        return self.workflow_dir(name) / "pods" / node_id

    def claim_dir(self, name: str, claim: str) -> Path:
        return self.workflow_dir(name) / "volumes" / claim

    def make_claim(self, name: str, template: dict[str, Any]) -> Path:
        """The directory of the workflow's claim made from ``template`` (a claim template),
        made on first use: in memory when it fits (:mod:`memory_claims`), else on disk."""
        directory = self.claim_dir(name, template["metadata"]["name"])
        if directory.is_symlink():
            if not directory.exists():
                self.memory.restore(directory)
        elif not directory.exists() and not self.memory.place(directory, name, template):
            directory.mkdir(parents=True, exist_ok=True)
        return directory

    def discard(self, directory: Path) -> None:
        """Make ``directory`` disappear at once; its files are freed by :meth:`free_discarded`
        (as Kubernetes frees a deleted claim's volume after the claim is gone)."""
        trash = self.root / "discarded"
        trash.mkdir(exist_ok=True)
        aside = Path(tempfile.mkdtemp(dir=trash, prefix=f"{directory.name}-"))
        if directory.is_symlink():  # a claim in memory: its link goes aside (a directory can't
            aside.rmdir()  # be renamed over by one)
        directory.rename(aside)

    def free_discarded(self) -> None:
        """Remove what was discarded, here or by runners that died before freeing it."""
        trash = self.root / "discarded"
        with contextlib.suppress(FileNotFoundError):
            for entry in trash.iterdir():
                if entry.is_symlink():  # a claim kept in memory
                    self.memory.free(entry)
                else:
                    shutil.rmtree(entry, ignore_errors=True)
        self.memory.sweep()

    def bytecode_cache_dir(self) -> Path:
        """Python bytecode the pods of every run share (made on first use)."""
        directory = self.root / "bytecode-cache"
        directory.mkdir(exist_ok=True)
        return directory

    def pvc_dir(self, claim: str) -> Path:
        return self.root / "pvcs" / claim

    # ------------------------------------------------------------------ objects

    def put_object(self, obj: dict[str, Any]) -> None:
        kind = str(obj.get("kind", ""))
        name = str((obj.get("metadata") or {}).get("name", ""))
        directory = self.root / "objects" / kind
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(directory / f"{name}.json", json.dumps(obj))

    def get_object(self, kind: str, name: str) -> dict[str, Any] | None:
        path = self.root / "objects" / kind / f"{name}.json"
        try:
            loaded: dict[str, Any] = json.loads(path.read_text())
            return loaded
        except FileNotFoundError:
            return None

    def object_data(self, kind: str, name: str) -> dict[str, bytes] | None:
        """Decoded key → bytes of a ConfigMap or Secret."""
        obj = self.get_object(kind, name)
        if obj is None:
            return None
        data: dict[str, bytes] = {}
        if kind == "Secret":
            for key, value in (obj.get("data") or {}).items():
                data[key] = base64.b64decode(value)
            for key, value in (obj.get("stringData") or {}).items():
                data[key] = str(value).encode()
        else:
            for key, value in (obj.get("data") or {}).items():
                data[key] = str(value).encode()
            for key, value in (obj.get("binaryData") or {}).items():
                data[key] = base64.b64decode(value)
        return data

    def lookup_key(self, kind: str, name: str, key: str) -> str | None:
        data = self.object_data(kind, name)
        if data is None or key not in data:
            return None
        return data[key].decode(errors="replace")

    def save_cache_entry(self, configmap: str, key: str, entry: str) -> None:
        """Write one memoization entry into the cache ConfigMap (created on first use)."""
        obj = self.get_object("ConfigMap", configmap) or {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": configmap,
                "labels": {"workflows.argoproj.io/configmap-type": "Cache"},
            },
        }
        obj.setdefault("data", {})[key] = entry
        self.put_object(obj)

    def lookup_template(self, name: str, template: str, cluster: bool) -> dict[str, Any] | None:
        kind = "ClusterWorkflowTemplate" if cluster else "WorkflowTemplate"
        obj = self.get_object(kind, name)
        if obj is None:
            return None
        for candidate in (obj.get("spec") or {}).get("templates") or []:
            if candidate.get("name") == template:
                found: dict[str, Any] = candidate
                return found
        return None
