"""Running container/script nodes as local processes: ``sandbox``, ``process``, ``docker``.

Images are ignored: the host's tools run. A pod's filesystem view is described by a mount
table (container path → host directory): a private ``/tmp``, volumes at their
``mountPath``, input artifacts at their ``path``, writable parents for output paths and the
script at ``/argo/staging/script``.

* ``sandbox`` (bubblewrap): the host filesystem read-only, the mount table bind-mounted at
  the container paths, a private pid namespace. Paths mean exactly what they mean in Argo.
* ``process`` (no bubblewrap): a plain subprocess in a per-node directory. No mounts are
  possible, so every container path of the mount table that appears in ``command``,
  ``args``, the script source, ``env`` values or ``workingDir`` is rewritten textually to its
  host directory, and ``TMPDIR`` points at the private tmp through a short link in ``/tmp``
  (Unix socket paths such as Chromium's must stay under 108 bytes, whatever ``DROVER_HOME``
  is). Paths a program computes at run time are not rewritten: use the sandbox for those.
* ``docker``: a hook for a later issue; it refuses with a clear error.

Drover's own programs (``drover-agent``) run from the installation that runs the runner, the
directory of ``sys.executable``, so a virtual environment that is not activated works; the
sandbox binds that installation read-only at its own path, even under the private ``/tmp``.

Every process runs in its own session/process group (killed as a group, so nothing is
orphaned); stdout and stderr go to the node's log file as they arrive.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import posixpath
import re
import selectors
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

from engine.backends.local.durations import go_duration_string, parse_duration
from engine.backends.local.operator import PodLaunch, PodOutcome, Terminated
from engine.backends.local.runtime_choice import runtime_choice
from engine.backends.local.scope import (
    ARTIFACT_REF_PREFIX,
    RAW_REF_PREFIX,
    REPOSITORY_REF_PREFIX,
    repository_key,
)
from engine.backends.local.store import LocalStore
from engine.backends.local.variables import go_quote
from engine.errors import DroverError, Unsupported

__all__ = [
    "Backoff",
    "DockerRuntime",
    "Mount",
    "PodPlan",
    "ProcessRuntime",
    "Runtime",
    "SandboxRuntime",
    "container_set_backoff",
    "default_runtime",
    "plan_pod",
    "progress_file",
    "progress_ticks",
    "run_container_set",
    "run_init_containers",
    "run_pod",
    "runtime_named",
    "start_sidecars",
    "stop_sidecars",
]

_RESULT_LIMIT = 256 * 1024
BYTECODE_CACHE_ENV = "DROVER_BYTECODE_CACHE"
"""Names the bytecode cache in a sandboxed pod (``drover_agent.bytecode_cache`` reads it; the
runner does not import the agent, which need not be importable where it runs)."""
STAGING_DIR = "/argo/staging"
VAR_RUN_ARGO = "/var/run/argo"
"""Argo's ``var-run-argo`` emptyDir, mounted in every container of a pod
(workflow/controller/workflowpod.go ``volumeMountVarArgo``)."""
PROGRESS_FILE = f"{VAR_RUN_ARGO}/progress"
"""Argo's ``common.ArgoProgressPath``: where ``ARGO_PROGRESS_FILE`` points."""
PROGRESS_PATCH_TICK_ENV = "ARGO_PROGRESS_PATCH_TICK_DURATION"
PROGRESS_FILE_TICK_ENV = "ARGO_PROGRESS_FILE_TICK_DURATION"
_VAR_RUN_ARGO_DIR = "var-run-argo"
# Programs of Drover's own installation that compiled pods run by name.
OWN_PROGRAMS = frozenset({"drover", "drover-agent"})


class PodSetupError(Exception):
    """The pod cannot be prepared (missing volume source, bad artifact ...); node Error."""


@dataclass(slots=True)
class Mount:
    host: Path
    target: str
    read_only: bool = False


@dataclass(slots=True)
class PodPlan:
    """Everything needed to start one pod node, in container terms."""

    node_id: str
    argv: list[str]
    env: dict[str, str]
    working_dir: str | None
    mounts: list[Mount]
    pod_dir: Path
    log_path: Path
    outputs: dict[str, Any]
    artifact_dir: Callable[[str], Path]
    script_path: Path | None = None
    bytecode_cache: Path | None = None
    """A writable directory shared by the pods of every run, for the project's Python bytecode
    (see ``drover_agent.bytecode_cache``); the sandbox binds it, as its paths stay the same."""
    extra: dict[str, Any] = field(default_factory=dict)
    container_log: Path | None = None
    """A containerSet container's own log, written beside the pod's."""
    container: str = "main"

    def host_path(self, container_path: str) -> Path:
        """Where a container path lives on the host: the longest mount prefix wins and, of
        mounts at the same target, the later one, as the later bind lies on top (a volume at
        ``/tmp`` over the pod's private ``/tmp``, as a volume over the image's ``/tmp``)."""
        return _mounted(self.mounts, container_path)


def _mounted(mounts: list[Mount], container_path: str) -> Path:
    """``PodPlan.host_path`` over ``mounts``."""
    best: Mount | None = None
    for mount in mounts:
        if (
            container_path == mount.target
            or container_path.startswith(mount.target.rstrip("/") + "/")
        ) and (best is None or len(mount.target) >= len(best.target)):
            best = mount
    if best is None:
        return Path(container_path)
    rest = container_path[len(best.target) :].lstrip("/")
    return best.host / rest if rest else best.host


class Runtime(Protocol):
    name: str

    def command(self, plan: PodPlan) -> tuple[list[str], str, dict[str, str]]:
        """argv, cwd and environment that start the pod."""
        ...

    def reporting_start(self, argv: list[str], fd: int) -> list[str] | None:
        """``argv`` made to write to ``fd`` whether the pod's command started (what failed
        before it did is the runtime's own doing); None where the runtime cannot tell."""
        ...

    def find_command(self, plan: PodPlan) -> str:
        """Where the pod's command is, as the emissary looks it up in the pod (``look_path``);
        raises ``ExecError``."""
        ...


# ---------------------------------------------------------------------------- planning


def _volume_sources(
    store: LocalStore, workflow: dict[str, Any], launch: PodLaunch, pod_dir: Path
) -> dict[str, Path]:
    """Host directories of the pod's volumes: the workflow's (as substituted for this pod,
    ``launch.volumes``), then its template's, and the workflow's claims."""
    spec = workflow["spec"]
    name = workflow["metadata"]["name"]
    sources: dict[str, Path] = {
        c["metadata"]["name"]: store.make_claim(name, c)
        for c in spec.get("volumeClaimTemplates") or []
    }
    claims = set(sources)
    workflow_volumes = spec.get("volumes") if launch.volumes is None else launch.volumes
    for volume in [*(workflow_volumes or []), *(launch.template.get("volumes") or [])]:
        vname = volume["name"]
        directory = pod_dir / "volumes" / vname
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"].get("claimName", "")
            sources[vname] = (
                store.claim_dir(name, claim) if claim in claims else store.pvc_dir(claim)
            )
        elif "emptyDir" in volume:
            sources[vname] = directory
        elif "hostPath" in volume:
            sources[vname] = _host_path_source(vname, volume["hostPath"])
        elif "configMap" in volume or "secret" in volume:
            _materialize(store, volume, directory)
            sources[vname] = directory
        elif "projected" in volume:
            for source in volume["projected"].get("sources") or []:
                _materialize(store, source, directory)
            sources[vname] = directory
        else:
            raise PodSetupError(f"volume '{vname}': this volume source is not supported locally")
    for path in sources.values():
        if not path.exists():
            path.mkdir(parents=True)
    return sources


