"""The artifact repository a workflow uses, resolved once as it starts and kept in its status.

Argo's ``artifactRepositories.Resolve`` (workflow/artifactrepositories/artifactrepositories.go):
a workflow's ``spec.artifactRepositoryRef`` names a ConfigMap (``artifact-repositories`` unless
it says otherwise) and a key in it (unless it says otherwise, the one the ConfigMap's
``workflows.argoproj.io/default-artifact-repository`` annotation names); looked for in the
workflow's namespace, then the controller's. Without a reference the namespace's
``artifact-repositories`` default is used if there is one, else the controller's default.
The local store has no namespaces, so both lookups are one; the controller's default is the
local repository (artifacts by key), recorded as ``default: true``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from engine.backends.local.scope import ObjectLookup

__all__ = ["ArtifactRepositoryError", "resolve_artifact_repository"]

DEFAULT_CONFIGMAP = "artifact-repositories"
DEFAULT_KEY_ANNOTATION = "workflows.argoproj.io/default-artifact-repository"


class ArtifactRepositoryError(Exception):
    """No repository for the reference; the message is the workflow's (phase Error)."""


def resolve_artifact_repository(
    ref: Mapping[str, Any] | None, namespace: str, objects: ObjectLookup
) -> dict[str, Any]:
    """``status.artifactRepositoryRef`` of a workflow whose ``spec.artifactRepositoryRef`` is
    ``ref``; raises :class:`ArtifactRepositoryError`."""
    found = _from_configmap(ref or {}, namespace, objects)
    if found is not None:
        return found
    if ref is None:
        return {"default": True}
    # Go's %v of the generated protobuf type.
    printed = (
        f"&ArtifactRepositoryRef{{ConfigMap:{ref.get('configMap', '')},Key:{ref.get('key', '')},}}"
    )
    raise ArtifactRepositoryError(
        "failed to resolve artifact repository: failed to find any artifact repository for "
        f'artifact repository ref "{printed}"'
    )


def _from_configmap(
    ref: Mapping[str, Any], namespace: str, objects: ObjectLookup
) -> dict[str, Any] | None:
    """``get``: the repository under the ConfigMap's key; None when the ConfigMap or the key
    is missing (Resolve then looks further)."""
    name = str(ref.get("configMap") or DEFAULT_CONFIGMAP)
    configmap = objects("ConfigMap", name)
    if configmap is None:
        return None
    annotations = (configmap.get("metadata") or {}).get("annotations") or {}
    key = str(ref.get("key") or annotations.get(DEFAULT_KEY_ANNOTATION) or "")
    data = configmap.get("data") or {}
    if key not in data:
        return None
    try:
        repository = yaml.safe_load(str(data[key])) or {}
    except yaml.YAMLError as error:
        raise ArtifactRepositoryError(
            f"failed to resolve artifact repository: failed to unmarshall config map key "
            f'"{key}": {error}'
        ) from None
    return {"configMap": name, "key": key, "namespace": namespace, "artifactRepository": repository}
