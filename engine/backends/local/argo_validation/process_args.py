"""``common.ProcessArgs`` and ``SubstituteParams`` (workflow/common/util.go) as the validator
runs them: a template's inputs taken from the arguments of a call, then substituted, with the
workflow's globals, into the template."""

from __future__ import annotations

import json
from typing import Any, Final

from engine.backends.local.argo_validation.fields import any_string, has_location_or_key
from engine.backends.local.argo_validation.invalid import Invalid
from engine.backends.local.argo_validation.scope import POD_KINDS, RETRY_VARIABLES, template_type
from engine.backends.local.argo_validation.variables import Placeholders, replace_tags

__all__ = [
    "FAKE",
    "Arguments",
    "artifact_argument",
    "input_parameters",
    "local_params",
    "substitute",
    "substituted_field",
]


class _Fake:
    """validate.go ``FakeArguments``: every parameter is supplied (a placeholder), every
    artifact too (by name only)."""


FAKE: Final = _Fake()
Arguments = dict[str, Any] | _Fake


def _parameter(args: Arguments, name: str, placeholders: Placeholders) -> dict[str, Any] | None:
    if isinstance(args, _Fake):
        return {"name": name, "value": placeholders.new()}
    return next((p for p in args.get("parameters") or [] if p.get("name") == name), None)


def artifact_argument(args: Arguments, name: str) -> dict[str, Any] | None:
    if isinstance(args, _Fake):
        return {"name": name}
    return next((a for a in args.get("artifacts") or [] if a.get("name") == name), None)


def local_params(template: dict[str, Any], placeholders: Placeholders) -> dict[str, str]:
    """validate.go ``validateTemplate``'s local parameters: ``pod.name``, the retry variables."""
    local = {}
    if template_type(template) in POD_KINDS:
        local["pod.name"] = placeholders.new()
    if template.get("retryStrategy") is not None:
        for key in RETRY_VARIABLES:
            local[key] = placeholders.new()
    return local


def input_parameters(
    template: dict[str, Any], args: Arguments, path: str, placeholders: Placeholders
) -> list[dict[str, Any]]:
    """``common.ProcessArgs``' parameter and artifact half: the inputs as the call
    supplies them; raises for an input neither given nor defaulted."""
    name = template.get("name", "")
    inputs = template.get("inputs") or {}
    resolved = []
    for index, param in enumerate(inputs.get("parameters") or []):
        param = dict(param)
        if param.get("value") is None and param.get("default") is not None:
            param["value"] = param["default"]
        given = _parameter(args, str(param.get("name", "")), placeholders)
        if given is not None:
            if given.get("value") is not None:
                param["value"], param["valueFrom"] = given["value"], None
            else:
                param["valueFrom"], param["value"] = given.get("valueFrom"), None
        config_map = (param.get("valueFrom") or {}).get("configMapKeyRef")
        if config_map is None and param.get("value") is None:
            raise Invalid(
                f"templates.{name} inputs.parameters.{param.get('name', '')} was not supplied",
                f"{path}.inputs.parameters[{index}]",
                "pass it in the call's arguments, or give the input a default",
            )
        resolved.append({k: v for k, v in param.items() if v is not None})
    for index, artifact in enumerate(inputs.get("artifacts") or []):
        if artifact.get("optional") or has_location_or_key(artifact):
            continue
        if artifact_argument(args, str(artifact.get("name", ""))) is None:
            raise Invalid(
                f"templates.{name} inputs.artifacts.{artifact.get('name', '')} was not supplied",
                f"{path}.inputs.artifacts[{index}]",
                "pass it in the call's arguments, or mark the input optional",
            )
    return resolved


def substitute(
    template: dict[str, Any],
    params: list[dict[str, Any]],
    args: Arguments,
    local: dict[str, str],
    globals_: dict[str, str],
) -> dict[str, Any]:
    """``common.SubstituteParams``: globals and locals first, then the inputs."""
    body = dict(template)
    inputs = dict(body.get("inputs") or {})
    if params:
        inputs["parameters"] = params
    artifacts = []
    for artifact in inputs.get("artifacts") or []:
        given = artifact_argument(args, str(artifact.get("name", "")))
        if given is None:
            artifacts.append(artifact)
            continue
        merged = dict(given)
        for key in ("path", "mode", "recurseMode"):
            merged.pop(key, None)
            if artifact.get(key) is not None:
                merged[key] = artifact[key]
        artifacts.append(merged)
    if artifacts:
        inputs["artifacts"] = artifacts
    if inputs:
        body["inputs"] = inputs
    first = {**globals_, **local}
    text = replace_tags(json.dumps(body, ensure_ascii=False), first.get)
    replaced = json.loads(text)
    second = dict(first)
    replaced_inputs = replaced.get("inputs") or {}
    for param in replaced_inputs.get("parameters") or []:
        if param.get("value") is not None:
            second[f"inputs.parameters.{param.get('name', '')}"] = any_string(param["value"])
    second["inputs.parameters"] = json.dumps(replaced_inputs.get("parameters") or [])
    for artifact in replaced_inputs.get("artifacts") or []:
        if artifact.get("path"):
            second[f"inputs.artifacts.{artifact.get('name', '')}.path"] = artifact["path"]
    outputs = replaced.get("outputs") or {}
    for artifact in outputs.get("artifacts") or []:
        if artifact.get("path"):
            second[f"outputs.artifacts.{artifact.get('name', '')}.path"] = artifact["path"]
    for param in outputs.get("parameters") or []:
        value_path = (param.get("valueFrom") or {}).get("path")
        if value_path:
            second[f"outputs.parameters.{param.get('name', '')}.path"] = value_path
    result: dict[str, Any] = json.loads(replace_tags(text, second.get))
    return result


def substituted_field(
    value: str, params: list[dict[str, Any]], local: dict[str, str], globals_: dict[str, str]
) -> str:
    """One field of the substituted template, without substituting the rest of it."""
    first = {**globals_, **local}
    second = dict(first)
    for param in params:
        if param.get("value") is not None:
            text = replace_tags(any_string(param["value"]), first.get)
            second[f"inputs.parameters.{param.get('name', '')}"] = text
    return replace_tags(replace_tags(value, first.get), second.get)
