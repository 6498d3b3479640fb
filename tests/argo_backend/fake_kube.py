"""A stand-in for the few Kubernetes API endpoints Drover uses: ConfigMaps and Secrets, and for
``drover doctor`` reading a namespace and a ServiceAccount and asking access reviews
(SelfSubjectAccessReview for the caller, LocalSubjectAccessReview for another account), which
``reviewer`` answers (e.g. the RBAC model of the rendered argo/ manifests).

Strict where the real API server is: bearer token, body shape (no unknown top-level fields,
string data), 409 AlreadyExists, PATCH only as a strategic merge, ownerReferences merged by
uid. ``collect_garbage(live_uids)`` does what the garbage collector does for owned objects.

Every request is recorded as the RBAC permission it needs (``calls``), the way the API server's
request info names it (k8s.io/apiserver ``endpoints/request/requestinfo.go``: GET of a name is
``get``, POST of a collection ``create``, PATCH ``patch``, DELETE ``delete``); with ``authorize``
set, a refused request gets 403 Forbidden as from the RBAC authorizer.
"""

from __future__ import annotations

import copy
import re
import threading
import uuid
from collections.abc import Callable
from typing import Any

from engine.backends.argo.permissions import Permission
from tests.argo_backend.http_stub import Request, Response

TOKEN = "Bearer kube-test-token"
_NAMESPACE = re.compile(r"^/api/v1/namespaces/([^/]+)$")
_ACCOUNT = re.compile(r"^/api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)$")
_SELF_REVIEW = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
_LOCAL_REVIEW = re.compile(
    r"^/apis/authorization.k8s.io/v1/namespaces/([^/]+)/localsubjectaccessreviews$"
)
_STORAGE_CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
_PATH = re.compile(r"^/api/v1/namespaces/([^/]+)/(configmaps|secrets)(?:/([^/]+))?$")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_KINDS = {"configmaps": "ConfigMap", "secrets": "Secret"}
_TOP = {
    "ConfigMap": {"apiVersion", "kind", "metadata", "data", "binaryData", "immutable"},
    "Secret": {"apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"},
}
_OWNER_FIELDS = {"apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"}


def _status(code: int, reason: str, message: str) -> Response:
    return Response.of(
        {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
         "reason": reason, "code": code},
        code,
    )  # fmt: skip


