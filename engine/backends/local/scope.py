"""Variable scopes: a template's inputs (Argo's ``ProcessArgs``) and task/step outputs.

Pure functions over plain dicts: the global scope (``workflow.*``), the inputs a template
receives from its caller's arguments, and the ``tasks.X.*`` / ``steps.X.*`` names a node's
outputs provide, including the aggregated form for fanned-out tasks and the declared outputs of
a Skipped or Omitted one (Argo v4.1, "Outputs of Skipped and Omitted Nodes" in
docs/variables.md): its producer's ``valueFrom.default``, else an absent optional (None).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from engine.backends.local import go_json
from engine.backends.local.expressions import ExpressionError, evaluate_when
from engine.backends.local.nodes import Node
from engine.backends.local.variables import Scope, substitute, substitute_all

__all__ = [
    "ABSENT_ARGUMENT",
    "ARTIFACT_REF_PREFIX",
    "RAW_REF_PREFIX",
    "REPOSITORY_KINDS",
    "REPOSITORY_REF_PREFIX",
    "ArgumentError",
    "ConfigLookup",
    "ConfigMapKeyNotFound",
    "ObjectLookup",
    "absent_reference",
    "aggregate_output_scope",
    "artifact_reference",
    "configmap_parameter",
    "inputs_scope",
    "keyed_location",
    "mark_absent_arguments",
    "node_output_scope",
    "process_inputs",
    "repository_key",
    "repository_location",
    "resolve_references",
    "skipped_output_scope",
]

#: Scope values for ``...outputs.artifacts.X`` name a stored artifact:
#: ``local-artifact:<node id>/<name>``.
ARTIFACT_REF_PREFIX = "local-artifact:"

#: Artifact locations the local artifact repository stands in for, addressed by key.
REPOSITORY_KINDS = ("s3", "gcs", "oss", "azure")


def _locations(artifact: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Each repository location an artifact names: its kind and key (``s3.key``,
    ``azure.blob``; "" when it gives none)."""
    for kind in REPOSITORY_KINDS:
        location = artifact.get(kind)
        if isinstance(location, Mapping):
            yield kind, str(location.get("blob" if kind == "azure" else "key") or "")


def repository_location(artifact: Mapping[str, Any]) -> tuple[str, str] | None:
    """The artifact's first repository location (kind, key as written), keyed or not."""
    return next(_locations(artifact), None)


def keyed_location(artifact: Mapping[str, Any]) -> tuple[str, str] | None:
    """The artifact's first repository location with a key (kind, key without slashes)."""
    return next(((kind, key.strip("/")) for kind, key in _locations(artifact) if key), None)


def repository_key(artifact: Mapping[str, Any]) -> str | None:
    """The key of an artifact in the local artifact repository (``s3.key``, ``azure.blob``)."""
    found = keyed_location(artifact)
    return None if found is None else found[1]


#: ``inputs.artifacts.X`` of a raw artifact (``from`` it elsewhere): the JSON-quoted data.
RAW_REF_PREFIX = "local-raw:"
#: ``inputs.artifacts.X`` of a key-addressed artifact: its key in the local repository.
REPOSITORY_REF_PREFIX = "local-repository:"


def artifact_reference(artifact: Mapping[str, Any]) -> str | None:
    """What ``{{inputs.artifacts.X}}`` stands for, so that ``from:`` can pass it on."""
    if artifact.get("from"):
        return str(artifact["from"])
    if "raw" in artifact:
        return RAW_REF_PREFIX + json.dumps(str((artifact["raw"] or {}).get("data", "")))
    key = repository_key(artifact)
    return None if key is None else REPOSITORY_REF_PREFIX + key


#: Looks up ``(kind, name, key)`` in the local ConfigMap/Secret store; None when absent.
ConfigLookup = Callable[[str, str, str], str | None]
#: Looks up the ``(kind, name)`` object in the local store; None when absent.
ObjectLookup = Callable[[str, str], Mapping[str, Any] | None]