def _host_path_source(name: str, host_path: dict[str, Any]) -> Path:
    """A hostPath volume, with the kubelet's type checks (kubernetes
    pkg/volume/hostpath/host_path.go, ``checkType``): ``Directory`` and ``File`` must exist;
    ``DirectoryOrCreate`` and an unset type are created when missing."""
    path = Path(host_path["path"])
    kind = host_path.get("type") or ""
    if kind == "Directory" and not path.is_dir():
        raise PodSetupError(
            f"volume '{name}': hostPath type check failed: {path} is not a directory"
        )
    if kind == "File" and not path.is_file():
        raise PodSetupError(f"volume '{name}': hostPath type check failed: {path} is not a file")
    return path


def _materialize(store: LocalStore, source: dict[str, Any], directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if "configMap" in source:
        kind, ref = "ConfigMap", source["configMap"]
        obj_name = ref.get("name", "")
    else:
        kind, ref = "Secret", source["secret"]
        obj_name = ref.get("secretName", ref.get("name", ""))
    data = store.object_data(kind, obj_name)
    if data is None:
        if ref.get("optional"):
            return
        raise PodSetupError(f"{kind} '{obj_name}' not found in the local store (use `apply`)")
    items = ref.get("items")
    pairs = (
        [(i["key"], i.get("path", i["key"])) for i in items] if items else [(k, k) for k in data]
    )
    for key, rel in pairs:
        if key not in data:
            raise PodSetupError(f"{kind} '{obj_name}' has no key '{key}'")
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[key])


def progress_ticks() -> tuple[float, float] | None:
    """How often a pod's self-reported progress is reported and its file read, in seconds:
    ``ARGO_PROGRESS_PATCH_TICK_DURATION`` (1m) and ``ARGO_PROGRESS_FILE_TICK_DURATION`` (3s)
    of the controller's environment, here the runner's (workflow/controller/controller.go).
    None when either is zero: progress is not monitored (workflowpod.go sets no
    ``ARGO_PROGRESS_FILE``). A value that is no duration counts as unset."""
    ticks = []
    for key, default in ((PROGRESS_PATCH_TICK_ENV, 60.0), (PROGRESS_FILE_TICK_ENV, 3.0)):
        try:
            ticks.append(parse_duration(os.environ.get(key) or str(default)))
        except ValueError:
            ticks.append(default)
    patch, read = ticks
    return (patch, read) if patch and read else None


def progress_file(pod_dir: Path) -> Path:
    """Where a pod's ``ARGO_PROGRESS_FILE`` lives on the host."""
    return pod_dir / _VAR_RUN_ARGO_DIR / "progress"


def _env(
    store: LocalStore, container: dict[str, Any], launch: PodLaunch, workflow_name: str
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ARGO_POD_NAME": launch.node_id,
            "ARGO_NODE_ID": launch.node_id,
            "ARGO_WORKFLOW_NAME": workflow_name,
            "ARGO_CONTAINER_NAME": "main",
        }
    )
    ticks = progress_ticks()
    if ticks is not None:  # workflowpod.go: only when progress is monitored
        env.update(
            {
                "ARGO_PROGRESS_FILE": PROGRESS_FILE,
                PROGRESS_PATCH_TICK_ENV: go_duration_string(ticks[0]),
                PROGRESS_FILE_TICK_ENV: go_duration_string(ticks[1]),
            }
        )
    for source in container.get("envFrom") or []:
        kind, ref = (
            ("ConfigMap", source["configMapRef"])
            if "configMapRef" in source
            else ("Secret", source.get("secretRef", {}))
        )
        data = store.object_data(kind, ref.get("name", ""))
        if data is None and not ref.get("optional"):
            raise PodSetupError(f"envFrom: {kind} '{ref.get('name')}' not found")
        for key, raw in (data or {}).items():
            env[source.get("prefix", "") + key] = raw.decode(errors="replace")
    for var in container.get("env") or []:
        if "value" in var:
            env[var["name"]] = str(var["value"])
            continue
        value_from = var.get("valueFrom") or {}
        value: str | None = None
        if "secretKeyRef" in value_from or "configMapKeyRef" in value_from:
            kind = "Secret" if "secretKeyRef" in value_from else "ConfigMap"
            ref = value_from.get("secretKeyRef") or value_from.get("configMapKeyRef") or {}
            value = store.lookup_key(kind, ref.get("name", ""), ref.get("key", ""))
            if value is None and not ref.get("optional"):
                raise PodSetupError(
                    f"env {var['name']}: {kind} '{ref.get('name')}' "
                    f"key '{ref.get('key')}' not found"
                )
        elif "fieldRef" in value_from:
            field_path = value_from["fieldRef"].get("fieldPath", "")
            value = {"metadata.name": launch.node_id, "metadata.namespace": "default"}.get(
                field_path, ""
            )
        if value is not None:
            env[var["name"]] = value
    return env


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    else:
        shutil.copyfile(source, target)


