"""The executors the service drives, behind one small Protocol.

The mirror and the run service speak only this; the local runner implements it today and
the Argo backend (a later issue) will too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from engine.backends.local import LocalBackend

__all__ = ["LocalRunBackend", "RunBackend"]


class RunBackend(Protocol):
    name: str

    def submit(self, workflow: dict[str, Any], configmaps: list[dict[str, Any]]) -> str:
        """Create the plan ConfigMaps, then the Workflow; returns the workflow's name."""
        ...

    def get(self, workflow_name: str) -> dict[str, Any]: ...

    def control(self, workflow_name: str, action: str) -> None:
        """``stop``, ``terminate``, ``suspend``, ``resume`` or ``retry``."""
        ...

    def resubmit(self, workflow_name: str) -> str: ...

    def logs(self, workflow_name: str, node: str | None, *, follow: bool) -> Iterator[str]: ...

    def read_artifact(self, workflow_name: str, node_id: str, artifact: str) -> bytes | None:
        """An output artifact of a finished node, or None when there is none (yet)."""
        ...

    def ui_url(self, workflow_name: str) -> str | None: ...


class LocalRunBackend:
    """The embedded runner: detached runner processes, state under ``home/local``."""

    name = "local"

    def __init__(self, home: Path) -> None:
        self.backend = LocalBackend(home)

    def submit(self, workflow: dict[str, Any], configmaps: list[dict[str, Any]]) -> str:
        for configmap in configmaps:
            self.backend.apply(configmap)
        return self.backend.submit(workflow)

    def get(self, workflow_name: str) -> dict[str, Any]:
        return self.backend.get(workflow_name)

    def control(self, workflow_name: str, action: str) -> None:
        actions = {
            "stop": self.backend.stop,
            "terminate": self.backend.terminate,
            "suspend": self.backend.suspend,
            "resume": self.backend.resume,
            "retry": self.backend.retry,
        }
        actions[action](workflow_name)

    def resubmit(self, workflow_name: str) -> str:
        return self.backend.resubmit(workflow_name)

    def logs(self, workflow_name: str, node: str | None, *, follow: bool) -> Iterator[str]:
        return self.backend.logs(workflow_name, node, follow=follow)

    def read_artifact(self, workflow_name: str, node_id: str, artifact: str) -> bytes | None:
        path = self.backend.store.artifact_path(workflow_name, node_id, artifact)
        try:
            return path.read_bytes() if path.is_file() else None
        except OSError:
            return None

    def ui_url(self, workflow_name: str) -> str | None:
        return None
