"""The embedded local runner: Argo Workflow manifests executed on this machine.

Node for node like Argo's controller (same node names, ids, types, phases, boundaries and
children in ``status.nodes``), with processes instead of pods. See ``LocalBackend``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.backends.local.backend import LocalBackend
    from engine.backends.local.runtime import DockerRuntime, ProcessRuntime, SandboxRuntime
    from engine.backends.local.validation import validate_workflow
    from engine.home import default_home

__all__ = [
    "DockerRuntime",
    "LocalBackend",
    "ProcessRuntime",
    "SandboxRuntime",
    "default_home",
    "validate_workflow",
]

# Imported when first asked for: what only needs a module of the package (the CLI's runtime
# check, the runner's modules among themselves) does not import the whole runner.
_HOMES = {
    "DockerRuntime": "engine.backends.local.runtime",
    "LocalBackend": "engine.backends.local.backend",
    "ProcessRuntime": "engine.backends.local.runtime",
    "SandboxRuntime": "engine.backends.local.runtime",
    "default_home": "engine.home",
    "validate_workflow": "engine.backends.local.validation",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
