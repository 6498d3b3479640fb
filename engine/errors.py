"""Errors raised by Drover's engine.

The tree, so callers can catch at the depth they care about::

    DroverError
    ├── SpecError          a spec (execution, pipeline, workflow) is invalid; names the field path
    ├── DiscoveryError     scenarios of a test project could not be listed
    ├── CompileError       a valid spec cannot be turned into Argo documents
    └── BackendError       an executor (local runner, Argo Server) refused or failed
        ├── NotFound       no such workflow / object
        ├── Conflict       the object exists, or the action does not apply in its current state
        └── Unsupported    the backend cannot run this (e.g. a template kind the local runner lacks)

The CLI maps SpecError to exit code 2 and every other DroverError to exit code 1; the API maps
SpecError to 422, NotFound to 404 and Conflict to 409.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "CompileError",
    "Conflict",
    "DiscoveryError",
    "DroverError",
    "NotFound",
    "SpecError",
    "Unsupported",
]


class DroverError(Exception):
    """Base of every error Drover raises on purpose."""


class SpecError(DroverError):
    """Invalid input. ``path`` is the dotted field path (``flows[0].groups[1].threads``)."""

    def __init__(self, path: str, message: str, hint: str | None = None) -> None:
        self.path = path
        self.message = message
        self.hint = hint
        text = f"{path}: {message}" if path else message
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class DiscoveryError(DroverError):
    """Scenario discovery failed (the runner is missing, the project does not collect, ...)."""


class CompileError(DroverError):
    """A valid spec that cannot be compiled (e.g. it would exceed a hard Argo limit)."""


class BackendError(DroverError):
    """An executor refused or failed an action."""


class NotFound(BackendError):
    """The named workflow or object does not exist."""


class Conflict(BackendError):
    """The object exists already, or the action does not apply in its current state."""


class Unsupported(BackendError):
    """The backend cannot execute what it was given."""
