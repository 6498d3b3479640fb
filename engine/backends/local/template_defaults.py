"""``spec.templateDefaults`` merged into a template, as Argo's ``mergedTemplateDefaultsInto``
(workflow/controller/operator.go) merges them.

Argo drops the defaults for every template kind but the template's own (a ``container``
default never turns a steps template into a pod), then applies the template over the defaults
as a Kubernetes strategic merge patch: mappings merge key by key, the template winning; lists
whose field declares a merge key (``env`` by name, ``volumeMounts`` by mount path, ...) merge
item by item; any other list is the template's when it has one.
"""

from __future__ import annotations

from typing import Any

__all__ = ["merge_template_defaults"]

TEMPLATE_KINDS = (
    "container",
    "containerSet",
    "script",
    "resource",
    "dag",
    "suspend",
    "data",
    "http",
    "plugin",
)
"""The template kinds whose fields are pointers to structs (``steps`` is a list: never dropped)."""

MERGE_KEYS = {
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "ports": "containerPort",
    "volumes": "name",
    "sidecars": "name",
    "initContainers": "name",
    "parameters": "name",
    "artifacts": "name",
    "tolerations": "key",
    "hostAliases": "ip",
}
"""List fields of a Template (and the containers in it) with ``patchStrategy:"merge"``, by
their ``patchMergeKey`` (workflow_types.go and Kubernetes' core/v1 types)."""


def merge_template_defaults(defaults: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """``template`` over the ``defaults`` that apply to its kind."""
    kind = next((k for k in TEMPLATE_KINDS if k in template), None)
    applicable = {k: v for k, v in defaults.items() if k not in TEMPLATE_KINDS or k == kind}
    return _merge(applicable, template)


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        current = merged.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            merged[key] = _merge(current, value)
        elif isinstance(value, list) and isinstance(current, list) and key in MERGE_KEYS:
            merged[key] = _merge_list(current, value, MERGE_KEYS[key])
        else:
            merged[key] = value
    return merged


def _merge_list(base: list[Any], patch: list[Any], merge_key: str) -> list[Any]:
    """Items with the same merge key merged, the patch's new items after the base's."""
    keyed = {item.get(merge_key): item for item in patch if isinstance(item, dict)}
    merged = []
    for item in base:
        key = item.get(merge_key) if isinstance(item, dict) else None
        if key is not None and key in keyed:
            merged.append(_merge(item, keyed.pop(key)))
        else:
            merged.append(item)
    merged.extend(
        item for item in patch if not isinstance(item, dict) or item.get(merge_key) in keyed
    )
    return merged
