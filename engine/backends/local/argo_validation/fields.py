"""Argo's field-level checks of a workflow (workflow/validate/validate.go): names, arguments,
inputs, outputs, artifact paths and locations, hooks, metrics, pod resources.

Each function raises ``Invalid`` with Argo's message for the first problem it finds; ``path``
names the field in the submitted document.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Sequence
from typing import Any, Final

from engine.backends.local.argo_validation.invalid import Invalid
from engine.backends.local.argo_validation.scope import template_type
from engine.backends.local.argo_validation.variables import is_parameter

__all__ = [
    "any_string",
    "check_arguments",
    "check_field_names",
    "check_hooks",
    "check_input_artifacts",
    "check_metrics",
    "check_output_names",
    "check_outputs",
    "check_pod_resources",
    "clean_path_error",
    "has_location_or_key",
    "name_errors",
]

_FIELD_NAME: Final = re.compile(r"[a-zA-Z0-9][-a-zA-Z0-9]*")
_PARAM_NAME: Final = re.compile(r"[-a-zA-Z0-9_]+")
_METRIC_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
PARAM_NAME_RULE: Final = (
    "Parameter/Artifact name must consist of alpha-numeric characters, '_' or '-' "
    "e.g. my_param_1, MY-PARAM-1"
)
_FIELD_NAME_RULE: Final = (
    "name must consist of alpha-numeric characters or '-', and must start with an "
    "alpha-numeric character (e.g. My-name1-2, 123-NAME)"
)
_NOT_FOR_ARGUMENTS: Final = ("path", "jsonPath", "parameter", "expression")
_VALUE_FROM_KINDS: Final = ("path", "jqFilter", "jsonPath", "parameter", "expression")
_NAME_HINT: Final = (
    "template, step, task and container names: letters, digits and '-', starting with a "
    "letter or digit, at most 128 characters; parameter and artifact names may also hold '_'"
)


def any_string(value: Any) -> str:
    """A value as Argo's ``AnyString`` holds it: text as is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


_VALUE_FROM_FIELDS: Final = {
    key.lower(): key
    for key in (
        "path",
        "jqFilter",
        "jsonPath",
        "parameter",
        "expression",
        "supplied",
        "configMapKeyRef",
        "event",
        "default",
    )
}


def value_from_fields(value: Any) -> dict[str, Any]:
    """A ``valueFrom`` as Go's ``encoding/json`` reads it into Argo's ``ValueFrom``: a key
    names its field whatever its case (``Parameter:`` sets ``parameter``), an exact match
    winning over one in another case."""
    if not isinstance(value, dict):
        return {}
    fields: dict[str, Any] = {
        _VALUE_FROM_FIELDS.get(str(k).lower(), str(k)): v for k, v in value.items()
    }
    fields.update((k, v) for k, v in value.items() if k in _VALUE_FROM_FIELDS.values())
    return fields


def name_errors(name: str, param_or_artifact: bool = False) -> list[str]:
    """``isValidParamOrArtifactName`` / ``isValidWorkflowFieldName``."""
    if param_or_artifact:
        return [] if _PARAM_NAME.fullmatch(name) else [PARAM_NAME_RULE]
    errors = []
    if len(name) > 128:
        errors.append("must be no more than 128 characters")
    if not _FIELD_NAME.fullmatch(name):
        errors.append(_FIELD_NAME_RULE)
    return errors


def check_field_names(
    items: Sequence[Any], prefix: str, path: str, *, param_or_artifact: bool = False
) -> None:
    """validate.go ``validateWorkflowFieldNames``: every name given, valid and unique; the
    message is ``prefix`` followed by Argo's ``[i].name ...``."""
    seen: set[str] = set()
    for index, item in enumerate(items):
        name = item.get("name") if isinstance(item, dict) else item
        name = "" if name is None else str(name)
        where = f"{path}[{index}].name"
        if not name:
            raise Invalid(f"{prefix}[{index}].name is required", where, "give it a name")
        errors = name_errors(name, param_or_artifact)
        if errors:
            raise Invalid(
                f"{prefix}[{index}].name: '{name}' is invalid: {';'.join(errors)}",
                where,
                _NAME_HINT,
            )
        if name in seen:
            raise Invalid(
                f"{prefix}[{index}].name '{name}' is not unique", where, "rename one of them"
            )
        seen.add(name)


_LOCATIONS: Final = (
    "artifactory",
    "azure",
    "git",
    "gcs",
    "hdfs",
    "http",
    "oss",
    "raw",
    "s3",
    "plugin",
)
"""``ArtifactLocation.Get``: the kinds, in the order Argo looks for the one set."""