class FakeKube:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.fail_next: list[int] = []
        self.calls: list[tuple[str, Permission]] = []
        self.authorize: Callable[[Permission], bool] | None = None
        self.authorize_in: Callable[[str, Permission], bool] | None = None
        """``(namespace, permission with the object's name) -> allowed``: the RBAC authorizer
        where Roles differ per namespace (resourceNames included), as ``authorize`` does not."""
        self.namespaces: set[str] = set()
        self.service_accounts: set[tuple[str, str]] = set()
        """(namespace, name) of the ServiceAccounts that exist."""
        self.caller = "system:serviceaccount:drover:drover-api"
        self.storage_classes: list[dict[str, Any]] = []
        """The cluster's StorageClasses (cluster-scoped; ``drover doctor`` lists them)."""
        self.reviewer: Callable[[str, str, Permission], bool] | None = None
        """``(user, namespace, permission) -> allowed`` for access reviews."""

    def __call__(self, request: Request) -> Response:
        other = self._doctor_endpoints(request)
        if other is not None:
            return other
        found = _PATH.match(request.path)
        if found is None:
            return _status(404, "NotFound", f"the server could not find {request.path}")
        namespace, plural, name = found.groups()
        kind = _KINDS[plural]
        self.requests.append((request.method, request.path, request.headers.get("content-type")))
        if request.headers.get("authorization") != TOKEN:
            return _status(401, "Unauthorized", "Unauthorized")
        verbs = {"GET": "get", "POST": "create", "PATCH": "patch", "DELETE": "delete"}
        permission = Permission(verbs.get(request.method, request.method.lower()), plural)
        self.calls.append((f"{request.method} {request.path}", permission))
        named = Permission(permission.verb, plural, name=name or "")
        if (self.authorize is not None and not self.authorize(permission)) or (
            self.authorize_in is not None and not self.authorize_in(namespace, named)
        ):
            return _status(
                403,
                "Forbidden",
                f'{plural} is forbidden: cannot {permission.verb} resource "{plural}" in API '
                f'group "" in the namespace "{namespace}"',
            )
        if self.fail_next:
            code = self.fail_next.pop(0)
            return _status(code, "InternalError", "injected failure")
        key = (kind, namespace, name or "")
        with self.lock:
            if request.method == "POST" and name is None:
                return self._create(kind, namespace, request.json())
            if name is None:
                return _status(405, "MethodNotAllowed", f"{request.method} on a collection")
            if key not in self.objects:
                return _status(404, "NotFound", f'{plural} "{name}" not found')
            if request.method == "GET":
                return Response.of(self.objects[key])
            if request.method == "DELETE":
                del self.objects[key]
                return Response.of({"kind": "Status", "apiVersion": "v1", "status": "Success"})
            if request.method == "PATCH":
                return self._patch(key, request)
        return _status(405, "MethodNotAllowed", request.method)

    def _doctor_endpoints(self, request: Request) -> Response | None:
        path = request.path
        patterns = (_NAMESPACE, _ACCOUNT, _LOCAL_REVIEW)
        if path not in (_SELF_REVIEW, _STORAGE_CLASSES) and not any(
            p.match(path) for p in patterns
        ):
            return None
        if request.headers.get("authorization") != TOKEN:
            return _status(401, "Unauthorized", "Unauthorized")
        if path == _STORAGE_CLASSES and request.method == "GET":
            listing = Permission("list", "storageclasses", "storage.k8s.io")
            if self.authorize_in is not None and not self.authorize_in("", listing):
                return _status(
                    403,
                    "Forbidden",
                    "storageclasses.storage.k8s.io is forbidden: cannot list resource "
                    '"storageclasses" in API group "storage.k8s.io" at the cluster scope',
                )
            return Response.of(
                {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClassList",
                 "metadata": {}, "items": self.storage_classes}
            )  # fmt: skip
        found = _NAMESPACE.match(request.path)
        if found and request.method == "GET":
            name = found.group(1)
            if name not in self.namespaces:
                return _status(404, "NotFound", f'namespaces "{name}" not found')
            return Response.of(
                {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
            )
        found = _ACCOUNT.match(request.path)
        if found and request.method == "GET":
            namespace, name = found.groups()
            if (namespace, name) not in self.service_accounts:
                return _status(404, "NotFound", f'serviceaccounts "{name}" not found')
            meta = {"name": name, "namespace": namespace}
            return Response.of({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta})
        local = _LOCAL_REVIEW.match(request.path)
        if request.method == "POST" and (local or request.path == _SELF_REVIEW):
            # authorization.k8s.io/v1: spec.resourceAttributes in, status.allowed out.
            body = request.json()
            attributes = body["spec"]["resourceAttributes"]
            user = body["spec"]["user"] if local else self.caller
            permission = Permission(
                attributes["verb"],
                attributes["resource"],
                attributes.get("group", ""),
                attributes.get("subresource", ""),
            )
            allowed = self.reviewer is not None and self.reviewer(
                user, attributes.get("namespace", ""), permission
            )
            return Response.of({**body, "status": {"allowed": allowed}}, 201)
        return None

    def _create(self, kind: str, namespace: str, body: Any) -> Response:
        problems = []
        if not isinstance(body, dict):
            return _status(400, "BadRequest", "body is not an object")
        unknown = set(body) - _TOP[kind]
        if unknown:
            problems.append(f"unknown field(s) {sorted(unknown)}")
        if body.get("kind") != kind or body.get("apiVersion") != "v1":
            problems.append(f"apiVersion/kind must be v1/{kind}")
        meta = body.get("metadata") or {}
        name = meta.get("name", "")
        if not _NAME.match(name) or len(name) > 253:
            problems.append(f"metadata.name {name!r} is invalid")
        if meta.get("namespace", namespace) != namespace:
            problems.append("metadata.namespace does not match the request")
        for field in ("data", "stringData"):
            values = body.get(field) or {}
            if not all(isinstance(v, str) for v in values.values()):
                problems.append(f"{field} values must be strings")
        if problems:
            return _status(422, "Invalid", f"{kind} {name!r} is invalid: {'; '.join(problems)}")
        key = (kind, namespace, name)
        if key in self.objects:
            return _status(409, "AlreadyExists", f'{kind.lower()}s "{name}" already exists')
        obj = copy.deepcopy(body)
        obj["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()), resourceVersion="1")
        self.objects[key] = obj
        return Response.of(obj, 201)

    def _patch(self, key: tuple[str, str, str], request: Request) -> Response:
        if request.headers.get("content-type") != "application/strategic-merge-patch+json":
            return _status(415, "UnsupportedMediaType", "expected a strategic merge patch")
        patch = request.json()
        if set(patch) != {"metadata"} or set(patch["metadata"]) != {"ownerReferences"}:
            return _status(422, "Invalid", "the fake only models ownerReferences patches")
        obj = self.objects[key]
        owners = obj["metadata"].setdefault("ownerReferences", [])
        for owner in patch["metadata"]["ownerReferences"]:
            if set(owner) - _OWNER_FIELDS or not {"apiVersion", "kind", "name", "uid"} <= set(
                owner
            ):
                return _status(422, "Invalid", f"bad ownerReference {owner}")
            owners[:] = [o for o in owners if o["uid"] != owner["uid"]] + [owner]
        return Response.of(obj)

    def collect_garbage(self, live_uids: set[str]) -> None:
        """Delete objects all of whose owners are gone (objects without owners stay)."""
        with self.lock:
            for key, obj in list(self.objects.items()):
                owners = obj["metadata"].get("ownerReferences") or []
                if owners and not any(o["uid"] in live_uids for o in owners):
                    del self.objects[key]