def plan_pod(
    store: LocalStore,
    workflow: dict[str, Any],
    launch: PodLaunch,
    *,
    container_name: str | None = None,
    sidecar: dict[str, Any] | None = None,
) -> PodPlan:
    """Prepare a pod's directories, inputs and mount table.

    ``container_name`` plans one container of a ``containerSet``: the pod's volumes are shared,
    each container gets its own ``/tmp`` (its own filesystem), the pod directory is kept.
    """
    name = workflow["metadata"]["name"]
    template = launch.template
    is_script = "script" in template
    container: dict[str, Any] = template.get("script") or template.get("container") or {}
    tmp_name = "tmp"
    if container_name is not None:
        container_set = template.get("containerSet") or {}
        found = next(c for c in container_set["containers"] if c["name"] == container_name)
        container = {
            **found,
            "volumeMounts": [
                *(found.get("volumeMounts") or []),
                *(container_set.get("volumeMounts") or []),
            ],
        }
        tmp_name = f"tmp-{container_name}"
    if sidecar is not None:
        container, is_script, tmp_name = sidecar, False, f"tmp-sidecar-{sidecar['name']}"
        container_name = str(sidecar["name"])
    pod_dir = store.pod_dir(name, launch.node_id)
    if pod_dir.exists() and container_name is None:
        shutil.rmtree(pod_dir, ignore_errors=True)
    (pod_dir / tmp_name).mkdir(parents=True, exist_ok=True)
    (pod_dir / _VAR_RUN_ARGO_DIR).mkdir(exist_ok=True)
    # /var/run/argo is the pod's, shared by its containers (Argo's var-run-argo emptyDir).
    mounts = [Mount(pod_dir / tmp_name, "/tmp"), Mount(pod_dir / _VAR_RUN_ARGO_DIR, VAR_RUN_ARGO)]
    sources = _volume_sources(store, workflow, launch, pod_dir)
    for volume_mount in container.get("volumeMounts") or []:
        vname = volume_mount["name"]
        if vname not in sources:
            raise PodSetupError(f"volumeMount '{vname}': no such volume")
        host = sources[vname] / volume_mount.get("subPath", "")
        host.mkdir(parents=True, exist_ok=True)
        mounts.append(
            Mount(
                host,
                volume_mount["mountPath"].rstrip("/") or "/",
                bool(volume_mount.get("readOnly")),
            )
        )
    plan = PodPlan(
        node_id=launch.node_id,
        argv=[],
        env=_env(store, container, launch, name),
        working_dir=container.get("workingDir"),
        mounts=mounts,
        pod_dir=pod_dir,
        log_path=store.log_path(name, launch.node_id),
        container_log=(
            store.container_log_path(name, launch.node_id, container_name)
            if container_name is not None and sidecar is None
            else None
        ),
        container=container_name or "main",
        outputs=template.get("outputs") or {},
        artifact_dir=lambda art: store.artifact_path(name, launch.node_id, art),
        bytecode_cache=store.bytecode_cache_dir(),
        extra={"repository": store.repository_path},
    )
    for artifact in (template.get("inputs") or {}).get("artifacts") or []:
        _place_input_artifact(store, name, plan, artifact)
    covered = [m.target for m in plan.mounts]
    for output in [*(plan.outputs.get("parameters") or []), *(plan.outputs.get("artifacts") or [])]:
        path = output.get("path") or (output.get("valueFrom") or {}).get("path")
        if not path:
            continue
        parent = os.path.dirname(str(path).rstrip("/")) or "/"
        if parent == "/" and str(path).rstrip("/") not in covered:
            # A file at the root (``/result.txt``, written relative to the default working
            # directory "/"): bind just that file; the process runtime's cwd is the pod dir.
            host_file = pod_dir / str(path).strip("/")
            host_file.touch()
            plan.mounts.append(Mount(host_file, str(path).rstrip("/")))
            covered.append(str(path).rstrip("/"))
            continue
        if parent != "/" and not _under_any(parent, covered):
            target = _output_mount_point(parent)
            host = pod_dir / "fs" / target.lstrip("/")
            host.mkdir(parents=True, exist_ok=True)
            plan.mounts.append(Mount(host, target))
            covered.append(target)
    working_dir = str(plan.working_dir or "").rstrip("/")
    if working_dir and not os.path.isdir(working_dir) and not _under_any(working_dir, covered):
        # A container runtime creates a working directory the image lacks: an empty one here.
        host = pod_dir / "fs" / working_dir.lstrip("/")
        host.mkdir(parents=True, exist_ok=True)
        plan.mounts.append(Mount(host, working_dir))
    command = list(container.get("command") or [])
    args = [str(a) for a in container.get("args") or []]
    if is_script and container.get("source"):
        staging = pod_dir / "staging"
        staging.mkdir()
        plan.script_path = staging / "script"
        plan.script_path.write_text(str(container.get("source", "")))
        plan.script_path.chmod(0o755)  # StageFiles (executor.go): `sh -c <script>` runs it
        plan.mounts.append(Mount(staging, STAGING_DIR, read_only=True))
        plan.argv = [*(command or ["sh"]), *args, f"{STAGING_DIR}/script"]
    else:
        if not command:
            raise PodSetupError(
                "container has no command: the local runner uses the host's tools and cannot "
                "run an image's entrypoint"
            )
        plan.argv = [*command, *args]
    return plan


_EMPTY_IN_IMAGES: Final = frozenset({"/mnt", "/media", "/srv"})
"""Directories a container image has empty (FHS mount points and site data), whatever the
host keeps in its own."""


def _output_mount_point(parent: str) -> str:
    """Where the outputs under ``parent`` get a writable directory. An image lacks the
    directories of its outputs and its command makes them (Argo's map-reduce example calls
    ``os.mkdir("/mnt/out")``), so those are left for it to make: the mount goes on the nearest
    directory the host has when an image has it empty too (``/mnt``), else on the first one
    the host lacks (``/app`` for ``/app/out``), or on ``parent`` itself when the host has it."""
    if os.path.isdir(parent):
        return parent
    missing = parent
    while os.path.dirname(missing) != "/" and not os.path.isdir(os.path.dirname(missing)):
        missing = os.path.dirname(missing)
    existing = os.path.dirname(missing)
    if existing in _EMPTY_IN_IMAGES or (existing != "/" and _is_empty(existing)):
        return existing
    return missing