_COMPLETE: Final = {
    "artifactory": ("url", "usernameSecret"),
    "azure": ("endpoint", "container", "blob"),
    "git": ("repo",),
    "gcs": ("bucket", "key"),
    "hdfs": ("addresses",),
    "http": ("url",),
    "oss": ("bucket", "endpoint", "key"),
    "raw": (),
    "s3": ("endpoint", "bucket", "key"),
    "plugin": ("name", "configuration", "key"),
}
"""Each location kind's ``HasLocation``: the fields it needs to be a full location."""


def _location_key(kind: str, spec: dict[str, Any]) -> str:
    if kind in ("git", "raw"):
        return ""
    if kind in ("artifactory", "http"):
        url = str(spec.get("url") or "")
        return url.split("://", 1)[-1].partition("/")[2] if url else ""
    field = {"azure": "blob", "hdfs": "path"}.get(kind, "key")
    return str(spec.get(field) or "")


def has_location_or_key(artifact: dict[str, Any]) -> bool:
    """``ArtifactLocation.HasLocationOrKey``: the first location kind set is complete, or
    names a key."""
    for kind in _LOCATIONS:
        spec = artifact.get(kind)
        if spec is not None:
            spec = spec if isinstance(spec, dict) else {}
            return all(spec.get(key) for key in _COMPLETE[kind]) or bool(_location_key(kind, spec))
    return False


def clean_path_error(artifact: dict[str, Any]) -> str | None:
    """``Artifact.CleanPath``: why the artifact's path is refused, if it is."""
    path = str(artifact.get("path") or "")
    name = artifact.get("name", "")
    if not path:
        return f"Artifact '{name}' did not specify a path"
    safe = ""
    if "/../" in path:
        safe = path.split("/../", 1)[0]
    elif path.endswith("/.."):
        safe = path[:-3]
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//") and not cleaned.startswith("///"):
        cleaned = cleaned[1:]  # Go's filepath.Clean keeps one leading slash
    with_slash = safe + "/"
    if safe and (not cleaned.startswith(with_slash) or len(cleaned) <= len(with_slash)):
        return (
            f"Artifact '{name}' attempted to use a path containing '..'. "
            "Directory traversal is not permitted"
        )
    return None


def check_artifact_location(artifact: dict[str, Any], prefix: str, path: str) -> None:
    """validate.go ``validateArtifactLocation`` (a git location needs its repo)."""
    if artifact.get("git") is not None and not (artifact.get("git") or {}).get("repo"):
        raise Invalid(f"{prefix}.git.repo is required", f"{path}.git.repo", "name the repository")


def check_input_artifacts(template: dict[str, Any], path: str, leaf: bool) -> None:
    """The artifact half of validate.go ``validateInputs``."""
    name = template.get("name", "")
    for index, artifact in enumerate((template.get("inputs") or {}).get("artifacts") or []):
        ref = f"inputs.artifacts.{artifact.get('name', '')}"
        where = f"{path}.inputs.artifacts[{index}]"
        if leaf:
            problem = clean_path_error(artifact)
            if problem:
                raise Invalid(
                    f"error in templates.{name}.{ref}: {problem}",
                    f"{where}.path",
                    "an input artifact of a container or script is put at its path",
                )
        elif artifact.get("path"):
            raise Invalid(
                f"templates.{name}.{ref}.path only valid in container/script templates",
                f"{where}.path",
                "steps and DAG templates pass artifacts on; only a pod has paths",
            )
        if artifact.get("from"):
            raise Invalid(
                f"templates.{name}.{ref}.from not valid in inputs",
                f"{where}.from",
                "'from' belongs in a step's or task's arguments",
            )
        check_artifact_location(artifact, f"templates.{name}.{ref}", where)


