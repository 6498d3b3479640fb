"""validate.go ``validateLeaf``: the checks of a template that runs something itself
(container, script, containerSet, resource ...), on the template as substituted."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

import yaml

from engine.backends.local.argo_validation.graph import check_container_set
from engine.backends.local.argo_validation.invalid import SCOPE_HINT, Invalid
from engine.backends.local.argo_validation.scope import Scope
from engine.backends.local.argo_validation.variables import PLACEHOLDER_PREFIX, unresolved_tag

__all__ = ["ATOI", "check_leaf"]

_RESERVED_CONTAINERS: Final = ("wait", "supervisor")
ATOI: Final = re.compile(r"[+-]?[0-9]+")
"""What Go's ``strconv.Atoi`` reads."""
_EXPRESSION_TAG: Final = re.compile(r"\{\{\s*=\s*(.+?)\s*\}\}")


def check_leaf(
    body: dict[str, Any], scope: Scope, path: str, default_image: Callable[[str], bool]
) -> None:
    """validate.go ``validateLeaf``."""
    name = body.get("name", "")
    missing = unresolved_tag(json.dumps(body, ensure_ascii=False), scope, scope)
    if missing:
        raise Invalid(f"templates.{name}: failed to resolve {missing}", path, SCOPE_HINT)
    container = body.get("container")
    if container is not None:
        _mount_paths(body, path)
        if not container.get("image") and not default_image("container"):
            raise Invalid(
                f"templates.{name}.container.image may not be empty",
                f"{path}.container.image",
                "give it an image, or spec.templateDefaults.container.image",
            )
    if body.get("containerSet") is not None:
        _container_set(body, path)
    for index, sidecar in enumerate(body.get("sidecars") or []):
        sidecar_name = str((sidecar or {}).get("name") or "")
        if _reserved_container(sidecar_name):
            raise Invalid(
                f"templates.{name}.sidecars: {json.dumps(sidecar_name)} is a reserved Argo "
                "container name",
                f"{path}.sidecars[{index}].name",
                "wait, supervisor and artifact-plugin-* are Argo's own containers",
            )
    if body.get("resource") is not None:
        _check_resource(body, path)
    script = body.get("script")
    if script is not None and not script.get("image") and not default_image("script"):
        raise Invalid(
            f"templates.{name}.script.image may not be empty",
            f"{path}.script.image",
            "give it an image, or spec.templateDefaults.script.image",
        )
    deadline = body.get("activeDeadlineSeconds")
    if deadline is not None and not _valid_deadline(deadline):
        raise Invalid(
            f"templates.{name}.activeDeadlineSeconds must be a positive integer > 0 or an "
            "argo variable",
            f"{path}.activeDeadlineSeconds",
        )
    if body.get("parallelism") is not None:
        raise Invalid(
            f"templates.{name}.parallelism is only valid for steps and dag templates",
            f"{path}.parallelism",
            "limit a steps or DAG template's children instead",
        )


def _mount_paths(body: dict[str, Any], path: str) -> None:
    name = body.get("name", "")
    mounted: dict[str, str] = {}
    for index, mount in enumerate(body["container"].get("volumeMounts") or []):
        mount_path = str(mount.get("mountPath", ""))
        if mount_path in mounted:
            raise Invalid(
                f"templates.{name}.container.volumeMounts[{index}].mountPath "
                f"'{mount_path}' already mounted in {mounted[mount_path]}",
                f"{path}.container.volumeMounts[{index}].mountPath",
                "mount each volume at its own path",
            )
        mounted[mount_path] = f"container.volumeMounts.{mount.get('name', '')}"
    for index, artifact in enumerate((body.get("inputs") or {}).get("artifacts") or []):
        art_path = str(artifact.get("path", ""))
        if art_path in mounted:
            raise Invalid(
                f"templates.{name}.inputs.artifacts[{index}].path '{art_path}' already "
                f"mounted in {mounted[art_path]}",
                f"{path}.inputs.artifacts[{index}].path",
                "put the artifact where no volume is mounted",
            )
        mounted[art_path] = f"inputs.artifacts.{artifact.get('name', '')}"


def _container_set(body: dict[str, Any], path: str) -> None:
    name = body.get("name", "")
    check_container_set(body, path)
    containers = (body.get("containerSet") or {}).get("containers") or []
    inputs, outputs = body.get("inputs") or {}, body.get("outputs") or {}
    has_io = inputs.get("artifacts") or outputs.get("parameters") or outputs.get("artifacts")
    if has_io and not any((c or {}).get("name") == "main" for c in containers):
        raise Invalid(
            f'templates.{name}.containerSet.containers must have a container named "main" '
            "for input or output",
            f"{path}.containerSet.containers",
            "inputs and outputs are read by the container named main",
        )
    for index, container in enumerate(containers):
        container_name = str((container or {}).get("name") or "")
        if _reserved_container(container_name):
            raise Invalid(
                f"templates.{name}.containerSet.containers: {json.dumps(container_name)} "
                "is a reserved Argo container name",
                f"{path}.containerSet.containers[{index}].name",
                "wait, supervisor and artifact-plugin-* are Argo's own containers",
            )


def _reserved_container(name: str) -> bool:
    """``common.IsArgoSidecar``."""
    return name in _RESERVED_CONTAINERS or name.startswith("artifact-plugin-")


def _valid_deadline(value: Any) -> bool:
    """``intstr.IsValidIntOrArgoVariable`` and not negative (or a placeholder)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value >= 0
    text = str(value)
    if ATOI.fullmatch(text):
        return int(text) >= 0
    return text.startswith(PLACEHOLDER_PREFIX) or (text.startswith("{{") and text.endswith("}}"))


def _check_resource(body: dict[str, Any], path: str) -> None:
    """The resource part of validate.go ``validateLeaf``."""
    name = body.get("name", "")
    resource = body.get("resource") or {}
    action = str(resource.get("action") or "")
    where = f"{path}.resource"
    if not action.startswith(PLACEHOLDER_PREFIX) and action not in (
        "get",
        "create",
        "apply",
        "delete",
        "replace",
        "patch",
    ):
        raise Invalid(
            f"templates.{name}.resource.action must be one of: get, create, apply, delete, "
            "replace, patch",
            f"{where}.action",
        )
    if action in ("delete", "get"):
        return
    manifest = str(resource.get("manifest") or "")
    manifest_from = resource.get("manifestFrom")
    if not manifest and manifest_from is None:
        raise Invalid(
            f"either templates.{name}.resource.manifest or templates.{name}.resource."
            "manifestFrom must be specified",
            f"{where}.manifest",
        )
    if manifest and manifest_from is not None:
        raise Invalid(
            "shouldn't have both `manifest` and `manifestFrom` specified in `Manifest` for "
            "resource template",
            f"{where}.manifestFrom",
        )
    wanted = ((manifest_from or {}).get("artifact") or {}).get("name")
    if manifest_from is not None and (manifest_from or {}).get("artifact") is not None:
        artifacts = (body.get("inputs") or {}).get("artifacts") or []
        if not any(a.get("name") == wanted for a in artifacts):
            raise Invalid(
                f"artifact {wanted} in `manifestFrom` refer to a non-exist artifact",
                f"{where}.manifestFrom.artifact.name",
            )
    if manifest and not manifest.startswith(PLACEHOLDER_PREFIX):
        try:
            yaml.safe_load(_EXPRESSION_TAG.sub("placeholder", manifest))
        except yaml.YAMLError:
            raise Invalid(
                f"templates.{name}.resource.manifest must be a valid yaml",
                f"{where}.manifest",
            ) from None
