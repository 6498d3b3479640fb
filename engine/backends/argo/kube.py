"""The Kubernetes objects a workflow needs before it starts (plan ConfigMaps, test-data Secrets).

They are created through the official kubernetes client (in-cluster config, or a kubeconfig)
before the Workflow, then given an ownerReference to it, so Kubernetes garbage-collects them
with the Workflow. Plan ConfigMaps are named by the hash of their content and may be shared by
several runs of the same plan: an existing one with equal data is reused and gains one more
owner (it is collected when the last owning Workflow is gone).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from engine.backends.argo.failures import error_for_status, server_message, urllib3_retry
from engine.backends.argo.settings import ArgoSettings
from engine.errors import BackendError, Conflict, SpecError, Unsupported

__all__ = ["KubeObjects", "api_client", "owner_reference"]

ARGO_API_VERSION = "argoproj.io/v1alpha1"
STRATEGIC_MERGE = "application/strategic-merge-patch+json"


def owner_reference(owner: dict[str, Any], kind: str = "Workflow") -> dict[str, Any]:
    """The ownerReference that ties an object's lifetime to a created Workflow (or
    CronWorkflow, whose spawned workflows it also owns)."""
    meta = owner.get("metadata") or {}
    if not meta.get("name") or not meta.get("uid"):
        raise BackendError(f"the created {kind} has no metadata.name/uid to own its objects")
    return {
        "apiVersion": ARGO_API_VERSION,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
    }


@dataclass(frozen=True)
class _KindCalls:
    create: Callable[..., Any]
    read: Callable[..., Any]
    patch: Callable[..., Any]
    delete: Callable[..., Any]


def _comparable_data(obj: dict[str, Any]) -> dict[str, Any]:
    """What must match for an existing object to be reused (Secrets compared base64-encoded)."""
    data = dict(obj.get("data") or {})
    if obj.get("kind") == "Secret":
        for key, value in (obj.get("stringData") or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
    return {"data": data, "binaryData": dict(obj.get("binaryData") or {})}


def _api_client(settings: ArgoSettings) -> k8s.ApiClient:
    configuration = k8s.Configuration()
    try:
        if settings.kubeconfig is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
        else:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=str(settings.kubeconfig) if settings.kubeconfig else None,
                context=settings.kube_context,
                client_configuration=configuration,
            )
    except (ConfigException, OSError) as error:
        raise SpecError("kubeconfig", f"no usable Kubernetes configuration: {error}") from error
    configuration.retries = urllib3_retry(settings.retry)
    return k8s.ApiClient(configuration)


class KubeObjects:
    """Create, own and delete ConfigMaps and Secrets in the workflow's namespace."""

    def __init__(self, settings: ArgoSettings, api_client: k8s.ApiClient | None = None) -> None:
        self.settings = settings
        self.api_client = api_client or _api_client(settings)
        core = k8s.CoreV1Api(self.api_client)
        self._calls = {
            "ConfigMap": _KindCalls(
                core.create_namespaced_config_map,
                core.read_namespaced_config_map,
                core.patch_namespaced_config_map,
                core.delete_namespaced_config_map,
            ),
            "Secret": _KindCalls(
                core.create_namespaced_secret,
                core.read_namespaced_secret,
                core.patch_namespaced_secret,
                core.delete_namespaced_secret,
            ),
        }

    def close(self) -> None:
        self.api_client.close()  # type: ignore[no-untyped-call]

    def _kind(self, obj: dict[str, Any]) -> _KindCalls:
        kind = obj.get("kind")
        calls = self._calls.get(str(kind))
        if calls is None:
            raise Unsupported(f"cannot create a {kind!r} before a workflow (ConfigMap or Secret)")
        return calls

    @staticmethod
    def _describe(obj: dict[str, Any]) -> str:
        return f"{obj.get('kind')} {obj.get('metadata', {}).get('name')!r}"

    def _call(self, what: str, action: Callable[[], Any]) -> Any:
        server = f"Kubernetes API {self.api_client.configuration.host}"
        try:
            return action()
        except ApiException as error:
            raise error_for_status(
                int(error.status or 0),
                server_message(error.body or error.reason or ""),
                what=what,
                server=server,
            ) from error
        except urllib3.exceptions.HTTPError as error:
            raise BackendError(f"cannot reach {server} to {what}: {error}") from error

    def create(self, obj: dict[str, Any], namespace: str) -> bool:
        """Create ``obj``; True if created, False if an equal one existed already."""
        calls = self._kind(obj)
        name = obj["metadata"]["name"]
        try:
            self._call(f"create {self._describe(obj)}", lambda: calls.create(namespace, obj))
            return True
        except Conflict:
            pass
        existing = self._call(f"read {self._describe(obj)}", lambda: calls.read(name, namespace))
        found = self.api_client.sanitize_for_serialization(existing)  # type: ignore[no-untyped-call]
        if _comparable_data({**found, "kind": obj.get("kind")}) != _comparable_data(obj):
            raise Conflict(f"{self._describe(obj)} exists in {namespace} with different data")
        return False

    def add_owner(self, obj: dict[str, Any], namespace: str, owner: dict[str, Any]) -> None:
        """Add ``owner`` to ``obj``'s ownerReferences (merged by uid: other owners stay)."""
        calls = self._kind(obj)
        patch = {"metadata": {"ownerReferences": [owner]}}
        self._call(
            f"set the owner of {self._describe(obj)}",
            lambda: calls.patch(
                obj["metadata"]["name"], namespace, patch, _content_type=STRATEGIC_MERGE
            ),
        )

    def delete(self, obj: dict[str, Any], namespace: str) -> None:
        calls = self._kind(obj)
        self._call(
            f"delete {self._describe(obj)}",
            lambda: calls.delete(obj["metadata"]["name"], namespace),
        )


def api_client(settings: ArgoSettings) -> k8s.ApiClient:
    """A Kubernetes API client for ``settings`` (in-cluster config, or the kubeconfig)."""
    return _api_client(settings)
