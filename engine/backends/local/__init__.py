"""The embedded local runner: Argo Workflow manifests executed on this machine.

Node for node like Argo's controller (same node names, ids, types, phases, boundaries and
children in ``status.nodes``), with processes instead of pods. See ``LocalBackend``.
"""

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