def _is_empty(directory: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            return next(entries, None) is None
    except OSError:
        return False


def _under_any(path: str, targets: list[str]) -> bool:
    """Whether ``path`` is one of the mount ``targets`` or inside one."""
    return any(path == t or path.startswith(t.rstrip("/") + "/") for t in targets)


def resolve_own_program(argv: list[str]) -> list[str]:
    """``drover-agent …`` from this installation (beside ``sys.executable``), else from PATH."""
    if argv and argv[0] in OWN_PROGRAMS:
        beside = Path(sys.executable).parent / argv[0]
        if beside.is_file() and os.access(beside, os.X_OK):
            return [str(beside), *argv[1:]]
    return argv


def _installation_candidates() -> set[str]:
    """Directories the running installation lives in: interpreter, environment, packages.

    Pods must see them to run ``drover-agent``; an editable install adds its source trees.
    """
    candidates = {
        sys.prefix,
        sys.exec_prefix,
        sys.base_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        *(p for p in sys.path if p and os.path.isdir(p)),
    }
    for package in ("engine", "drover_agent"):
        found = importlib.util.find_spec(package)
        if found is not None and found.submodule_search_locations:
            candidates.update(os.path.dirname(p) for p in found.submodule_search_locations)
    return {os.path.abspath(p) for p in candidates}


def _outermost(paths: set[str]) -> list[str]:
    """``paths`` without those inside another of them."""
    absolute = sorted(paths, key=len)
    kept: list[str] = []
    for path in absolute:
        if not any(path == k or path.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(path)
    return kept


def _place_input_artifact(
    store: LocalStore, workflow_name: str, plan: PodPlan, artifact: dict[str, Any]
) -> None:
    path = artifact.get("path")
    if not path:
        return
    source: Path | None = None
    if "raw" in artifact:
        source = plan.pod_dir / "inputs" / artifact["name"]
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(str(artifact["raw"].get("data", "")))
    elif str(artifact.get("from", "")).startswith(ARTIFACT_REF_PREFIX):
        owner, _, art_name = str(artifact["from"])[len(ARTIFACT_REF_PREFIX) :].partition("/")
        source = store.artifact_path(workflow_name, owner, art_name)
        if artifact.get("subPath"):
            source = source / artifact["subPath"]
    elif str(artifact.get("from", "")).startswith(RAW_REF_PREFIX):
        source = plan.pod_dir / "inputs" / artifact["name"]
        source.parent.mkdir(parents=True, exist_ok=True)
        source.write_text(json.loads(str(artifact["from"])[len(RAW_REF_PREFIX) :]))
    elif str(artifact.get("from", "")).startswith(REPOSITORY_REF_PREFIX):
        source = store.repository_path(str(artifact["from"])[len(REPOSITORY_REF_PREFIX) :])
    elif repository_key(artifact):
        source = store.repository_path(str(repository_key(artifact)))
    elif "http" in artifact:
        source = _download(store, plan, artifact)
    elif "git" in artifact:
        source = _clone(store, plan, artifact)
    if source is None or not source.exists():
        if artifact.get("optional"):
            return
        raise PodSetupError(f"inputs.artifacts.{artifact['name']}: artifact not found")
    host = plan.host_path(str(path))
    if host == Path(str(path)):
        host = plan.pod_dir / "fs" / str(path).lstrip("/")
        _copy(source, host)
        plan.mounts.append(Mount(host, str(path), read_only=False))
    else:
        _copy(source, host)


def _download(store: LocalStore, plan: PodPlan, artifact: dict[str, Any]) -> Path | None:
    """An ``http`` input artifact, as Argo's HTTP driver loads it (workflow/artifacts/http):
    a GET with its headers and basic auth; 404 is "not found" (an optional artifact is then
    left out); a gzipped tarball is unpacked unless ``archive`` says otherwise
    (``unarchiveArtifact``, executor.go). None when not found."""
    import httpx  # only for workflows with HTTP artifacts

    spec = artifact["http"]
    headers = [(str(h["name"]), str(h.get("value", ""))) for h in spec.get("headers") or []]
    basic = (spec.get("auth") or {}).get("basicAuth") or {}
    auth = None
    if basic:
        found = []
        for key in ("usernameSecret", "passwordSecret"):
            ref = basic.get(key) or {}
            value = store.lookup_key("Secret", ref.get("name", ""), ref.get("key", ""))
            if value is None:
                raise PodSetupError(
                    f"inputs.artifacts.{artifact['name']}.http.auth.basicAuth.{key}: Secret "
                    f"'{ref.get('name')}' key '{ref.get('key')}' not found"
                )
            found.append(value)
        auth = (found[0], found[1])
    url = str(spec.get("url", ""))
    name = str(artifact["name"])
    target: Path = plan.pod_dir / "inputs" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    downloaded = target.with_name(f"{name}.tmp")
    try:
        with httpx.stream("GET", url, headers=headers, auth=auth, timeout=60.0) as response:
            if response.status_code == 404:
                return None
            if not 200 <= response.status_code < 300:
                status = f"{response.status_code} {response.reason_phrase}"
                raise PodSetupError(
                    f"inputs.artifacts.{name}: loading content from {url} failed with reason: "
                    f"{status}"
                )
            with downloaded.open("wb") as file:
                for chunk in response.iter_bytes():
                    file.write(chunk)
    except httpx.HTTPError as exc:
        raise PodSetupError(f"inputs.artifacts.{name}: artifact failed to load: {exc}") from None
    archive = artifact.get("archive") or {}
    if "none" not in archive and ("tar" in archive or _is_gzipped_tarball(downloaded)):
        with tarfile.open(downloaded) as bundle:
            bundle.extractall(target, filter="data")
        downloaded.unlink()
    else:
        downloaded.replace(target)
    return target


def _clone(store: LocalStore, plan: PodPlan, artifact: dict[str, Any]) -> Path:
    """A ``git`` input artifact, cloned as Argo's git driver does (:mod:`git_artifact`) into
    the temporary path the executor loads into, then put in place (``loadArtifact``)."""
    from engine.backends.local.git_artifact import GitArtifactError, load_git_artifact

    name = str(artifact["name"])
    target: Path = plan.pod_dir / "inputs" / name
    loading = target.with_name(f"{name}.tmp")
    loading.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(loading, ignore_errors=True)
    try:
        load_git_artifact(
            artifact["git"], loading, lambda secret, key: store.lookup_key("Secret", secret, key)
        )
    except GitArtifactError as exc:
        raise PodSetupError(f"inputs.artifacts.{name}: artifact failed to load: {exc}") from None
    loading.replace(target)
    return target


def _is_gzipped_tarball(path: Path) -> bool:
    """``isTarball`` (executor.go): a gzip stream whose first tar header reads."""
    try:
        with tarfile.open(path, "r:gz") as bundle:
            return bool(bundle.next())
    except (tarfile.TarError, OSError, EOFError):
        return False


EMISSARY_ERROR = 64
"""argoexec's exit code for an error of its own, not the command's (cmd/argoexec/main.go)."""


class ExecError(Exception):
    """Go's ``exec.Error``: a command that is not to be found."""


def look_path(name: str, search: str, host: Callable[[str], Path]) -> str:
    """Go's ``exec.LookPath`` (os/exec/lp_unix.go), which the emissary runs on the command
    before it runs what it found (``runEmissary``, cmd/argoexec/commands/emissary.go).
    ``search`` is the container's PATH; ``host`` maps a container path (a relative one: from
    the working directory) to the host file holding it. Raises ``ExecError``."""
    error = f"exec: {go_quote(name)}: "
    if "/" in name:
        problem = _find_executable(name, host)
        if problem is not None:
            raise ExecError(error + problem)
        return name
    for directory in search.split(os.pathsep) if search else []:  # filepath.SplitList
        candidate = posixpath.join(directory or ".", name)  # "" is "." in Unix shells
        if _find_executable(candidate, host) is None:
            if not candidate.startswith("/"):  # ErrDot
                raise ExecError(error + "cannot run executable found relative to current directory")
            return candidate
    raise ExecError(error + "executable file not found in $PATH")  # ErrNotFound


def _find_executable(file: str, host: Callable[[str], Path]) -> str | None:
    """Go's ``findExecutable`` (os/exec/lp_unix.go): why ``file`` is no executable file."""
    try:
        mode = host(file).stat().st_mode
    except OSError as exc:
        said = os.strerror(exc.errno) if exc.errno else str(exc)
        return f"stat {file}: {said[:1].lower()}{said[1:]}"  # Go's errno texts are lower case
    if stat.S_ISDIR(mode):
        return "is a directory"
    return None if os.access(host(file), os.X_OK) else "permission denied"


def _find_command(plan: PodPlan, host: Callable[[str], Path]) -> str:
    """``look_path`` of the pod's command; Drover's own programs come from the installation."""
    name = plan.argv[0]
    if resolve_own_program([name]) != [name]:
        return name
    return look_path(name, plan.env.get("PATH", ""), host)


# ---------------------------------------------------------------------------- runtimes


class SandboxRuntime:
    """bubblewrap: read-only host, private /tmp and pid namespace, Argo paths as-is."""

    name = "sandbox"

    def __init__(self, bwrap: str = "bwrap") -> None:
        self.bwrap = bwrap

    @staticmethod
    def _host_root_ops() -> list[str]:
        # Listed for each pod: the runner lives as long as the local service, and a directory
        # removed from / since would fail every later pod's bind.
        ops: list[str] = []
        for entry in sorted(os.listdir("/")):
            path = f"/{entry}"
            if entry in ("proc", "dev", "tmp"):
                continue
            if os.path.islink(path):
                ops += ["--symlink", os.readlink(path), path]
            else:
                ops += ["--ro-bind", path, path]
        return ops

    @staticmethod
    def _shadow(directory: str) -> list[str]:
        """Replace a read-only host dir by a tmpfs holding read-only binds of its entries."""
        ops = ["--tmpfs", directory]
        for entry in sorted(os.listdir(directory)):
            path = os.path.join(directory, entry)
            if os.path.islink(path):
                ops += ["--symlink", os.readlink(path), path]
            else:
                ops += ["--ro-bind", path, path]
        return ops

    @staticmethod
    def _hidden_installation(plan: PodPlan) -> list[Mount]:
        """Read-only binds of the installation's directories that a pod mount would hide."""
        targets = {m.target for m in plan.mounts}
        # Filtered before nested paths are dropped: with the working directory /tmp on
        # sys.path (``python -m`` run there), a venv in /tmp would otherwise go with it.
        hidden = {
            path
            for path in _installation_candidates()
            if path not in targets and any(path.startswith(t.rstrip("/") + "/") for t in targets)
        }
        return [Mount(Path(path), path, read_only=True) for path in _outermost(hidden)]

    @staticmethod
    def _mounts(plan: PodPlan) -> list[Mount]:
        """The pod's mounts where the sandbox makes them: through the host's links."""
        targets = [m.target for m in plan.mounts]
        return [
            Mount(m.host, _through_host_links(m.target, targets), m.read_only) for m in plan.mounts
        ]

    def _binds(self, plan: PodPlan) -> list[Mount]:
        """What the sandbox binds over the read-only host, later ones on top."""
        binds = [*self._mounts(plan), *self._hidden_installation(plan)]
        if plan.bytecode_cache is not None:
            binds.append(Mount(plan.bytecode_cache, str(plan.bytecode_cache)))
        return binds

    def find_command(self, plan: PodPlan) -> str:
        binds = self._binds(plan)
        cwd = plan.working_dir or "/"
        return _find_command(plan, lambda path: _mounted(binds, posixpath.join(cwd, path)))

    def command(self, plan: PodPlan) -> tuple[list[str], str, dict[str, str]]:
        ops = [
            self.bwrap,
            "--die-with-parent",
            "--unshare-pid",
            "--unshare-ipc",
            *self._host_root_ops(),
        ]
        mounts = self._mounts(plan)
        shadows: list[str] = []
        for mount in mounts:
            missing = mount.target
            while missing != "/" and not os.path.lexists(os.path.dirname(missing)):
                missing = os.path.dirname(missing)
            parent = os.path.dirname(missing)
            bound_elsewhere = any(
                parent == m.target or parent.startswith(m.target.rstrip("/") + "/") for m in mounts
            )
            needs_shadow = parent not in ("/", "/tmp") and not bound_elsewhere
            if needs_shadow and not os.path.lexists(missing) and parent not in shadows:
                shadows.append(parent)
        for directory in sorted(shadows, key=lambda d: d.count("/")):
            ops += self._shadow(directory)
        ops += ["--proc", "/proc", "--dev", "/dev"]
        binds = self._binds(plan)
        env = dict(plan.env)
        if plan.bytecode_cache is not None:
            env[BYTECODE_CACHE_ENV] = str(plan.bytecode_cache)
        # A stable sort: of binds at the same target the later lies on top (``host_path``).
        for mount in sorted(binds, key=lambda m: m.target.rstrip("/").count("/")):
            ops += ["--ro-bind" if mount.read_only else "--bind", str(mount.host), mount.target]
        argv = resolve_own_program(plan.argv)
        ops += ["--remount-ro", "/", "--chdir", plan.working_dir or "/", "--", *argv]
        env["TMPDIR"] = "/tmp"
        return ops, str(plan.pod_dir), env

    def reporting_start(self, argv: list[str], fd: int) -> list[str] | None:
        # bubblewrap writes {"exit-code": N} there only once the command was executed
        # (bubblewrap.c, report_child_exit_status: not when setting up the sandbox failed),
        # since 0.3.2; an older one would take every exit for a failed set-up.
        if _bwrap_version(argv[0]) < (0, 3, 2):
            return None
        return [argv[0], "--json-status-fd", str(fd), *argv[1:]]


def _through_host_links(target: str, targets: list[str]) -> str:
    """Where a mount target is once the host's links on its way are followed: ``/var/run/argo``
    is ``/run/argo`` where ``/var/run`` links to ``/run``. bubblewrap cannot make a mount point
    through such a link, and in the sandbox the same link leads there. A target inside another
    mount (the pod's ``/tmp``) stays: the host's links are not on its way."""
    parent = os.path.dirname(target.rstrip("/"))
    if not parent or _under_any(parent, [t for t in targets if t != target]):
        return target
    return os.path.join(os.path.realpath(parent), os.path.basename(target.rstrip("/")))


@functools.cache
def _bwrap_version(bwrap: str) -> tuple[int, ...]:
    """``bwrap --version`` ("bubblewrap 0.8.0") as numbers; (0,) when it says nothing such."""
    try:
        said = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return (0,)
    found = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", said)
    return tuple(int(part or 0) for part in found.groups()) if found else (0,)


class ProcessRuntime:
    """A plain subprocess; container paths in the command text are rewritten to host dirs."""

    name = "process"

    def reporting_start(self, argv: list[str], fd: int) -> list[str] | None:
        return None  # nothing stands before the command: failing to start it is an OSError

    def _rewrite(self, text: str, plan: PodPlan) -> str:
        """Replace container paths by host dirs in one pass (host paths are never re-mapped)."""
        targets = sorted({m.target for m in plan.mounts}, key=len, reverse=True)
        if not targets:
            return text
        alternation = "|".join(re.escape(t) for t in targets)
        pattern = r"(?<![\w.\-/])(" + alternation + r")(?=/|$|[^\w.\-])([^\s'\"]*)"

        def to_host(match: re.Match[str]) -> str:
            target, rest = match.group(1), match.group(2)
            mapped = f"{plan.host_path(target)}{rest}"
            # A path that exists on the host and not in the pod (``/tmp/venv/bin/python``,
            # the runner's own interpreter) names the host's file: the pod could not have it.
            if rest and os.path.exists(target + rest) and not os.path.exists(mapped):
                return match.group(0)
            return mapped

        return re.sub(pattern, to_host, text)

    @staticmethod
    def _cwd(plan: PodPlan) -> str:
        cwd = str(plan.host_path(plan.working_dir)) if plan.working_dir else str(plan.pod_dir)
        return cwd if os.path.isdir(cwd) else str(plan.pod_dir)

    def find_command(self, plan: PodPlan) -> str:
        cwd = self._cwd(plan)
        return _find_command(plan, lambda path: Path(cwd, self._rewrite(path, plan)))

    def command(self, plan: PodPlan) -> tuple[list[str], str, dict[str, str]]:
        argv = resolve_own_program([self._rewrite(a, plan) for a in plan.argv])
        if plan.script_path is not None:
            plan.script_path.write_text(self._rewrite(plan.script_path.read_text(), plan))
        # What the runner's environment passes on names host paths; what the pod sets (its
        # env, ARGO_PROGRESS_FILE) names container paths.
        env = {
            k: v if os.environ.get(k) == v else self._rewrite(v, plan) for k, v in plan.env.items()
        }
        env["TMPDIR"] = str(_short_tmp_link(plan))
        return argv, self._cwd(plan), env


_TMP_LINK = re.compile(r"drover-[0-9a-f]{12}")
_swept: list[bool] = []


def sweep_tmp_links(tmp: Path = Path("/tmp")) -> int:
    """Remove ``drover-<hash>`` links whose pod tmp is gone (their runner was killed before it
    could remove them); links of live pods point at existing folders and stay. Returns how
    many went."""
    removed = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(tmp):
            if _TMP_LINK.fullmatch(entry.name) and entry.is_symlink() and not os.path.exists(entry):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed += 1
    return removed


def _short_tmp_link(plan: PodPlan) -> Path:
    """A link ``/tmp/drover-<hash>`` to the pod's private tmp, removed when the pod ends."""
    private = plan.host_path("/tmp")
    digest = hashlib.sha1(str(private).encode()).hexdigest()[:12]
    link = Path("/tmp") / f"drover-{digest}"
    if not Path("/tmp").is_dir():
        return private
    if not _swept:  # once per runner process
        _swept.append(True)
        sweep_tmp_links()
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(private, target_is_directory=True)
    plan.extra["tmp_link"] = link
    return link


def _remove_tmp_link(plan: PodPlan) -> None:
    """The container of ``plan`` has ended: its ``/tmp/drover-<hash>`` link goes."""
    link = plan.extra.pop("tmp_link", None)
    if isinstance(link, Path):
        link.unlink(missing_ok=True)


class DockerRuntime:
    """Placeholder for running pods in containers (a later issue)."""

    name = "docker"

    def reporting_start(self, argv: list[str], fd: int) -> list[str] | None:
        return None

    def find_command(self, plan: PodPlan) -> str:
        return plan.argv[0]

    def command(self, plan: PodPlan) -> tuple[list[str], str, dict[str, str]]:
        raise Unsupported("the docker runtime of the local runner is not yet supported")


def runtime_named(name: str | None) -> Runtime:
    """``sandbox``, ``process`` or ``docker``; None picks this machine's (see
    :func:`~engine.backends.local.runtime_choice.runtime_choice`)."""
    chosen = runtime_choice(name)
    if chosen == "sandbox":
        return SandboxRuntime(shutil.which("bwrap") or "bwrap")
    if chosen == "docker":
        return DockerRuntime()
    return ProcessRuntime()


def default_runtime() -> Runtime:
    """The sandbox when bubblewrap is installed, else plain processes.

    ``DROVER_LOCAL_RUNTIME`` (sandbox, process, docker) overrides the choice.
    """
    return runtime_named(None)


# ---------------------------------------------------------------------------- running


SANDBOX_STARTS = 3
"""Times a pod's sandbox is set up before its failure to set up is the pod's. Setting one up can
fail for a moment: bubblewrap binds the host's directories with their mounts and remounts each
read-only, and a mount that goes meanwhile (Docker's overlay mounts come and go while it builds)
fails the remount. The kubelet, too, starts a container again that could not be created
(pkg/kubelet/kuberuntime/kuberuntime_manager.go, SyncPod: the failed start is a
CreateContainerError in the sync result, and the pod worker syncs the pod again)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """The emissary's ``wait.Backoff`` for a command (``Template.GetRetryStrategy``): ``steps``
    attempts in all, ``duration`` seconds apart."""

    steps: int = 1
    duration: float = 0.0


def _never() -> bool:
    return False


def run_pod(
    plan: PodPlan,
    runtime: Runtime,
    on_start: Callable[[subprocess.Popen[bytes]], None],
    *,
    backoff: Backoff = Backoff(),
    stopped: Callable[[], bool] = _never,
) -> PodOutcome:
    """Start the pod, stream its output to the log, wait, then collect outputs. The command is
    looked up first, as the emissary does (``runEmissary``): what it found runs; one that is
    not to be found never starts, the emissary fails with its error and exit code 64. Then it
    runs up to ``backoff.steps`` times until it succeeds (``retry.OnError``, every failure
    retried) or the pod is ``stopped``; no attempt at all leaves nothing failed."""
    started = time.time()
    plan.log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        plan.argv[0] = runtime.find_command(plan)
    except ExecError as exc:
        message = emissary_error(plan, f"failed to find name in PATH: {exc}")
        return _ended(plan, EMISSARY_ERROR, b"", message, started)
    plan.argv = _debug_paused(plan)
    argv, cwd, env = runtime.command(plan)
    ran = _Ran(0, b"", False)
    stdout = b""
    try:
        for attempt in range(backoff.steps):
            if attempt and _paused(backoff.duration, stopped):
                break
            ran = _start(argv, cwd, env, runtime, plan, on_start)
            stdout += ran.stdout  # the executor appends each attempt's to the container's
            if ran.exit_code == 0 or stopped():
                break
    except OSError as exc:
        return PodOutcome(
            None,
            error=f"failed to start {argv[0]}: {exc.strerror}",
            started_at=started,
            finished_at=time.time(),
        )
    finally:
        _remove_tmp_link(plan)
    return _ended(plan, ran.exit_code, stdout[:_RESULT_LIMIT], "", started)


def _debug_paused(plan: PodPlan) -> list[str]:
    """The command, held as the emissary holds it for debugging (cmd/argoexec/commands/
    emissary.go): with ``ARGO_DEBUG_PAUSE_BEFORE=true`` it starts once
    ``/var/run/argo/ctr/<container>/before`` exists, with ``ARGO_DEBUG_PAUSE_AFTER=true`` the
    container ends (with the command's exit code) once ``.../after`` does."""
    held = {w: plan.env.get(f"ARGO_DEBUG_PAUSE_{w.upper()}") == "true" for w in ("before", "after")}
    if not any(held.values()):
        return plan.argv

    def wait(when: str) -> str:
        return f'while [ ! -e "$marker/{when}" ]; do sleep 0.1; done' if held[when] else ":"

    script = f'marker=$1; shift; {wait("before")}; "$@"; code=$?; {wait("after")}; exit $code'
    marker = f"{VAR_RUN_ARGO}/ctr/{plan.container}"
    return ["/bin/sh", "-c", script, "sh", marker, *plan.argv]


def _paused(seconds: float, stopped: Callable[[], bool]) -> bool:
    """Wait ``seconds`` unless the pod is stopped meanwhile; whether it was."""
    deadline = time.time() + seconds
    while time.time() < deadline and not stopped():
        time.sleep(min(0.05, max(deadline - time.time(), 0)))
    return stopped()


def _ended(
    plan: PodPlan, exit_code: int, stdout: bytes, termination: str, started: float
) -> PodOutcome:
    """A container's end, its outputs collected."""
    finished = time.time()
    try:
        outputs = collect_outputs(plan, exit_code, stdout.decode(errors="replace"))
    except PodSetupError as exc:
        if exit_code == 0:
            return PodOutcome(0, {"exitCode": "0"}, str(exc), started, finished)
        outputs = {"exitCode": str(exit_code)}
    return PodOutcome(exit_code, outputs, None, started, finished, termination_message=termination)


def emissary_error(plan: PodPlan, message: str) -> str:
    """An error of argoexec's own, logged as it ends with it (cobra's "Error: ...", then
    cmd/argoexec/main.go's println); returned, as main.go writes it to the termination log."""
    with _pod_log(plan) as log:
        log.write(f"Error: {message}\n{message}\n".encode())
    return message


class _Tee:
    """The pod's log and, for a containerSet's container, the container's own."""

    def __init__(self, *files: BinaryIO) -> None:
        self.files = files

    def write(self, data: bytes) -> None:
        for file in self.files:
            file.write(data)

    def flush(self) -> None:
        for file in self.files:
            file.flush()


@contextlib.contextmanager
def _pod_log(plan: PodPlan) -> Iterator[_Tee]:
    """Append to the pod's log (and the container's own, if it keeps one)."""
    with contextlib.ExitStack() as stack:
        files = [stack.enter_context(plan.log_path.open("ab"))]
        if plan.container_log is not None:
            plan.container_log.parent.mkdir(parents=True, exist_ok=True)
            files.append(stack.enter_context(plan.container_log.open("ab")))
        yield _Tee(*files)


def _start(
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    runtime: Runtime,
    plan: PodPlan,
    on_start: Callable[[subprocess.Popen[bytes]], None],
) -> _Ran:
    """Run the command once, its sandbox set up again when setting it up failed."""
    for attempt in range(1, SANDBOX_STARTS):
        with _pod_log(plan) as log:
            ran = _run_command(argv, cwd, env, runtime, log, on_start)
            if not ran.setup_failed:
                return ran
            log.write(
                f"drover: setting up the pod's sandbox failed (attempt {attempt} of "
                f"{SANDBOX_STARTS}); setting it up again\n".encode()
            )
        time.sleep(0.1 * attempt)
    with _pod_log(plan) as log:
        return _run_command(argv, cwd, env, runtime, log, on_start)


@dataclass
class _Ran:
    exit_code: int
    stdout: bytes
    """Its first ``_RESULT_LIMIT`` bytes or so: what outputs are read from."""
    setup_failed: bool
    """The runtime failed before the command ran, and not at executing it."""


_ERROR_HEAD = 256
"""How much of a pod's first standard error is kept, to tell a command that did not execute (a
missing interpreter) from a failed sandbox set-up."""


def _run_command(
    argv: list[str],
    cwd: str,
    env: dict[str, str],
    runtime: Runtime,
    log: _Tee,
    on_start: Callable[[subprocess.Popen[bytes]], None],
) -> _Ran:
    """Run the pod's command once, its stdout and stderr appended to ``log`` as they come."""
    status_read, status_write = os.pipe()
    reporting = runtime.reporting_start(argv, status_write)
    try:
        proc = subprocess.Popen(
            reporting or argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            pass_fds=(status_write,) if reporting else (),
        )
    except OSError:
        os.close(status_read)
        raise
    finally:
        os.close(status_write)
    on_start(proc)
    assert proc.stdout is not None and proc.stderr is not None
    stdout_chunks: list[bytes] = []
    stdout_size = 0
    first_error = b""
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, "out")
        selector.register(proc.stderr, selectors.EVENT_READ, "err")
        while selector.get_map():
            for key, _ in selector.select(timeout=0.5):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                log.write(chunk)
                log.flush()
                if key.data == "out" and stdout_size < _RESULT_LIMIT:
                    stdout_chunks.append(chunk)
                    stdout_size += len(chunk)
                elif key.data == "err" and len(first_error) < _ERROR_HEAD:
                    # bubblewrap writes "bwrap: ", then the message, in separate writes.
                    first_error += chunk[: _ERROR_HEAD - len(first_error)]
            if proc.poll() is not None and selector.get_map():
                # The main process is gone; do not wait on pipes held by leftovers.
                _kill_group(proc.pid, signal.SIGKILL)
    exit_code = proc.wait()
    if exit_code < 0:  # killed by a signal: report it the way a container runtime does
        exit_code = 128 - exit_code
    proc.stdout.close()
    proc.stderr.close()
    _kill_group(proc.pid, signal.SIGKILL)
    with os.fdopen(status_read, "rb") as status:
        os.set_blocking(status.fileno(), False)  # its writer is gone with the runtime
        reported = status.read() or b""
    setup_failed = (
        reporting is not None
        and exit_code == 1
        and b'"exit-code"' not in reported
        and not first_error.startswith(b"bwrap: execvp")  # the command found did not execute
    )
    return _Ran(exit_code, b"".join(stdout_chunks), setup_failed)


def _dependency_order(containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ordered: list[dict[str, Any]] = []
    done: set[str] = set()
    pending = list(containers)
    while pending:
        ready = [c for c in pending if set(c.get("dependencies") or []) <= done]
        if not ready:
            raise PodSetupError("containerSet: the containers' dependencies form a cycle")
        for container in ready:
            ordered.append(container)
            done.add(container["name"])
            pending.remove(container)
    return ordered


def container_set_backoff(container_set: dict[str, Any]) -> Backoff:
    """``ContainerSetTemplate.GetRetryStrategy`` (pkg/apis/workflow/v1alpha1/
    container_set_template_types.go): ``retries`` attempts in all (``wait.Backoff``'s Steps;
    ``IntOrString.IntValue``, a string that is no integer is 0), one without a retryStrategy,
    ``duration`` apart. Raises ValueError for a duration that is none."""
    strategy = container_set.get("retryStrategy") or {}
    retries = strategy.get("retries")
    if retries is None:
        return Backoff()
    text = str(retries).strip() if isinstance(retries, str) else str(int(retries))
    steps = int(text) if re.fullmatch(r"[+-]?\d+", text) else 0
    duration = str(strategy.get("duration") or "")
    return Backoff(steps, parse_duration(duration) if duration else 0.0)


def run_container_set(
    store: LocalStore,
    workflow: dict[str, Any],
    launch: PodLaunch,
    runtime: Runtime,
    on_start: Callable[[subprocess.Popen[bytes]], None],
    stopped: Callable[[], bool] = _never,
) -> PodOutcome:
    """A ``containerSet`` pod: its containers all start at once, sharing the pod's volumes; each
    waits for its ``dependencies`` as the emissary does (``runEmissary``): a dependency that
    exited non-zero ends it with the emissary's error, exit code 64, its command never run,
    and passes that exit code on to its own dependents. Each command is retried after the
    containerSet's ``retryStrategy`` (``run_pod``). The pod failed when a container did; its
    outputs are the ``main`` container's: a set without one has no ``exitCode`` (the
    controller's ``getExitCode``) nor ``result`` (the executor reads main's stdout). Argo's
    controller also terminates the containers still running once one failed (``cleanUpPod``),
    seconds later; here they run to their end."""
    container_set = launch.template.get("containerSet") or {}
    containers = _dependency_order(list(container_set.get("containers") or []))
    names = [c["name"] for c in containers]
    main = "main" if "main" in names else None
    try:
        backoff = container_set_backoff(container_set)
    except ValueError as exc:
        raise PodSetupError(f"containerSet.retryStrategy: {exc}") from None
    plans: dict[str, PodPlan] = {}
    for container in containers:
        plan = plan_pod(store, workflow, launch, container_name=container["name"])
        if container["name"] != main:
            plan.outputs = {}
        plans[container["name"]] = plan
    started = time.time()
    outcomes: dict[str, PodOutcome] = {}
    exit_files: dict[str, int] = {}  # what each emissary wrote to /var/run/argo/ctr/<name>/exitcode
    ended = {name: threading.Event() for name in names}

    def gate(container: dict[str, Any]) -> PodOutcome | None:
        """The emissary's wait for the container's dependencies: its end if one failed or the
        pod stopped meanwhile (SIGTERM: "exit with 128 + 15"), None when it may run."""
        name, plan = container["name"], plans[container["name"]]
        for dependency in container.get("dependencies") or []:
            while not ended[dependency].wait(0.05) and not stopped():
                pass
            if stopped():  # signalled with the dependency: SIGTERM reaches every container
                return _ended(plan, 143, b"", "", started)
            code = exit_files[dependency]
            if code != 0:
                exit_files[name] = code
                message = f"dependency {go_quote(dependency)} exited with non-zero code: {code}"
                return _ended(plan, EMISSARY_ERROR, b"", emissary_error(plan, message), started)
        return None

    def run(container: dict[str, Any]) -> None:
        name, plan = container["name"], plans[container["name"]]
        try:
            outcome = gate(container) or run_pod(
                plan, runtime, on_start, backoff=backoff, stopped=stopped
            )
        except (PodSetupError, DroverError, OSError) as exc:
            outcome = PodOutcome(None, error=str(exc), started_at=started, finished_at=time.time())
        outcomes[name] = outcome
        exit_files.setdefault(
            name, EMISSARY_ERROR if outcome.exit_code is None else outcome.exit_code
        )
        ended[name].set()

    threads = [threading.Thread(target=run, args=(c,), daemon=True) for c in containers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ends = {n: Terminated(outcomes[n].exit_code, outcomes[n].termination_message) for n in names}
    failed = [ends[n].exit_code for n in sorted(names) if ends[n].exit_code != 0]
    error = next((outcomes[n].error for n in names if outcomes[n].error), None)
    return PodOutcome(
        failed[0] if failed else 0,
        outcomes[main].outputs if main is not None else {},
        error,
        started,
        max(o.finished_at for o in outcomes.values()),
        containers=ends,
    )


def run_init_containers(
    store: LocalStore,
    workflow: dict[str, Any],
    launch: PodLaunch,
    runtime: Runtime,
    on_start: Callable[[subprocess.Popen[bytes]], None],
) -> PodOutcome | None:
    """A pod's ``initContainers``, one after another before its other containers, as
    Kubernetes runs them; each logs to ``init-<name>.log`` in the pod directory. The first that
    fails ends the pod, its main container never run: Failed with ``inferFailedReason``'s
    "<name>: Error (exit code N)" (operator.go). None when all succeeded. ``on_start`` hears
    of each (the node stays Pending meanwhile, "PodInitializing", as Argo's does)."""
    started = time.time()
    for init in launch.template.get("initContainers") or []:
        plan = plan_pod(store, workflow, launch, sidecar=_mirrored(init, launch.template))
        proc = _start_logged(plan, runtime, f"init-{init['name']}.log")
        on_start(proc)
        exit_code = proc.wait()
        _remove_tmp_link(plan)
        if exit_code != 0:
            message = f"{init['name']}: Error (exit code {exit_code})"
            return PodOutcome(exit_code, {}, None, started, time.time(), message=message)
    return None


def _mirrored(container: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """An init container or sidecar with ``mirrorVolumeMounts``: the main container's mounts
    added to its own."""
    if not container.get("mirrorVolumeMounts"):
        return container
    main = template.get("container") or template.get("script") or {}
    mounts = [*(container.get("volumeMounts") or []), *(main.get("volumeMounts") or [])]
    return {**container, "volumeMounts": mounts}


def start_sidecars(
    store: LocalStore, workflow: dict[str, Any], launch: PodLaunch, runtime: Runtime
) -> list[tuple[PodPlan, subprocess.Popen[bytes]]]:
    """Start a pod's ``sidecars`` (before its main container, as Kubernetes does); each logs to
    ``sidecar-<name>.log`` in the pod directory. ``stop_sidecars`` ends them with the pod."""
    started: list[tuple[PodPlan, subprocess.Popen[bytes]]] = []
    for sidecar in launch.template.get("sidecars") or []:
        plan = plan_pod(store, workflow, launch, sidecar=_mirrored(sidecar, launch.template))
        started.append((plan, _start_logged(plan, runtime, f"sidecar-{sidecar['name']}.log")))
    return started


def _start_logged(plan: PodPlan, runtime: Runtime, log_name: str) -> subprocess.Popen[bytes]:
    """A container beside the main one, its output to ``log_name`` in the pod directory."""
    argv, cwd, env = runtime.command(plan)
    with (plan.pod_dir / log_name).open("ab") as log:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_sidecars(sidecars: list[tuple[PodPlan, subprocess.Popen[bytes]]]) -> None:
    for plan, proc in sidecars:
        terminate_group(proc, grace=1.0)
        proc.wait()
        _remove_tmp_link(plan)


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def terminate_group(proc: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """SIGTERM the pod's process group, SIGKILL whatever is left after ``grace`` seconds."""
    _kill_group(proc.pid, signal.SIGTERM)
    deadline = time.time() + grace
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    _kill_group(proc.pid, signal.SIGKILL)


def _trim_newline(text: str) -> str:
    return text[:-1] if text.endswith("\n") else text


def collect_outputs(plan: PodPlan, exit_code: int, stdout: str) -> dict[str, Any]:
    """Argo's output shape: parameters, artifacts, result and exitCode (a string)."""
    outputs: dict[str, Any] = {}
    params = []
    for param in plan.outputs.get("parameters") or []:
        value_from = param.get("valueFrom") or {}
        entry = {k: v for k, v in param.items() if k != "value"}  # Argo keeps valueFrom
        if "path" in value_from:
            host = plan.host_path(str(value_from["path"]))
            try:
                entry["value"] = _trim_newline(host.read_text(errors="replace"))
            except OSError:
                if "default" in value_from:
                    entry["value"] = str(value_from["default"])
                elif exit_code == 0:
                    raise PodSetupError(
                        f"outputs.parameters.{param['name']}: open {value_from['path']}: "
                        "no such file or directory"
                    ) from None
                else:
                    continue
        elif "value" in param:
            entry["value"] = str(param["value"])
        elif "default" in value_from:
            entry["value"] = str(value_from["default"])
        else:
            continue
        params.append(entry)
    artifacts = []
    for artifact in plan.outputs.get("artifacts") or []:
        path = artifact.get("path")
        if not path:
            continue
        host = plan.host_path(str(path))
        if not host.exists():
            if artifact.get("optional") or exit_code != 0:
                continue
            raise PodSetupError(
                f"outputs.artifacts.{artifact['name']}: {path}: no such file or directory"
            )
        _copy(host, plan.artifact_dir(artifact["name"]))
        key = repository_key(artifact)
        if key is not None and "repository" in plan.extra:
            target = plan.extra["repository"](key)
            if target.is_dir():
                shutil.rmtree(target)
            _copy(host, target)
        artifacts.append(
            {
                k: v
                for k, v in artifact.items()
                if k
                in (
                    "name",
                    "path",
                    "archive",
                    "optional",
                    "globalName",
                    "s3",
                    "gcs",
                    "oss",
                    "azure",
                )
            }
        )
    if params:
        outputs["parameters"] = params
    if artifacts:
        outputs["artifacts"] = artifacts
    # What the executor's CaptureScriptResult keeps, even empty; the operator drops it where
    # nothing refers to it.
    outputs["result"] = _trim_newline(stdout)
    outputs["exitCode"] = str(exit_code)
    return outputs


def host_name() -> str:
    return socket.gethostname()