#: The label a ConfigMap needs for its keys to be parameters (``LabelKeyConfigMapType``).
PARAMETER_CONFIGMAP_LABEL = ("workflows.argoproj.io/configmap-type", "Parameter")


class ArgumentError(ValueError):
    """Inputs that cannot be satisfied; the message goes on the node (phase Error)."""


class ConfigMapKeyNotFound(ArgumentError):
    """The ConfigMap or its key is absent (Argo's ``CodeNotFound``: a ``default`` applies)."""


def configmap_parameter(objects: ObjectLookup, name: str, key: str) -> str:
    """A parameter's value from a ConfigMap, as ``GetConfigMapValue`` reads it
    (workflow/common/configmap.go): only a ConfigMap labelled as holding parameters, its
    ``data``; raises :class:`ConfigMapKeyNotFound` or :class:`ArgumentError` in Argo's words."""
    label, value = PARAMETER_CONFIGMAP_LABEL
    configmap = objects("ConfigMap", name)
    if configmap is None:
        raise ConfigMapKeyNotFound(
            f"ConfigMap '{name}' does not exist. Please make sure it has the label "
            f"{label}: {value} to be detectable by the controller"
        )
    if ((configmap.get("metadata") or {}).get("labels") or {}).get(label) != value:
        raise ArgumentError(
            f"ConfigMap '{name}' needs to have the label {label}: {value} to load parameters"
        )
    data = configmap.get("data") or {}
    if key not in data:
        raise ConfigMapKeyNotFound(f"ConfigMap '{name}' does not have the key '{key}'")
    return str(data[key])


#: An argument that was a pure reference to an absent optional (Argo's
#: ``common.AbsentOptionalArgumentValue``): ``process_inputs`` takes it as not supplied.
ABSENT_ARGUMENT = "__argo-internal.absent-optional-output__"


def _param_value(
    param: Mapping[str, Any], objects: ObjectLookup, global_scope: Scope, where: str
) -> str | None:
    if "value" in param and param["value"] is not None:
        value = param["value"]
        return value if isinstance(value, str) else json.dumps(value)
    value_from = param.get("valueFrom") or {}
    ref = value_from.get("configMapKeyRef")
    if not ref:
        return None
    # substituteAndGetConfigMapValue (workflow/common/util.go): the name and key may use the
    # workflow's global parameters; a ConfigMap or key not found takes valueFrom.default.
    name = substitute(str(ref.get("name", "")), global_scope)
    key = substitute(str(ref.get("key", "")), global_scope)
    try:
        return configmap_parameter(objects, name, key)
    except ConfigMapKeyNotFound as error:
        if value_from.get("default") is not None:
            return str(value_from["default"])
        raise ArgumentError(f"unable to retrieve {where} from ConfigMap: {error}") from None
    except ArgumentError as error:
        raise ArgumentError(f"unable to retrieve {where} from ConfigMap: {error}") from None


