"""The one seam between Drover and an executor of Argo Workflows.

Both executors take the same compiled documents and report the same Argo-shaped Workflow
objects (``metadata`` + ``spec`` + ``status`` with ``status.nodes``), so everything downstream
(the mirror, the CLI, the API) is written once against this Protocol:

- :class:`engine.backends.local.LocalBackend`: the embedded runner on this machine;

- :class:`engine.backends.argo.ArgoBackend`: an Argo Server reached through Hera and the
  Kubernetes API.

Actions have Argo's meaning: ``stop`` runs exit handlers, ``terminate`` does not; ``retry``
reruns failed nodes of the same workflow; ``resubmit`` creates a new workflow from the spec,
labelled ``workflows.argoproj.io/resubmitted-from-workflow: <old name>``.
Errors are :class:`engine.errors.BackendError` subclasses (``NotFound``, ``Conflict``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "Backend",
    "LogLine",
    "RestoresObjects",
    "SignalsChanges",
    "StoppableWatch",
    "WorkflowEvent",
    "is_newer",
]


@dataclass(frozen=True)
class LogLine:
    """One line a pod printed."""

    pod: str
    """The node id of the pod (``<workflow>-<hash>``), as Argo names pods' nodes."""
    content: str
    time: str | None = None
    """RFC 3339 timestamp when the backend knows it."""
    display_name: str | None = None
    """The node's display name (``worker(0:0)``) when the backend has it at hand."""

    @property
    def label(self) -> str:
        """How to prefix the line for people: the display name, else the pod's node id."""
        return self.display_name or self.pod


@dataclass(frozen=True)
class WorkflowEvent:
    """A change of one workflow, as Argo's watch stream delivers it."""

    type: Literal["ADDED", "MODIFIED", "DELETED"]
    workflow: dict[str, Any]


@runtime_checkable
class Backend(Protocol):
    kind: str
    """``local`` or ``argo``."""

    def submit(self, workflow: dict[str, Any], *, objects: Sequence[dict[str, Any]] = ()) -> str:
        """Create the workflow (after ``objects``, e.g. plan ConfigMaps); return its name."""
        ...

    def get(self, name: str) -> dict[str, Any]:
        """The Workflow object with its current status."""
        ...

    def list(self, *, labels: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Workflows carrying all ``labels``; None is the backend's default selection
        (Argo: Drover's workflows; local: every stored workflow)."""
        ...

    def stop(
        self, name: str, *, message: str | None = None, node_field_selector: str | None = None
    ) -> None:
        """Stop the workflow; with ``node_field_selector``, fail only the running Suspend nodes
        it matches (``argo stop --node-field-selector``)."""

    def terminate(self, name: str) -> None: ...

    def suspend(self, name: str) -> None: ...

    def resume(self, name: str, *, node_field_selector: str | None = None) -> None:
        """Resume the workflow; with ``node_field_selector``, only the running Suspend nodes it
        matches (``argo resume --node-field-selector``)."""

    def retry(self, name: str, *, restart_successful: bool = False) -> None: ...

    def resubmit(self, name: str, *, memoized: bool = False) -> str:
        """Create a new workflow from ``name``'s spec; return the new name."""
        ...

    def delete(self, name: str) -> None: ...

    def logs(
        self, name: str, *, node: str | None = None, follow: bool = False
    ) -> Iterator[LogLine]: ...

    def watch(self, *, labels: dict[str, str] | None = None) -> Iterator[WorkflowEvent]:
        """Workflow changes until the caller stops iterating (reconnects are the backend's job).

        Every workflow that exists when the watch starts arrives first, as ADDED. A watch that
        waits on the network is a :class:`StoppableWatch`, which another thread can end.
        """
        ...

    def read_artifact(self, name: str, node_id: str, artifact: str) -> bytes | None:
        """An output artifact of node ``node_id``, or None when it does not exist (yet)."""
        ...

    def ui_url(self, name: str) -> str | None:
        """Where people look at the workflow (the Argo UI), or None when there is no UI."""
        ...


@runtime_checkable
class RestoresObjects(Protocol):
    """A backend whose workflow's objects (plan ConfigMaps, the run's token Secret) can
    disappear before the workflow runs again, and that can put them back."""

    def restore_objects(self, name: str, objects: Sequence[dict[str, Any]]) -> int:
        """Create those of ``objects`` that are missing, owned by workflow ``name`` (a Secret
        that exists is kept, whatever it holds); returns how many were created."""
        ...


@runtime_checkable
class SignalsChanges(Protocol):
    """A backend that can tell cheaply, without reading it, that a workflow may have changed
    (the local runner rewrites one file per change): a follower waits on this instead of
    re-reading the workflow every poll interval."""

    def wait_for_change(self, name: str, timeout: float, *, at_least: float = 0.0) -> bool:
        """Return soon after workflow ``name`` changes (but not before ``at_least`` seconds),
        at the latest after ``timeout`` seconds; True when it changed. A change since this
        thread last read the workflow counts, so that a follower busy with one change does not
        miss the next."""
        ...


@runtime_checkable
class StoppableWatch(Protocol):
    """A watch (what ``Backend.watch`` returns) that another thread can end at once."""

    def __next__(self) -> WorkflowEvent: ...

    def stop(self) -> None:
        """End the watch from any thread: a read or a pause it is blocked in returns, and the
        iteration ends (StopIteration) instead of reconnecting."""
        ...


def is_newer(candidate: str, current: str | None) -> bool:
    """Whether ``candidate`` is a later resourceVersion than ``current``.

    resourceVersions are opaque to clients, but every etcd-backed apiserver issues increasing
    integers; those are compared as numbers so that a repeated older event is recognised.
    Anything else only counts as newer when it differs.
    """
    if current is None:
        return True
    if candidate.isdigit() and current.isdigit():
        return int(candidate) > int(current)
    return candidate != current
