"""The executors the service drives, chosen by its settings; all behind one Protocol.

The service speaks only :class:`engine.backends.base.Backend`. The local backend is always
there (runs recorded on it stay readable); ``DROVER_BACKEND=argo`` adds the Argo backend and
sends new runs to it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final

from api.settings import Settings
from engine.backends.base import Backend
from engine.backends.local import LocalBackend
from engine.errors import Conflict, SpecError

if TYPE_CHECKING:
    from engine.backends.argo import ArgoSettings

__all__ = ["CONTROL_ACTIONS", "build_backends", "control"]

CONTROL_ACTIONS: Final = ("stop", "terminate", "suspend", "resume", "retry")


def build_backends(settings: Settings) -> dict[str, Backend]:
    """``{kind: backend}`` for the service: local, and Argo when it is the configured one."""
    backends: dict[str, Backend] = {"local": LocalBackend(settings.home)}
    if settings.backend == "argo":
        # The Argo backend (and the Kubernetes client) only when configured: ``drover run``
        # and a local service start without them.
        from engine.backends.argo import ArgoBackend

        backends["argo"] = ArgoBackend(argo_settings(settings), ui_base=settings.argo_ui_url)
    return backends


def argo_settings(settings: Settings) -> ArgoSettings:
    from engine.backends.argo import ArgoSettings

    if not settings.argo_server:
        raise SpecError(
            "DROVER_ARGO_SERVER", "required with DROVER_BACKEND=argo", "e.g. https://argo:2746/"
        )
    return ArgoSettings(
        server=settings.argo_server,
        namespace=settings.namespace,
        token_file=settings.argo_token_file,
        verify_tls=settings.argo_verify_tls,
        ca_bundle=settings.argo_ca_bundle,
        kubeconfig=settings.kubeconfig,
        resync_interval=settings.argo_resync_seconds,
    )


def control(backend: Backend, workflow_name: str, action: str) -> None:
    """Apply one of :data:`CONTROL_ACTIONS` to a workflow, with Argo's meaning.

    A suspended workflow that is stopped or terminated is resumed as well: Argo's controller
    executes no template while a workflow is suspended (workflow/controller/operator.go,
    ``operate`` returns at ``ShouldSuspend``), so the shutdown would fail its nodes and the
    workflow would never end. Resumed after the shutdown is set, it starts nothing new and ends.
    """
    if action in ("stop", "terminate"):
        suspended = (backend.get(workflow_name).get("spec") or {}).get("suspend") is True
        if action == "stop":
            backend.stop(workflow_name)
        else:
            backend.terminate(workflow_name)
        if suspended:
            with contextlib.suppress(Conflict):  # it ended meanwhile
                backend.resume(workflow_name)
    elif action == "suspend":
        backend.suspend(workflow_name)
    elif action == "resume":
        backend.resume(workflow_name)
    elif action == "retry":
        backend.retry(workflow_name)
    else:
        raise Conflict(f"unknown action {action!r}; one of {', '.join(CONTROL_ACTIONS)}")