def process_inputs(
    template: dict[str, Any],
    arguments: Mapping[str, Any],
    global_scope: Scope,
    objects: ObjectLookup,
    extra_scope: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Bind ``arguments`` to the template's inputs and substitute them everywhere.

    An argument marked ``ABSENT_ARGUMENT`` is not supplied: the input's own value, default or
    ``valueFrom`` applies, and with none of them the input fails (Argo's ``ProcessArgs``).
    Returns the processed template and the node's ``inputs`` record (Argo shape).
    """
    inputs = template.get("inputs") or {}
    given_params = {p["name"]: p for p in arguments.get("parameters") or []}
    given_artifacts = {a["name"]: a for a in arguments.get("artifacts") or []}
    local: dict[str, str] = dict(extra_scope or {})
    bound_params: list[dict[str, Any]] = []
    for param in inputs.get("parameters") or []:
        name = param["name"]
        where = f"inputs.parameters.{name}"
        value = None
        argument = given_params.get(name)
        if argument is not None and argument.get("value") == ABSENT_ARGUMENT:
            if not any(param.get(key) is not None for key in ("value", "default", "valueFrom")):
                raise ArgumentError(
                    f"{where}: argument references an absent optional "
                    "(skipped/omitted node output with no default)"
                )
        elif argument is not None:
            value = _param_value(argument, objects, global_scope, where)
        if value is None:
            value = _param_value(param, objects, global_scope, where)
        if value is None and param.get("default") is not None:
            value = str(param["default"])
        if value is None:
            raise ArgumentError(f"inputs.parameters.{name} was not supplied")
        value = substitute(value, global_scope)
        local[f"inputs.parameters.{name}"] = value
        bound = {key: val for key, val in param.items() if key not in ("value", "valueFrom")}
        bound["value"] = value
        bound_params.append(bound)
    bound_artifacts: list[dict[str, Any]] = []
    for artifact in inputs.get("artifacts") or []:
        name = artifact["name"]
        given = given_artifacts.get(name, {})
        merged = {**artifact, **{k: v for k, v in given.items() if k != "name"}}
        # Argo substitutes global variables in the whole template, inputs included, before
        # binding arguments (workflow/common/util.go ``substituteParams``): a key-only input
        # artifact may name its workflow (``s3.key: runs/{{workflow.name}}/...``).
        for kind in (*REPOSITORY_KINDS, "http", "git"):
            if isinstance(merged.get(kind), Mapping):
                merged[kind] = substitute_all(merged[kind], global_scope)
        has_source = any(key in merged for key in ("from", "raw", "http", "git")) or bool(
            repository_key(merged)
        )
        if not has_source and not merged.get("optional"):
            raise ArgumentError(f"inputs.artifacts.{name} was not supplied")
        # A skipped step's artifact (an empty wfv1.Artifact in Argo's scope) has no location.
        placeholder = given.get("from") == "" and "raw" not in merged
        if placeholder and not artifact.get("optional") and not repository_key(merged):
            raise ArgumentError(f"inputs.artifacts.{name} missing location information")
        if "path" in artifact:
            local[f"inputs.artifacts.{name}.path"] = str(artifact["path"])
        reference = artifact_reference(merged)
        if reference is not None:
            local[f"inputs.artifacts.{name}"] = reference
        bound_artifacts.append(merged)
    local["inputs.parameters"] = json.dumps(bound_params, separators=(",", ":"))
    scope = {**global_scope, **local}
    # Argo's SubstituteParams substitutes the whole template once with the inputs as bound, the
    # inputs' own values included: a value may refer to another input, or be an expression
    # over them. The rest of the template sees the values as bound (a step's arguments are
    # substituted again with the template's inputs: inputs_scope).
    for bound in bound_params:
        bound["value"] = substitute(bound["value"], scope)
    processed = {k: v for k, v in template.items() if k != "inputs"}
    processed = substitute_all(processed, scope)
    record: dict[str, Any] = {}
    if bound_params:
        record["parameters"] = bound_params
    if bound_artifacts:
        record["artifacts"] = bound_artifacts
    processed["inputs"] = copy.deepcopy(record)
    return processed, record


def inputs_scope(record: Mapping[str, Any]) -> dict[str, str]:
    """A steps or DAG template's own inputs, which its steps' and tasks' arguments are
    substituted with (Argo's ``createScope`` over the processed template)."""
    return {
        f"inputs.parameters.{param['name']}": str(param.get("value", ""))
        for param in record.get("parameters") or []
    }


def node_output_scope(prefix: str, node: Node, artifact_owner: str | None = None) -> dict[str, str]:
    """``tasks.X.*`` / ``steps.X.*`` values a completed node provides.

    ``artifact_owner`` is the pod node whose stored artifacts these are (a Retry node's
    outputs are its last attempt's); DAG/steps outputs carry a ``from`` reference instead.
    """
    scope: dict[str, str] = {
        f"{prefix}.id": node["id"],
        f"{prefix}.status": str(node.get("phase", "")),
    }
    if node.get("startedAt"):
        scope[f"{prefix}.startedAt"] = str(node["startedAt"])
    if node.get("hostNodeName"):
        scope[f"{prefix}.hostNodeName"] = str(node["hostNodeName"])
    if node.get("podIP"):
        scope[f"{prefix}.ip"] = str(node["podIP"])
    if node.get("finishedAt"):
        scope[f"{prefix}.finishedAt"] = str(node["finishedAt"])
    outputs = node.get("outputs") or {}
    if "result" in outputs:
        scope[f"{prefix}.outputs.result"] = str(outputs["result"])
    if "exitCode" in outputs:
        scope[f"{prefix}.exitCode"] = str(outputs["exitCode"])
        scope[f"{prefix}.outputs.exitCode"] = str(outputs["exitCode"])
    for param in outputs.get("parameters") or []:
        if "value" in param:
            scope[f"{prefix}.outputs.parameters.{param['name']}"] = str(param["value"])
    for artifact in outputs.get("artifacts") or []:
        source = str(artifact.get("from", ""))
        if not source.startswith(ARTIFACT_REF_PREFIX):
            source = f"{ARTIFACT_REF_PREFIX}{artifact_owner or node['id']}/{artifact['name']}"
        scope[f"{prefix}.outputs.artifacts.{artifact['name']}"] = source
    return scope


def skipped_output_scope(
    prefix: str, node: Node, template: Mapping[str, Any], include_artifacts: bool
) -> dict[str, str | None]:
    """Argo's ``addSkippedNodeOutputsToScope`` (workflow/controller/scope.go): the declared
    outputs of a Skipped or Omitted node that produced none. A parameter is its producer's
    ``valueFrom.default``, else None (an absent optional), as is a declared ``result``; with
    ``include_artifacts`` (steps, not DAGs) each artifact is an empty placeholder."""
    if node.get("outputs") or node.get("phase") not in ("Skipped", "Omitted"):
        return {}
    outputs = template.get("outputs") or {}
    scope: dict[str, str | None] = {}
    for param in outputs.get("parameters") or []:
        default = (param.get("valueFrom") or {}).get("default")
        value = None if default is None else _scalar(default)
        scope[f"{prefix}.outputs.parameters.{param['name']}"] = value
    if include_artifacts:
        for artifact in outputs.get("artifacts") or []:
            scope[f"{prefix}.outputs.artifacts.{artifact['name']}"] = ""
    if outputs.get("result") is not None:
        scope[f"{prefix}.outputs.result"] = None
    return scope


def _scalar(value: Any) -> str:
    """A parameter value as text (``AnyString``: JSON for anything but a string)."""
    return value if isinstance(value, str) else json.dumps(value)


def absent_reference(value: Any, scope: Scope) -> bool:
    """Argo's ``absentOptionalRef``: ``value`` is exactly one ``{{name}}`` tag (no text around
    it, no nested tag) naming an absent optional in ``scope``."""
    if not isinstance(value, str) or not (value.startswith("{{") and value.endswith("}}")):
        return False
    name = value[2:-2].strip()
    if "{{" in name or "}}" in name:
        return False
    return name in scope and scope[name] is None


def mark_absent_arguments(body: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """Argo's ``markAbsentOptionalArgs``: ``body`` (a task or step) with each argument parameter
    that is a pure reference to an absent optional set to ``ABSENT_ARGUMENT``, before
    substitution; ``body`` itself is left as it is."""
    params = (body.get("arguments") or {}).get("parameters") or []
    if not any(absent_reference(p.get("value"), scope) for p in params):
        return body
    marked = [
        {**p, "value": ABSENT_ARGUMENT} if absent_reference(p.get("value"), scope) else p
        for p in params
    ]
    return {**body, "arguments": {**body["arguments"], "parameters": marked}}


def resolve_references(body: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """Substitute ``scope`` in a task or step the way Argo's ``resolveDependencyReferences``
    (dag.go) and ``resolveReferences`` (steps.go) do around absent optionals: ``when`` first —
    a body whose ``when`` is false never runs, so absent references in it are left as they are;
    otherwise arguments that are pure references to one are marked ``ABSENT_ARGUMENT`` and any
    other reference to one fails (``AbsentOptionalError``). Hooks are not the body's: Argo
    resolves them when they run, so absent references in them are left here."""
    when = body.get("when")
    if when:
        resolved_when = substitute(str(when), scope, "strict")
        try:
            proceed = evaluate_when(resolved_when)
        except ExpressionError:
            proceed = True  # decided per item once expanded (``{{item}}``), or fails there
        if not proceed:
            return {**substitute_all(body, scope, "keep"), "when": resolved_when}
    hooks = body.get("hooks")
    own = mark_absent_arguments({k: v for k, v in body.items() if k != "hooks"}, scope)
    resolved: dict[str, Any] = substitute_all(own, scope, "strict")
    if hooks is not None:
        resolved["hooks"] = substitute_all(hooks, scope, "keep")
    return resolved


class AggregationError(ExpressionError):
    """A fanned-out task's results that cannot be aggregated: a child's result that is not
    JSON, which ``processAggregateNodeOutputs`` unmarshals into a ``wfv1.Item``. The message is
    Go's decoding error, which Argo puts on the node whose scope needed the aggregate."""


def _loop_index(name: str) -> int:
    """``parseLoopIndex``: the number after the name's last ``(``, up to any ``:``."""
    text = name.rsplit("(", 1)[-1].split(":", 1)[0].rstrip(")")
    return int(text) if text.isdigit() else 0


def _json_values(values: list[str]) -> list[Any] | None:
    """The values decoded, when every one is a JSON object or list (``tryJSONUnmarshal``)."""
    decoded = []
    for value in values:
        try:
            item = json.loads(value)
        except json.JSONDecodeError:
            return None
        if not isinstance(item, (dict, list)):
            return None
        decoded.append(item)
    return decoded


def aggregate_output_scope(prefix: str, children: list[Node]) -> dict[str, str]:
    """Outputs of a fanned-out task as JSON lists (Argo's ``processAggregateNodeOutputs``):
    the iterations in loop-index order, hooks and retry attempts left out, and only those that
    Succeeded; a parameter's list holds decoded JSON when every value is an object or list.
    AggregationError when a result is not JSON."""
    if not children:
        return {}
    results: list[Any] = []
    by_param: dict[str, list[str]] = {}
    param_maps: list[dict[str, str]] = []
    flagged = [c for c in children if not _hooked_or_retried(c)]
    for child in sorted(flagged, key=lambda c: _loop_index(str(c.get("name", "")))):
        outputs = child.get("outputs")
        if not outputs or child.get("phase") != "Succeeded":
            continue
        if "result" in outputs:
            try:
                results.append(go_json.decode(str(outputs["result"])))
            except go_json.GoJSONError as error:
                raise AggregationError(str(error)) from None
        params = {p["name"]: str(p.get("value", "")) for p in outputs.get("parameters") or []}
        if params:
            param_maps.append(params)
        for name, value in params.items():
            by_param.setdefault(name, []).append(value)
    scope = {f"{prefix}.outputs.parameters": json.dumps(param_maps, separators=(",", ":"))}
    scope[f"{prefix}.outputs.result"] = json.dumps(results, separators=(",", ":"))
    for name, values in by_param.items():
        decoded = _json_values(values)
        listed = values if decoded is None else decoded
        scope[f"{prefix}.outputs.parameters.{name}"] = json.dumps(listed, separators=(",", ":"))
    return scope


def _hooked_or_retried(node: Node) -> bool:
    flag = node.get("nodeFlag") or {}
    return bool(flag.get("hooked") or flag.get("retried"))