def check_arguments(
    arguments: dict[str, Any] | None, prefix: str, path: str, allow_empty: bool = False
) -> None:
    """validate.go ``validateArguments``: names, then each parameter's value and each
    artifact's source."""
    arguments = arguments or {}
    params = arguments.get("parameters") or []
    artifacts = arguments.get("artifacts") or []
    check_field_names(params, f"{prefix}parameters", f"{path}.parameters", param_or_artifact=True)
    check_field_names(artifacts, f"{prefix}artifacts", f"{path}.artifacts", param_or_artifact=True)
    for index, param in enumerate(params):
        name = param.get("name", "")
        where = f"{path}.parameters[{index}]"
        value_from = param.get("valueFrom")
        if value_from is None and param.get("value") is None and not allow_empty:
            raise Invalid(
                f"{prefix}{name}.value or {prefix}{name}.valueFrom is required",
                f"{where}.value",
                "give the parameter a value",
            )
        if value_from is not None:
            value_from = value_from_fields(value_from)
            allowed = (
                value_from.get("configMapKeyRef") is not None
                or value_from.get("event")
                or value_from.get("supplied") is not None
            )
            refused = any(value_from.get(k) for k in _NOT_FOR_ARGUMENTS)
            if not allowed or refused:
                raise Invalid(
                    f"{prefix}{name}.valueFrom only allows: default, configMapKeyRef and supplied",
                    f"{where}.valueFrom",
                    "an argument's value comes from 'value', a ConfigMap or is supplied later",
                )
        if "enum" in param and param.get("enum") is not None:
            enum = [any_string(v) for v in param.get("enum") or []]
            if not enum:
                raise Invalid(
                    f"{prefix}{name}.enum should contain at least one value",
                    f"{where}.enum",
                    "list the allowed values, or drop 'enum'",
                )
            if param.get("value") is None:
                if allow_empty:
                    return
                raise Invalid(f"{prefix}{name}.value is required", f"{where}.value")
            if any_string(param["value"]) not in enum:
                raise Invalid(
                    f"{prefix}{name}.value should be present in {prefix}{name}.enum list",
                    f"{where}.value",
                    f"one of: {', '.join(enum)}",
                )
    for index, artifact in enumerate(artifacts):
        name = artifact.get("name", "")
        where = f"{path}.artifacts[{index}]"
        if not artifact.get("from") and not has_location_or_key(artifact):
            raise Invalid(
                f"{prefix}{name}.from, artifact location, or key is required",
                where,
                "pass it 'from' another step's or task's outputs, or give it a location",
            )
        if artifact.get("from") and artifact.get("fromExpression"):
            raise Invalid(
                f"{prefix}{name} shouldn't have both `from` and `fromExpression` in Artifact",
                f"{where}.fromExpression",
                "keep one of them",
            )


def check_hooks(hooks: dict[str, Any] | None, base: str, path: str) -> None:
    """validate.go ``validateHooks``: every hook but ``exit`` needs an expression."""
    for key, hook in (hooks or {}).items():
        if key != "exit" and not (hook or {}).get("expression"):
            raise Invalid(
                f"{base}.{key} Expression required",
                f"{path}.{key}.expression",
                "a lifecycle hook other than 'exit' runs when its expression becomes true",
            )


def _output_parameter(param: dict[str, Any], ref: str, where: str) -> None:
    """validate.go ``validateOutputParameter``."""
    value_from = param.get("valueFrom")
    if value_from is not None and param.get("value") is not None:
        raise Invalid(
            f"{ref} has both valueFrom and value specified, choose one", where, "keep one"
        )
    if param.get("value") is not None:
        return
    if value_from is None:
        raise Invalid(
            f"{ref} does not have valueFrom or value specified",
            f"{where}.valueFrom",
            "say where the output comes from (valueFrom.path for a container)",
        )
    value_from = value_from_fields(value_from)
    kinds = sum(1 for key in _VALUE_FROM_KINDS if value_from.get(key))
    kinds += value_from.get("supplied") is not None
    if kinds == 0:
        raise Invalid(
            "valueFrom type unspecified. choose one of: path, jqFilter, jsonPath, parameter, "
            "raw, expression",
            f"{where}.valueFrom",
        )
    if kinds > 1:
        raise Invalid(
            "multiple valueFrom types specified. choose one of: path, jqFilter, jsonPath, "
            "parameter, raw",
            f"{where}.valueFrom",
        )


def check_output_names(template: dict[str, Any], path: str) -> None:
    """The name checks that open validate.go ``validateOutputs``."""
    name = template.get("name", "")
    outputs = template.get("outputs") or {}
    for kind in ("parameters", "artifacts"):
        check_field_names(
            outputs.get(kind) or [],
            f"templates.{name}.outputs.{kind} ",
            f"{path}.outputs.{kind}",
            param_or_artifact=True,
        )


