"""CronWorkflows and WorkflowTemplates on the Argo Server: create, update, apply, suspend, delete.

Both live under ``api/v1/<collection>/{namespace}`` with the same verbs; only the collection,
the request's body key and (for crons) suspend/resume differ. Objects are plain dicts.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Literal

from engine.backends.argo.server import ArgoServer
from engine.errors import Conflict, SpecError

__all__ = ["ArgoObjects", "CronWorkflows", "WorkflowTemplates", "check_name"]

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def check_name(name: str, field: str = "name") -> str:
    """A Kubernetes object name (DNS-1123 subdomain); it goes into URL paths."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise SpecError(field, f"{name!r} is not a valid Kubernetes object name")
    return name


class ArgoObjects:
    """One namespaced collection of Argo objects behind the Argo Server."""

    collection: str = ""
    body_key: str = ""
    kind: str = ""

    def __init__(self, server: ArgoServer, namespace: str) -> None:
        self.server = server
        self.namespace = namespace

    def _path(self, *parts: str) -> str:
        return "/".join(["api/v1", self.collection, self.namespace, *parts])

    def _document(self, document: dict[str, Any]) -> dict[str, Any]:
        if document.get("kind", self.kind) != self.kind:
            raise SpecError("kind", f"expected {self.kind}, got {document.get('kind')!r}")
        prepared = copy.deepcopy(document)
        prepared.setdefault("apiVersion", "argoproj.io/v1alpha1")
        prepared["kind"] = self.kind
        meta = prepared.setdefault("metadata", {})
        check_name(meta.get("name", ""), "metadata.name")
        if meta.get("namespace", self.namespace) != self.namespace:
            raise SpecError(
                "metadata.namespace",
                f"is {meta['namespace']!r}, the backend uses {self.namespace!r}",
            )
        meta["namespace"] = self.namespace
        return prepared

    def _body(self, document: dict[str, Any]) -> dict[str, Any]:
        return {"namespace": self.namespace, self.body_key: document}

    def create(self, document: dict[str, Any]) -> dict[str, Any]:
        prepared = self._document(document)
        name = prepared["metadata"]["name"]
        created: dict[str, Any] = self.server.request(
            "POST", self._path(), what=f"create {self.kind} {name}", body=self._body(prepared)
        )
        return created

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.server.request(
            "GET", self._path(check_name(name)), what=f"get {self.kind} {name}"
        )
        return found

    def update(self, document: dict[str, Any]) -> dict[str, Any]:
        """Replace the object's spec; the current resourceVersion is fetched unless given."""
        prepared = self._document(document)
        meta = prepared["metadata"]
        if not meta.get("resourceVersion"):
            current = self.get(meta["name"])
            meta["resourceVersion"] = current.get("metadata", {}).get("resourceVersion")
        updated: dict[str, Any] = self.server.request(
            "PUT",
            self._path(meta["name"]),
            what=f"update {self.kind} {meta['name']}",
            body=self._body(prepared),
        )
        return updated

    def apply(self, document: dict[str, Any]) -> Literal["created", "updated"]:
        """Create, or update when it exists (``drover templates sync``, schedule changes)."""
        try:
            self.create(document)
            return "created"
        except Conflict:
            stripped = copy.deepcopy(document)
            stripped.get("metadata", {}).pop("resourceVersion", None)
            self.update(stripped)
            return "updated"

    def delete(self, name: str) -> None:
        self.server.request(
            "DELETE", self._path(check_name(name)), what=f"delete {self.kind} {name}"
        )

    def list(self, *, label_selector: str | None = None) -> list[dict[str, Any]]:
        listed = self.server.request(
            "GET",
            self._path(),
            what=f"list {self.kind}s in {self.namespace}",
            params={"listOptions.labelSelector": label_selector},
        )
        items: list[dict[str, Any]] = listed.get("items") or []
        return items

    def lint(self, document: dict[str, Any]) -> dict[str, Any]:
        prepared = self._document(document)
        linted: dict[str, Any] = self.server.request(
            "POST",
            self._path("lint"),
            what=f"lint {self.kind} {prepared['metadata']['name']}",
            body=self._body(prepared),
        )
        return linted


class CronWorkflows(ArgoObjects):
    """``api/v1/cron-workflows``: a Drover schedule is one CronWorkflow."""

    collection = "cron-workflows"
    body_key = "cronWorkflow"
    kind = "CronWorkflow"

    def suspend(self, name: str) -> None:
        self._toggle(name, "suspend")

    def resume(self, name: str) -> None:
        self._toggle(name, "resume")

    def _toggle(self, name: str, action: str) -> None:
        self.server.request(
            "PUT",
            self._path(check_name(name), action),
            what=f"{action} {self.kind} {name}",
            body={"name": name, "namespace": self.namespace},
        )


class WorkflowTemplates(ArgoObjects):
    """``api/v1/workflow-templates``: the reusable templates in ``templates/``."""

    collection = "workflow-templates"
    body_key = "template"
    kind = "WorkflowTemplate"
