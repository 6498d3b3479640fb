"""Where ``drover run`` finds its local service, and the frames they exchange.

A local service serves one Drover installation, interpreter, home and environment: its
workflows' pods inherit its environment as they would inherit the command's. So its address is
a digest of all of them, and a command whose environment differs (another ``PATH``, another
``DROVER_HOME``, a changed source file of Drover) finds no service at that address and starts
its own, as Gradle does with an incompatible daemon.

Frames are JSON objects, one per line, over a Unix socket in a directory only this user can
enter. The command sends ``{"run": ...}`` then ``{"signal": N}`` for each signal it receives;
the service answers ``accepted`` (a command that gets nothing runs the execution itself), then
``say``, ``update`` and ``finish`` (what the progress view shows), then one of ``done``,
``error`` or ``unavailable`` (a pipeline, or no database: the command runs it itself).
``drover plan`` sends ``{"history": {"project": NAME}}`` instead, and gets ``history``: each
scenario's ``[id, mean, last status]`` from the project's earlier runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "DISABLED_VALUES",
    "IDLE_ENV",
    "SWITCH_ENV",
    "decode",
    "encode",
    "service_address",
    "service_enabled",
    "service_log",
    "service_pid_file",
    "write_service_pid",
]

SWITCH_ENV = "DROVER_LOCAL_SERVICE"
"""``off`` (or 0, false, no): ``drover run`` runs executions in its own process."""
DISABLED_VALUES = frozenset({"0", "off", "false", "no"})
IDLE_ENV = "DROVER_LOCAL_SERVICE_IDLE"
"""Seconds a local service waits for its next run before it exits (600 by default)."""
DEFAULT_IDLE_SECONDS = 600.0

_SHELL_BOOKKEEPING = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
"""Variables a shell sets per command: they differ between two runs of the same setup."""
_SOURCES = ("engine", "api", "migrations")
"""Drover's packages a service imports: a change to any of their files needs a new service."""


def service_enabled() -> bool:
    return os.environ.get(SWITCH_ENV, "").strip().lower() not in DISABLED_VALUES


def service_address(home: Path, environ: Mapping[str, str] | None = None) -> Path:
    """The socket of the service for this home, interpreter, environment (this process's by
    default) and Drover source."""
    digest = hashlib.sha256()
    for part in (str(home.absolute()), sys.executable, sys.version):
        digest.update(part.encode() + b"\0")
    for name, value in sorted((os.environ if environ is None else environ).items()):
        if name not in _SHELL_BOOKKEEPING:
            digest.update(f"{name}={value}".encode(errors="surrogateescape") + b"\0")
    for stamp in _source_stamps():
        digest.update(stamp.encode(errors="surrogateescape") + b"\0")
    # Unix socket paths are limited to ~100 bytes: a short directory, not the home.
    runtime = Path(tempfile.gettempdir()) / f"drover-{os.getuid()}"
    return runtime / f"service-{digest.hexdigest()[:24]}.sock"


def service_log(home: Path) -> Path:
    """Where the service started for ``home`` writes its stdout and stderr."""
    return home / "local" / "service" / "service.log"


def service_pid_file(address: Path) -> Path:
    """The process id of the service listening at ``address``, while it listens."""
    return address.with_suffix(".pid")


def write_service_pid(address: Path, pid: int) -> None:
    """Name ``pid`` as the service of ``address`` in one step: a command polling the file
    while it is written must never read it empty (and take the service for dead)."""
    pid_file = service_pid_file(address)
    partial = pid_file.with_name(f".{pid_file.name}.{os.getpid()}")
    partial.write_text(str(pid))
    os.replace(partial, pid_file)


def _source_stamps() -> list[str]:
    """Path, size and modification time of every Python file of Drover's packages."""
    stamps = []
    for package in _SOURCES:
        spec = importlib.util.find_spec(package)
        for root in (spec.submodule_search_locations or []) if spec else []:
            for directory, subdirectories, files in os.walk(root):
                subdirectories[:] = [d for d in subdirectories if d != "__pycache__"]
                for name in files:
                    if name.endswith(".py"):
                        path = os.path.join(directory, name)
                        stat = os.stat(path)
                        stamps.append(f"{path}:{stat.st_size}:{stat.st_mtime_ns}")
    return sorted(stamps)


def encode(frame: dict[str, Any]) -> bytes:
    return json.dumps(frame, default=str, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    frame = json.loads(line)
    if not isinstance(frame, dict):
        raise ValueError(f"not a frame: {line[:80]!r}")
    return frame