def check_outputs(template: dict[str, Any], path: str, leaf: bool) -> None:
    """The rest of validate.go ``validateOutputs``: artifact paths, how each output parameter
    gets its value, global names."""
    name = template.get("name", "")
    outputs = template.get("outputs") or {}
    for index, artifact in enumerate(outputs.get("artifacts") or []):
        ref = f"outputs.artifacts.{artifact.get('name', '')}"
        where = f"{path}.outputs.artifacts[{index}]"
        if leaf:
            problem = clean_path_error(artifact)
            if problem:
                raise Invalid(
                    f"error in templates.{name}.{ref}: {problem}",
                    f"{where}.path",
                    "a container's or script's output artifact is read from its path",
                )
        elif artifact.get("path"):
            raise Invalid(
                f"templates.{name}.{ref}.path only valid in container/script templates",
                f"{where}.path",
                "a steps or DAG template's output artifact comes 'from' a child",
            )
        _global_name(artifact, f"templates.{name}.{ref}", where)
    kind = template_type(template)
    for index, param in enumerate(outputs.get("parameters") or []):
        ref = f"templates.{name}.outputs.parameters.{param.get('name', '')}"
        where = f"{path}.outputs.parameters[{index}]"
        _output_parameter(param, ref, where)
        value_from = param.get("valueFrom")
        if value_from is not None:
            _value_from_fits(value_from_fields(value_from), kind, ref, f"{where}.valueFrom")
        _global_name(param, ref, where)


def _value_from_fits(value_from: dict[str, Any], kind: str, ref: str, where: str) -> None:
    if kind in ("Container", "ContainerSet", "Script") and not value_from.get("path"):
        raise Invalid(
            f"{ref}.path must be specified for {kind} templates",
            where,
            "a pod's output parameter is read from a file: valueFrom.path",
        )
    if kind == "Resource" and not (value_from.get("jqFilter") or value_from.get("jsonPath")):
        raise Invalid(f"{ref} .jqFilter or jsonPath must be specified for {kind} templates", where)
    if kind in ("DAG", "Steps"):
        if not (value_from.get("parameter") or value_from.get("expression")):
            raise Invalid(
                f"{ref}.parameter or expression must be specified for {kind} templates",
                where,
                "a steps or DAG output comes from a child's output: valueFrom.parameter",
            )
        if value_from.get("parameter") and value_from.get("expression"):
            raise Invalid(
                f"{ref} shouldn't have both `from` and `expression` specified in `ValueFrom` "
                f"for {kind} templates",
                where,
            )


def _global_name(output: dict[str, Any], ref: str, where: str) -> None:
    global_name = str(output.get("globalName") or "")
    if global_name and not is_parameter(global_name) and not _PARAM_NAME.fullmatch(global_name):
        raise Invalid(f"{ref}.globalName: {PARAM_NAME_RULE}", f"{where}.globalName")


def check_metrics(template: dict[str, Any], path: str) -> None:
    """The metrics part of validate.go ``validateTemplate`` (workflow/metrics/util.go)."""
    name = template.get("name", "")
    for index, metric in enumerate((template.get("metrics") or {}).get("prometheus") or []):
        where = f"{path}.metrics.prometheus[{index}]"
        metric_name = str(metric.get("name") or "")
        if not _METRIC_NAME.fullmatch(metric_name):
            raise Invalid(
                f"templates.{name} metric name '{metric_name}' is invalid. Metric names must "
                "contain alphanumeric characters or '_'",
                f"{where}.name",
            )
        for label in metric.get("labels") or []:
            key = str((label or {}).get("key") or "")
            if not _METRIC_NAME.fullmatch(key):
                raise Invalid(
                    f"metric label '{key}' is invalid: keys may only contain alphanumeric "
                    "characters or '_'",
                    f"{where}.labels",
                )
        if not metric.get("help"):
            raise Invalid(
                f"templates.{name} metric '{metric_name}' must contain a help string under "
                "'help: ' field",
                f"{where}.help",
            )
        problem = None
        gauge = metric.get("gauge")
        if gauge is not None:
            gauge = gauge or {}
            if not gauge.get("value"):
                problem = "missing gauge.value"
            elif gauge.get("realtime") and "resourcesDuration." in str(gauge["value"]):
                problem = "'resourcesDuration.*' metrics cannot be used in real-time"
        for kind in ("counter", "histogram"):
            if problem is None and metric.get(kind) is not None:
                problem = None if (metric.get(kind) or {}).get("value") else f"missing {kind}.value"
        if problem:
            raise Invalid(f"templates.{name} metric '{metric_name}' error: {problem}", where)


def check_pod_resources(resources: dict[str, Any] | None, prefix: str, path: str) -> None:
    """validate.go ``validatePodResources``: cpu, memory and hugepages-* only, no claims."""
    if resources is None:
        return
    if resources.get("claims"):
        raise Invalid(f"{prefix}.claims is not supported for pod-level resources", f"{path}.claims")
    for kind in ("limits", "requests"):
        for resource in resources.get(kind) or {}:
            if resource not in ("cpu", "memory") and not str(resource).startswith("hugepages-"):
                raise Invalid(
                    f"{prefix}: {json.dumps(resource)} is not a valid pod-level resource, only "
                    "cpu, memory and hugepages-* are supported",
                    f"{path}.{kind}",
                )
