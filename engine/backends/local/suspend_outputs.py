"""Output parameters a person supplies to a Suspend node (``valueFrom.supplied``).

A Suspend node starts with its template's supplied outputs as they are written, a missing
default taken from the input of the same name (``addRawOutputFields``, operator.go);
``argo node set`` gives them values (``updateSuspendedNode``), and a resume, or the end of
the suspend's duration, gives each one still unset its default, or fails without one
(``OverrideOutputParametersWithDefault``, workflow/util/util.go).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from engine.backends.local.nodes import Node

__all__ = [
    "is_active_suspend",
    "override_with_defaults",
    "raw_output_fields",
    "set_refusal",
    "unset_output",
]


def is_active_suspend(node: Mapping[str, Any]) -> bool:
    """``IsActiveSuspendNode``: a Suspend node still Running."""
    return node.get("type") == "Suspend" and node.get("phase") == "Running"


def raw_output_fields(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The supplied output parameters a new Suspend node of ``template`` carries."""
    inputs = {p["name"]: p for p in (template.get("inputs") or {}).get("parameters") or []}
    raw = []
    for param in (template.get("outputs") or {}).get("parameters") or []:
        value_from = param.get("valueFrom") or {}
        if "supplied" not in value_from:
            continue
        param = copy.deepcopy(dict(param))
        default = inputs.get(param["name"], {}).get("default")
        if value_from.get("default") is None and default is not None:
            param["valueFrom"]["default"] = default
        raw.append(param)
    return raw


def unset_output(node: Mapping[str, Any]) -> str | None:
    """Why ``node``'s outputs cannot be given their defaults (an unset supplied output without
    one); None when they can."""
    for param in (node.get("outputs") or {}).get("parameters") or []:
        value_from = param.get("valueFrom") or {}
        if "supplied" in value_from and value_from.get("default") is None:
            return (
                f"raw output parameter '{param['name']}' has not been set and does not have a "
                "default value"
            )
    return None


def override_with_defaults(node: Node) -> str | None:
    """Give each unset supplied output its default; the error, changing nothing, when one
    has none."""
    unset = unset_output(node)
    if unset is not None:
        return unset
    for param in (node.get("outputs") or {}).get("parameters") or []:
        value_from = param.get("valueFrom") or {}
        if "supplied" in value_from:
            param["value"] = str(value_from["default"])
            param.pop("valueFrom")
    return None


def set_refusal(node: Mapping[str, Any], outputs: Mapping[str, str]) -> str | None:
    """Why ``argo node set`` cannot give ``node`` these output values; None when it can."""
    if not outputs:
        return None
    params = (node.get("outputs") or {}).get("parameters")
    if params is None:
        return "cannot set output parameters because node is not expecting any raw parameters"
    for name in outputs:
        param = next((p for p in params if p["name"] == name), None)
        if param is None:
            return f"node is not expecting output parameter '{name}'"
        if "supplied" not in (param.get("valueFrom") or {}):
            return (
                f"cannot set output parameter '{name}' because it does not use valueFrom.raw "
                "or it was already set"
            )
    return None
